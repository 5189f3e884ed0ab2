"""Start-up: process start to the first reconcile and /health 200 (N containers), and import-time memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bench.process import SRC, Autoheal
from bench.run import Run
from bench.settings import watching
from bench.stats import machine, summary, write

# What `autoheal serve` imports before it serves; then RSS and the heaviest optional modules.
_PROBE = """
import json, sys
from pathlib import Path
import autoheal.cli, uvicorn, autoheal.api.app, autoheal.engine.service
rss = {l.split(':')[0]: int(l.split()[1]) for l in Path('/proc/self/status').read_text().splitlines() if l.startswith(('VmRSS', 'VmHWM'))}
heavy = [m for m in ('apprise', 'playwright', 'schemathesis', 'httpx', 'xstatic', 'pydantic', 'fastapi', 'aiodocker') if m in sys.modules]
print(json.dumps({'rss_kib': rss['VmRSS'], 'peak_kib': rss['VmHWM'], 'modules': len(sys.modules), 'loaded': heavy}))
"""


def import_cost() -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    probe = json.loads(subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True,
                                      check=True).stdout)
    timing = subprocess.run([sys.executable, "-X", "importtime", "-c", "import autoheal.cli, uvicorn, "
                             "autoheal.api.app, autoheal.engine.service"], env=env, capture_output=True, text=True)
    rows = []
    for line in timing.stderr.splitlines()[1:]:
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2][1:].rstrip()))
    top = [{"module": name, "cumulative_ms": round(us / 1000, 1)} for us, name in sorted(rows, reverse=True)
           if not name.startswith(" ")][:10]
    return {"rss_mib": round(probe["rss_kib"] / 1024, 1), "modules_loaded": probe["modules"],
            "optional_loaded": probe["loaded"], "top_level_imports_ms": top}


def measure(run: Run, repeats: int) -> dict[str, Any]:
    settings = watching(run.label_key)
    info = machine()
    times: dict[str, list[float]] = {"spawn_to_first_reconcile_s": [], "spawn_to_health_200_s": []}
    rss = []
    for _ in range(repeats):
        ah = Autoheal(run.fresh_dir("startup"), settings)
        try:
            for key, value in ah.wait_healthy().items():
                times[key].append(value)
            rss.append(ah.memory()["VmRSS"] / 1024)
        finally:
            ah.stop()
    results = {key: summary(values, 3) for key, values in times.items()}
    results["rss_at_health_200_mib"] = round(max(rss), 1)
    results["imports"] = import_cost()
    write("startup", len(run.fleet.names), {"autoheal": settings, "fleet": run.fleet.describe()}, results, info)
    return results
