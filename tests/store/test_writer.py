"""The store writer: batched flushes, newest state wins, unwritten items kept on failure, retention."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from autoheal.domain.policy import PolicyState
from autoheal.engine.records import Record
from autoheal.store.db import Database, StoreError
from autoheal.store.state import Store
from autoheal.store.writer import PRUNE_EVERY_SECONDS, StoreWriter

A = "a" * 64
B = "b" * 64
NO_RETENTION = (10_000_000, 1e12)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    db = Database(tmp_path)
    await db.open()
    yield Store(db)
    await db.close()


def record(n: int, kind: str = "restart") -> Record:
    return Record(time=float(n), kind=kind, reason=f"reason {n}", container_id=A, container_name="web")


async def stored_records(store: Store) -> list[Record]:
    """Oldest first."""
    return [r for _, r in reversed((await store.query_events(limit=1000)).records)]


async def wait_for(condition: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.01)


def count_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the transactions the writer opens (each db.run is one)."""
    calls: list[int] = []
    real = store.db.run

    async def counting(fn):
        calls.append(1)
        return await real(fn)

    monkeypatch.setattr(store.db, "run", counting)
    return calls


async def test_records_and_states_are_written_together_in_one_batch(store: Store, monkeypatch: pytest.MonkeyPatch):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    writer.record(record(1))
    writer.state_changed(A, "web", PolicyState(failures=1))
    writer.record(record(2))
    writer.state_changed(B, "db", PolicyState(quarantined_at=5.0))
    assert writer.pending == 4

    batches = count_batches(store, monkeypatch)
    await writer.flush()
    assert len(batches) == 1
    assert writer.pending == 0
    monkeypatch.undo()

    assert await stored_records(store) == [record(1), record(2)]
    assert await store.load_states() == {A: ("web", PolicyState(failures=1)), B: ("db", PolicyState(quarantined_at=5.0))}


async def test_flushing_nothing_opens_no_transaction(store: Store, monkeypatch: pytest.MonkeyPatch):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    batches = count_batches(store, monkeypatch)
    await writer.flush()
    assert batches == []


async def test_the_latest_state_of_a_container_wins(store: Store):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    writer.state_changed(A, "web", PolicyState(failures=1))
    writer.state_changed(A, "web", PolicyState(failures=2))
    writer.state_changed(A, "web", PolicyState(failures=3, restarts=(1.0,)))
    assert writer.pending == 1
    await writer.flush()
    assert await store.load_states() == {A: ("web", PolicyState(failures=3, restarts=(1.0,)))}


async def test_forgetting_a_container_after_a_queued_change_deletes_its_row(store: Store):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    writer.state_changed(A, "web", PolicyState(failures=1))
    await writer.flush()
    writer.state_changed(A, "web", PolicyState(failures=2))
    writer.state_changed(A, "", None)
    await writer.flush()
    assert await store.load_states() == {}


async def test_a_failed_write_keeps_everything_for_the_next_flush(store: Store, monkeypatch: pytest.MonkeyPatch):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    writer.record(record(1))
    writer.state_changed(A, "web", PolicyState(failures=1))

    async def failing(fn):
        raise StoreError("disk I/O error")

    monkeypatch.setattr(store.db, "run", failing)
    with pytest.raises(StoreError):
        await writer.flush()
    assert writer.pending == 2
    assert (writer.failures, writer.last_error) == (1, "disk I/O error")

    monkeypatch.undo()
    await writer.flush()
    assert writer.pending == 0 and writer.last_error == ""
    assert await stored_records(store) == [record(1)]
    assert await store.load_states() == {A: ("web", PolicyState(failures=1))}


async def test_a_write_that_fails_inside_sqlite_commits_nothing_and_is_retried(store: Store, monkeypatch: pytest.MonkeyPatch):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    writer.record(record(1))
    writer.state_changed(A, "web", PolicyState(failures=1))
    real_write = Store.write_batch

    def write_then_fail(c: sqlite3.Connection, states, records, now) -> None:
        real_write(c, states, records, now)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Store, "write_batch", staticmethod(write_then_fail))
    with pytest.raises(StoreError, match="disk is full"):
        await writer.flush()
    assert await store.count_events() == 0 and await store.load_states() == {}

    monkeypatch.undo()
    await writer.flush()
    assert await stored_records(store) == [record(1)]
    assert await store.load_states() == {A: ("web", PolicyState(failures=1))}


async def test_a_closed_store_keeps_the_items_queued(store: Store):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    await store.db.close()
    writer.record(record(1))
    with pytest.raises(StoreError):
        await writer.flush()
    assert writer.pending == 1


async def test_newer_changes_queued_during_a_failed_write_win_and_keep_their_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    writer.record(record(1))
    writer.state_changed(A, "web", PolicyState(failures=1))

    async def failing_while_more_arrives(fn):
        writer.record(record(2))
        writer.state_changed(A, "web", PolicyState(failures=2))
        raise StoreError("database is locked")

    monkeypatch.setattr(store.db, "run", failing_while_more_arrives)
    with pytest.raises(StoreError):
        await writer.flush()
    monkeypatch.undo()
    await writer.flush()
    assert await stored_records(store) == [record(1), record(2)]
    assert await store.load_states() == {A: ("web", PolicyState(failures=2))}


async def test_run_flushes_when_woken(store: Store):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    task = asyncio.create_task(writer.run())
    try:
        await asyncio.sleep(0)
        writer.record(record(1))

        async def written() -> bool:
            return await store.count_events() == 1

        await wait_for(written, "the record written")
        writer.state_changed(A, "web", PolicyState(failures=1))

        async def state_written() -> bool:
            return A in await store.load_states()

        await wait_for(state_written, "the state written")
        assert writer.pending == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_run_retries_a_failed_write_without_being_woken_again(store: Store, monkeypatch: pytest.MonkeyPatch):
    writer = StoreWriter(store, lambda: NO_RETENTION)
    real = store.db.run
    attempts: list[int] = []

    async def fail_once(fn):
        attempts.append(1)
        if len(attempts) == 1:
            raise StoreError("database is locked")
        return await real(fn)

    monkeypatch.setattr(store.db, "run", fail_once)
    task = asyncio.create_task(writer.run())
    try:
        writer.record(record(1))

        async def written() -> bool:
            return await real(lambda c: c.execute("SELECT COUNT(*) FROM events").fetchone()[0]) == 1

        await wait_for(written, "the record written after the retry")
        assert writer.last_error == "" and writer.failures == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_run_prunes_by_the_live_retention_settings(store: Store):
    now = 1_000_000.0
    retention = [(3, 1e9)]
    writer = StoreWriter(store, lambda: retention[0], clock=lambda: now)
    await store.db.run(lambda c: Store.write_batch(c, {}, [record(n) for n in range(10)], now))
    task = asyncio.create_task(writer.run())
    try:
        writer.record(record(10))

        async def pruned() -> bool:
            return await store.count_events() == 3

        await wait_for(pruned, "the log pruned to 3")
        assert [r.time for _, r in (await store.query_events()).records] == [10.0, 9.0, 8.0]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_pruning_waits_between_passes(store: Store):
    clock = [1_000_000.0]
    writer = StoreWriter(store, lambda: (1, 1e9), clock=lambda: clock[0])
    writer.record(record(1))
    await writer.flush()
    await writer._maybe_prune()
    writer.record(record(2))
    writer.record(record(3))
    await writer.flush()

    clock[0] += PRUNE_EVERY_SECONDS - 1
    await writer._maybe_prune()
    assert await store.count_events() == 3

    clock[0] += 1
    await writer._maybe_prune()
    assert await store.count_events() == 1
