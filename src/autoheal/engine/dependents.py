"""Dependent containers: restarted after their parent, recreated when it was replaced, one task per parent."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable
from autoheal.domain import policy as p
from autoheal.domain.classify import ExitClass
from autoheal.domain.dependencies import Graph, build_graph, network_parent, restarts_project
from autoheal.domain.labels import apply_overrides
from autoheal.domain.models import Container
from autoheal.engine.acting import ActionMark
from autoheal.engine.records import Record
from autoheal.engine.recreation import CAUSE, recreate

if TYPE_CHECKING:
    from autoheal.engine.healer import Healer

log = logging.getLogger(__name__)

IMPLICIT = "replaced (new container id)"  # found by a reconcile pass or a removal, not by a start
_MAX_IDENTITIES = 10_000
_POLL_SECONDS = 0.2
_BUSY_WAIT_SECONDS = 120.0
# A parent whose health check is still starting is waited for this long at most (Docker's own
# default check interval is 30 s, so verify_seconds alone would often be too short).
READY_WAIT_SECONDS = 300.0
_FAILING = (ExitClass.CRASH, ExitClass.OOM)


@dataclass
class Identity:
    """What a container was known as, kept after it is gone: its replacement is found by it."""

    names: set[str] = field(default_factory=set)
    project: str = ""
    service: str = ""

    def matches(self, c: Container) -> bool:
        if self.project and self.service and (c.compose_project, c.compose_service) == (self.project, self.service):
            return True
        return c.name in self.names


class Dependents:
    """Carries a parent's restart or replacement over to the containers that depend on it."""

    def __init__(self, healer: Healer) -> None:
        self.healer = healer
        self.identities: OrderedDict[str, Identity] = OrderedDict()
        self.cascades: dict[str, asyncio.Task[None]] = {}  # by parent id: one at a time
        self.again: set[str] = set()  # parents started again while their cascade ran
        self.tried: set[tuple[str, str]] = set()  # (child, new parent) recreations looked at
        self.cycles_reported: set[frozenset[str]] = set()
        self.rolled_back: set[str] = set()  # children autoheal stopped for a recreation that failed

    def graph(self) -> Graph:
        return build_graph(list(self.healer.containers.values()))

    # --- hooks called by the healer -----------------------------------------------

    def remember(self, container: Container) -> None:
        known = self.identities.pop(container.id, None) or Identity()
        known.names.add(container.name)
        known.project = container.compose_project or known.project
        known.service = container.compose_service or known.service
        self.identities[container.id] = known
        while len(self.identities) > _MAX_IDENTITIES:
            self.identities.popitem(last=False)

    def parent_started(self, parent: Container, why: str, *, healed: bool = False) -> None:
        """The parent was restarted (by autoheal: healed, by an operator, or by someone else)."""
        graph = self.graph()
        has_work = (
            graph.children(parent.id)
            or self._replaced_children(parent, graph)
            or (healed and restarts_project(parent))
        )
        if has_work:
            self._cascade(parent.id, why, healed)

    def forgotten(self, cid: str) -> None:
        """A container is gone: children that joined its network may now have a replacement parent."""
        gone = self.healer.containers.get(cid)
        if gone is not None:
            self.remember(gone)
        self.rolled_back.discard(cid)
        asyncio.get_running_loop().call_soon(self._recreate_where_replaced)  # once it is forgotten

    def reconcile(self) -> None:
        """After a reconcile pass: remember everyone, report new cycles, catch missed replacements."""
        for container in list(self.healer.containers.values()):
            self.remember(container)
        graph = self.graph()
        current = {frozenset(cycle): cycle for cycle in graph.cycles}
        for key, cycle in current.items():
            if key not in self.cycles_reported:
                reason = f"dependency cycle {graph.describe(cycle)}: refused, nothing is restarted along it"
                for cid in dict.fromkeys(cycle):
                    self.healer.events.add(Record(self.healer.clock(), "dependency_cycle", reason, cid, graph.names.get(cid, ""), CAUSE))
        self.cycles_reported = set(current)
        self._recreate_where_replaced()

    # --- planning -----------------------------------------------------------------

    def _replacement(self, ref: str) -> Container | None:
        """The running container that took the place of the network parent `ref`, once `ref` is gone:
        one now holding a name it had, or the only running container of its compose service."""
        containers = self.healer.containers
        identity = self.identities.get(ref)
        if ref in containers or identity is None:
            return None
        running = [c for c in containers.values() if c.running]
        by_name = [c for c in running if c.name in identity.names]
        if by_name:
            return by_name[0]
        if identity.project and identity.service:
            same = [c for c in running if (c.compose_project, c.compose_service) == (identity.project, identity.service)]
            if len(same) == 1:
                return same[0]
        return None

    def _replaced_children(self, parent: Container, graph: Graph) -> list[str]:
        """Children whose network parent was replaced by `parent`: a restart cannot fix them."""
        out = []
        for c in list(self.healer.containers.values()):
            ref = network_parent(c.network_mode)
            if ref is None or ref == parent.id:
                continue
            replacement = self._replacement(ref)
            if replacement is not None and replacement.id == parent.id:
                out.append(c.id)
        return sorted(out, key=lambda cid: graph.names.get(cid, cid))

    def _recreate_where_replaced(self) -> None:
        """Children of a parent that was replaced meanwhile (each pair looked at once from here)."""
        for c in list(self.healer.containers.values()):
            ref = network_parent(c.network_mode)
            if ref is None:
                continue
            replacement = self._replacement(ref)
            if replacement is not None and (c.id, replacement.id) not in self.tried:
                self._cascade(replacement.id, IMPLICIT, False)

    # --- the cascade --------------------------------------------------------------

    def _cascade(self, root: str, why: str, healed: bool) -> None:
        running = self.cascades.get(root)
        if running is not None and not running.done():
            if why != IMPLICIT:  # the running one already looks at what a reconcile pass found
                self.again.add(root)
            return
        task = asyncio.get_running_loop().create_task(self._run(root, why, healed), name=f"autoheal-deps-{root[:12]}")
        self.cascades[root] = task
        self.healer.tasks.add(task)
        task.add_done_callback(self.healer.tasks.discard)
        task.add_done_callback(lambda t: self.cascades.pop(root, None) if self.cascades.get(root) is t else None)

    async def _run(self, root_id: str, why: str, healed: bool) -> None:
        try:
            while True:
                self.again.discard(root_id)
                root = await self._wait_ready(root_id)
                graph = self.graph()
                if root is None:
                    self._note_parent_not_ready(root_id, graph)
                    return
                await self._run_plan(root, why, healed, graph)
                if root_id not in self.again:
                    return
        except EngineUnavailable as exc:
            log.warning("dependents of %s not handled: engine unavailable (%s)", root_id[:12], exc)
        except Exception:  # noqa: BLE001 - one cascade must not take anything else down
            log.exception("dependents of %s not handled", root_id[:12])

    async def _run_plan(self, root: Container, why: str, healed: bool, graph: Graph) -> None:
        containers = self.healer.containers
        steps: list[tuple[str, str]] = []  # (restart|project|recreate, child id)
        if healed and restarts_project(root):
            members = [c.id for c in containers.values() if c.compose_project == root.compose_project]
            steps += [("project", cid) for cid in graph.project_plan(root.id, members)]
        planned = {cid for _, cid in steps}
        steps += [("restart", cid) for cid in graph.descendants(root.id) if cid not in planned]
        steps += [("recreate", cid) for cid in self._replaced_children(root, graph)]
        for index, (kind, cid) in enumerate(steps):
            if kind == "recreate":
                if why == IMPLICIT and (cid, root.id) in self.tried:
                    continue  # tried already; a start of the parent tries again
                self.tried.add((cid, root.id))
                await recreate(self, cid, root)
                continue
            parents = [q for q in graph.parents(cid) if q == root.id or any(q == s for _, s in steps[:index])]
            if kind == "project":
                reason = f"compose project {root.compose_project} restarted after {root.name} was healed"
                parents = parents or [root.id]
            else:
                names = ", ".join(graph.names.get(q, q[:12]) for q in parents)
                reason = f"its parent {names} was {why}" if parents and parents[0] == root.id else f"its parent {names} was restarted with {root.name}"
            done = await self._restart_child(cid, parents or [root.id], reason)
            later = {s for _, s in steps[index + 1:]}
            if done and later & set(graph.children(cid)):
                await self._wait_ready(cid)  # its own children follow: they need it up first

    async def _wait_ready(self, cid: str) -> Container | None:
        """The container once running (and healthy, if it has a health check); None if it does not
        run within verify_seconds, turns unhealthy, or is still starting after READY_WAIT_SECONDS."""
        h = self.healer
        started = time.monotonic()
        run_by = started + max(h.settings.restart.verify_seconds, 1.0)
        deadline = started + max(h.settings.restart.verify_seconds, READY_WAIT_SECONDS)
        polls = 0
        while True:
            known = h.containers.get(cid)
            if known is None:
                return None
            if _ready(known) or polls % 10 == 0:  # the view is live; the engine is asked now and then
                try:
                    fresh = await h.docker.inspect(cid)
                except ContainerGone:
                    return None
                h.containers[cid] = fresh
                if _ready(fresh):
                    return fresh
                if fresh.running and fresh.health == "unhealthy":
                    return None  # failing: its own heal (or its next start) brings the children along
            now = time.monotonic()
            if now > deadline or (now > run_by and not known.running):
                return None
            polls += 1
            await asyncio.sleep(_POLL_SECONDS)

    def _note_parent_not_ready(self, root_id: str, graph: Graph) -> None:
        h = self.healer
        name = graph.names.get(root_id, root_id[:12])
        parent = h.containers.get(root_id)
        state = "gone" if parent is None else (parent.health if parent.running and parent.health else parent.status)
        for cid in graph.children(root_id):
            child = h.containers.get(cid)
            if child is not None and h.selection(child).monitored:
                reason = f"left as it is: its parent {name} did not come back running and healthy (it is {state})"
                h.events.add(Record(h.clock(), "dependency_skipped", reason, cid, child.name, CAUSE))

    def why_not(self, child: Container, *, action: str) -> str | None:
        """Why a dependent is left alone, or None."""
        h = self.healer
        cid = child.id
        state = h.state(cid)
        if not h.selection(child).monitored:
            return f"not managed by autoheal: not {action} with its parent (only managed containers are)"
        if state.quarantined:
            return "quarantined: left alone"
        if h.maintenance:
            return "healing is paused (maintenance)"
        if child.status == "paused":
            return "paused: left alone"
        if state.manual_stop:
            return "stopped by hand: left stopped"
        if not child.running and h.exits.get(cid) not in _FAILING and cid not in h.down_for and cid not in self.rolled_back:
            return f"{child.status}: left as it is"
        return None

    async def fresh(self, cid: str) -> Container | None:
        h = self.healer
        waited = time.monotonic() + _BUSY_WAIT_SECONDS
        while cid in h.busy and time.monotonic() < waited:  # its own restart first; then look again
            await asyncio.sleep(_POLL_SECONDS)
        try:
            child = await h.docker.inspect(cid)
        except ContainerGone:
            return None
        h.containers[cid] = child
        return child

    async def _restart_child(self, cid: str, parents: list[str], reason: str) -> bool:
        """Restart (or start) one dependent after its parents; True if it runs again."""
        h = self.healer
        child = await self.fresh(cid)
        if child is None:
            return False
        latest = [h.containers[q].started_at for q in parents if q in h.containers]
        if child.running and child.started_at is not None and latest and all(t is not None and child.started_at > t for t in latest):
            return True  # started after its parents already (by itself, by compose, or by its own heal)
        skip = self.why_not(child, action="restarted")
        if skip is not None:
            h.events.add(Record(h.clock(), "dependency_skipped", f"{reason}; {skip}", cid, child.name, CAUSE))
            return False
        overrides = apply_overrides(h.settings.restart, child.labels)
        state = h.state(cid)
        if state.last_restart_at is not None:
            wait = state.last_restart_at + overrides.restart.cooldown_seconds - h.clock()
            if wait > 0:
                reason += f" (after its cooldown of {overrides.restart.cooldown_seconds:g}s)"
                await asyncio.sleep(wait)
        timeout = overrides.stop_timeout_for(child.stop_timeout_seconds)
        verb = "restart" if child.running else "start"
        async with h.gate.slot():
            if cid in h.busy:
                h.events.add(Record(h.clock(), "dependency_skipped", f"{reason}; another action on it is under way", cid, child.name, CAUSE))
                return False
            h.busy.add(cid)
            try:
                return await self._restart_now(child, verb, timeout, reason, overrides.restart)
            finally:
                h.busy.discard(cid)

    async def _restart_now(self, child: Container, verb: str, timeout: int, reason: str, restart) -> bool:
        h = self.healer
        cid = child.id
        if h.state(cid).pending_at is not None:
            h._cancel_timer(cid)  # noqa: SLF001 - its own pending restart is this one now
        h._set_state(child, p.decide(h.state(cid), p.Restarted(counted=False), h.clock(), restart, h.settings.quarantine, h.rand)[0])  # noqa: SLF001
        h.detected_at.pop(cid, None)
        acting = h.acting[cid] = ActionMark()
        started = h.clock()
        base = Record(started, "", "", cid, child.name, CAUSE)
        try:
            if child.running:
                await h.docker.restart(cid, timeout)
            else:
                await h.docker.start(cid)
        except ContainerGone:
            h.forget(cid)
            return False
        except (ActionFailed, EngineUnavailable) as exc:
            acting.done_at = h.clock()
            if child.running:
                await h._note_stopped_by_failed_restart(cid, p.FailureKind.CRASH)  # noqa: SLF001
            h.events.add(replace(base, kind="restart_failed", reason=f"{verb} after its parent failed: {exc} ({reason})"))
            h.metrics.restart_done(CAUSE, "failed", 0.0, h.clock() - started)
            return False
        acting.done_at = h.clock()
        outcome, verified = await h._verify(cid, verb, timeout)  # noqa: SLF001
        h.metrics.restart_done(CAUSE, outcome, 0.0, acting.done_at - started)
        kind = "dependency_restart" if outcome == "restarted" else "restart_failed"
        h.events.add(replace(base, time=acting.done_at, kind=kind, reason=f"{reason}: {verified}"))
        return outcome == "restarted"

def _ready(c: Container) -> bool:
    return c.running and (not c.has_healthcheck or c.health == "healthy")
