"""The SQLite connection: migrations, refusal of newer stores, memory mode, WAL, open errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from autoheal.store.db import DB_FILE, Database, StoreError
from autoheal.store.migrations import MIGRATIONS

TABLES = {"schema_migrations", "settings", "choices", "container_state", "events", "flags", "healthchecks", "outbox", "delivery_attempts"}


def tables(c: sqlite3.Connection) -> set[str]:
    rows = c.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").fetchall()
    return {row[0] for row in rows}


def versions(c: sqlite3.Connection) -> list[int]:
    return [row[0] for row in c.execute("SELECT version FROM schema_migrations ORDER BY version")]


async def test_it_creates_the_tables_and_records_every_migration(tmp_path: Path):
    db = Database(tmp_path)
    try:
        assert await db.open() == MIGRATIONS[-1][0]
        assert await db.run(tables) == TABLES
        assert await db.run(versions) == [v for v, _ in MIGRATIONS]
    finally:
        await db.close()


async def test_opening_the_same_store_again_applies_no_migration_twice(tmp_path: Path):
    first = Database(tmp_path)
    await first.open()
    await first.run(lambda c: c.execute("INSERT INTO choices VALUES ('web', 1, 0)"))
    await first.close()

    second = Database(tmp_path)
    try:
        assert await second.open() == MIGRATIONS[-1][0]
        assert await second.run(versions) == [v for v, _ in MIGRATIONS]
        assert await second.run(lambda c: c.execute("SELECT name FROM choices").fetchall()[0][0]) == "web"
    finally:
        await second.close()


async def test_a_store_from_a_newer_autoheal_is_refused_naming_both_versions(tmp_path: Path):
    db = Database(tmp_path)
    await db.open()
    await db.run(lambda c: c.execute("INSERT INTO schema_migrations VALUES (7, 0)"))
    await db.close()

    refused = Database(tmp_path)
    with pytest.raises(StoreError) as caught:
        await refused.open()
    assert "7" in str(caught.value) and f"({MIGRATIONS[-1][0]})" in str(caught.value)
    # Refused means unusable, not half open: nothing can be written with the old code.
    with pytest.raises(StoreError, match="not open"):
        await refused.run(lambda c: c.execute("DELETE FROM events"))
    await refused.close()


async def test_memory_mode_writes_no_file_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    db = Database(None)
    try:
        assert db.path is None and db.in_memory
        await db.open()
        await db.run(lambda c: c.execute("INSERT INTO events (time, kind, reason) VALUES (1, 'restart', 'crash')"))
        assert await db.run(lambda c: c.execute("SELECT COUNT(*) FROM events").fetchone()[0]) == 1
        assert await db.run(lambda c: c.execute("PRAGMA database_list").fetchone()["file"]) == ""
    finally:
        await db.close()
    assert list(tmp_path.iterdir()) == []


async def test_a_file_store_runs_in_wal_mode(tmp_path: Path):
    db = Database(tmp_path)
    try:
        await db.open()
        assert db.path == tmp_path / DB_FILE and db.path.is_file()
        assert await db.run(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    finally:
        await db.close()


async def test_it_creates_a_missing_data_directory(tmp_path: Path):
    db = Database(tmp_path / "a" / "b")
    try:
        await db.open()
        assert (tmp_path / "a" / "b" / DB_FILE).is_file()
    finally:
        await db.close()


@pytest.mark.parametrize("where", ["a regular file", "below a regular file"])
async def test_an_unusable_location_is_a_store_error_not_a_raw_error(tmp_path: Path, where: str):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory", encoding="utf-8")
    db = Database(blocker if where == "a regular file" else blocker / "data")
    try:
        with pytest.raises(StoreError, match="cannot open the store"):
            await db.open()
    finally:
        await db.close()


async def test_a_database_file_that_is_not_sqlite_is_a_store_error(tmp_path: Path):
    (tmp_path / DB_FILE).write_bytes(b"this is not a database, just text that is long enough" * 20)
    db = Database(tmp_path)
    try:
        with pytest.raises(StoreError):
            await db.open()
    finally:
        await db.close()


async def test_a_failing_statement_is_a_store_error_and_rolls_back(tmp_path: Path):
    db = Database(tmp_path)
    try:
        await db.open()

        def half_then_fail(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO choices VALUES ('web', 1, 0)")
            c.execute("INSERT INTO no_such_table VALUES (1)")

        with pytest.raises(StoreError, match="no_such_table"):
            await db.run(half_then_fail)
        assert await db.run(lambda c: c.execute("SELECT COUNT(*) FROM choices").fetchone()[0]) == 0
    finally:
        await db.close()


async def test_using_a_closed_store_is_a_store_error(tmp_path: Path):
    db = Database(tmp_path)
    await db.open()
    await db.close()
    with pytest.raises(StoreError, match="closed"):
        await db.run(lambda c: c.execute("SELECT 1"))
    await db.close()  # closing twice is harmless
