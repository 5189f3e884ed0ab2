"""The event log: every record is kept (newest in memory), logged, and handed on to the store."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from autoheal.domain.records import Record
from autoheal.logs import EVENT_ATTR

log = logging.getLogger("autoheal.events")

__all__ = ["EventLog", "Record"]


class EventLog:
    """The newest records in memory (the store keeps them all); each is also logged."""

    def __init__(self, maxlen: int = 5000, on_add: Callable[[Record], None] = lambda record: None) -> None:
        self._records: deque[Record] = deque(maxlen=maxlen)
        self._on_add = on_add

    def add(self, record: Record) -> None:
        self._records.append(record)
        self._on_add(record)
        level = logging.WARNING if record.kind in ("restart_failed", "quarantine", "engine") else logging.INFO
        who = f"{record.container_name or record.container_id[:12]}: " if record.container_id else ""
        log.log(level, "%s%s: %s", who, record.kind, record.reason, extra={EVENT_ATTR: record.as_dict()})

    def recent(self, limit: int = 50, container_id: str | None = None, kind: str | None = None) -> list[Record]:
        """Newest first."""
        out = []
        for record in reversed(self._records):
            if container_id and record.container_id != container_id:
                continue
            if kind and record.kind != kind:
                continue
            out.append(record)
            if len(out) >= limit:
                break
        return out
