"""Typed queries over the store: settings, operator choices, per-container policy state, events."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from autoheal.domain.policy import FailureKind, PolicyState
from autoheal.domain.records import Record
from autoheal.store.db import Database

_RECORD_FIELDS = [f.name for f in fields(Record)]
_STATE_FIELDS = {f.name for f in fields(PolicyState)}


@dataclass(frozen=True)
class EventPage:
    """Events newest first, and the cursor for the next (older) page, if any."""

    records: list[tuple[int, Record]]
    next_cursor: int | None


def state_to_json(state: PolicyState) -> str:
    """A restart that was only scheduled did not happen: it is not stored as an attempt."""
    if state.pending_at is not None:
        state = replace(state, failures=max(0, state.failures - 1), pending_at=None, pending_attempt=0, pending_kind=None)
    data = asdict(state)
    data["restarts"] = list(state.restarts)
    return json.dumps(data)


def state_from_json(text: str) -> PolicyState:
    data = {k: v for k, v in json.loads(text).items() if k in _STATE_FIELDS}
    data["restarts"] = tuple(data.get("restarts") or ())
    if data.get("pending_kind"):
        data["pending_kind"] = FailureKind(data["pending_kind"])
    return PolicyState(**data)


class Store:
    """What autoheal keeps across restarts of itself."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # settings and choices

    async def load_settings_document(self) -> dict[str, Any] | None:
        row = await self.db.run(lambda c: c.execute("SELECT document FROM settings WHERE id = 1").fetchone())
        return json.loads(row[0]) if row else None

    async def save_settings_document(self, document: dict[str, Any], now: float) -> None:
        await self.save_configuration(document, None, now)

    async def save_configuration(self, document: dict[str, Any], choices: dict[str, bool] | None, now: float) -> None:
        """Settings (and, if given, the choices) in one transaction: all or nothing."""
        text = json.dumps(document, sort_keys=True)

        def write(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO settings (id, document, updated_at) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
                (text, now),
            )
            if choices is not None:
                self._write_choices(c, choices, now)

        await self.db.run(write)

    async def load_choices(self) -> dict[str, bool]:
        rows = await self.db.run(lambda c: c.execute("SELECT name, enabled FROM choices").fetchall())
        return {row["name"]: bool(row["enabled"]) for row in rows}

    async def replace_choices(self, choices: dict[str, bool], now: float) -> None:
        await self.db.run(lambda c: self._write_choices(c, choices, now))

    @staticmethod
    def _write_choices(c: sqlite3.Connection, choices: dict[str, bool], now: float) -> None:
        c.execute("DELETE FROM choices")
        c.executemany(
            "INSERT INTO choices (name, enabled, updated_at) VALUES (?, ?, ?)",
            [(name, int(enabled), now) for name, enabled in choices.items()],
        )

    # flags (maintenance) and custom health check definitions

    async def load_flags(self) -> dict[str, str]:
        rows = await self.db.run(lambda c: c.execute("SELECT name, value FROM flags").fetchall())
        return {row["name"]: row["value"] for row in rows}

    async def set_flag(self, name: str, value: str, now: float) -> None:
        await self.db.run(
            lambda c: c.execute(
                "INSERT INTO flags (name, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (name, value, now),
            )
        )

    async def load_healthchecks(self) -> dict[str, dict[str, Any]]:
        rows = await self.db.run(lambda c: c.execute("SELECT container_name, definition FROM healthchecks").fetchall())
        return {row["container_name"]: json.loads(row["definition"]) for row in rows}

    async def put_healthcheck(self, container_name: str, definition: dict[str, Any], now: float) -> None:
        text = json.dumps(definition, sort_keys=True)
        await self.db.run(
            lambda c: c.execute(
                "INSERT INTO healthchecks (container_name, definition, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (container_name) DO UPDATE SET definition = excluded.definition, "
                "updated_at = excluded.updated_at",
                (container_name, text, now),
            )
        )

    async def delete_healthcheck(self, container_name: str) -> bool:
        return await self.db.run(
            lambda c: c.execute("DELETE FROM healthchecks WHERE container_name = ?", (container_name,)).rowcount > 0
        )

    # per-container policy state

    async def load_states(self) -> dict[str, tuple[str, PolicyState]]:
        rows = await self.db.run(lambda c: c.execute("SELECT container_id, name, state FROM container_state").fetchall())
        return {row["container_id"]: (row["name"], state_from_json(row["state"])) for row in rows}

    # writes batched by the writer (autoheal.store.writer)

    @staticmethod
    def write_batch(c: sqlite3.Connection, states: dict[str, tuple[str, PolicyState | None]], records: list[Record], now: float) -> None:
        for cid, (name, state) in states.items():
            if state is None:
                c.execute("DELETE FROM container_state WHERE container_id = ?", (cid,))
            else:
                c.execute(
                    "INSERT INTO container_state (container_id, name, state, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (container_id) DO UPDATE SET name = excluded.name, state = excluded.state, "
                    "updated_at = excluded.updated_at",
                    (cid, name, state_to_json(state), now),
                )
        if records:
            placeholders = ", ".join("?" for _ in _RECORD_FIELDS)
            c.executemany(
                f"INSERT INTO events ({', '.join(_RECORD_FIELDS)}) VALUES ({placeholders})",
                [tuple(getattr(r, f) for f in _RECORD_FIELDS) for r in records],
            )

    # events

    async def query_events(
        self,
        *,
        limit: int = 50,
        before_id: int | None = None,
        container_id: str | None = None,
        container_name: str | None = None,
        kinds: tuple[str, ...] = (),
        since: float | None = None,
        until: float | None = None,
    ) -> EventPage:
        """Newest first; pass next_cursor back as before_id for the next page."""
        where, args = [], []
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        if container_id:
            where.append("container_id = ?")
            args.append(container_id)
        if container_name:
            where.append("container_name = ?")
            args.append(container_name)
        if kinds:
            where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            args.extend(kinds)
        if since is not None:
            where.append("time >= ?")
            args.append(since)
        if until is not None:
            where.append("time < ?")
            args.append(until)
        sql = f"SELECT id, {', '.join(_RECORD_FIELDS)} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit + 1)
        rows = await self.db.run(lambda c: c.execute(sql, args).fetchall())
        page = [(row["id"], Record(**{f: row[f] for f in _RECORD_FIELDS})) for row in rows[:limit]]
        next_cursor = page[-1][0] if len(rows) > limit and page else None
        return EventPage(page, next_cursor)

    async def prune_events(self, max_count: int, max_age_seconds: float, now: float) -> int:
        """Retention: drop events older than max_age_seconds and all but the newest max_count."""

        def prune(c: sqlite3.Connection) -> int:
            gone = c.execute("DELETE FROM events WHERE time < ?", (now - max_age_seconds,)).rowcount
            gone += c.execute(
                "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (max_count,),
            ).rowcount
            return gone

        return await self.db.run(prune)

    async def count_events(self, kinds: tuple[str, ...] = (), since: float | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM events WHERE 1 = 1", []
        if kinds:
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            args.extend(kinds)
        if since is not None:
            sql += " AND time >= ?"
            args.append(since)
        return await self.db.run(lambda c: c.execute(sql, args).fetchone()[0])
