"""The watcher against the fake engine: following the stream, reconnecting, and resyncing."""

from __future__ import annotations

import asyncio

import pytest

from autoheal.engine import watcher as watcher_module
from autoheal.engine.watcher import Watcher, reconnect_delay


@pytest.fixture(autouse=True)
def fast_reconnect(monkeypatch):
    monkeypatch.setattr(watcher_module, "RECONNECT_INITIAL_SECONDS", 0.01)


@pytest.fixture
async def watching(harness):
    """Factory: a harness whose events reach the healer through a running Watcher."""
    tasks: list[asyncio.Task[None]] = []

    async def make(overrides=None, *, reconcile_loop: bool = False):
        h = await harness(overrides, pump=False)
        reconnected: list[bool] = []
        w = Watcher(h.fake, h.healer, on_reconnect=lambda: reconnected.append(True))
        w.reconnected = reconnected  # type: ignore[attr-defined]
        tasks.append(asyncio.create_task(w.run_events()))
        if reconcile_loop:
            tasks.append(asyncio.create_task(w.run_reconcile()))
        return h, w

    yield make
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def live(w: Watcher) -> bool:
    return w.status.engine_connected and w.status.stream_live


async def test_it_connects_resyncs_and_follows_the_stream(watching, make_container):
    h, w = await watching()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    await h.wait_for(lambda: live(w), "live")

    assert w.status.engine_version == "27.3.1-fake" and w.status.api_version == "1.47"
    assert w.status.last_reconcile_at is not None
    assert web.id in h.healer.containers  # learned by the first reconcile

    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(lambda: len(h.records("restart")) == 1, "restarted through the stream")
    assert h.fake.actions == [("restart", web.id, 10)]


async def test_it_reconnects_and_resyncs_after_the_stream_fails(watching, make_container):
    h, w = await watching()
    web = h.fake.add(make_container())
    await h.wait_for(lambda: live(w), "live")
    connected_since = w.status.connected_since

    h.fake.go_down()
    await h.wait_for(lambda: not w.status.engine_connected, "connection lost")
    assert not w.status.stream_live
    assert "Cannot connect to the Docker daemon" in w.status.last_error
    h.fake.crash(web.id)  # never delivered: the stream is gone
    await h.wait_for(lambda: h.fake.connects >= 3, "retrying")
    assert not w.status.engine_connected

    h.fake.come_back()
    await h.wait_for(lambda: live(w), "live again")
    await h.wait_for(lambda: h.fake.actions == [("start", web.id, None)], "the missed crash healed by the resync")

    assert (w.status.reconnects, w.reconnected, w.status.last_error) == (1, [True], "")
    assert w.status.connected_since > connected_since
    engine = [r.reason for r in h.records("engine")]
    assert len(engine) == 2
    assert engine[0].startswith("engine unavailable: ") and engine[1].startswith("engine connection restored")
    assert h.records("restart")[0].reason.startswith("start done")


async def test_it_keeps_retrying_while_the_engine_is_down_at_startup(watching, make_container):
    h, w = await watching()
    h.fake.go_down("permission denied while trying to connect to the Docker daemon socket")
    await h.wait_for(lambda: h.fake.connects >= 3, "several attempts")
    assert not w.status.engine_connected
    assert w.status.last_error.startswith("permission denied")
    assert len(h.records("engine")) == 1  # one record per outage, not one per attempt

    h.fake.come_back()
    await h.wait_for(lambda: live(w), "live")


async def test_it_reconnects_when_the_stream_just_ends(watching, make_container):
    h, w = await watching()
    await h.wait_for(lambda: live(w), "live")
    first_reconcile = w.status.last_reconcile_at

    await h.fake.close()  # the engine hangs up without an error

    await h.wait_for(lambda: w.status.reconnects == 1 and live(w), "reconnected")
    assert w.status.last_reconcile_at > first_reconcile


async def test_a_silent_engine_is_dropped_by_the_reconcile_loop(watching, make_container):
    h, w = await watching({"monitor": {"interval_seconds": 0.05}}, reconcile_loop=True)
    await h.wait_for(lambda: live(w), "live")

    h.fake.go_down(silent=True)  # the stream stays open but nothing answers any more
    await h.wait_for(lambda: not w.status.engine_connected and h.fake.closes >= 1, "connection dropped")
    await h.wait_for(lambda: not h.fake._streams, "the stuck stream closed")  # noqa: SLF001

    h.fake.come_back()
    await h.wait_for(lambda: live(w) and w.status.reconnects == 1, "reconnected")


async def test_replayed_events_after_a_reconnect_do_not_act_twice(watching, make_container):
    h, w = await watching()
    web = h.fake.add(make_container())
    await h.wait_for(lambda: live(w), "live")
    h.fake.go_down()
    await h.wait_for(lambda: not w.status.engine_connected, "connection lost")
    h.fake.crash(web.id)  # the die event is replayed (since = now - 1 s) after the resync has seen the exit

    h.fake.come_back()
    await h.wait_for(lambda: live(w) and len(h.fake.actions) == 1, "healed")
    await asyncio.sleep(0.2)

    assert h.fake.actions == [("start", web.id, None)]
    assert len(h.records("scheduled")) == 1


def test_the_reconnect_delay_is_capped_and_jittered():
    assert reconnect_delay(0, rand=lambda: 0.0) == pytest.approx(watcher_module.RECONNECT_INITIAL_SECONDS / 2)
    assert reconnect_delay(0, rand=lambda: 1.0) == pytest.approx(watcher_module.RECONNECT_INITIAL_SECONDS)
    assert reconnect_delay(100, rand=lambda: 1.0) == watcher_module.RECONNECT_MAX_SECONDS
