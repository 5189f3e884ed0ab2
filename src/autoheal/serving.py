"""The HTTP server: uvicorn's, woken by a shutdown request instead of looking for one 10 times a second."""

from __future__ import annotations

import asyncio
from types import FrameType

import uvicorn

STARTUP_FAILURE = 3  # uvicorn's exit code when the server could not start (port in use, …)


class QuietServer(uvicorn.Server):
    """uvicorn.Server with a 1 s tick. uvicorn's own main loop sleeps 0.1 s at a time to notice a
    signal, which alone costs about 0.17 % of a core while autoheal idles (its whole idle budget is
    0.2 %); here a signal wakes the loop at once, and the tick only refreshes the Date header."""

    tick_seconds = 1.0

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit_requested: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._exit_requested = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            # on_tick refreshes the Date header when counter % 10 == 0: every tick here.
            counter = (counter + 10) % 864000
            try:
                async with asyncio.timeout(self.tick_seconds):
                    await self._exit_requested.wait()
            except TimeoutError:
                pass
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._wake()

    def request_exit(self) -> None:
        """Shut down gracefully, as on SIGTERM (without re-raising a signal afterwards)."""
        self.should_exit = True
        self._wake()

    def _wake(self) -> None:
        # Called from a signal handler too: only the thread-safe way into the loop is allowed.
        if self._loop is not None and self._exit_requested is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._exit_requested.set)


def serve(app, **config) -> int:
    """Run the app until a signal stops it; 0, or STARTUP_FAILURE if the server never started."""
    server = QuietServer(uvicorn.Config(app, **config))
    server.run()
    return 0 if server.started else STARTUP_FAILURE
