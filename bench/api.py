"""API: latency of GET /api/containers and GET /api/events?limit=50 under concurrent clients.

N containers are created (not started) and 10,000 event records are written into the data dir
through the store's own API before autoheal starts; then C client threads, each with its own
keep-alive connection, send R requests per endpoint and time each one.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from autoheal.domain.records import Record
from autoheal.store import Database, Store
from bench.process import Autoheal
from bench.profile import Spy
from bench.run import Run
from bench.settings import watching
from bench.stats import machine, summary, write

EVENTS = 10_000
CLIENTS = 8
KINDS = ("scheduled", "restart", "skipped", "health_check_failed")
ENDPOINTS = ("/api/containers", "/api/events?limit=50")


def seed_events(data_dir: Path, names: dict[str, str], count: int = EVENTS) -> None:
    """count records over the last day, spread over the containers, written as autoheal's writer does."""
    items = list(names.items())
    now = time.time()
    records = []
    for i in range(count):
        name, cid = items[i % len(items)]
        kind = KINDS[i % len(KINDS)]
        records.append(Record(now - 86400 + i * 86400 / count, kind, f"unhealthy: bench record {i}", cid, name,
                              "unhealthy", None, 1 + i % 5, 0.0 if kind == "scheduled" else None, 1 + i % 5))

    async def write_all() -> None:
        db = Database(data_dir)
        await db.open()
        try:
            await db.run(lambda c: Store.write_batch(c, {}, records, now))
        finally:
            await db.close()

    asyncio.run(write_all())


def hammer(base: str, path: str, requests: int, clients: int) -> tuple[list[float], int]:
    """Latencies in ms of `requests` GETs from `clients` threads; and the response size."""
    per_client = requests // clients
    sizes = []

    def client(_: int) -> list[float]:
        out = []
        with httpx.Client(base_url=base, timeout=60) as http:
            for _ in range(per_client):
                t0 = time.perf_counter()
                response = http.get(path)
                out.append((time.perf_counter() - t0) * 1000)
                response.raise_for_status()
                sizes.append(len(response.content))
        return out

    with ThreadPoolExecutor(clients) as pool:
        latencies = [v for chunk in pool.map(client, range(clients)) for v in chunk]
    return latencies, max(sizes)


def measure(run: Run, n: int, requests: int, profile: Path | None = None) -> dict[str, Any]:
    """n containers are created here (not started); profile: a py-spy summary of the load goes there
    instead of a result file."""
    settings = watching(run.label_key)
    info = machine()
    run.fleet.add(n, started=False)
    workdir = run.fresh_dir("api")
    seed_events(workdir / "data", run.fleet.ids)
    ah = Autoheal(workdir, settings)
    results: dict[str, Any] = {"containers_created": n, "events_in_store": EVENTS, "clients": CLIENTS}
    try:
        results["startup"] = ah.wait_healthy()
        while ah.http.get("/api/status").json()["total_containers"] < n:
            time.sleep(0.2)
        results["containers_known_to_autoheal"] = ah.http.get("/api/status").json()["total_containers"]
        spy = Spy(ah.pid, profile, f"API, N={n}, {EVENTS} events, {CLIENTS} clients") if profile else None
        for path in ENDPOINTS:
            hammer(ah.base, path, 4 * CLIENTS, CLIENTS)  # warm up
            start, cpu = time.perf_counter(), ah.cpu()
            latencies, size = hammer(ah.base, path, requests, CLIENTS)
            elapsed = time.perf_counter() - start
            results[path] = {
                "latency_ms": summary(latencies),
                "requests_per_s": round(len(latencies) / elapsed, 1),
                "response_bytes": size,
                "autoheal_cpu_s": round(ah.cpu() - cpu, 2),
            }
        if spy:
            spy.stop()
        results["peak_rss_mib"] = round(ah.memory()["VmHWM"] / 1024, 1)
    finally:
        ah.stop()
    if not profile:
        write("api", n, {"autoheal": settings, "fleet": run.fleet.describe()}, results, info)
    return results
