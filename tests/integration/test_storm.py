"""A storm: 100 containers unhealthy at once are all healed, never more than max_parallel at a time, and the API answers throughout."""

from __future__ import annotations

import asyncio
import time
import uuid

import aiodocker
import httpx
import pytest

from autoheal.api.app import create_app
from tests.integration.engines import EngineEvents
from tests.integration.results import record_result
from tests.integration.support import TEST_LABEL, wait_for

pytestmark = pytest.mark.integration

STORM = 100
MAX_PARALLEL = 4
# Healthy until the test drops /shared/sick-<hostname>; each start clears its own flag. The check
# is slow and forgiving (10 s, 30 s timeout, 3 retries): on a busy 2-core machine a quick one fails
# by itself and would start restarts before the storm.
SCRIPT = "rm -f /shared/sick-$HOSTNAME; exec sleep 100000"
HEALTH = "test ! -f /shared/sick-$HOSTNAME"


def most_at_once(intervals: list[tuple[int, int]]) -> int:
    """The largest number of [start, end] intervals that overlap."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


async def test_a_storm_of_100_unhealthy_containers_is_healed_within_max_parallel_while_the_api_answers(
    image, label_key, start_autoheal, tmp_path
):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    run = uuid.uuid4().hex[:8]
    ids: list[str] = []
    seen = EngineEvents(label_key)
    # verify_seconds well beyond the health interval: a busy engine may take a while to run the
    # first check after a restart, and "still starting" must not count as a new failure here.
    ah = await start_autoheal({"restart": {
        "rate_limit_per_minute": 10000, "stop_timeout_seconds": 0, "max_parallel": MAX_PARALLEL, "verify_seconds": 300,
    }})
    async with aiodocker.Docker() as client:
        slots = asyncio.Semaphore(16)

        async def create(i: int) -> None:
            async with slots:
                made = await client.containers.create(
                    {
                        "Image": image,
                        "Cmd": ["sh", "-c", SCRIPT],
                        "Labels": {TEST_LABEL: "1", label_key: "true"},
                        "Healthcheck": {"Test": ["CMD-SHELL", HEALTH], "Interval": 10_000_000_000,
                                        "Timeout": 30_000_000_000, "Retries": 3},
                        "HostConfig": {"NetworkMode": "none", "Binds": [f"{shared}:/shared"]},
                    },
                    name=f"ahstorm-{run}-{i}",
                )
                await made.start()
                ids.append(made.id)

        try:
            await asyncio.gather(*(create(i) for i in range(STORM)))
            await wait_for(
                lambda: all((c := ah.healer.containers.get(cid)) and c.health == "healthy" for cid in ids),
                "all 100 healthy", timeout=300,
            )
            app = create_app(ah.service, manage_service=False, allowed_hosts=["test"])
            api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

            storm_at = time.monotonic()
            for cid in ids:
                (shared / f"sick-{cid[:12]}").touch()
            latencies: list[float] = []

            def healed() -> bool:
                restarted = {r.container_id for r in ah.records(kind="restart") if r.time >= wall_at}
                return restarted >= set(ids) and all(ah.healer.containers[c].health == "healthy" for c in ids)

            wall_at = time.time()
            deadline = time.monotonic() + 600
            while not healed():
                asked = time.monotonic()
                response = await api.get("/api/status")
                latencies.append(time.monotonic() - asked)
                assert response.status_code == 200, response.text  # the API answers during the storm
                assert time.monotonic() < deadline, "storm not healed"
                await asyncio.sleep(0.25)
            storm_seconds = time.monotonic() - storm_at
            await api.aclose()
            await asyncio.sleep(1)  # the last engine events on their way
        finally:
            seen.close()
            await asyncio.gather(*(client.containers.container(c).delete(force=True) for c in ids), return_exceptions=True)

    restarts = [r for r in ah.records(kind="restart") if r.time >= wall_at]
    assert {r.container_id for r in restarts} == set(ids)  # each one healed
    # A second restart happens only for a new unhealthy verdict of the engine after the first (a
    # probe that began before the restart may report after it); what each repeat was is recorded.
    repeats = {cid: n for cid in ids if (n := sum(r.container_id == cid for r in restarts)) > 1}
    why_repeated = {
        cid[:12]: [(round(r.time - wall_at, 2), r.kind, r.reason) for r in ah.records() if r.container_id == cid and r.time >= wall_at]
        for cid in repeats
    }
    assert all(n == 2 for n in repeats.values()) and len(repeats) <= STORM // 10, why_repeated
    assert ah.records(kind="restart_failed") == []
    assert ah.healer.gate.peak_in_flight <= MAX_PARALLEL
    # The engine's own view: from the kill that begins a restart to the restart event that ends it.
    names = {f"ahstorm-{run}-{i}" for i in range(STORM)}
    began: dict[str, int] = {}
    intervals = []
    for action, name, at in seen.seen:
        if name not in names:
            continue
        if action == "kill":
            began.setdefault(name, at)
        elif action == "restart" and name in began:
            intervals.append((began.pop(name), at))
    assert len(intervals) == len(restarts)  # the engine saw each restart autoheal recorded, and no other
    engine_peak = most_at_once(intervals)
    assert engine_peak <= MAX_PARALLEL
    ordered = sorted(latencies)
    record_result(
        "storm_100",
        {
            "containers": STORM,
            "max_parallel": MAX_PARALLEL,
            "stop_timeout_seconds": 0,
            "all_healed_and_healthy_seconds": round(storm_seconds, 1),
            "restarts": len(restarts),
            "restarted_twice": why_repeated,
            "peak_in_flight_autoheal": ah.healer.gate.peak_in_flight,
            "peak_in_flight_engine_events": engine_peak,
            "api_status_requests": len(latencies),
            "api_status_latency_seconds": {
                "median": round(ordered[len(ordered) // 2], 4),
                "p95": round(ordered[int(len(ordered) * 0.95)], 4),
                "max": round(ordered[-1], 4),
            },
        },
    )
