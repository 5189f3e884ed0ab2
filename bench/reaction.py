"""Reaction: engine `unhealthy` -> autoheal's kill/restart -> running again, and crash `die` -> `start`.

autoheal talks to the engine through the counting proxy, so its restart (or start) call is also
timestamped where it leaves autoheal: `unhealthy_to_restart_call_ms` is autoheal's part alone,
`unhealthy_to_kill_ms` adds the engine's handling of the call until it signals the container.

Incidents one at a time, round-robin over the fleet's active containers (probed every second)
while autoheal watches all N; both ends of every figure
are the engine's own event timestamps (timeNano).
"""

from __future__ import annotations

import time
from typing import Any

from bench.process import Autoheal
from bench.proxy import CountingProxy
from bench.run import Run
from bench.settings import reacting
from bench.stats import machine, summary, write


def _wait_running_healthy(run: Run, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while run.fleet.health(name) != "running/healthy":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not healthy again")
        time.sleep(0.1)


def measure(run: Run, incidents: int) -> dict[str, Any]:
    settings = reacting(run.label_key)
    info = machine()
    workdir = run.fresh_dir("reaction")
    proxy = CountingProxy(workdir / "engine.sock")
    ah = Autoheal(workdir, settings, docker_host=proxy.docker_host)
    figures: dict[str, list[float]] = {
        "unhealthy_to_restart_call_ms": [], "unhealthy_to_kill_ms": [], "unhealthy_to_running_ms": [],
        "die_to_start_call_ms": [], "die_to_start_ms": [],
    }
    try:
        ah.wait_healthy()
        names = run.fleet.active
        for i in range(incidents):
            name = names[i % len(names)]
            cid = run.fleet.ids[name]
            _wait_running_healthy(run, name)
            mark = time.time_ns()
            run.fleet.make_unhealthy([name])
            unhealthy = run.tap.wait(cid, "health_status: unhealthy", mark)
            killed = run.tap.wait(cid, "kill", unhealthy)
            started = run.tap.wait(cid, "start", unhealthy)
            called = proxy.first_call("/containers/{id}/restart", cid, unhealthy / 1e9)
            figures["unhealthy_to_restart_call_ms"].append(called * 1000 - unhealthy / 1e6)
            figures["unhealthy_to_kill_ms"].append((killed - unhealthy) / 1e6)
            figures["unhealthy_to_running_ms"].append((started - unhealthy) / 1e6)
        for i in range(incidents):
            name = names[(i + incidents) % len(names)]
            cid = run.fleet.ids[name]
            _wait_running_healthy(run, name)
            mark = time.time_ns()
            run.fleet.crash(name)
            died = run.tap.wait(cid, "die", mark)
            started = run.tap.wait(cid, "start", died)
            called = proxy.first_call("/containers/{id}/start", cid, died / 1e9)
            figures["die_to_start_call_ms"].append(called * 1000 - died / 1e6)
            figures["die_to_start_ms"].append((started - died) / 1e6)
        rss = ah.memory()
    finally:
        ah.stop()
        proxy.close()
    results = {key: summary(values) for key, values in figures.items()}
    results["autoheal_peak_rss_mib"] = round(rss["VmHWM"] / 1024, 1)
    results["incident_containers"] = len(names)
    write("reaction", len(run.fleet.names), {"autoheal": settings, "fleet": run.fleet.describe()}, results, info)
    return results
