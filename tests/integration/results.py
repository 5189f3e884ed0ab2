"""Numbers the fault tests saw, written to bench/results/faults.json for the record (never asserted as limits)."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "faults.json"


def record_result(name: str, numbers: dict[str, Any]) -> None:
    """Replace one named entry of the results file, keeping the others."""
    try:
        doc = json.loads(RESULTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}
    doc.setdefault("about", "Measured by tests/integration/test_faults.py, test_churn.py and test_storm.py; "
                   "a record of what one run saw, not limits.")
    doc.setdefault("runs", {})[name] = {
        **numbers,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpu",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
