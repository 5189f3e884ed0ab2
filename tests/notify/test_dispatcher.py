"""The dispatcher: notices stored first, delivered in the background, retried with backoff, given up."""

from __future__ import annotations

import asyncio

from autoheal.metrics import Metrics
from autoheal.notify.base import Delivery
from autoheal.notify.dispatcher import Dispatcher
from autoheal.notify.notice import Notice
from autoheal.notify.settings import NotifySettings
from tests.notify.conftest import ScriptedChannel

NOTICE = Notice("restarted", "h", 1.0, "restarted (crash)", "c" * 64, "web")
FAIL_500 = Delivery(False, status_code=500, error="HTTP 500")
FAIL_400 = Delivery(False, permanent=True, status_code=400, error="HTTP 400: bad payload")


def make(outbox, clock, *channels, **settings) -> Dispatcher:
    policy = NotifySettings(retry_seconds=10, retry_max_seconds=25, max_attempts=4, **settings)
    return Dispatcher(outbox, channels, policy, Metrics(), clock=clock)


async def settle(dispatcher: Dispatcher) -> None:
    """Let the deliveries started by the last step finish."""
    await asyncio.gather(*list(dispatcher._in_flight.values()))


def sample(metrics: Metrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("autoheal_notifications_total", {"channel": "webhook", "outcome": outcome})


async def test_a_notice_is_stored_then_sent_and_the_attempt_recorded(outbox, clock):
    channel = ScriptedChannel()
    dispatcher = make(outbox, clock, channel)
    dispatcher.enqueue(NOTICE)
    assert channel.sent == []  # enqueue never sends by itself
    await dispatcher.step()
    await settle(dispatcher)
    assert channel.sent == [NOTICE]
    [entry] = await outbox.recent()
    assert (entry.status, entry.attempts, entry.event, entry.container_name) == ("sent", 1, "restarted", "web")
    assert len(entry.history) == 1 and entry.history[0].ok
    assert sample(dispatcher.metrics, "sent") == 1


async def test_a_retryable_failure_waits_with_backoff_then_succeeds(outbox, clock):
    channel = ScriptedChannel(FAIL_500, FAIL_500, Delivery(True, status_code=200))
    dispatcher = make(outbox, clock, channel)
    dispatcher.enqueue(NOTICE)
    await dispatcher.step()
    await settle(dispatcher)
    [entry] = await outbox.recent()
    assert entry.status == "pending" and entry.next_attempt_at == clock.now + 10
    assert await dispatcher.step() == clock.now + 10  # not due yet: nothing sent
    assert len(channel.sent) == 1
    clock.now += 10
    await dispatcher.step()
    await settle(dispatcher)
    [entry] = await outbox.recent()
    assert entry.next_attempt_at == clock.now + 20  # doubled
    clock.now += 20
    await dispatcher.step()
    await settle(dispatcher)
    [entry] = await outbox.recent()
    assert entry.status == "sent" and entry.attempts == 3
    assert [a.status_code for a in entry.history] == [500, 500, 200]
    assert sample(dispatcher.metrics, "retry") == 2 and sample(dispatcher.metrics, "sent") == 1


async def test_retries_stop_after_max_attempts(outbox, clock):
    channel = ScriptedChannel(FAIL_500)
    dispatcher = make(outbox, clock, channel)
    dispatcher.enqueue(NOTICE)
    for _ in range(10):
        await dispatcher.step()
        await settle(dispatcher)
        clock.now += 1000
    [entry] = await outbox.recent()
    assert entry.status == "failed" and entry.attempts == 4 and len(channel.sent) == 4
    assert entry.last_error == "HTTP 500"
    assert sample(dispatcher.metrics, "failed") == 1


async def test_a_permanent_failure_is_not_retried(outbox, clock):
    channel = ScriptedChannel(FAIL_400)
    dispatcher = make(outbox, clock, channel)
    dispatcher.enqueue(NOTICE)
    for _ in range(3):
        await dispatcher.step()
        await settle(dispatcher)
        clock.now += 1000
    [entry] = await outbox.recent()
    assert entry.status == "failed" and entry.attempts == 1 and len(channel.sent) == 1
    assert entry.history[0].permanent and "bad payload" in entry.last_error


async def test_every_channel_gets_its_own_entry(outbox, clock):
    ok, broken = ScriptedChannel(name="webhook"), ScriptedChannel(FAIL_400, name="apprise-1")
    dispatcher = make(outbox, clock, ok, broken)
    dispatcher.enqueue(NOTICE)
    await dispatcher.step()
    await settle(dispatcher)
    assert {e.channel: e.status for e in await outbox.recent()} == {"webhook": "sent", "apprise-1": "failed"}


async def test_a_hanging_channel_holds_up_neither_enqueue_nor_other_notices(outbox, clock):
    channel = ScriptedChannel(hang=True)
    dispatcher = make(outbox, clock, channel)
    dispatcher.enqueue(NOTICE)
    await dispatcher.step()
    dispatcher.enqueue(Notice("quarantined", "h", 2.0, "gave up", "d" * 64, "db"))
    await dispatcher.step()  # returns although the first delivery still hangs
    await asyncio.sleep(0)
    assert [n.event for n in channel.sent] == ["restarted", "quarantined"]
    assert (await outbox.counts())["pending"] == 2
    channel.release.set()
    await settle(dispatcher)
    assert (await outbox.counts())["sent"] == 2


async def test_a_delivery_in_flight_is_not_started_twice(outbox, clock):
    channel = ScriptedChannel(hang=True)
    dispatcher = make(outbox, clock, channel)
    dispatcher.enqueue(NOTICE)
    await dispatcher.step()
    await asyncio.sleep(0)
    assert await dispatcher.step() is None  # the only entry is in flight: nothing else is due
    await asyncio.sleep(0)
    assert len(channel.sent) == 1
    channel.release.set()
    await settle(dispatcher)


async def test_a_channel_that_never_answers_times_out_as_a_failed_attempt(outbox, clock, monkeypatch):
    monkeypatch.setattr("autoheal.notify.dispatcher.TIMEOUT_GRACE_SECONDS", 0.0)
    channel = ScriptedChannel(hang=True)
    dispatcher = make(outbox, clock, channel, timeout_seconds=0.05)
    dispatcher.enqueue(NOTICE)
    await dispatcher.step()
    await settle(dispatcher)
    [entry] = await outbox.recent()
    assert entry.status == "pending" and entry.attempts == 1 and "no answer" in entry.last_error


async def test_the_test_send_delivers_once_and_reports_each_channel(outbox, clock):
    ok, broken = ScriptedChannel(name="webhook"), ScriptedChannel(FAIL_500, name="apprise-1")
    dispatcher = make(outbox, clock, ok, broken)
    results = await dispatcher.send_test(Notice("test", "h", 1.0, "test"))
    assert [(c.name, d.ok) for c, d in results] == [("webhook", True), ("apprise-1", False)]
    await dispatcher.step()
    await settle(dispatcher)
    assert len(broken.sent) == 1  # a failed test is not retried
    assert {e.channel: e.status for e in await outbox.recent()} == {"webhook": "sent", "apprise-1": "failed"}


async def test_notices_queued_at_shutdown_are_stored_for_the_next_start(outbox, clock):
    channel = ScriptedChannel()
    dispatcher = make(outbox, clock, channel)
    dispatcher.enqueue(NOTICE)
    await dispatcher.close()
    assert channel.sent == [] and channel.closed
    assert (await outbox.counts())["pending"] == 1
    again = make(outbox, clock, ScriptedChannel())
    await again.step()
    await settle(again)
    assert (await outbox.counts())["sent"] == 1


async def test_with_no_channel_nothing_is_stored(outbox, clock):
    dispatcher = make(outbox, clock)
    dispatcher.enqueue(NOTICE)
    await dispatcher.step()
    assert await outbox.recent() == []


async def test_an_idle_dispatcher_does_not_ask_the_store(outbox, clock, monkeypatch):
    dispatcher = make(outbox, clock, ScriptedChannel())
    asked = []
    real_due = outbox.due

    async def counting_due(now, limit=50):
        asked.append(now)
        return await real_due(now, limit)

    monkeypatch.setattr(outbox, "due", counting_due)
    await dispatcher.step()  # the first step looks for what an earlier run left
    for _ in range(5):
        clock.now += 5
        await dispatcher.step()
    assert len(asked) == 1
    dispatcher.enqueue(NOTICE)
    await dispatcher.step()
    await settle(dispatcher)
    assert len(asked) == 2


async def test_a_retry_is_picked_up_when_due_without_new_notices(outbox, clock):
    channel = ScriptedChannel(FAIL_500, Delivery(True, status_code=200))
    dispatcher = make(outbox, clock, channel)
    dispatcher.enqueue(NOTICE)
    await dispatcher.step()
    await settle(dispatcher)
    clock.now += 10
    await dispatcher.step()
    await settle(dispatcher)
    [entry] = await outbox.recent()
    assert entry.status == "sent" and len(channel.sent) == 2
