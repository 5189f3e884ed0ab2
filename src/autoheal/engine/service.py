"""The service: owns the adapter, healer, watcher and store, their tasks, health and shutdown."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from autoheal.checks.definition import CheckDefinition
from autoheal.config import Settings, changed_fields, merge_documents, parse_settings
from autoheal.docker.adapter import DockerAdapter
from autoheal.domain.models import Container
from autoheal.engine.broadcast import Broadcaster
from autoheal.engine.checker import Checker
from autoheal.engine.healer import Healer
from autoheal.engine.records import EventLog, Record
from autoheal.engine.supervise import LoopStatus, supervise
from autoheal.engine.watcher import Watcher
from autoheal.metrics import Metrics
from autoheal.notify import Dispatcher, Notice, Notifier, channels_for, notify_settings
from autoheal.portable import export_document, parse_document
from autoheal.store import Database, Store
from autoheal.store.outbox import Outbox
from autoheal.store.writer import StoreWriter

log = logging.getLogger(__name__)

_CONTAINER_ID = re.compile(r"/(?:docker/)?containers/([0-9a-f]{64})/")
# Staged shutdown: each stage has its own bound.
STOP_LOOPS_SECONDS = 5.0
STOP_ACTIONS_SECONDS = 30.0
STOP_STORE_SECONDS = 10.0
# A quick engine request (listing, inspect, version) unanswered this long: the engine is hung.
ENGINE_STALL_SECONDS = 5.0


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
    """Autoheal running against one engine, with its state in one store."""

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str] | None = None,
        metrics: Metrics | None = None,
        *,
        data_dir: Path | None = None,
        explicit: Mapping[str, Any] | None = None,
        explicit_choices: Mapping[str, bool] | None = None,
    ):
        """data_dir None keeps all state in memory; `explicit` are the settings given by file or
        environment, which win over stored ones at every start."""
        environ = os.environ if environ is None else environ
        self.started_at = time.time()
        self.notify_settings = notify_settings(environ)  # ConfigError names the variable
        self.hostname = self.notify_settings.hostname or socket.gethostname()
        self.adapter = DockerAdapter(environ)
        self.metrics = metrics or Metrics()
        self.store = Store(Database(data_dir))
        self.writer = StoreWriter(self.store, self._retention)
        self.broadcast = Broadcaster()
        self.events = EventLog(on_add=self._on_record)
        self.outbox = Outbox(self.store.db)
        self.dispatcher = Dispatcher(
            self.outbox,
            channels_for(self.notify_settings),
            self.notify_settings,
            self.metrics,
            max_age=lambda: self._retention()[1],  # finished notices are kept like the event log
        )
        self.notifier = Notifier(
            self.notify_settings,
            self.dispatcher,
            self.hostname,
            labels_of=self._labels_of,
            on_suppressed=self.metrics.notice_suppressed,
        )
        self.healer = Healer(
            self.adapter,
            settings,
            self.events,
            self_id=own_container_id(),
            metrics=self.metrics,
            on_state=self.writer.state_changed,
            on_change=self._on_change,
        )
        self.healthchecks: dict[str, CheckDefinition] = {}  # defined through the API, by container name
        self.checker = Checker(
            self.healer,
            self.adapter,
            lambda: self.healthchecks,
            own=self._own_container,
            on_result=self.metrics.check_ran,
        )
        self.watcher = Watcher(
            self.adapter, self.healer, on_reconnect=self.metrics.reconnected, after_reconcile=self.checker.sync_all
        )
        self.loops = [LoopStatus("events"), LoopStatus("reconcile"), LoopStatus("store"), LoopStatus("notify")]
        self._explicit = dict(explicit or {})
        self._explicit_choices = dict(explicit_choices or {})
        self._settings_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.stopped = False
        self.metrics.watch_state(self._count_monitored, self._count_quarantined, lambda: self.health()[0])

    def _on_change(self, container_id: str) -> None:
        self.broadcast.container(container_id)
        self.checker.sync(container_id)

    def _own_container(self) -> Container | None:
        own = self.healer.self_id
        if not own:
            return None
        return next((c for c in self.healer.containers.values() if c.id.startswith(own)), None)

    def _on_record(self, record: Record) -> None:
        self.writer.record(record)
        self.broadcast.record(record)
        self.notifier.observe(record)

    def _labels_of(self, container_id: str) -> Mapping[str, str] | None:
        container = self.healer.containers.get(container_id)
        return container.labels if container is not None else None

    def _notify_tick(self) -> None:
        """Each pass of the dispatcher: degraded/recovered notices."""
        ok, body = self.health()
        self.notifier.health(ok, body["problems"])

    async def notify_test(self) -> list[dict[str, Any]]:
        """Send a test notice to every channel now; how each delivery went."""
        notice = Notice("test", self.hostname, time.time(), "test notification sent through the autoheal API")
        return [
            {"channel": c.name, "kind": c.kind, "target": c.target, **asdict(d)}
            for c, d in await self.dispatcher.send_test(notice)
        ]

    @property
    def settings(self) -> Settings:
        return self.healer.settings

    def _retention(self) -> tuple[int, float]:
        events = self.settings.events
        return events.retention_count, events.retention_days * 86400

    def _count_monitored(self) -> int:
        return sum(1 for c in list(self.healer.containers.values()) if self.healer.selection(c).monitored)

    def _count_quarantined(self) -> int:
        return sum(1 for s in list(self.healer.policy.values()) if s.quarantined)

    async def start(self) -> None:
        """Open the store, restore state, and start the supervised loops (they connect on their own)."""
        version = await self.store.db.open()
        where = self.store.db.path or "memory (nothing is written to disk)"
        log.info("state store: %s (schema %d)", where, version)
        await self._restore()
        self.healer.hold_until = time.time() + self.settings.monitor.start_period_seconds
        log.info("autoheal starting; engine at %s", self.adapter.host)
        bodies = {
            "events": self.watcher.run_events,
            "reconcile": self.watcher.run_reconcile,
            "store": self.writer.run,
            "notify": lambda: self.dispatcher.run(tick=self._notify_tick),
        }
        for status in self.loops:
            self._tasks.append(asyncio.create_task(supervise(status, bodies[status.name]), name=f"autoheal-{status.name}"))

    async def _restore(self) -> None:
        stored = await self.store.load_settings_document()
        if stored is not None:
            try:
                self.healer.settings = parse_settings(merge_documents(stored, self._explicit))
            except Exception as exc:  # noqa: BLE001 - a stored document that no longer validates
                log.error("stored configuration is not valid any more (%s); using file and environment", exc)
        await self.store.save_settings_document(self.settings.model_dump(mode="json"), time.time())
        self.healer.choices.update(await self.store.load_choices())
        if self._explicit_choices:  # given by the --config file: they win, like its settings
            self.healer.choices.update(self._explicit_choices)
            await self.store.replace_choices(dict(self.healer.choices), time.time())
        self.healer.maintenance = (await self.store.load_flags()).get("maintenance") == "on"
        for name, raw in (await self.store.load_healthchecks()).items():
            try:
                self.healthchecks[name] = CheckDefinition.model_validate(raw)
            except ValueError as exc:
                log.error("stored health check for %s is not valid any more, ignored: %s", name, exc)
        restored = await self.store.load_states()
        for cid, (_, state) in restored.items():
            self.healer.policy[cid] = state
        if restored:
            quarantined = sum(1 for _, s in restored.values() if s.quarantined)
            log.info("restored state of %d containers (%d quarantined)", len(restored), quarantined)

    async def stop(self) -> None:
        """Staged shutdown: stop watching, let restarts under way finish, flush the store, close."""
        for task in self._tasks[:2]:
            task.cancel()
        try:
            async with asyncio.timeout(STOP_LOOPS_SECONDS):
                await asyncio.gather(*self._tasks[:2], return_exceptions=True)
        except TimeoutError:
            log.warning("watch loops did not stop within %.0fs; going on with shutdown", STOP_LOOPS_SECONDS)
        await self.checker.close()
        await self.healer.close(action_timeout_seconds=STOP_ACTIONS_SECONDS)
        for task in self._tasks[2:]:
            task.cancel()
        await asyncio.gather(*self._tasks[2:], return_exceptions=True)
        self._tasks.clear()
        await self.dispatcher.close()
        try:
            async with asyncio.timeout(STOP_STORE_SECONDS):
                await self.writer.flush()
        except Exception as exc:  # noqa: BLE001 - shutdown goes on; what was lost is logged
            log.error("could not write the last %d changes to the store: %s", self.writer.pending, exc)
        await self.store.db.close()
        await self.adapter.close()
        self.stopped = True
        log.info("autoheal stopped")

    # --- configuration ----------------------------------------------------------

    async def apply_settings(self, settings: Settings, *, choices: dict[str, bool] | None = None, why: str = "") -> list[str]:
        """Store and swap in an already validated configuration; every loop uses it at once."""
        async with self._settings_lock:
            return await self._apply(settings, choices, why)

    async def update_section(self, section: str, document: dict[str, Any], *, why: str = "") -> list[str]:
        """Merge fields into one section of the running configuration, validated as a whole
        (ConfigError names the field); read, merge and apply happen under one lock."""
        async with self._settings_lock:
            merged = merge_documents(self.settings.model_dump(mode="json"), {section: document})
            return await self._apply(parse_settings(merged, strict=True), None, why)

    async def _apply(self, settings: Settings, choices: dict[str, bool] | None, why: str) -> list[str]:
        """Store and swap in (the caller holds the settings lock)."""
        changed = changed_fields(self.settings, settings)
        now = time.time()
        await self.store.save_configuration(settings.model_dump(mode="json"), choices, now)
        if choices is not None:
            self.healer.choices.clear()
            self.healer.choices.update(choices)
            changed.append("containers")
        self.healer.settings = settings
        self.watcher.settings_changed()
        if changed:
            self.events.add(Record(now, "config_changed", f"{why or 'changed'}: {', '.join(changed)}"))
        return changed

    async def set_choices(self, names: list[str], enabled: bool | None) -> None:
        """Operator enable/disable by container name (None forgets the choice)."""
        async with self._settings_lock:
            choices = dict(self.healer.choices)
            for name in names:
                if enabled is None:
                    choices.pop(name, None)
                else:
                    choices[name] = enabled
            await self.store.replace_choices(choices, time.time())
            self.healer.choices.clear()
            self.healer.choices.update(choices)
        self.checker.sync_all()  # a check starts or stops with the choice
        self.watcher.settings_changed()
        chosen = set(names)
        for container in list(self.healer.containers.values()):
            if container.name in chosen:
                self.broadcast.container(container.id)  # other open pages see the new selection at once

    async def set_maintenance(self, paused: bool) -> None:
        """Pause or resume healing host-wide; kept across restarts of autoheal."""
        await self.store.set_flag("maintenance", "on" if paused else "off", time.time())
        self.healer.set_maintenance(paused)
        if not paused:
            self.watcher.settings_changed()  # a pass now heals what failed meanwhile

    async def put_healthcheck(self, container_name: str, definition: CheckDefinition) -> None:
        await self.store.put_healthcheck(container_name, definition.model_dump(mode="json"), time.time())
        self.healthchecks[container_name] = definition
        self._sync_checks_of(container_name)

    async def delete_healthcheck(self, container_name: str) -> bool:
        await self.store.delete_healthcheck(container_name)
        removed = self.healthchecks.pop(container_name, None) is not None
        self._sync_checks_of(container_name)
        return removed

    def _sync_checks_of(self, container_name: str) -> None:
        for container in list(self.healer.containers.values()):
            if container.name == container_name:
                self.checker.sync(container.id)

    def export_config(self) -> dict[str, Any]:
        return export_document(self.settings, dict(self.healer.choices))

    async def import_config(self, document: Any) -> list[str]:
        """Validate the whole document first (ConfigError names the field); then replace."""
        settings, choices = parse_document(document)
        return await self.apply_settings(settings, choices=choices, why="imported")

    # --- self-health ------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether autoheal can heal right now, and why not if it cannot."""
        status = self.watcher.status
        problems = []
        if not status.engine_connected:
            problems.append(f"engine not connected: {status.last_error or 'connecting'}")
        elif not status.stream_live:
            problems.append("event stream not live")
        waited = self.adapter.waiting_seconds()
        if waited > ENGINE_STALL_SECONDS:
            problems.append(f"engine not answering: a request has waited {waited:.0f}s")
        interval = self.settings.monitor.interval_seconds
        if status.engine_connected and (
            status.last_reconcile_at is None or time.time() - status.last_reconcile_at > 3 * interval + 30
        ):
            problems.append("reconcile pass overdue")
        for loop in self.loops:
            if not loop.running:
                problems.append(f"loop {loop.name} not running: {loop.last_error}")
        if self.writer.last_error:
            problems.append(f"store: {self.writer.last_error}")
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
            "store": str(self.store.db.path) if self.store.db.path else "memory",
            "maintenance": self.healer.maintenance,
            "loops": [{"name": loop.name, "running": loop.running, "crashes": loop.crashes} for loop in self.loops],
            "uptime_seconds": round(time.time() - self.started_at, 1),
        }
        return not problems, body
