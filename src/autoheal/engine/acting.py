"""Autoheal's own actions: the restarts it decides on, and those an operator asks for."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable
from autoheal.domain import policy as p
from autoheal.domain.classify import ExitClass
from autoheal.domain.labels import apply_overrides
from autoheal.engine.records import Record

if TYPE_CHECKING:
    from autoheal.engine.healer import Healer

log = logging.getLogger(__name__)

# After autoheal's own action returns, its kill/die/stop/start events may still be on the way.
OWN_EVENT_SLACK_SECONDS = 5.0


@dataclass
class ActionMark:
    """Autoheal's own action on a container: its events are not failures or manual stops."""

    done_at: float | None = None


class Acting:
    """The acting half of the Healer (mixed in): tagging its own actions, restarting, verifying."""

    def _acting_now(self: Healer, cid: str, event_time: float | None = None) -> bool:
        """An action of autoheal's is under way, or its events may still be arriving. event_time
        (the engine's time of an event) keeps a late-handled event of that action autoheal's own:
        under heavy load an event can be handled well after it happened."""
        acting = self.acting.get(cid)
        if acting is None:
            return False
        if acting.done_at is not None:
            limit = acting.done_at + OWN_EVENT_SLACK_SECONDS
            if event_time is not None and event_time <= limit:
                return True
            if self.clock() > limit:
                del self.acting[cid]
                return False
        return True

    def _is_own(self: Healer, cid: str, action: str, event_time: float | None = None) -> bool:
        if not self._acting_now(cid, event_time):
            return False
        if action == "start":
            del self.acting[cid]  # our start ends the action; later events are someone else's
        return True

    async def _restart_at(self: Healer, cid: str, decision: p.Restart) -> None:
        await self._sleep_until(decision.at)
        async with self.gate.slot():
            # From here on this is an action, not a timer: shutdown lets it finish.
            task = self.timers.pop(cid, None)
            if task is not None:
                self.actions.add(task)
                task.add_done_callback(self.actions.discard)
            if cid in self.busy:
                self._drop_pending(cid, "another action on this container is under way")
                return
            self.busy.add(cid)
            try:
                await self._act(cid, decision)
            except EngineUnavailable as exc:
                # Never leave a restart "scheduled" with no timer behind it: the next pass retries.
                self._drop_pending(cid, f"engine unavailable ({exc}); retried when it is back")
            except Exception:  # noqa: BLE001 - a timer must not die with the restart still marked pending
                log.exception("restart of %s failed unexpectedly", cid[:12])
                self._drop_pending(cid, "internal error; retried at the next pass")
            finally:
                self.busy.discard(cid)

    def _drop_pending(self: Healer, cid: str, why: str) -> None:
        container = self.containers.get(cid)
        state = self.policy.get(cid)
        if container is None or state is None or state.pending_at is None:
            return
        self._set_state(container, replace(state, pending_at=None, pending_attempt=0, pending_kind=None))
        self.detected_at.pop(cid, None)
        self.events.add(Record(self.clock(), "cancelled", f"restart not made: {why}", cid, container.name))

    async def _act(self: Healer, cid: str, decision: p.Restart) -> None:
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
            container.running and (container.health in ("unhealthy", "starting") or cid in self.check_failing)
        )
        if self.maintenance or not self.selection(container).monitored or container.status == "paused" or not still_failing:
            why = "no longer monitored" if not self.selection(container).monitored else f"now {container.status}"
            if self.maintenance:
                why = "healing is paused (maintenance)"
            if container.running and container.health not in ("unhealthy", "starting") and cid not in self.check_failing:
                why = "running again" if container.health is None else f"recovered by itself ({container.health})"
            self._set_state(container, replace(self.state(cid), pending_at=None, pending_attempt=0, pending_kind=None))
            self.detected_at.pop(cid, None)
            self.events.add(replace(base, kind="cancelled", reason=f"restart not needed: {why}"))
            return
        overrides = apply_overrides(self.settings.restart, container.labels)
        restart = overrides.restart
        timeout = overrides.stop_timeout_for(container.stop_timeout_seconds)
        self._set_state(container, p.decide(self.state(cid), p.Restarted(), self.clock(), restart, self.settings.quarantine, self.rand)[0])
        acting = self.acting[cid] = ActionMark()
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
                await self._note_stopped_by_failed_restart(cid, decision.kind)
            self.events.add(replace(base, kind="restart_failed", reason=f"{verb} failed: {exc}"))
            self.metrics.restart_done(cause, "failed", detect, self.clock() - started)
            return
        acting.done_at = self.clock()
        duration = acting.done_at - started
        outcome, reason = await self._verify(cid, verb, timeout)
        self.metrics.restart_done(cause, outcome, detect, duration)
        if outcome == "restarted":
            self.dependents.parent_started(container, "healed by autoheal", healed=True)
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

    async def _note_stopped_by_failed_restart(self: Healer, cid: str, kind: p.FailureKind) -> None:
        """A restart may stop the container and then fail to start it: that exit is autoheal's
        doing, not a manual stop, and the container is still down for the old failure."""
        try:
            after = await self.docker.inspect(cid)
        except (ContainerGone, EngineUnavailable):
            return
        if after.status in ("exited", "dead"):
            self.containers[cid] = after
            self.exits[cid] = ExitClass.CRASH
            self.down_for[cid] = kind  # retried as the failure it was, whatever the mode

    async def _verify(self: Healer, cid: str, verb: str, stop_timeout_seconds: int) -> tuple[str, str]:
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

    async def _verify_health_later(self: Healer, cid: str, started_at: float | None) -> None:
        await asyncio.sleep(self.settings.restart.verify_seconds)
        state = self.policy.get(cid)
        if state is None or not self.selection_of(cid):
            return
        try:
            container = await self.docker.inspect(cid)  # the engine's own StartedAt, to compare exactly
        except (ContainerGone, EngineUnavailable):
            return
        if not container.running or not container.has_healthcheck or container.started_at != started_at:
            return  # stopped, or started again since (by someone else): that start is not ours to judge
        if container.health == "healthy" or state.pending_at is not None or state.quarantined:
            return
        self.events.add(
            Record(self.clock(), "restart_failed", f"not healthy within verify_seconds ({container.health})", cid, container.name, "unhealthy")
        )
        self._fail(container, p.FailureKind.UNHEALTHY, None, quiet=True)

    def _spawn(self: Healer, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def set_maintenance(self: Healer, paused: bool) -> None:
        """Pause or resume all healing; scheduled restarts are cancelled when they fall due."""
        if paused != self.maintenance:
            self.maintenance = paused
            verb = "paused" if paused else "resumed"
            self.events.add(Record(self.clock(), "maintenance", f"healing {verb} by an operator"))

    def quarantine(self: Healer, cid: str) -> bool:
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

    async def operator_restart(self: Healer, cid: str) -> Record:
        """Restart (or start) now for an operator: resets the count and lifts a quarantine."""
        container = await self.docker.inspect(cid)
        self.containers[cid] = container
        timeout = apply_overrides(self.settings.restart, container.labels).stop_timeout_for(container.stop_timeout_seconds)
        verb = "restart" if container.running else "start"
        if cid in self.busy:
            raise ActionFailed("autoheal is restarting this container right now; try again in a moment")
        self.busy.add(cid)
        acting = self.acting[cid] = ActionMark()
        try:
            async with self.gate.slot():
                if container.running:
                    await self.docker.restart(cid, timeout)
                else:
                    await self.docker.start(cid)
        finally:
            acting.done_at = self.clock()
            self.busy.discard(cid)
        self._cancel_timer(cid)  # only once it worked: a refused request changes nothing
        state = self.state(cid)
        fresh = replace(
            state, failures=0, restarts=(), quarantined_at=None, probation=False, manual_stop=False,
            pending_at=None, pending_attempt=0, pending_kind=None,
        )
        self._set_state(container, fresh)
        self.exits.pop(cid, None)
        record = Record(self.clock(), "restart", f"{verb} by an operator (stop timeout {timeout}s)", cid, container.name, "operator")
        self.events.add(record)
        self.dependents.parent_started(container, "restarted by an operator")
        return record

    def unquarantine(self: Healer, cid: str) -> bool:
        """Release a quarantined container; False if it was not quarantined."""
        state = self.policy.get(cid)
        container = self.containers.get(cid)
        if state is None or not state.quarantined or container is None:
            return False
        self._set_state(container, p.decide(state, p.Released(), self.clock(), self.restart_settings(container), self.settings.quarantine, self.rand)[0])
        self.events.add(Record(self.clock(), "unquarantine", "released by an operator", cid, container.name))
        return True
