"""Idle cost: CPU, peak RSS and engine API calls of autoheal watching N healthy containers.

Engine calls are counted by a unix-socket proxy between autoheal and dockerd, so they are the
engine's view, not autoheal's own count; each is classed by path (/containers/json is a reconcile
pass's listing, /containers/{id}/json an inspect).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from pathlib import Path

from bench.process import Autoheal
from bench.profile import Spy
from bench.proxy import CountingProxy
from bench.run import Run
from bench.settings import watching
from bench.stats import machine, write

SETTLE_SECONDS = 5.0


def measure(run: Run, seconds: float, profile: Path | None = None) -> dict[str, Any]:
    """profile: a py-spy summary of the window goes there instead of a result file."""
    settings = watching(run.label_key)
    info = machine()
    workdir = run.fresh_dir("idle")
    proxy = CountingProxy(workdir / "engine.sock")
    ah = Autoheal(workdir, settings, docker_host=proxy.docker_host)
    try:
        startup = ah.wait_healthy()
        run.fleet.wait_healthy()
        time.sleep(SETTLE_SECONDS)
        startup_calls = Counter(kind for _, _, kind, _ in proxy.between(0, time.time()))
        spy = Spy(ah.pid, profile, f"idle, N={len(run.fleet.names)}, {seconds:.0f} s") if profile else None
        start, cpu_start = time.time(), ah.cpu()
        time.sleep(seconds)
        if spy:
            spy.stop()
        end, cpu_end = time.time(), ah.cpu()
        rss = ah.memory()
    finally:
        ah.stop()
        proxy.close()
    window = proxy.between(start, end)
    calls = Counter(kind for _, _, kind, _ in window)
    ours = set(run.fleet.ids.values())
    # Inspects of containers that are not the run's: other users of the engine created, started
    # or removed containers meanwhile, and autoheal looks at every new container once.
    others = sum(1 for _, _, _, cid in window if cid and cid not in ours)
    passes = calls.get("/containers/json", 0)
    cpu = cpu_end - cpu_start
    results = {
        "window_s": round(end - start, 2),
        "cpu_s": round(cpu, 3),
        "cpu_percent_of_one_core": round(100 * cpu / (end - start), 3),
        "rss_mib": round(rss["VmRSS"] / 1024, 1),
        "peak_rss_mib": round(rss["VmHWM"] / 1024, 1),
        "engine_calls_in_window": sum(calls.values()),
        "engine_calls_by_path": dict(calls),
        "reconcile_passes_in_window": passes,
        "engine_calls_per_pass": round(sum(calls.values()) / passes, 2) if passes else None,
        "engine_calls_outside_listings": sum(calls.values()) - passes,
        "engine_calls_about_the_runs_containers": sum(1 for _, _, _, cid in window if cid in ours),
        "engine_calls_about_other_containers": others,
        "startup_engine_calls_by_path": dict(startup_calls),
        "startup": startup,
    }
    if not profile:
        write("idle", len(run.fleet.names), {"autoheal": settings, "fleet": run.fleet.describe()}, results, info)
    return results
