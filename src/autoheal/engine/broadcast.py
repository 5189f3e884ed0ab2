"""Fan-out of live changes (event records, container changes) to stream subscribers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from autoheal.engine.records import Record

QUEUE_SIZE = 1000


@dataclass(frozen=True)
class Change:
    """A new event record, or a container whose view changed (by id)."""

    record: Record | None = None
    container_id: str | None = None


class Broadcaster:
    """Each subscriber has a bounded queue; a subscriber too slow to keep up is dropped."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Change | None]] = set()
        self.version = 0  # counts every change published, so that a reader can tell nothing changed

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def publish(self, change: Change) -> None:
        self.version += 1
        for queue in list(self._queues):
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                self._queues.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)  # tells the subscriber it lagged and was dropped

    def record(self, record: Record) -> None:
        self.publish(Change(record=record))

    def container(self, container_id: str) -> None:
        self.publish(Change(container_id=container_id))

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change | None]]:
        queue: asyncio.Queue[Change | None] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
