"""Reaction: engine `unhealthy` -> autoheal's kill/restart -> running again, and crash `die` -> `start`.

autoheal talks to the engine through the counting proxy, which also timestamps the engine's event
as it is relayed to autoheal and autoheal's restart (or start) call as it leaves: `event_to_restart_call_ms`
is autoheal's part alone; `unhealthy_to_event_relayed_ms` the engine's delay in sending the event;
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


def _unhealthy(run: Run, proxy: CountingProxy, name: str) -> dict[str, float]:
    cid = run.fleet.ids[name]
    mark = time.time_ns()
    run.fleet.make_unhealthy([name])
    unhealthy = run.tap.wait(cid, "health_status: unhealthy", mark)
    killed = run.tap.wait(cid, "kill", unhealthy)
    started = run.tap.wait(cid, "start", unhealthy)
    called = proxy.first_call("/containers/{id}/restart", cid, mark / 1e9)
    relayed = proxy.relayed(cid, "health_status: unhealthy", unhealthy)
    if called < relayed:
        raise _Confounded(f"{name} was restarted for another reason")
    return {
        "unhealthy_to_event_relayed_ms": relayed * 1000 - unhealthy / 1e6,
        "event_to_restart_call_ms": (called - relayed) * 1000,
        "unhealthy_to_restart_call_ms": called * 1000 - unhealthy / 1e6,
        "unhealthy_to_kill_ms": (killed - unhealthy) / 1e6,
        "unhealthy_to_running_ms": (started - unhealthy) / 1e6,
    }


def _crash(run: Run, proxy: CountingProxy, name: str) -> dict[str, float]:
    cid = run.fleet.ids[name]
    mark = time.time_ns()
    run.fleet.crash(name)
    died = run.tap.wait(cid, "die", mark)
    started = run.tap.wait(cid, "start", died)
    if proxy.calls_about(cid, mark / 1e9, died / 1e9):
        raise _Confounded(f"{name} died in a restart of autoheal's, not of the crash")
    called = proxy.first_call("/containers/{id}/start", cid, died / 1e9)
    relayed = proxy.relayed(cid, "die", died)
    return {
        "die_to_event_relayed_ms": relayed * 1000 - died / 1e6,
        "event_to_start_call_ms": (called - relayed) * 1000,
        "die_to_start_call_ms": called * 1000 - died / 1e6,
        "die_to_start_ms": (started - died) / 1e6,
    }


class _Confounded(Exception):
    """Something else happened to the container meanwhile (a probe time-out on a loaded machine)."""


def measure(run: Run, incidents: int) -> dict[str, Any]:
    settings = reacting(run.label_key)
    info = machine()
    workdir = run.fresh_dir("reaction")
    proxy = CountingProxy(workdir / "engine.sock")
    ah = Autoheal(workdir, settings, docker_host=proxy.docker_host)
    figures: dict[str, list[float]] = {}
    skipped: list[str] = []
    try:
        ah.wait_healthy()
        begun = time.time()
        names = run.fleet.active
        for kind, incident in (("unhealthy", _unhealthy), ("crash", _crash)):
            done = 0
            for attempt in range(2 * incidents):
                if done == incidents:
                    break
                name = names[attempt % len(names)]
                _wait_running_healthy(run, name)
                try:
                    for key, value in incident(run, proxy, name).items():
                        figures.setdefault(key, []).append(value)
                    done += 1
                except (_Confounded, TimeoutError) as exc:
                    skipped.append(f"{kind}: {exc}"[:200])
        rss = ah.memory()
        incident_ids = {run.fleet.ids[name] for name in names}
        # Restarts autoheal made of the other containers meanwhile (probe time-outs on a loaded
        # machine): they hold max_parallel slots and the engine, and so slow the incidents down.
        others = [r for r in proxy.between(begun, time.time()) if r[1] == "POST" and r[3] not in incident_ids
                  and r[2] in ("/containers/{id}/restart", "/containers/{id}/start")]
    finally:
        ah.stop()
        proxy.close()
    results = {key: summary(values) for key, values in figures.items()}
    results["autoheal_peak_rss_mib"] = round(rss["VmHWM"] / 1024, 1)
    results["incident_containers"] = len(names)
    results["incidents_skipped"] = skipped
    results["restarts_of_other_containers_meanwhile"] = len(others)
    write("reaction", len(run.fleet.names), {"autoheal": settings, "fleet": run.fleet.describe()}, results, info)
    return results
