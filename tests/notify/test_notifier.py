"""What is worth telling: event filters, the mute label, no repeats, and degraded/recovered."""

from __future__ import annotations

from autoheal.domain.records import Record
from autoheal.metrics import Metrics
from autoheal.notify.dispatcher import Dispatcher
from autoheal.notify.notifier import DEGRADED_HOLD_SECONDS, Notifier
from autoheal.notify.settings import NotifySettings
from tests.notify.conftest import ScriptedChannel

CID = "c" * 64


class Spy(Dispatcher):
    def __init__(self, outbox, channels) -> None:
        super().__init__(outbox, channels, NotifySettings())
        self.queued = []

    def enqueue(self, notice) -> None:
        self.queued.append(notice)


def make(outbox, clock, labels=None, channels=None, **settings):
    spy = Spy(outbox, [ScriptedChannel()] if channels is None else channels)
    metrics = Metrics()
    notifier = Notifier(
        NotifySettings(**settings),
        spy,
        "host-a",
        labels_of=lambda cid: (labels or {}).get(cid),
        on_suppressed=metrics.notice_suppressed,
        clock=clock,
    )
    return notifier, spy, metrics


def record(kind: str, at: float, cid: str = CID, name: str = "web") -> Record:
    return Record(at, kind, "why", cid, name, "crash")


def suppressed(metrics: Metrics, reason: str) -> float:
    return metrics.registry.get_sample_value("autoheal_notifications_suppressed_total", {"reason": reason})


async def test_a_restart_is_queued_with_the_host_name(outbox, clock):
    notifier, spy, _ = make(outbox, clock)
    notifier.observe(record("restart", 1.0))
    [notice] = spy.queued
    assert notice.event == "restarted" and notice.host == "host-a" and notice.container_name == "web"


async def test_events_not_subscribed_are_filtered(outbox, clock):
    notifier, spy, metrics = make(outbox, clock, events=("quarantined",))
    notifier.observe(record("restart", 1.0))
    notifier.observe(record("quarantine", 2.0))
    assert [n.event for n in spy.queued] == ["quarantined"]
    assert suppressed(metrics, "filtered") == 1


async def test_the_mute_label_silences_a_container(outbox, clock):
    notifier, spy, metrics = make(outbox, clock, labels={CID: {"autoheal.notify": "False"}, "d" * 64: {"autoheal.notify": "yes"}})
    notifier.observe(record("restart", 1.0))
    notifier.observe(record("restart", 1.0, cid="d" * 64, name="db"))
    assert [n.container_name for n in spy.queued] == ["db"]
    assert suppressed(metrics, "muted") == 1


async def test_the_same_event_is_not_repeated_within_repeat_seconds(outbox, clock):
    notifier, spy, metrics = make(outbox, clock, repeat_seconds=300)
    notifier.observe(record("restart_failed", 1.0))
    notifier.observe(record("restart_failed", 100.0))
    notifier.observe(record("restart", 150.0))  # a new state is told at once
    notifier.observe(record("restart_failed", 200.0))
    notifier.observe(record("restart_failed", 600.0))  # the same state, but long after
    assert [(n.event, n.time) for n in spy.queued] == [
        ("restart_failed", 1.0),
        ("restarted", 150.0),
        ("restart_failed", 200.0),
        ("restart_failed", 600.0),
    ]
    assert suppressed(metrics, "repeat") == 1


async def test_other_containers_are_not_repeats(outbox, clock):
    notifier, spy, _ = make(outbox, clock)
    notifier.observe(record("restart", 1.0))
    notifier.observe(record("restart", 1.0, cid="d" * 64, name="db"))
    assert len(spy.queued) == 2


async def test_degraded_is_told_once_after_the_hold_then_recovered_once(outbox, clock):
    notifier, spy, _ = make(outbox, clock)
    notifier.health(False, ["engine not connected: refused"])
    assert spy.queued == []  # a blip while connecting is not worth a message
    clock.now += DEGRADED_HOLD_SECONDS
    notifier.health(False, ["engine not connected: refused"])
    clock.now += 60
    notifier.health(False, ["engine not connected: refused"])
    notifier.health(True, [])
    notifier.health(True, [])
    assert [n.event for n in spy.queued] == ["degraded", "recovered"]
    assert "engine not connected" in spy.queued[0].reason and spy.queued[0].host == "host-a"


async def test_a_short_outage_is_not_told(outbox, clock):
    notifier, spy, _ = make(outbox, clock)
    notifier.health(False, ["event stream not live"])
    clock.now += 1
    notifier.health(True, [])
    clock.now += DEGRADED_HOLD_SECONDS
    notifier.health(True, [])
    assert spy.queued == []


async def test_nothing_happens_without_a_channel(outbox, clock):
    notifier, spy, metrics = make(outbox, clock, channels=[])
    notifier.observe(record("restart", 1.0))
    notifier.health(False, ["x"])
    assert spy.queued == [] and suppressed(metrics, "filtered") == 0


async def test_memory_of_sent_events_is_dropped_once_it_cannot_matter(outbox, clock):
    notifier, spy, _ = make(outbox, clock, repeat_seconds=60)
    for i in range(500):
        notifier.observe(record("restart", clock.now, cid=f"{i:064x}", name=f"c{i}"))
    assert len(notifier._last) == 500
    clock.now += 61
    notifier.health(True, [])
    assert notifier._last == {}
