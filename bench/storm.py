"""Storm: all N containers made unhealthy at once; time until all are restarted and healthy, peak in flight.

In flight is read from the engine: a restart spans its `kill` to its `restart` event (the engine
emits `restart` when the call ends), and the largest number of overlapping spans is reported.
"""

from __future__ import annotations

import time
from typing import Any

from pathlib import Path

from bench.process import Autoheal
from bench.profile import Spy
from bench.run import Run
from bench.settings import reacting
from bench.stats import machine, summary, write


def peak_overlap(spans: list[tuple[int, int]]) -> int:
    """The largest number of [start, end] spans open at one instant."""
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1]))
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def measure(run: Run, max_parallel: int = 4, profile: Path | None = None) -> dict[str, Any]:
    """profile: a py-spy summary of the storm goes there instead of a result file."""
    settings = reacting(run.label_key, max_parallel)
    info = machine()
    names = list(run.fleet.names)
    n = len(names)
    ah = Autoheal(run.fresh_dir(f"storm-p{max_parallel}"), settings)
    try:
        ah.wait_healthy()
        run.fleet.wait_healthy()
        spy = Spy(ah.pid, profile, f"storm, N={n}, max_parallel {max_parallel}") if profile else None
        cpu_before = ah.cpu()
        mark = time.time_ns()
        run.fleet.make_unhealthy(names)
        timeout = 60 + 3 * n
        unhealthy, killed, restarted, healthy, missing = {}, {}, {}, {}, []
        deadline = time.monotonic() + timeout
        for name in names:
            cid = run.fleet.ids[name]
            try:
                left = max(1.0, deadline - time.monotonic())
                unhealthy[name] = run.tap.wait(cid, "health_status: unhealthy", mark, left)
                killed[name] = run.tap.wait(cid, "kill", unhealthy[name], left)
                restarted[name] = run.tap.wait(cid, "restart", killed[name], left)
                healthy[name] = run.tap.wait(cid, "health_status: healthy", restarted[name], left)
            except TimeoutError:
                missing.append(name)
        cpu = ah.cpu() - cpu_before
        if spy:
            spy.stop()
        rss = ah.memory()
    finally:
        ah.stop()
    first = min(unhealthy.values())
    results = {
        "containers": n,
        "max_parallel": max_parallel,
        "not_healed": len(missing),
        "unhealthy_spread_s": round((max(unhealthy.values()) - first) / 1e9, 3),
        "first_unhealthy_to_all_restarted_s": round((max(restarted.values()) - first) / 1e9, 3) if restarted else None,
        "last_unhealthy_to_all_restarted_s": round((max(restarted.values()) - max(unhealthy.values())) / 1e9, 3)
        if restarted else None,
        "restarts_per_s": round(len(restarted) / ((max(restarted.values()) - min(killed.values())) / 1e9), 2)
        if restarted else None,
        "wait_unhealthy_to_kill_s": summary([(killed[k] - unhealthy[k]) / 1e9 for k in killed], 3),
        "first_unhealthy_to_all_healthy_s": round((max(healthy.values()) - first) / 1e9, 3) if healthy else None,
        "peak_restarts_in_flight": peak_overlap([(killed[k], restarted[k]) for k in restarted]),
        "mean_restart_call_s": round(sum(restarted[k] - killed[k] for k in restarted) / len(restarted) / 1e9, 3),
        "autoheal_cpu_s": round(cpu, 2),
        "autoheal_peak_rss_mib": round(rss["VmHWM"] / 1024, 1),
    }
    if not profile:
        write(f"storm-p{max_parallel}", n, {"autoheal": settings, "fleet": run.fleet.describe()}, results, info)
    return results
