"""The healer: turns engine events and reconcile passes into policy decisions, and acts on them."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from autoheal.config import Settings
from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable
from autoheal.domain import policy as p
from autoheal.domain.classify import ExitClass, ExitMemory, classify_die, classify_unobserved, observation_for
from autoheal.domain.labels import OVERRIDE_LABELS, apply_overrides, stop_timeout
from autoheal.domain.models import Container, DockerEvent
from autoheal.domain.selection import Selection, select
from autoheal.engine.gate import ActionGate
from autoheal.engine.records import EventLog, Record

log = logging.getLogger(__name__)

# After autoheal's own action returns, its kill/die/stop/start events may still be on the way.
_OWN_EVENT_SLACK_SECONDS = 5.0
_FAILING_EXITS = (ExitClass.CRASH, ExitClass.OOM)


class DockerPort(Protocol):
    """What the healer needs from the engine (the adapter and the fake both provide it)."""

    async def list_containers(self) -> list[Container]: ...
    async def inspect(self, container_id: str) -> Container: ...
    async def restart(self, container_id: str, stop_timeout_seconds: int) -> None: ...
    async def start(self, container_id: str) -> None: ...


class HealerMetrics(Protocol):
    """The counters the healer moves (see autoheal.metrics)."""

    def restart_done(self, cause: str, outcome: str, detect_seconds: float, duration_seconds: float) -> None: ...
    def held_back(self, limit: str) -> None: ...


class _NoMetrics:
    def restart_done(self, cause: str, outcome: str, detect_seconds: float, duration_seconds: float) -> None:
        pass

    def held_back(self, limit: str) -> None:
        pass


@dataclass
class _Acting:
    """Autoheal's own action on a container: its events are not failures or manual stops."""

    done_at: float | None = None


