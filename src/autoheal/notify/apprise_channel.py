"""Apprise URLs (Slack, Discord, Telegram, ntfy, Gotify, email, ...): imported only when configured."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from autoheal.notify.base import Delivery
from autoheal.notify.notice import Notice

log = logging.getLogger(__name__)


class AppriseChannel:
    """One Apprise URL. Apprise is synchronous: sends run in a worker thread, one at a time."""

    def __init__(self, url: str, index: int) -> None:
        import apprise  # heavy: only when an Apprise URL is configured

        self._apprise = apprise
        self._client = apprise.Apprise()
        if not self._client.add(url):
            raise ValueError(f"APPRISE_URL entry {index + 1} is not a URL Apprise supports")
        server = self._client[0]
        self.name = f"apprise-{index + 1}"
        self.kind = "apprise"
        self.target = server.url(privacy=True)
        self._lock = asyncio.Lock()

    async def send(self, notice: Notice) -> Delivery:
        async with self._lock:  # LogCapture listens on Apprise's one logger: one send at a time
            return await asyncio.to_thread(self._send, notice)

    def _send(self, notice: Notice) -> Delivery:
        started = time.monotonic()
        apprise: Any = self._apprise
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            try:
                ok = self._client.notify(title=notice.title, body=notice.text, notify_type=notice.notify_type)
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not kill the dispatcher
                return Delivery(False, error=f"{type(exc).__name__}: {exc}"[:500], duration_seconds=time.monotonic() - started)
            text = captured.getvalue().strip()
        took = time.monotonic() - started
        if ok:
            return Delivery(True, duration_seconds=took)
        # Apprise does not say whether a failure is permanent: retried up to max_attempts.
        error = text.splitlines()[-1][:500] if text else "Apprise reported a failed delivery"
        return Delivery(False, error=error, duration_seconds=took)

    async def close(self) -> None:
        return None
