"""Numbered, append-only schema migrations: never edit one that has shipped, add the next."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE settings (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            document TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE choices (
            name TEXT PRIMARY KEY,
            enabled INTEGER NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE container_state (
            container_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            container_id TEXT NOT NULL DEFAULT '',
            container_name TEXT NOT NULL DEFAULT '',
            cause TEXT NOT NULL DEFAULT '',
            exit_code INTEGER,
            attempt INTEGER,
            delay_seconds REAL,
            window_count INTEGER
        );
        CREATE INDEX events_time ON events (time);
        CREATE INDEX events_container ON events (container_id, id);
        CREATE INDEX events_kind ON events (kind, id);
        """,
    ),
    (
        2,
        """
        CREATE TABLE flags (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE healthchecks (
            container_name TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        """,
    ),
    (
        3,
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at REAL NOT NULL,
            channel TEXT NOT NULL,
            event TEXT NOT NULL,
            container_name TEXT NOT NULL DEFAULT '',
            notice TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        );
        CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
        CREATE TABLE delivery_attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
            at REAL NOT NULL,
            ok INTEGER NOT NULL,
            permanent INTEGER NOT NULL,
            status_code INTEGER,
            error TEXT NOT NULL DEFAULT '',
            duration_seconds REAL NOT NULL
        );
        CREATE INDEX delivery_attempts_outbox ON delivery_attempts (outbox_id, id);
        """,
    ),
]
