"""The outbox tables: entries, their attempts, due order, counts and retention."""

from __future__ import annotations

from autoheal.store.outbox import Attempt


def failed(at: float, code: int = 500) -> Attempt:
    return Attempt(at, False, False, code, f"HTTP {code}", 0.1)


async def test_entries_come_due_in_order_and_keep_their_notice(outbox):
    ids = await outbox.add([("webhook", "restarted", "web", {"text": "a"}), ("webhook", "quarantined", "db", {"text": "b"})], 10.0)
    due = await outbox.due(10.0)
    assert [e.id for e in due] == ids
    assert due[0].notice == {"text": "a"} and due[1].container_name == "db"
    assert await outbox.due(9.0) == []


async def test_an_attempt_updates_the_entry_and_is_kept_in_its_history(outbox):
    [entry_id] = await outbox.add([("webhook", "restarted", "web", {})], 10.0)
    await outbox.attempted(entry_id, failed(11.0), "pending", 21.0)
    assert await outbox.next_due_at() == 21.0
    assert await outbox.next_due_at(exclude=(entry_id,)) is None
    await outbox.attempted(entry_id, Attempt(21.0, True, False, 200, "", 0.05), "sent", 21.0)
    [entry] = await outbox.recent()
    assert (entry.status, entry.attempts, entry.last_error) == ("sent", 2, "")
    assert [a.status_code for a in entry.history] == [500, 200]
    assert await outbox.counts() == {"pending": 0, "sent": 1, "failed": 0}


async def test_recent_filters_by_status_newest_first(outbox):
    a, b, c = await outbox.add([("webhook", "restarted", n, {}) for n in ("a", "b", "c")], 1.0)
    await outbox.attempted(b, failed(2.0, 400), "failed", 2.0)
    assert [e.id for e in await outbox.recent()] == [c, b, a]
    assert [e.id for e in await outbox.recent(status="failed")] == [b]
    assert [e.id for e in await outbox.recent(limit=1)] == [c]


async def test_retention_drops_old_finished_entries_and_never_pending_ones(outbox):
    ids = await outbox.add([("webhook", "restarted", str(i), {}) for i in range(5)], 0.0)
    for entry_id in ids[:4]:
        await outbox.attempted(entry_id, failed(1.0), "failed", 1.0)
    assert await outbox.prune(max_count=2, max_age_seconds=1000, now=100.0) == 2
    assert {e.id for e in await outbox.recent()} == {ids[2], ids[3], ids[4]}
    assert await outbox.prune(max_count=100, max_age_seconds=10, now=100.0) == 2
    assert [e.status for e in await outbox.recent()] == ["pending"]
