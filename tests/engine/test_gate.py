"""The action gate: concurrency and rate limits, read live, with held-back actions reported."""

from __future__ import annotations

import asyncio

from autoheal.config import RestartSettings
from autoheal.engine.gate import ActionGate


def limits(**fields) -> RestartSettings:
    return RestartSettings(**fields)


async def test_it_never_lets_more_than_max_parallel_actions_run_at_once(wait_for):
    held: list[str] = []
    gate = ActionGate(lambda: limits(max_parallel=2), held.append)
    release = asyncio.Event()
    running = 0
    peak = 0

    async def action() -> None:
        nonlocal running, peak
        async with gate.slot():
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1

    tasks = [asyncio.create_task(action()) for _ in range(5)]
    await wait_for(lambda: gate.in_flight == 2 and len(held) == 3, "two in flight, three held back")
    await asyncio.sleep(0.05)
    assert running == 2

    release.set()
    await asyncio.gather(*tasks)
    assert (peak, gate.peak_in_flight, gate.in_flight) == (2, 2, 0)
    assert held == ["max_parallel"] * 3


async def test_it_holds_back_actions_over_the_rate_limit(wait_for):
    held: list[str] = []
    gate = ActionGate(lambda: limits(rate_limit_per_minute=2), held.append)
    for _ in range(2):
        async with gate.slot():
            pass

    third = asyncio.create_task(gate.slot().__aenter__())
    await wait_for(lambda: held == ["rate_limit"], "third action held back")
    assert not third.done()
    third.cancel()
    await asyncio.gather(third, return_exceptions=True)
    assert gate.in_flight == 0


async def test_the_rate_window_slides():
    now = [1000.0]
    gate = ActionGate(lambda: limits(rate_limit_per_minute=1), clock=lambda: now[0])
    async with gate.slot():
        pass
    now[0] += 60

    async with asyncio.timeout(1):
        async with gate.slot():
            pass


async def test_a_raised_limit_applies_at_once(wait_for):
    current = {"max_parallel": 1}
    gate = ActionGate(lambda: limits(**current))
    release = asyncio.Event()

    async def action() -> None:
        async with gate.slot():
            await release.wait()

    first = asyncio.create_task(action())
    await wait_for(lambda: gate.in_flight == 1, "one in flight")
    current["max_parallel"] = 2
    second = asyncio.create_task(action())
    await wait_for(lambda: gate.in_flight == 2, "a second slot under the raised limit")

    release.set()
    await asyncio.gather(first, second)
    assert gate.in_flight == 0


async def test_the_healer_holds_restarts_beyond_max_parallel(harness, make_container):
    h = await harness({"restart": {"max_parallel": 2}})
    h.fake.hold = asyncio.Event()
    names = [f"app{i}" for i in range(4)]
    ids = [h.fake.add(make_container(name, has_healthcheck=True, health="healthy")).id for name in names]

    for cid in ids:
        h.fake.set_health(cid, "unhealthy")
    await h.wait_for(lambda: h.fake.in_flight == 2 and len(h.metrics.held) == 2, "two restarting, two held back")
    await asyncio.sleep(0.05)
    assert h.fake.in_flight == 2
    assert h.metrics.held == ["max_parallel", "max_parallel"]

    h.fake.hold.set()
    await h.idle()
    assert sorted(cid for _, cid, _ in h.fake.actions) == sorted(ids)
    assert h.fake.peak_in_flight == 2
    assert len(h.records("restart")) == 4
