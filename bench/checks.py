"""Custom checks: N containers with an HTTP check every 1 s; autoheal's CPU, check latency and schedule.

The checks are added through the API (POST /api/healthchecks). Runs are counted from autoheal's
own counter (autoheal_health_checks_total); latencies are sampled from GET /api/healthchecks
after the CPU window, so that the sampling does not count as autoheal's CPU.
"""

from __future__ import annotations

import time
from typing import Any

from bench.process import Autoheal
from bench.run import Run
from bench.settings import watching
from bench.stats import machine, summary, write

INTERVAL_SECONDS = 1.0
SAMPLE_SECONDS = 10


def definition(name: str) -> dict[str, Any]:
    return {"container_id": name, "check_type": "http", "http_endpoint": "/", "http_port": 8080,
            "interval_seconds": INTERVAL_SECONDS, "timeout_seconds": 2, "retries": 3}


def measure(run: Run, seconds: float) -> dict[str, Any]:
    settings = watching(run.label_key)
    info = machine()
    ah = Autoheal(run.fresh_dir("checks"), settings)
    n = len(run.fleet.names)
    try:
        ah.wait_healthy()
        for name in run.fleet.names:
            ah.http.post("/api/healthchecks", json=definition(name)).raise_for_status()
        time.sleep(3 * INTERVAL_SECONDS + 2)
        runs_start, failed_start = ah.metric("autoheal_health_checks_total", 'kind="http"'), ah.metric(
            "autoheal_health_checks_failed_total", 'kind="http"')
        start, cpu_start = time.time(), ah.cpu()
        time.sleep(seconds)
        end, cpu_end = time.time(), ah.cpu()
        runs = ah.metric("autoheal_health_checks_total", 'kind="http"') - runs_start
        failed = ah.metric("autoheal_health_checks_failed_total", 'kind="http"') - failed_start
        seen: dict[tuple[str, float], float] = {}
        last_run: dict[str, list[float]] = {}
        for _ in range(SAMPLE_SECONDS * 4):
            for check in ah.http.get("/api/healthchecks").json()["healthchecks"]:
                state = check.get("state") or {}
                if state.get("last_run_at") and state.get("last_latency_seconds") is not None:
                    key = (check["container_name"], state["last_run_at"])
                    if key not in seen:
                        seen[key] = state["last_latency_seconds"]
                        last_run.setdefault(check["container_name"], []).append(state["last_run_at"])
            time.sleep(0.25)
        rss = ah.memory()
        restarts = ah.metric("autoheal_container_restarts_total", 'cause="unhealthy",outcome="restarted"')
    finally:
        ah.stop()
    window = end - start
    periods = [b - a for runs_at in last_run.values() for a, b in zip(runs_at, runs_at[1:])]
    results = {
        "window_s": round(window, 2),
        "cpu_s": round(cpu_end - cpu_start, 3),
        "cpu_percent_of_one_core": round(100 * (cpu_end - cpu_start) / window, 2),
        "peak_rss_mib": round(rss["VmHWM"] / 1024, 1),
        "check_runs": int(runs),
        "check_runs_failed": int(failed),
        "runs_per_container_per_s": round(runs / n / window, 3),
        "scheduled_per_container_per_s": round(1 / INTERVAL_SECONDS, 3),
        "latency_ms": summary([v * 1000 for v in seen.values()]),
        "period_between_runs_s": summary(periods, 3),
        "restarts_caused": int(restarts),
    }
    write("checks", n, {"autoheal": settings, "fleet": run.fleet.describe()}, results, info)
    return results
