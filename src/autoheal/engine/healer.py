"""The healer: turns engine events and reconcile passes into policy decisions, and acts on them."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace

from autoheal.config import Settings
from autoheal.docker.errors import ContainerGone, EngineUnavailable
from autoheal.domain import policy as p
from autoheal.domain.classify import (
    ExitClass,
    ExitMemory,
    classify_die,
    classify_unobserved,
    observation_for,
)
from autoheal.domain.labels import OVERRIDE_LABELS, apply_overrides
from autoheal.domain.models import Container, DockerEvent
from autoheal.domain.selection import Selection, select
from autoheal.engine.acting import Acting, ActionMark
from autoheal.engine.dependents import Dependents
from autoheal.engine.gate import ActionGate
from autoheal.engine.ports import DockerPort, HealerMetrics, NoMetrics
from autoheal.engine.records import EventLog, Record

log = logging.getLogger(__name__)

_FAILING_EXITS = (ExitClass.CRASH, ExitClass.OOM)


class Healer(Acting):
    """Per-container healing state and the single steps that move it (tests call them directly)."""

    def __init__(
        self,
        docker: DockerPort,
        settings: Settings,
        events: EventLog,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        self_id: str | None = None,
        metrics: HealerMetrics | None = None,
        on_state: Callable[[str, str, p.PolicyState | None], None] = lambda cid, name, state: None,
        on_change: Callable[[str], None] = lambda cid: None,
    ) -> None:
        self.docker = docker
        self.settings = settings
        self.events = events
        self.clock = clock
        self.rand = rand
        self.self_id = self_id
        self.metrics = metrics or NoMetrics()
        self.on_state = on_state  # told of every policy state change, for the store
        self.on_change = on_change  # told whenever anything shown about a container changed
        self.maintenance = False  # healing paused host-wide by an operator
        self.check_failing: set[str] = set()  # containers whose custom check reached its retries
        self.starts: dict[str, int] = {}  # start events seen per container (a check restarts with each)
        self.busy: set[str] = set()  # containers autoheal is restarting right now
        self.down_for: dict[str, p.FailureKind] = {}  # stopped by a restart of ours that then failed
        self.choices: dict[str, bool] = {}  # operator enable/disable, by container name
        self.containers: dict[str, Container] = {}
        self.policy: dict[str, p.PolicyState] = {}
        self.memory: dict[str, ExitMemory] = {}
        self.exits: dict[str, ExitClass] = {}  # the last exit classified, until the next start
        self.acting: dict[str, ActionMark] = {}
        self.detected_at: dict[str, float] = {}
        self.timers: dict[str, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.actions: set[asyncio.Task[None]] = set()  # restarts under way
        self.gate = ActionGate(lambda: self.settings.restart, self.metrics.held_back)
        self.hold_until = clock() + settings.monitor.start_period_seconds
        self.dependents = Dependents(self)  # children restarted or recreated after their parent

    # --- queries ----------------------------------------------------------------

    def selection(self, container: Container) -> Selection:
        return select(container, self.settings, self.choices, self.self_id)

    def restart_settings(self, container: Container):
        return apply_overrides(self.settings.restart, container.labels).restart

    def unhealthy(self, container: Container) -> bool:
        """Running, and unhealthy by Docker's HEALTHCHECK or by its custom check."""
        return container.running and (container.health == "unhealthy" or container.id in self.check_failing)

    def check_failed(self, container: Container, reason: str) -> None:
        """A custom check reached its retries: the container counts as unhealthy."""
        if not self.selection(container).monitored:
            return
        self.check_failing.add(container.id)
        self.events.add(Record(self.clock(), "health_check_failed", reason, container.id, container.name, "unhealthy"))
        self.detected_at.setdefault(container.id, self.clock())
        self._fail(container, p.FailureKind.UNHEALTHY, None)

    def check_recovered(self, container: Container) -> None:
        self.check_failing.discard(container.id)
        if not self.unhealthy(container):  # Docker's own HEALTHCHECK may still say unhealthy
            self._observe(container, p.Healthy(), quiet=True)

    def selection_of(self, container_id: str) -> bool:
        """Whether a known container is managed now."""
        container = self.containers.get(container_id)
        return container is not None and self.selection(container).monitored

    def state(self, container_id: str) -> p.PolicyState:
        return self.policy.get(container_id, p.PolicyState())

    # --- engine events ----------------------------------------------------------

    async def handle_event(self, event: DockerEvent) -> None:
        """One engine event; a bad or unexpected event is logged and skipped, never fatal."""
        try:
            await self._handle_event(event)
            self.on_change(event.container_id)
        except EngineUnavailable:
            raise
        except Exception:  # noqa: BLE001 - one bad event must not stop the watcher
            log.exception("event %s for %s could not be handled; skipped", event.action, event.container_id[:12])

    async def _handle_event(self, event: DockerEvent) -> None:
        cid = event.container_id
        if event.action == "destroy":
            self.forget(cid)
            return
        container = await self._current(cid, refresh=event.action in ("create", "rename") or cid not in self.containers)
        if container is None:
            return
        if event.action == "health_status" and container.started_at and event.time < container.started_at:
            return  # a verdict about the run before the last start, handled late: not about this run
        own = self._is_own(cid, event.action, event.time)
        container = self._apply_event(container, event)
        self.containers[cid] = container
        self.dependents.remember(container)
        match event.action:
            case "kill" | "stop" if not own:
                self.memory[cid] = replace(self.memory.get(cid, ExitMemory()), foreign_kill=True)
                if event.action == "stop" and self.state(cid).pending_at is not None and not container.running:
                    self._observe(container, p.Exited("stopped by hand", manual=True))
            case "oom":
                self.memory[cid] = replace(self.memory.get(cid, ExitMemory()), oom=True)
            case "die" if not own:
                self._on_die(container, event.exit_code)
            case "start":
                self.memory.pop(cid, None)
                self.exits.pop(cid, None)
                self.check_failing.discard(cid)
                self.down_for.pop(cid, None)
                self.starts[cid] = self.starts.get(cid, 0) + 1
                self._observe(container, p.Started(by_autoheal=own), quiet=True)
                if not own:  # autoheal's own starts carry over to dependents where they are made
                    self.dependents.parent_started(container, "started by someone else")
            case "health_status" if event.health == "unhealthy" and container.running:
                self.detected_at.setdefault(cid, self.clock())
                self._fail(container, p.FailureKind.UNHEALTHY, None)
            case "health_status" if event.health == "healthy" and not self.unhealthy(container):
                self._observe(container, p.Healthy(), quiet=True)  # not while its custom check fails
            case "pause" | "unpause":
                self._observe(container, p.Paused(event.action == "pause"), quiet=True)

    @staticmethod
    def _apply_event(container: Container, event: DockerEvent) -> Container:
        match event.action:
            case "start":
                health = "starting" if container.has_healthcheck else None
                return replace(
                    container, status="running", health=health, started_at=event.time, exit_code=None, oom_killed=False
                )
            case "unpause":
                return replace(container, status="running")
            case "die":
                return replace(container, status="exited", exit_code=event.exit_code, finished_at=event.time)
            case "pause":
                return replace(container, status="paused")
            case "health_status":
                return replace(container, health=event.health)
            case "rename":
                return replace(container, name=event.name or container.name)
        return container

    def _on_die(self, container: Container, exit_code: int | None) -> None:
        cid = container.id
        if cid in self.exits:
            return  # this exit was already classified (a replayed event after a resync)
        exit_class = classify_die(container, exit_code, self.memory.get(cid, ExitMemory()))
        self.exits[cid] = exit_class
        if exit_class in _FAILING_EXITS:
            self.detected_at.setdefault(cid, self.clock())
        self._observe(container, observation_for(exit_class, exit_code))

    async def _current(self, cid: str, refresh: bool = False) -> Container | None:
        if not refresh and cid in self.containers:
            return self.containers[cid]
        try:
            container = await self.docker.inspect(cid)
        except ContainerGone:
            self.forget(cid)
            return None
        self.containers[cid] = container
        return container

    def _set_state(self, container: Container, state: p.PolicyState) -> None:
        if self.policy.get(container.id) != state:
            self.policy[container.id] = state
            self.on_state(container.id, container.name, state)
            self.on_change(container.id)

    def forget(self, cid: str) -> None:
        """Drop everything about a container that no longer exists."""
        self.dependents.forgotten(cid)
        if cid in self.policy:
            self.on_state(cid, "", None)
        if cid in self.containers:
            self.on_change(cid)
        timer = self.timers.pop(cid, None)
        if timer is not None:
            timer.cancel()
        for table in (
            self.containers, self.policy, self.memory, self.exits, self.acting, self.detected_at, self.starts, self.down_for
        ):
            table.pop(cid, None)
        self.check_failing.discard(cid)

    # --- reconcile --------------------------------------------------------------

    async def reconcile(self, resync: bool = False) -> None:
        """A full pass over all containers: catches what the event stream missed.

        resync: after a (re)connection, exits seen earlier are looked at again.
        """
        listing = await self.docker.list_containers()
        present = {c.id for c in listing}
        for cid in set(self.containers) | set(self.policy):
            if cid not in present:
                self.forget(cid)
        if resync:
            self.exits.clear()
        for listed in listing:
            try:
                await self._reconcile_one(listed)
            except EngineUnavailable:
                raise
            except Exception:  # noqa: BLE001 - one container must not stop the pass
                log.exception("reconcile of %s failed; skipped", listed.name)
        self.dependents.reconcile()

    async def _reconcile_one(self, listed: Container) -> None:
        cid = listed.id
        known = self.containers.get(cid)
        if known is None or not known.detailed:
            container = await self._current(cid, refresh=True)
            if container is None:
                return
        elif known.status != listed.status:
            # The listing may be older than an event handled meanwhile: ask the engine again.
            container = await self._current(cid, refresh=True)
            if container is None:
                return
        else:
            container = replace(known, health=listed.health)
            self.containers[cid] = container
        if not self.selection(container).monitored or self._acting_now(cid) or cid in self.busy:
            return
        if cid not in self.policy and container.running:
            self._set_state(container, p.PolicyState(started_at=container.started_at, stable_since=container.started_at))
        state = self.state(cid)
        if (
            state.quarantined
            and container.running
            and container.started_at is not None
            and container.started_at > state.quarantined_at  # type: ignore[operator]
        ):
            # Started by someone while autoheal was not looking (autoheal never starts a
            # quarantined container): that releases the quarantine, as a start event would.
            self._observe(container, p.Started(by_autoheal=False), source="started while quarantined")
        if state.paused and container.status != "paused":
            self._observe(container, p.Paused(False), quiet=True)  # the unpause was missed
        if state.manual_stop and container.running:
            self.memory.pop(cid, None)  # the stop it remembers is over
            self._observe(container, p.Started(by_autoheal=False), quiet=True)  # started by hand, unseen
        if self.unhealthy(container):
            self.detected_at.setdefault(cid, self.clock())
            self._fail(container, p.FailureKind.UNHEALTHY, None, quiet=True)
        elif container.status in ("exited", "dead"):
            await self._reconcile_exit(container)

    async def _reconcile_exit(self, container: Container) -> None:
        cid = container.id
        exit_class = self.exits.get(cid)
        state = self.state(cid)
        if exit_class is None:
            # The cached detail may predate this exit (OOMKilled, exit code): look again.
            container = await self._current(cid, refresh=True)
            if container is None or container.status not in ("exited", "dead"):
                return  # running again meanwhile: nothing to classify
            restarted_since = (
                container.started_at is not None
                and state.started_at is not None
                and container.started_at > state.started_at + 1
            )
            if state.manual_stop and not restarted_since:
                self.exits[cid] = ExitClass.MANUAL  # stopped by hand before a resync: still manual
                return
            if state.manual_stop:
                self.memory.pop(cid, None)
                self._observe(container, p.Started(by_autoheal=False), quiet=True)  # started by hand meanwhile
            exit_class = classify_unobserved(container)
            self.exits[cid] = exit_class
            if exit_class in _FAILING_EXITS:
                self.detected_at.setdefault(cid, self.clock())
            self._observe(container, observation_for(exit_class, container.exit_code), source="unobserved exit")
        elif exit_class in _FAILING_EXITS and not self.state(cid).manual_stop:
            # Still down after a crash: a failed restart is retried, a quarantine may be released.
            kind = self.down_for.get(cid)
            obs = p.Failure(kind) if kind is not None else observation_for(exit_class, container.exit_code)
            self._observe(container, obs, quiet=True)

    # --- decisions --------------------------------------------------------------

    def _fail(self, container: Container, kind: p.FailureKind, exit_code: int | None, quiet: bool = False) -> None:
        self._observe(container, p.Failure(kind, exit_code), quiet=quiet)

    def _observe(self, container: Container, obs: p.Observation, *, quiet: bool = False, source: str = "") -> None:
        """Feed one observation to the policy and carry out its decision."""
        cid = container.id
        if not self.selection(container).monitored:
            return
        now = self.clock()
        if isinstance(obs, p.Failure) and self.maintenance:
            if not quiet:
                self.events.add(Record(now, "skipped", "healing is paused (maintenance)", cid, container.name, obs.kind.value, obs.exit_code))
            return
        if isinstance(obs, p.Failure) and now < self.hold_until:
            self._schedule_recheck(container, self.hold_until)
            return
        overrides = apply_overrides(self.settings.restart, container.labels)
        before = self.state(cid)
        state, decision = p.decide(before, obs, now, overrides.restart, self.settings.quarantine, self.rand)
        self._set_state(container, state)
        if state.pending_at is None and not isinstance(obs, p.Failure):
            self.detected_at.pop(cid, None)  # recovered, stopped or paused: that detection is over
        if before.quarantined and not state.quarantined and isinstance(obs, p.Started):
            self.events.add(Record(now, "unquarantine", f"{source or 'released'}: started by someone else", cid, container.name))
        cause = obs.kind.value if isinstance(obs, p.Failure) else ""
        exit_code = obs.exit_code if isinstance(obs, p.Failure) else container.exit_code
        base = Record(now, "", "", cid, container.name, cause, exit_code)
        prefix = f"{source}: " if source else ""
        match decision:
            case p.Restart():
                self._schedule_restart(container, decision)
                verb = "start" if not container.running else "restart"
                if overrides.problems:
                    self.events.add(replace(base, kind="skipped", reason="; ".join(overrides.problems)))
                self.events.add(
                    replace(
                        base,
                        kind="scheduled",
                        reason=f"{prefix}{decision.kind.value}: {verb} in {decision.delay_seconds:.1f}s",
                        attempt=decision.attempt,
                        delay_seconds=round(decision.delay_seconds, 3),
                        window_count=decision.window_count,
                    )
                )
            case p.Recheck():
                self._schedule_recheck(container, decision.at)
                if not quiet:
                    self.events.add(replace(base, kind="skipped", reason=f"{prefix}{decision.reason}; looking again later"))
            case p.Quarantine():
                self._cancel_timer(cid)
                self.detected_at.pop(cid, None)
                self.events.add(
                    replace(base, kind="quarantine", reason=f"{prefix}{decision.reason}", window_count=decision.window_count)
                )
            case p.Cancel():
                self._cancel_timer(cid)
                self.detected_at.pop(cid, None)
                self.events.add(replace(base, kind="cancelled", reason=f"pending restart cancelled: {decision.reason}"))
            case p.Ignore() if isinstance(obs, p.Exited) and obs.manual:
                self.events.add(replace(base, kind="manual_stop", reason=f"{prefix}{decision.reason}: left stopped"))
            case p.Ignore() if not quiet:
                self.events.add(replace(base, kind="skipped", reason=f"{prefix}{decision.reason}"))

    def _schedule_restart(self, container: Container, decision: p.Restart) -> None:
        self._set_timer(container.id, self._restart_at(container.id, decision))

    def _schedule_recheck(self, container: Container, at: float) -> None:
        if container.id in self.timers:
            return  # a restart or an earlier recheck is already due
        self._set_timer(container.id, self._recheck_at(container.id, at))

    def _set_timer(self, cid: str, coro) -> None:
        self._cancel_timer(cid)
        task = asyncio.get_running_loop().create_task(coro, name=f"autoheal-timer-{cid[:12]}")
        self.timers[cid] = task
        task.add_done_callback(lambda t, cid=cid: self.timers.pop(cid, None) if self.timers.get(cid) is t else None)

    def _cancel_timer(self, cid: str) -> None:
        timer = self.timers.pop(cid, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def _sleep_until(self, at: float) -> None:
        delay = at - self.clock()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _recheck_at(self, cid: str, at: float) -> None:
        await self._sleep_until(at)
        self.timers.pop(cid, None)
        container = await self._current(cid, refresh=True)
        if container is None:
            return
        if self.unhealthy(container):
            self._fail(container, p.FailureKind.UNHEALTHY, None, quiet=True)
        elif container.status in ("exited", "dead") and self.exits.get(cid) in _FAILING_EXITS:
            self._observe(container, observation_for(self.exits[cid], container.exit_code), quiet=True)

    # --- lifecycle --------------------------------------------------------------

    async def close(self, action_timeout_seconds: float = 30.0) -> None:
        """Cancel timers and helper tasks; restarts under way get time to finish first."""
        waiting = list(self.timers.values()) + list(self.tasks)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        self.timers.clear()
        self.tasks.clear()
        if self.actions:
            _, late = await asyncio.wait(list(self.actions), timeout=action_timeout_seconds)
            for task in late:
                log.warning("a restart did not finish within %.0fs of shutdown; cancelled", action_timeout_seconds)
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)


__all__ = ["Healer", "DockerPort", "OVERRIDE_LABELS"]
