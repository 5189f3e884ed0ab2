"""Recreating a dependent whose network parent was replaced: same configuration, the new parent's network."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable
from autoheal.domain.dependencies import network_parent, recreate_refusal
from autoheal.domain.labels import apply_overrides
from autoheal.domain.models import Blueprint, Container
from autoheal.engine.acting import ActionMark
from autoheal.engine.records import Record

if TYPE_CHECKING:
    from autoheal.engine.dependents import Dependents
    from autoheal.engine.healer import Healer

CAUSE = "dependency"


async def recreate(deps: Dependents, cid: str, parent: Container) -> None:
    """Create the child again from its own configuration, in the new parent's network."""
    h = deps.healer
    child = await deps.fresh(cid)
    if child is None:
        return
    ref = network_parent(child.network_mode)
    if ref is None or ref == parent.id:
        return  # fixed meanwhile (compose may recreate it itself)
    head = f"its parent {parent.name} was replaced ({ref[:12]} -> {parent.short_id})"
    skip = deps.why_not(child, action="recreated")
    if skip is not None:
        h.events.add(Record(h.clock(), "dependency_skipped", f"{head}; {skip}", cid, child.name, CAUSE))
        return
    try:
        blueprint = await h.docker.blueprint(cid)
    except ContainerGone:
        return
    refusal = recreate_refusal(blueprint)
    if refusal is not None:
        why = f"{head}; cannot recreate safely: {refusal}; left as it is"
        h.events.add(Record(h.clock(), "recreate_failed", why, cid, child.name, CAUSE))
        return
    timeout = apply_overrides(h.settings.restart, child.labels).stop_timeout_for(child.stop_timeout_seconds)
    async with h.gate.slot():
        if cid in h.busy:
            h.events.add(Record(h.clock(), "dependency_skipped", f"{head}; another action on it is under way", cid, child.name, CAUSE))
            return
        h.busy.add(cid)
        h._cancel_timer(cid)  # noqa: SLF001
        action = asyncio.get_running_loop().create_task(_replace(h, child, blueprint, parent, timeout, head))
        h.actions.add(action)  # shutdown lets a recreation finish rather than cut it in half
        action.add_done_callback(h.actions.discard)
        try:
            await asyncio.shield(action)
        finally:
            h.busy.discard(cid)


async def _replace(h: Healer, child: Container, blueprint: Blueprint, parent: Container, timeout: int, head: str) -> None:
    """Stop, set aside, create, start, remove the old one; on failure put the old one back."""
    cid, name = child.id, blueprint.name
    aside = f"{name}-autoheal-old-{cid[:12]}"
    marks = [ActionMark()]
    h.acting[cid] = marks[0]
    record = Record(h.clock(), "recreate_failed", "", cid, name, CAUSE)
    try:
        try:
            if child.running:
                await h.docker.stop(cid, timeout)
            await h.docker.rename(cid, aside)
        except (ActionFailed, EngineUnavailable, ContainerGone) as exc:
            h.events.add(replace(record, reason=f"{head}; could not set the old container aside: {exc}; left as it is"))
            return
        new_id = ""
        try:
            new_id = await h.docker.create(blueprint, name=name, network_mode=f"container:{parent.id}")
            marks.append(ActionMark())
            h.acting[new_id] = marks[-1]
            await h.docker.start(new_id)
        except (ActionFailed, EngineUnavailable, ContainerGone) as exc:
            undone = await _roll_back(h, cid, name, new_id)
            h.events.add(replace(record, reason=f"{head}; recreating failed: {exc}; {undone}"))
            return
        note = ""
        try:
            await h.docker.delete(cid, force=True)
        except (ActionFailed, EngineUnavailable, ContainerGone) as exc:
            note = f"; the old container is left as {aside}: {exc}"
        kept = f", anonymous volumes {', '.join(blueprint.kept_volumes)} mounted again" if blueprint.kept_volumes else ""
        reason = (
            f"{head}: recreated in its network with name, labels, mounts, environment, ports and restart "
            f"policy kept{kept}; was {cid[:12]}{note}"
        )
        h.events.add(Record(h.clock(), "recreated", reason, new_id, name, CAUSE))
        h.metrics.restart_done(CAUSE, "recreated", 0.0, 0.0)
    finally:
        for mark in marks:
            mark.done_at = h.clock()
    try:
        new = await h.docker.inspect(new_id)
    except (ContainerGone, EngineUnavailable):
        return
    h.containers[new_id] = new
    h.dependents.parent_started(new, "recreated with its own parent")  # its own dependents follow it


async def _roll_back(h: Healer, old_id: str, name: str, new_id: str) -> str:
    try:
        if new_id:
            await h.docker.delete(new_id, force=True)
        await h.docker.rename(old_id, name)
    except (ActionFailed, EngineUnavailable, ContainerGone) as exc:
        return f"rolling back failed too ({exc}): check {name} by hand"
    h.dependents.rolled_back.add(old_id)  # stopped by autoheal: the next start of its parent tries again
    return "rolled back: the old container is back under its name (stopped)"
