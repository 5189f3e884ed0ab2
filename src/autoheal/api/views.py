"""Mapping the service's state to API schemas (no engine calls: the live view is enough)."""

from __future__ import annotations

import time

from autoheal.api.schemas import CheckStateOut, ContainerOut, EventOut
from autoheal.domain.dependencies import Graph
from autoheal.domain.labels import apply_overrides
from autoheal.domain.models import Container
from autoheal.engine.records import Record
from autoheal.engine.service import Service


def check_out(service: Service, container_id: str) -> CheckStateOut | None:
    state = service.checker.states.get(container_id)
    if state is None:
        return None
    return CheckStateOut(
        kind=state.kind,
        source=state.source,
        target=state.target,
        last_ok=state.last_ok,
        last_detail=state.last_detail,
        last_latency_seconds=state.last_latency_seconds,
        last_run_at=state.last_run_at,
        consecutive_failures=state.consecutive_failures,
        failing=state.failing,
    )


def container_out(
    service: Service, container: Container, now: float | None = None, graph: Graph | None = None
) -> ContainerOut:
    """graph: the dependency graph, built once for a whole listing."""
    healer = service.healer
    now = time.time() if now is None else now
    graph = healer.dependents.graph() if graph is None else graph
    selection = healer.selection(container)
    state = healer.state(container.id)
    overrides = apply_overrides(healer.settings.restart, container.labels)
    window = overrides.restart.max_restarts_window_seconds
    definition, _ = service.checker.definition_for(container)
    problems = list(overrides.problems)
    if container.id in service.checker.label_problems:
        problems.append(service.checker.label_problems[container.id])
    problems.extend(graph.problems.get(container.id, ()))
    return ContainerOut(
        id=container.id,
        short_id=container.short_id,
        name=container.name,
        image=container.image,
        status=container.status,
        health=container.health if container.running else None,
        monitored=selection.monitored,
        monitored_rule=selection.rule,
        monitored_reason=selection.reason,
        quarantined=state.quarantined,
        quarantined_at=state.quarantined_at,
        failures=state.failures,
        restarts_in_window=len(state.restarts_within(window, now)),
        window_seconds=window,
        next_attempt_at=state.pending_at,
        manual_stop=state.manual_stop,
        docker_restart_policy=container.restart_policy,
        labels=dict(container.labels),
        label_problems=problems,
        custom_check=definition is not None and definition.check_type != "docker",
        check=check_out(service, container.id),
        parents=[graph.names.get(cid, cid[:12]) for cid in graph.parents(container.id)],
        children=[graph.names.get(cid, cid[:12]) for cid in graph.children(container.id)],
    )


def event_out(record: Record, record_id: int | None = None) -> EventOut:
    return EventOut(id=record_id, **record.as_dict())
