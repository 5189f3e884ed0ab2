"""Watching the engine: the event stream with reconnect and resync, and the reconcile loop."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from autoheal.docker.errors import EngineUnavailable
from autoheal.domain.models import DockerEvent
from autoheal.engine.healer import Healer
from autoheal.engine.records import Record

log = logging.getLogger(__name__)

RECONNECT_INITIAL_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 30.0


class EnginePort(Protocol):
    """Connection and event stream, as the watcher needs them."""

    async def connect(self) -> dict[str, Any]: ...
    def events(self, since: float | None = None, on_open: Callable[[], None] | None = None) -> AsyncIterator[DockerEvent]: ...
    async def close(self) -> None: ...


@dataclass
class WatchStatus:
    """What the self-health endpoint reports about the watch."""

    engine_connected: bool = False
    stream_live: bool = False
    engine_version: str = ""
    api_version: str = ""
    last_error: str = ""
    last_reconcile_at: float | None = None
    reconnects: int = 0
    connected_since: float | None = None
    problems: list[str] = field(default_factory=list)


def reconnect_delay(attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Capped exponential backoff with equal jitter."""
    raw = min(RECONNECT_MAX_SECONDS, RECONNECT_INITIAL_SECONDS * 2**attempt)
    return raw / 2 + rand() * raw / 2


class Watcher:
    """Keeps the event stream up and the containers reconciled; never exits on engine trouble."""

    def __init__(
        self,
        engine: EnginePort,
        healer: Healer,
        *,
        on_reconnect: Callable[[], None] = lambda: None,
        after_reconcile: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.healer = healer
        self.status = WatchStatus()
        self._on_reconnect = on_reconnect
        self._after_reconcile = after_reconcile
        self._clock = clock
        self._lost_since: float | None = None
        self._opened = False
        self._wake = asyncio.Event()
        self._following: asyncio.Timeout | None = None  # the current connection, which drop() ends
        self._dropped_because = ""

    async def run_events(self) -> None:
        """Connect, resync, follow the stream; on any engine failure back off and start over."""
        attempt = 0
        while True:
            self._opened = False
            try:
                await self._follow_until_dropped()
            except EngineUnavailable as exc:
                self._lost(str(exc))
            attempt = 0 if self._opened else attempt + 1
            delay = reconnect_delay(attempt)
            log.info("reconnecting to the engine in %.1fs", delay)
            await asyncio.sleep(delay)

    async def _follow_until_dropped(self) -> None:
        """Follow one connection until it fails, or until drop() ends it: a hung engine leaves
        the stream's read waiting for good, and closing the client does not wake it."""
        try:
            async with asyncio.timeout(None) as self._following:
                await self._connect_and_follow()
        except TimeoutError:
            if not self._dropped_because:
                raise
            raise EngineUnavailable(self._dropped_because) from None
        finally:
            self._following = None
            self._dropped_because = ""

    def drop(self, reason: str) -> None:
        """End the current connection at once; run_events reconnects with backoff."""
        if self._following is not None and not self._dropped_because:
            self._dropped_because = reason
            self._following.reschedule(asyncio.get_running_loop().time())

    async def _connect_and_follow(self) -> None:
        version = await self.engine.connect()
        self.status.engine_version = str(version.get("Version", ""))
        self.status.api_version = str(version.get("ApiVersion", ""))
        first = self.status.connected_since is None and self.status.reconnects == 0 and self._lost_since is None
        self.status.engine_connected = True
        self.status.connected_since = self._clock()
        if self._lost_since is not None:
            self.status.reconnects += 1
            self._on_reconnect()
            self.healer.events.add(
                Record(self._clock(), "engine", f"engine connection restored after {self._clock() - self._lost_since:.1f}s")
            )
            self._lost_since = None
        elif first:
            log.info("connected to Docker engine %s (API %s)", self.status.engine_version, self.status.api_version)
        # Events from the start of the resync listing on are replayed after it (the healer
        # dedupes exits it already classified); nothing older, which the listing covers.
        since = self._clock()
        await self.reconcile(resync=True)
        self.status.last_error = ""
        async for event in self.engine.events(since=since, on_open=self._stream_opened):
            await self.healer.handle_event(event)
        raise EngineUnavailable("event stream ended")

    def _stream_opened(self) -> None:
        self._opened = True
        self.status.stream_live = True

    def _lost(self, message: str) -> None:
        if self._lost_since is None:
            self._lost_since = self._clock()
            self.healer.events.add(Record(self._clock(), "engine", f"engine unavailable: {message}"))
        self.status.engine_connected = False
        self.status.stream_live = False
        self.status.last_error = message

    async def reconcile(self, resync: bool = False) -> None:
        await self.healer.reconcile(resync=resync)
        self.status.last_reconcile_at = self._clock()
        self._after_reconcile()

    def settings_changed(self) -> None:
        """Wake the reconcile loop, so a new interval or selection applies at once."""
        self._wake.set()

    async def run_reconcile(self) -> None:
        """Reconcile every monitor.interval_seconds, and at once after a settings change."""
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
            try:
                async with asyncio.timeout(self.healer.settings.monitor.interval_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if not self.status.engine_connected:
                continue
            try:
                await self.reconcile()
            except EngineUnavailable as exc:
                # The stream may be stuck on a silent engine: drop the connection so it reconnects.
                log.warning("reconcile failed: %s; dropping the engine connection", exc)
                self._lost(str(exc))
                self.drop(str(exc))
                await self.engine.close()
