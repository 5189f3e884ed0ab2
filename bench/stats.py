"""Figures and provenance: percentiles, the machine and its load, and writing one result file."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.engine import engine_version

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float], digits: int = 1) -> dict[str, float | int | None]:
    """n, median, p95 and max (the unit is the caller's: ms or s in the key that holds it)."""
    if not values:
        return {"n": 0, "median": None, "p95": None, "max": None}
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), digits),
        "p95": round(percentile(ordered, 0.95), digits),
        "max": round(ordered[-1], digits),
    }


def commit() -> str:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], capture_output=True, text=True)
    return head.stdout.strip() + ("+dirty-src" if dirty.stdout.strip() else "")


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "engine": engine_version(),
        "commit": commit(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }


def write(name: str, n: int | None, settings: dict[str, Any], results: dict[str, Any], info: dict[str, Any],
          out_dir: Path = RESULTS) -> Path:
    """One JSON file per measurement and N; info is machine() taken before the run."""
    report = {
        "benchmark": name,
        "n": n,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python3 -m bench " + " ".join(sys.argv[1:]),
        "machine": {**info, "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "settings": settings,
        "results": results,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (f"{name}-n{n}.json" if n is not None else f"{name}.json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {path.relative_to(ROOT)}: {json.dumps(results)[:600]}", flush=True)
    return path
