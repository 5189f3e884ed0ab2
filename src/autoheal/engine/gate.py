"""Host-wide safety for actions: at most max_parallel at once and a per-minute rate limit."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import AsyncIterator

from autoheal.config import RestartSettings


class ActionGate:
    """Admits actions within the concurrency and rate limits, read live from settings."""

    def __init__(
        self,
        limits: Callable[[], RestartSettings],
        on_held_back: Callable[[str], None] = lambda limit: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._on_held_back = on_held_back
        self._clock = clock
        self._in_flight = 0
        self._recent: deque[float] = deque()
        self._changed = asyncio.Condition()
        self.peak_in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def _rate_wait(self) -> float:
        """Seconds until another action fits in the one-minute window (0 if it fits now)."""
        now = self._clock()
        while self._recent and now - self._recent[0] >= 60:
            self._recent.popleft()
        if len(self._recent) < self._limits().rate_limit_per_minute:
            return 0.0
        return 60 - (now - self._recent[0])

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for a slot, hold it for the duration of the action."""
        async with self._changed:
            held = False
            while True:
                if self._in_flight >= self._limits().max_parallel:
                    if not held:
                        self._on_held_back("max_parallel")
                        held = True
                    await self._changed.wait()
                    continue
                wait = self._rate_wait()
                if wait > 0:
                    if not held:
                        self._on_held_back("rate_limit")
                        held = True
                    try:
                        async with asyncio.timeout(wait):
                            await self._changed.wait()
                    except TimeoutError:
                        pass
                    continue
                break
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            self._recent.append(self._clock())
        try:
            yield
        finally:
            async with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()
