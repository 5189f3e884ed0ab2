"""The service: owns the adapter, healer and watcher, their tasks, health and shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autoheal.config import Settings
from autoheal.docker.adapter import DockerAdapter
from autoheal.engine.healer import Healer
from autoheal.engine.records import EventLog
from autoheal.engine.supervise import LoopStatus, supervise
from autoheal.engine.watcher import Watcher
from autoheal.metrics import Metrics

log = logging.getLogger(__name__)

_CONTAINER_ID = re.compile(r"/(?:docker/)?containers/([0-9a-f]{64})/")
# Staged shutdown: each stage has its own bound.
STOP_LOOPS_SECONDS = 5.0
STOP_ACTIONS_SECONDS = 30.0


def own_container_id() -> str | None:
    """Autoheal's own container id when it runs in a container (so it never heals itself)."""
    try:
        text = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if " /etc/hostname " in line or " /etc/hosts " in line:
            match = _CONTAINER_ID.search(line)
            if match:
                return match.group(1)
    return None


class Service:
    """Autoheal running against one engine."""

    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None, metrics: Metrics | None = None):
        environ = os.environ if environ is None else environ
        self.started_at = time.time()
        self.hostname = socket.gethostname()
        self.adapter = DockerAdapter(environ)
        self.metrics = metrics or Metrics()
        self.events = EventLog()
        self.healer = Healer(self.adapter, settings, self.events, self_id=own_container_id(), metrics=self.metrics)
        self.watcher = Watcher(self.adapter, self.healer, on_reconnect=self.metrics.reconnected)
        self.loops = [LoopStatus("events"), LoopStatus("reconcile")]
        self._tasks: list[asyncio.Task[None]] = []
        self.metrics.watch_state(self._count_monitored, self._count_quarantined)

    def _count_monitored(self) -> int:
        return sum(1 for c in list(self.healer.containers.values()) if self.healer.selection(c).monitored)

    def _count_quarantined(self) -> int:
        return sum(1 for s in list(self.healer.policy.values()) if s.quarantined)

    async def start(self) -> None:
        """Start the supervised loops (they connect, and retry, on their own)."""
        log.info("autoheal starting; engine at %s", self.adapter.host)
        bodies = {"events": self.watcher.run_events, "reconcile": self.watcher.run_reconcile}
        for status in self.loops:
            self._tasks.append(asyncio.create_task(supervise(status, bodies[status.name]), name=f"autoheal-{status.name}"))

    async def stop(self) -> None:
        """Staged shutdown: stop watching, let restarts under way finish, close the engine."""
        for task in self._tasks:
            task.cancel()
        await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), STOP_LOOPS_SECONDS)
        self._tasks.clear()
        await self.healer.close(action_timeout_seconds=STOP_ACTIONS_SECONDS)
        await self.adapter.close()
        log.info("autoheal stopped")

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether autoheal can heal right now, and why not if it cannot."""
        status = self.watcher.status
        problems = []
        if not status.engine_connected:
            problems.append(f"engine not connected: {status.last_error or 'connecting'}")
        elif not status.stream_live:
            problems.append("event stream not live")
        interval = self.healer.settings.monitor.interval_seconds
        if status.engine_connected and (
            status.last_reconcile_at is None or time.time() - status.last_reconcile_at > 3 * interval + 30
        ):
            problems.append("reconcile pass overdue")
        for loop in self.loops:
            if not loop.running:
                problems.append(f"loop {loop.name} not running: {loop.last_error}")
        body = {
            "status": "ok" if not problems else "degraded",
            "problems": problems,
            "host": self.hostname,
            "engine": {
                "host": self.adapter.host,
                "connected": status.engine_connected,
                "event_stream_live": status.stream_live,
                "version": status.engine_version,
                "engine_api_version": status.api_version,
                "api_version": self.adapter.api_version.lstrip("v"),
                "reconnects": status.reconnects,
                "last_reconcile_at": status.last_reconcile_at,
            },
            "loops": [{"name": loop.name, "running": loop.running, "crashes": loop.crashes} for loop in self.loops],
            "uptime_seconds": round(time.time() - self.started_at, 1),
        }
        return not problems, body

    def apply_settings(self, settings: Settings) -> None:
        """Swap in a new, already validated configuration (used at once by every loop)."""
        self.healer.settings = settings
