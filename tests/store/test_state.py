"""Typed queries: settings document, choices, per-container policy state, events and retention."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from autoheal.domain.policy import FailureKind, PolicyState
from autoheal.engine.records import Record
from autoheal.store.db import Database
from autoheal.store.state import Store

A = "a" * 64
B = "b" * 64


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    db = Database(tmp_path)
    await db.open()
    yield Store(db)
    await db.close()


async def reopen(store: Store, tmp_path: Path) -> Store:
    """The same file through a fresh connection: what a restarted autoheal reads."""
    await store.db.close()
    db = Database(tmp_path)
    await db.open()
    return Store(db)


async def write(store: Store, states=None, records=(), now: float = 1000.0) -> None:
    await store.db.run(lambda c: Store.write_batch(c, dict(states or {}), list(records), now))


def record(n: int, *, kind: str = "restart", container_id: str = A, time: float | None = None) -> Record:
    return Record(
        time=float(n) if time is None else time,
        kind=kind,
        reason=f"reason {n}",
        container_id=container_id,
        container_name="web" if container_id == A else "db",
    )


# --- settings and choices -----------------------------------------------------------


async def test_a_store_without_settings_has_no_document(store: Store):
    assert await store.load_settings_document() is None


async def test_the_settings_document_survives_a_reopen(store: Store, tmp_path: Path):
    document = {"monitor": {"interval_seconds": 5.0, "label_key": "heal"}, "filters": {"whitelist_names": ["a*"]}}
    await store.save_settings_document({"monitor": {"interval_seconds": 1.0}}, now=1.0)
    await store.save_settings_document(document, now=2.0)

    store = await reopen(store, tmp_path)
    try:
        assert await store.load_settings_document() == document
        assert await store.db.run(lambda c: c.execute("SELECT COUNT(*) FROM settings").fetchone()[0]) == 1
    finally:
        await store.db.close()


async def test_replacing_choices_drops_the_names_not_given(store: Store):
    await store.replace_choices({"web": True, "db": False}, now=1.0)
    await store.replace_choices({"db": True, "cache": False}, now=2.0)
    assert await store.load_choices() == {"db": True, "cache": False}


async def test_replacing_choices_with_nothing_forgets_them_all(store: Store):
    await store.replace_choices({"web": True}, now=1.0)
    await store.replace_choices({}, now=2.0)
    assert await store.load_choices() == {}


# --- per-container policy state -------------------------------------------------------


async def test_a_policy_state_survives_a_reopen_field_for_field(store: Store, tmp_path: Path):
    state = PolicyState(
        failures=2,
        restarts=(100.0, 160.5),
        last_restart_at=160.5,
        started_at=161.0,
        stable_since=None,
        unhealthy_since=150.25,
        pending_kind=FailureKind.OOM,
        quarantined_at=170.0,
        probation=True,
        manual_stop=True,
        paused=True,
    )
    await write(store, {A: ("web", state)})

    store = await reopen(store, tmp_path)
    try:
        loaded = await store.load_states()
    finally:
        await store.db.close()
    assert loaded == {A: ("web", state)}
    _, back = loaded[A]
    assert type(back.restarts) is tuple and back.quarantined
    assert type(back.pending_kind) is FailureKind


async def test_a_scheduled_restart_is_stored_as_not_having_happened(store: Store):
    scheduled = PolicyState(
        failures=3,
        restarts=(10.0, 20.0),
        pending_at=50.0,
        pending_attempt=3,
        pending_kind=FailureKind.CRASH,
    )
    await write(store, {A: ("web", scheduled)})
    _, back = (await store.load_states())[A]
    assert back == PolicyState(failures=2, restarts=(10.0, 20.0))


async def test_a_later_write_replaces_the_state_and_name(store: Store):
    await write(store, {A: ("web", PolicyState(failures=1))})
    await write(store, {A: ("web-renamed", PolicyState(failures=4, quarantined_at=9.0))})
    assert await store.load_states() == {A: ("web-renamed", PolicyState(failures=4, quarantined_at=9.0))}


async def test_a_state_of_none_deletes_the_container_row(store: Store):
    await write(store, {A: ("web", PolicyState(failures=1)), B: ("db", PolicyState(failures=2))})
    await write(store, {A: ("", None)})
    assert await store.load_states() == {B: ("db", PolicyState(failures=2))}


async def test_deleting_an_unknown_container_is_harmless(store: Store):
    await write(store, {A: ("", None)})
    assert await store.load_states() == {}


# --- events -----------------------------------------------------------------------------


async def test_events_come_back_newest_first_with_every_field(store: Store):
    full = Record(
        time=5.0,
        kind="restart_failed",
        reason="engine said no",
        container_id=A,
        container_name="web",
        cause="oom",
        exit_code=137,
        attempt=2,
        delay_seconds=20.5,
        window_count=3,
    )
    await write(store, records=[record(1), record(2), full])
    page = await store.query_events()
    assert [r for _, r in page.records] == [full, record(2), record(1)]
    ids = [i for i, _ in page.records]
    assert ids == sorted(ids, reverse=True)
    assert page.next_cursor is None


async def test_the_default_limit_is_50(store: Store):
    await write(store, records=[record(n) for n in range(60)])
    page = await store.query_events()
    assert len(page.records) == 50
    assert page.records[0][1] == record(59)
    assert page.next_cursor is not None


async def test_limit_caps_the_page_and_a_cursor_points_past_it(store: Store):
    await write(store, records=[record(n) for n in range(5)])
    page = await store.query_events(limit=2)
    assert [r.time for _, r in page.records] == [4.0, 3.0]
    assert page.next_cursor == page.records[-1][0]


async def test_an_exactly_full_page_has_no_next_cursor(store: Store):
    await write(store, records=[record(n) for n in range(3)])
    page = await store.query_events(limit=3)
    assert len(page.records) == 3 and page.next_cursor is None


async def test_events_filter_by_container(store: Store):
    await write(store, records=[record(1, container_id=A), record(2, container_id=B), record(3, container_id=A)])
    page = await store.query_events(container_id=B)
    assert [r for _, r in page.records] == [record(2, container_id=B)]


async def test_events_filter_by_any_of_several_kinds(store: Store):
    kinds = ["restart", "quarantine", "skipped", "config_changed", "restart"]
    await write(store, records=[record(n, kind=k) for n, k in enumerate(kinds)])
    page = await store.query_events(kinds=("quarantine", "config_changed"))
    assert [(r.time, r.kind) for _, r in page.records] == [(3.0, "config_changed"), (1.0, "quarantine")]


async def test_events_filter_by_time_since_inclusive_until_exclusive(store: Store):
    await write(store, records=[record(n) for n in range(10)])
    page = await store.query_events(since=3.0, until=6.0)
    assert [r.time for _, r in page.records] == [5.0, 4.0, 3.0]


async def test_filters_combine(store: Store):
    records = [
        record(1, kind="restart", container_id=A),
        record(2, kind="restart", container_id=B),
        record(3, kind="quarantine", container_id=A),
        record(4, kind="restart", container_id=A),
        record(5, kind="restart", container_id=A),
    ]
    await write(store, records=records)
    page = await store.query_events(container_id=A, kinds=("restart",), since=2.0, until=5.0)
    assert [r.time for _, r in page.records] == [4.0]


async def test_cursor_pagination_visits_every_matching_record_exactly_once(store: Store):
    records = [record(n, container_id=A if n % 3 else B) for n in range(23)]
    await write(store, records=records[:10])
    await write(store, records=records[10:])
    wanted = [r for r in reversed(records) if r.container_id == A]

    seen: list[tuple[int, Record]] = []
    cursor: int | None = None
    pages = 0
    while True:
        page = await store.query_events(limit=4, before_id=cursor, container_id=A)
        seen.extend(page.records)
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [r for _, r in seen] == wanted
    assert len({i for i, _ in seen}) == len(seen)
    assert pages == -(-len(wanted) // 4)


async def test_records_written_while_paging_do_not_shift_older_pages(store: Store):
    await write(store, records=[record(n) for n in range(6)])
    first = await store.query_events(limit=3)
    await write(store, records=[record(100), record(101)])
    second = await store.query_events(limit=3, before_id=first.next_cursor)
    assert [r.time for _, r in first.records + second.records] == [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]


# --- retention --------------------------------------------------------------------------


async def test_pruning_by_count_keeps_the_newest(store: Store):
    await write(store, records=[record(n) for n in range(20)])
    gone = await store.prune_events(max_count=5, max_age_seconds=1e9, now=20.0)
    assert gone == 15
    assert await store.count_events() == 5
    page = await store.query_events()
    assert [r.time for _, r in page.records] == [19.0, 18.0, 17.0, 16.0, 15.0]


async def test_pruning_by_count_below_the_bound_removes_nothing(store: Store):
    await write(store, records=[record(n) for n in range(5)])
    assert await store.prune_events(max_count=5, max_age_seconds=1e9, now=5.0) == 0
    assert await store.count_events() == 5


async def test_pruning_by_age_drops_records_older_than_the_bound(store: Store):
    await write(store, records=[record(n, time=t) for n, t in enumerate([100.0, 500.0, 899.0, 900.0, 950.0])])
    gone = await store.prune_events(max_count=1000, max_age_seconds=100.0, now=1000.0)
    assert gone == 3
    page = await store.query_events()
    assert [r.time for _, r in page.records] == [950.0, 900.0]


async def test_pruning_by_age_and_count_together_counts_each_record_once(store: Store):
    await write(store, records=[record(n, time=float(n)) for n in range(10)])
    gone = await store.prune_events(max_count=3, max_age_seconds=5.0, now=10.0)
    assert gone == 7
    assert [r.time for _, r in (await store.query_events()).records] == [9.0, 8.0, 7.0]
