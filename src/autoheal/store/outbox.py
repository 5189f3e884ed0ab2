"""The notification outbox: notices waiting to be sent, their status, and every delivery attempt."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from autoheal.store.db import Database

_ENTRY_COLUMNS = "id, created_at, channel, event, container_name, notice, status, attempts, next_attempt_at, last_error"


@dataclass(frozen=True)
class Attempt:
    """One try at delivering one entry."""

    at: float
    ok: bool
    permanent: bool
    status_code: int | None
    error: str
    duration_seconds: float


@dataclass(frozen=True)
class Entry:
    """One notice for one channel: pending until sent, or failed once given up."""

    id: int
    created_at: float
    channel: str
    event: str
    container_name: str
    notice: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str
    history: tuple[Attempt, ...] = ()


def _entry(row: sqlite3.Row, history: tuple[Attempt, ...] = ()) -> Entry:
    return Entry(
        id=row["id"],
        created_at=row["created_at"],
        channel=row["channel"],
        event=row["event"],
        container_name=row["container_name"],
        notice=json.loads(row["notice"]),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        history=history,
    )


class Outbox:
    """Typed queries over the outbox tables; each call is one transaction on the store thread."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, items: list[tuple[str, str, str, dict[str, Any]]], now: float) -> list[int]:
        """(channel, event, container name, notice fields) each; returns the new ids."""

        def insert(c: sqlite3.Connection) -> list[int]:
            ids = []
            for channel, event, name, notice in items:
                cur = c.execute(
                    "INSERT INTO outbox (created_at, channel, event, container_name, notice, status, attempts, "
                    "next_attempt_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
                    (now, channel, event, name, json.dumps(notice, sort_keys=True), now, now),
                )
                ids.append(int(cur.lastrowid or 0))
            return ids

        return await self.db.run(insert)

    async def due(self, now: float, limit: int = 50) -> list[Entry]:
        """Pending entries whose time has come, oldest first."""
        rows = await self.db.run(
            lambda c: c.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, id LIMIT ?",
                (now, limit),
            ).fetchall()
        )
        return [_entry(row) for row in rows]

    async def next_due_at(self, exclude: tuple[int, ...] = ()) -> float | None:
        """When the next pending entry is due, leaving out those being delivered now."""
        sql = "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'"
        if exclude:
            sql += f" AND id NOT IN ({', '.join('?' for _ in exclude)})"
        row = await self.db.run(lambda c: c.execute(sql, exclude).fetchone())
        return row[0]

    async def attempted(self, entry_id: int, attempt: Attempt, status: str, next_attempt_at: float) -> None:
        """Record one attempt and the entry's new status, together."""

        def write(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO delivery_attempts (outbox_id, at, ok, permanent, status_code, error, duration_seconds) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (entry_id, attempt.at, int(attempt.ok), int(attempt.permanent), attempt.status_code, attempt.error,
                 attempt.duration_seconds),
            )
            c.execute(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
                "updated_at = ? WHERE id = ?",
                (status, next_attempt_at, "" if attempt.ok else attempt.error, attempt.at, entry_id),
            )

        await self.db.run(write)

    async def recent(self, limit: int = 50, status: str | None = None) -> list[Entry]:
        """Newest first, each with its attempts (oldest first)."""

        def read(c: sqlite3.Connection) -> list[Entry]:
            sql, args = f"SELECT {_ENTRY_COLUMNS} FROM outbox", []
            if status:
                sql += " WHERE status = ?"
                args.append(status)
            sql += " ORDER BY id DESC LIMIT ?"
            args.append(limit)
            rows = c.execute(sql, args).fetchall()
            out = []
            for row in rows:
                attempts = c.execute(
                    "SELECT at, ok, permanent, status_code, error, duration_seconds FROM delivery_attempts "
                    "WHERE outbox_id = ? ORDER BY id",
                    (row["id"],),
                ).fetchall()
                history = tuple(
                    Attempt(a["at"], bool(a["ok"]), bool(a["permanent"]), a["status_code"], a["error"], a["duration_seconds"])
                    for a in attempts
                )
                out.append(_entry(row, history))
            return out

        return await self.db.run(read)

    async def counts(self) -> dict[str, int]:
        rows = await self.db.run(lambda c: c.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
        out = {"pending": 0, "sent": 0, "failed": 0}
        out.update({row[0]: row[1] for row in rows})
        return out

    async def prune(self, max_count: int, max_age_seconds: float, now: float) -> int:
        """Drop finished entries older than max_age_seconds, and all but the newest max_count
        finished ones; pending entries are kept until they are sent or given up."""

        def prune(c: sqlite3.Connection) -> int:
            gone = c.execute(
                "DELETE FROM outbox WHERE status != 'pending' AND updated_at < ?", (now - max_age_seconds,)
            ).rowcount
            gone += c.execute(
                "DELETE FROM outbox WHERE status != 'pending' AND id <= "
                "(SELECT id FROM outbox WHERE status != 'pending' ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (max_count,),
            ).rowcount
            return gone

        return await self.db.run(prune)
