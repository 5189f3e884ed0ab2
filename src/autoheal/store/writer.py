"""The store's one writer: batches state changes and event records off the event loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from autoheal.domain.policy import PolicyState
from autoheal.domain.records import Record
from autoheal.store.db import StoreError
from autoheal.store.state import Store

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 600.0


class StoreWriter:
    """Queues writes from the healer (never blocking it) and commits them in batches."""

    def __init__(self, store: Store, retention: Callable[[], tuple[int, float]], clock: Callable[[], float] = time.time):
        self.store = store
        self._retention = retention  # (max events, max age seconds), read live
        self._clock = clock
        self._states: dict[str, tuple[str, PolicyState | None]] = {}
        self._records: list[Record] = []
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._last_prune = 0.0
        self.failures = 0
        self.last_error = ""

    def state_changed(self, container_id: str, name: str, state: PolicyState | None) -> None:
        self._states[container_id] = (name, state)
        self._wake.set()

    def record(self, record: Record) -> None:
        self._records.append(record)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._states) + len(self._records)

    async def flush(self) -> None:
        """Write everything queued so far in one transaction; returns once it is written, also
        when another flush had already taken part of it (a read after flush sees it all)."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        states, records = self._states, self._records
        self._states, self._records = {}, []
        if not states and not records:
            return
        now = self._clock()
        try:
            # Shielded: once handed to the store thread, a batch is written even if the task
            # waiting for it is cancelled (shutdown); it is never lost or written twice.
            await asyncio.shield(self.store.db.run(lambda c: Store.write_batch(c, states, records, now)))
            self.last_error = ""
        except StoreError as exc:
            # Keep what could not be written for the next attempt; newer state wins.
            self._states = {**states, **self._states}
            self._records = records + self._records
            self.failures += 1
            self.last_error = str(exc)
            raise

    async def run(self) -> None:
        """Flush whenever something is queued; prune the event log now and then."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
                await self._maybe_prune()
            except StoreError as exc:
                log.error("store write failed (will retry): %s", exc)
                await asyncio.sleep(1.0)
                self._wake.set()

    async def _maybe_prune(self) -> None:
        now = self._clock()
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        max_count, max_age = self._retention()
        gone = await self.store.prune_events(max_count, max_age, now)
        if gone:
            log.info("event log retention: %d old records removed", gone)
