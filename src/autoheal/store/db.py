"""The SQLite connection: WAL, one writer thread, migrations; nothing blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from autoheal.store.migrations import MIGRATIONS

log = logging.getLogger(__name__)
T = TypeVar("T")
DB_FILE = "autoheal.sqlite3"


class StoreError(Exception):
    """The store cannot be opened or written."""


class Database:
    """One connection, used only from one worker thread; memory mode writes nothing to disk."""

    def __init__(self, data_dir: Path | None) -> None:
        self.path = None if data_dir is None else data_dir / DB_FILE
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autoheal-store")
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    @property
    def in_memory(self) -> bool:
        return self.path is None

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(connection) on the store thread, inside a transaction."""
        if self._closed:  # the executor is gone: fail as a StoreError, like any store failure
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._in_transaction, fn)

    def _in_transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            raise StoreError("the store is not open")
        try:
            with self._conn:
                return fn(self._conn)
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path or ':memory:'}: {exc}") from exc

    async def open(self) -> int:
        """Open (creating the file if needed) and migrate; returns the schema version."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._open)

    def _open(self) -> int:
        conn = None
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path) if self.path else ":memory:", isolation_level=None)
            conn.row_factory = sqlite3.Row
            if self.path is not None:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.isolation_level = "DEFERRED"
            version = self._migrate(conn)
        except (sqlite3.Error, OSError, StoreError) as exc:
            # A refused or half-opened store must not stay usable for later writes.
            if conn is not None:
                conn.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open the store at {self.path}: {exc}") from exc
        self._conn = conn
        return version

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> int:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL)")
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        newest_known = MIGRATIONS[-1][0]
        if done and max(done) > newest_known:
            raise StoreError(f"the store has schema version {max(done)}, newer than this autoheal ({newest_known})")
        for version, script in MIGRATIONS:
            if version in done:
                continue
            log.info("store: applying migration %d", version)
            # executescript commits first; the version row goes in the same script so a crash
            # can never leave a half-applied migration recorded as done.
            conn.executescript(
                f"BEGIN; {script}; INSERT INTO schema_migrations VALUES ({version}, strftime('%s','now')); COMMIT;"
            )
        return newest_known

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