class Healer:
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
        self.metrics = metrics or _NoMetrics()
        self.on_state = on_state  # told of every policy state change, for the store
        self.on_change = on_change  # told whenever anything shown about a container changed
        self.maintenance = False  # healing paused host-wide by an operator
        self.choices: dict[str, bool] = {}  # operator enable/disable, by container name
        self.containers: dict[str, Container] = {}
        self.policy: dict[str, p.PolicyState] = {}
        self.memory: dict[str, ExitMemory] = {}
        self.exits: dict[str, ExitClass] = {}  # the last exit classified, until the next start
        self.acting: dict[str, _Acting] = {}
        self.detected_at: dict[str, float] = {}
        self.timers: dict[str, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.actions: set[asyncio.Task[None]] = set()  # restarts under way
        self.gate = ActionGate(lambda: self.settings.restart, self.metrics.held_back)
        self.hold_until = clock() + settings.monitor.start_period_seconds

    # --- queries ----------------------------------------------------------------

    def selection(self, container: Container) -> Selection:
        return select(container, self.settings, self.choices, self.self_id)

    def restart_settings(self, container: Container):
        return apply_overrides(self.settings.restart, container.labels).restart

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
        own = self._is_own(cid, event.action)
        container = self._apply_event(container, event)
        self.containers[cid] = container
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
                self._observe(container, p.Started(by_autoheal=own), quiet=True)
            case "health_status" if event.health == "unhealthy" and container.running:
                self.detected_at.setdefault(cid, self.clock())
                self._fail(container, p.FailureKind.UNHEALTHY, None)
            case "health_status" if event.health == "healthy":
                self._observe(container, p.Healthy(), quiet=True)
            case "pause" | "unpause":
                self._observe(container, p.Paused(event.action == "pause"), quiet=True)

    def _acting_now(self, cid: str) -> bool:
        """An action of autoheal's is under way, or its events may still be arriving."""
        acting = self.acting.get(cid)
        if acting is None:
            return False
        if acting.done_at is not None and self.clock() > acting.done_at + _OWN_EVENT_SLACK_SECONDS:
            del self.acting[cid]
            return False
        return True

    def _is_own(self, cid: str, action: str) -> bool:
        if not self._acting_now(cid):
            return False
        if action == "start":
            del self.acting[cid]  # our start ends the action; later events are someone else's
        return True

    @staticmethod
    def _apply_event(container: Container, event: DockerEvent) -> Container:
        match event.action:
            case "start" | "unpause":
                return replace(container, status="running", health="starting" if container.has_healthcheck else None)
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
        if cid in self.policy:
            self.on_state(cid, "", None)
        if cid in self.containers:
            self.on_change(cid)
        timer = self.timers.pop(cid, None)
        if timer is not None:
            timer.cancel()
        for table in (self.containers, self.policy, self.memory, self.exits, self.acting, self.detected_at):
            table.pop(cid, None)

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

    async def _reconcile_one(self, listed: Container) -> None:
        cid = listed.id
        known = self.containers.get(cid)
        if known is None or not known.detailed:
            container = await self._current(cid, refresh=True)
            if container is None:
                return
        else:
            container = replace(known, status=listed.status, health=listed.health, exit_code=listed.exit_code)
            self.containers[cid] = container
        if not self.selection(container).monitored or self._acting_now(cid):
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
        if container.running and container.health == "unhealthy":
            self.detected_at.setdefault(cid, self.clock())
            self._fail(container, p.FailureKind.UNHEALTHY, None, quiet=True)
        elif container.status in ("exited", "dead"):
            await self._reconcile_exit(container)

    async def _reconcile_exit(self, container: Container) -> None:
        cid = container.id
        exit_class = self.exits.get(cid)
        if exit_class is None and self.state(cid).manual_stop:
            self.exits[cid] = ExitClass.MANUAL  # stopped by hand before a resync: still manual
            return
        if exit_class is None:
            # The cached detail may predate this exit (OOMKilled, exit code): look again.
            container = await self._current(cid, refresh=True)
            if container is None:
                return
            exit_class = classify_unobserved(container)
            self.exits[cid] = exit_class
            if exit_class in _FAILING_EXITS:
                self.detected_at.setdefault(cid, self.clock())
            self._observe(container, observation_for(exit_class, container.exit_code), source="unobserved exit")
        elif exit_class in _FAILING_EXITS and not self.state(cid).manual_stop:
            # Still down after a crash: a failed restart is retried, a quarantine may be released.
            self._observe(container, observation_for(exit_class, container.exit_code), quiet=True)

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
                self.events.add(
                    replace(base, kind="quarantine", reason=f"{prefix}{decision.reason}", window_count=decision.window_count)
                )
            case p.Cancel():
                self._cancel_timer(cid)
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
        if container.running and container.health == "unhealthy":
            self._fail(container, p.FailureKind.UNHEALTHY, None, quiet=True)
        elif container.status in ("exited", "dead") and self.exits.get(cid) in _FAILING_EXITS:
            self._observe(container, observation_for(self.exits[cid], container.exit_code), quiet=True)

    # --- acting -----------------------------------------------------------------

    async def _restart_at(self, cid: str, decision: p.Restart) -> None:
        await self._sleep_until(decision.at)
        async with self.gate.slot():
            # From here on this is an action, not a timer: shutdown lets it finish.
            task = self.timers.pop(cid, None)
            if task is not None:
                self.actions.add(task)
                task.add_done_callback(self.actions.discard)
            await self._act(cid, decision)

    async def _act(self, cid: str, decision: p.Restart) -> None:
        cause = decision.kind.value
        try:
            container = await self.docker.inspect(cid)
        except ContainerGone:
            self.forget(cid)
            return
        self.containers[cid] = container
        base = Record(self.clock(), "", "", cid, container.name, cause, container.exit_code, decision.attempt)
        # "starting" counts: a container that missed verify_seconds is still not healthy.
        still_failing = container.status in ("exited", "dead") or (
            container.running and container.health in ("unhealthy", "starting")
        )
        if self.maintenance or not self.selection(container).monitored or container.status == "paused" or not still_failing:
            why = "no longer monitored" if not self.selection(container).monitored else f"now {container.status}"
            if self.maintenance:
                why = "healing is paused (maintenance)"
            if container.running and container.health not in ("unhealthy", "starting"):
                why = "running again" if container.health is None else f"recovered by itself ({container.health})"
            self._set_state(container, replace(self.state(cid), pending_at=None, pending_attempt=0, pending_kind=None))
            self.detected_at.pop(cid, None)
            self.events.add(replace(base, kind="cancelled", reason=f"restart not needed: {why}"))
            return
        overrides = apply_overrides(self.settings.restart, container.labels)
        restart = overrides.restart
        timeout = stop_timeout(restart, container.stop_timeout_seconds, "autoheal.stop.timeout" in overrides.applied)
        self._set_state(container, p.decide(self.state(cid), p.Restarted(), self.clock(), restart, self.settings.quarantine, self.rand)[0])
        acting = self.acting[cid] = _Acting()
        verb = "restart" if container.running else "start"
        started = self.clock()
        detect = started - self.detected_at.pop(cid, started)
        try:
            if container.running:
                await self.docker.restart(cid, timeout)
            else:
                await self.docker.start(cid)
        except ContainerGone:
            self.forget(cid)
            self.events.add(replace(base, kind="restart_failed", reason=f"{verb} failed: the container was removed"))
            self.metrics.restart_done(cause, "gone", detect, self.clock() - started)
            return
        except (ActionFailed, EngineUnavailable) as exc:
            acting.done_at = self.clock()
            if container.running:
                await self._note_stopped_by_failed_restart(cid)
            self.events.add(replace(base, kind="restart_failed", reason=f"{verb} failed: {exc}"))
            self.metrics.restart_done(cause, "failed", detect, self.clock() - started)
            return
        acting.done_at = self.clock()
        duration = acting.done_at - started
        outcome, reason = await self._verify(cid, verb, timeout)
        self.metrics.restart_done(cause, outcome, detect, duration)
        self.events.add(
            replace(
                base,
                time=acting.done_at,
                kind="restart" if outcome == "restarted" else "restart_failed",
                reason=reason,
                delay_seconds=round(decision.delay_seconds, 3),
                window_count=decision.window_count + 1,
            )
        )

    async def _note_stopped_by_failed_restart(self, cid: str) -> None:
        """A restart may stop the container and then fail to start it: that exit is autoheal's
        doing, not a manual stop, and the container is still down for the old failure."""
        try:
            after = await self.docker.inspect(cid)
        except (ContainerGone, EngineUnavailable):
            return
        if after.status in ("exited", "dead"):
            self.containers[cid] = after
            self.exits[cid] = ExitClass.CRASH

    async def _verify(self, cid: str, verb: str, stop_timeout_seconds: int) -> tuple[str, str]:
        """Did the container come back? (Health is watched by the normal event flow.)"""
        try:
            container = await self.docker.inspect(cid)
        except ContainerGone:
            return "gone", f"{verb} done, but the container was removed"
        except EngineUnavailable as exc:
            return "restarted", f"{verb} done (could not verify: {exc})"
        if container.running or container.status == "restarting":
            self._spawn(self._verify_health_later(cid, container.started_at))
            return "restarted", f"{verb} done with stop timeout {stop_timeout_seconds}s; running again"
        return "failed", f"{verb} done, but the container is {container.status} (exit code {container.exit_code})"

    async def _verify_health_later(self, cid: str, started_at: float | None) -> None:
        await asyncio.sleep(self.settings.restart.verify_seconds)
        container = self.containers.get(cid)
        state = self.policy.get(cid)
        if container is None or state is None or not container.running or not container.has_healthcheck:
            return
        if container.health == "healthy" or state.pending_at is not None or state.quarantined:
            return
        self.events.add(
            Record(self.clock(), "restart_failed", f"not healthy within verify_seconds ({container.health})", cid, container.name, "unhealthy")
        )
        self._fail(container, p.FailureKind.UNHEALTHY, None, quiet=True)

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- operator actions -------------------------------------------------------

    def set_maintenance(self, paused: bool) -> None:
        """Pause or resume all healing; scheduled restarts are cancelled when they fall due."""
        if paused != self.maintenance:
            self.maintenance = paused
            verb = "paused" if paused else "resumed"
            self.events.add(Record(self.clock(), "maintenance", f"healing {verb} by an operator"))

    def quarantine(self, cid: str) -> bool:
        """An operator stops healing one container; False if it already was quarantined."""
        container = self.containers.get(cid)
        state = self.state(cid)
        if container is None or state.quarantined:
            return False
        self._cancel_timer(cid)
        now = self.clock()
        self._set_state(container, replace(state, quarantined_at=now, pending_at=None, pending_attempt=0, pending_kind=None))
        self.events.add(Record(now, "quarantine", "quarantined by an operator", cid, container.name))
        return True

    async def operator_restart(self, cid: str) -> Record:
        """Restart (or start) now for an operator: resets the count and lifts a quarantine."""
        container = await self.docker.inspect(cid)
        self.containers[cid] = container
        restart = self.restart_settings(container)
        overrides = apply_overrides(self.settings.restart, container.labels)
        timeout = stop_timeout(restart, container.stop_timeout_seconds, "autoheal.stop.timeout" in overrides.applied)
        verb = "restart" if container.running else "start"
        self._cancel_timer(cid)
        acting = self.acting[cid] = _Acting()
        try:
            async with self.gate.slot():
                if container.running:
                    await self.docker.restart(cid, timeout)
                else:
                    await self.docker.start(cid)
        finally:
            acting.done_at = self.clock()
        state = self.state(cid)
        fresh = replace(
            state, failures=0, restarts=(), quarantined_at=None, probation=False, manual_stop=False,
            pending_at=None, pending_attempt=0, pending_kind=None,
        )
        self._set_state(container, fresh)
        self.exits.pop(cid, None)
        record = Record(self.clock(), "restart", f"{verb} by an operator (stop timeout {timeout}s)", cid, container.name, "operator")
        self.events.add(record)
        return record

    def unquarantine(self, cid: str) -> bool:
        """Release a quarantined container; False if it was not quarantined."""
        state = self.policy.get(cid)
        container = self.containers.get(cid)
        if state is None or not state.quarantined or container is None:
            return False
        self._set_state(container, p.decide(state, p.Released(), self.clock(), self.restart_settings(container), self.settings.quarantine, self.rand)[0])
        self.events.add(Record(self.clock(), "unquarantine", "released by an operator", cid, container.name))
        return True

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
