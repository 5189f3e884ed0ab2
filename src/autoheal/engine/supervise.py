"""Task supervision: a background loop that crashes is restarted with backoff, and it shows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class LoopStatus:
    """One supervised loop, as the self-health endpoint reports it."""

    name: str
    running: bool = False
    crashes: int = 0
    last_error: str = ""


async def supervise(
    status: LoopStatus,
    body: Callable[[], Awaitable[None]],
    *,
    initial_delay: float = 0.5,
    max_delay: float = 30.0,
) -> None:
    """Run `body` forever; restart it after a crash (or an unexpected return) with backoff."""
    delay = initial_delay
    while True:
        status.running = True
        try:
            await body()
            status.last_error = "returned unexpectedly"
        except asyncio.CancelledError:
            status.running = False
            raise
        except Exception as exc:  # noqa: BLE001 - the point is to survive anything
            status.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("loop %s crashed; restarting in %.1fs", status.name, delay)
        status.running = False
        status.crashes += 1
        await asyncio.sleep(delay)
        delay = min(max_delay, delay * 2)
