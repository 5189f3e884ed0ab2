"""The outbox dispatcher: stores notices, delivers them in the background, retries with backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from autoheal.metrics import Metrics
from autoheal.notify.base import Channel, Delivery
from autoheal.notify.notice import Notice
from autoheal.notify.settings import NotifySettings
from autoheal.store.db import StoreError
from autoheal.store.outbox import Attempt, Entry, Outbox

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 8
TICK_SECONDS = 5.0
PRUNE_EVERY_SECONDS = 600.0
KEEP_FINISHED = 1000  # finished outbox entries kept (besides the age limit)
# A channel enforces timeout_seconds itself; this bounds one that does not (a stuck plugin).
TIMEOUT_GRACE_SECONDS = 5.0


class Dispatcher:
    """Owns delivery: healing only enqueues (never waits); a hanging receiver holds up no one."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Sequence[Channel],
        settings: NotifySettings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        max_age: Callable[[], float] = lambda: 30 * 86400.0,
    ) -> None:
        """max_age: how long finished entries are kept, in seconds, read live (the event retention)."""
        self.outbox = outbox
        self.channels = list(channels)
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self._max_age = max_age
        self._by_name = {channel.name: channel for channel in self.channels}
        self._new: list[Notice] = []
        self._wake = asyncio.Event()
        self._in_flight: dict[int, asyncio.Task[Delivery]] = {}
        self._last_prune = 0.0
        # When the store next has something due; 0.0 = look (at start: what an earlier run left).
        # Lets an idle dispatcher skip the store entirely.
        self._next_due: float | None = 0.0

    def enqueue(self, notice: Notice) -> None:
        """Queue a notice for every channel; returns at once."""
        if self.channels:
            self._new.append(notice)
            self._wake.set()

    async def step(self) -> float | None:
        """Store what was queued and start every delivery that is due; returns when the next
        waiting entry is due (None: nothing waits)."""
        if not self.channels:
            return None
        await self._store_new()
        now = self.clock()
        if self._next_due is None or self._next_due > now:
            return self._next_due  # nothing new, nothing due: no need to ask the store
        for entry in await self.outbox.due(now, limit=MAX_IN_FLIGHT * 4):
            if len(self._in_flight) >= MAX_IN_FLIGHT:
                break
            if entry.id in self._in_flight:
                continue
            channel = self._by_name.get(entry.channel)
            if channel is None:
                gone = Attempt(now, False, True, None, f"channel {entry.channel} is no longer configured", 0.0)
                await self.outbox.attempted(entry.id, gone, "failed", now)
                continue
            task = asyncio.create_task(self._deliver(channel, entry), name=f"autoheal-notify-{entry.id}")
            self._in_flight[entry.id] = task
            task.add_done_callback(lambda _, entry_id=entry.id: self._finished(entry_id))
        self._next_due = await self.outbox.next_due_at(exclude=tuple(self._in_flight))
        return self._next_due

    def _due_by(self, at: float) -> None:
        self._next_due = at if self._next_due is None else min(self._next_due, at)

    def _finished(self, entry_id: int) -> None:
        self._in_flight.pop(entry_id, None)
        self._wake.set()

    async def _store_new(self) -> None:
        new, self._new = self._new, []
        if not new:
            return
        items = [(c.name, n.event, n.container_name, n.fields()) for n in new for c in self.channels]
        try:
            await self.outbox.add(items, self.clock())
        except StoreError:
            self._new = new + self._new  # kept for the next step
            raise
        self._due_by(0.0)

    async def _deliver(self, channel: Channel, entry: Entry, *, retry: bool = True) -> Delivery:
        notice = Notice.from_fields(entry.notice)
        try:
            async with asyncio.timeout(self.settings.timeout_seconds + TIMEOUT_GRACE_SECONDS):
                result = await channel.send(notice)
        except TimeoutError:
            result = Delivery(False, error=f"no answer within {self.settings.timeout_seconds:g}s")
        except Exception as exc:  # a channel's bug is a failed attempt, not a dead dispatcher
            log.exception("notification channel %s failed unexpectedly", channel.name)
            result = Delivery(False, error=f"{type(exc).__name__}: {exc}"[:500])
        now = self.clock()
        attempts = entry.attempts + 1
        if result.ok:
            status, outcome, next_at = "sent", "sent", now
        elif result.permanent or not retry or attempts >= self.settings.max_attempts:
            status, outcome, next_at = "failed", "failed", now
        else:
            wait = min(self.settings.retry_seconds * 2 ** (attempts - 1), self.settings.retry_max_seconds)
            status, outcome, next_at = "pending", "retry", now + wait
        attempt = Attempt(now, result.ok, result.permanent, result.status_code, result.error, result.duration_seconds)
        if self.metrics is not None:
            self.metrics.notified(channel.kind, outcome)
        if not result.ok:
            log.log(
                logging.ERROR if status == "failed" else logging.WARNING,
                "notification %d (%s) to %s: attempt %d failed: %s; %s",
                entry.id, entry.event, channel.name, attempts, result.error,
                "given up" if status == "failed" else f"next try in {next_at - now:.0f}s",
            )
        try:
            await self.outbox.attempted(entry.id, attempt, status, next_at)
        except StoreError as exc:
            log.error("could not record notification attempt %d: %s", entry.id, exc)
            self._due_by(0.0)  # still pending in the store: look again
        if status == "pending":
            self._due_by(next_at)
        return result

    async def send_test(self, notice: Notice) -> list[tuple[Channel, Delivery]]:
        """Deliver a notice to every channel now, once, and say how each went (recorded too)."""
        now = self.clock()
        fields = notice.fields()
        ids = await self.outbox.add([(c.name, notice.event, "", fields) for c in self.channels], now)
        tasks = []
        for channel, entry_id in zip(self.channels, ids, strict=True):
            entry = Entry(entry_id, now, channel.name, notice.event, "", fields, "pending", 0, now, "")
            task = asyncio.create_task(self._deliver(channel, entry, retry=False), name=f"autoheal-notify-{entry_id}")
            self._in_flight[entry_id] = task  # before any await: step() must not deliver it as well
            task.add_done_callback(lambda _, entry_id=entry_id: self._finished(entry_id))
            tasks.append(task)
        results = await asyncio.gather(*tasks)
        return list(zip(self.channels, results, strict=True))

    async def run(self, tick: Callable[[], None] = lambda: None) -> None:
        """Deliver until cancelled; call tick() each second (every TICK_SECONDS with no channel)."""
        while True:
            self._wake.clear()
            next_due = await self.step()
            tick()
            await self._maybe_prune()
            # With a channel, tick each second: a short outage is judged on time (a second's cost is
            # tiny); with none there is nothing to tell, and ticks are rare.
            tick_seconds = 1.0 if self.channels else TICK_SECONDS
            wait = tick_seconds if next_due is None else min(tick_seconds, max(0.0, next_due - self.clock()))
            try:
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _maybe_prune(self) -> None:
        now = self.clock()
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        gone = await self.outbox.prune(KEEP_FINISHED, self._max_age(), now)
        if gone:
            log.info("notification outbox: %d finished entries removed", gone)

    async def close(self) -> None:
        """Store what is queued, cancel deliveries under way (they stay pending in the outbox and
        are sent after the next start), and close the channels."""
        try:
            await self._store_new()
        except StoreError as exc:
            log.error("%d notices could not be stored at shutdown: %s", len(self._new), exc)
        tasks = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for channel in self.channels:
            await channel.close()
