"""Mapping the service's state to API schemas (no engine calls: the live view is enough)."""

from __future__ import annotations

import time

from autoheal.api.schemas import ContainerOut, EventOut
from autoheal.domain.labels import apply_overrides
from autoheal.domain.models import Container
from autoheal.engine.records import Record
from autoheal.engine.service import Service


def container_out(service: Service, container: Container, now: float | None = None) -> ContainerOut:
    healer = service.healer
    now = time.time() if now is None else now
    selection = healer.selection(container)
    state = healer.state(container.id)
    overrides = apply_overrides(healer.settings.restart, container.labels)
    window = overrides.restart.max_restarts_window_seconds
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
        label_problems=list(overrides.problems),
        custom_check=container.name in service.healthchecks,
    )


def event_out(record: Record, record_id: int | None = None) -> EventOut:
    return EventOut(id=record_id, **record.as_dict())
