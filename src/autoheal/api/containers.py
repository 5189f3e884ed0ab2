"""Container endpoints: list, detail, select, restart, quarantine, unquarantine."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from autoheal.api.deps import find_container, get_service
from autoheal.api.schemas import (
    ActionOut,
    ContainerDetail,
    ContainerList,
    SelectIn,
    SelectOut,
)
from autoheal.api.views import container_out, event_out
from autoheal.domain.labels import apply_overrides
from autoheal.engine.service import Service

router = APIRouter(prefix="/api/containers", tags=["containers"])
# The list is built once and served again while nothing it shows has changed, for at most this
# long: check results and restart windows move with time without announcing it.
LISTING_MAX_AGE_SECONDS = 1.0


@dataclass
class _Listing:
    """The serialised list, and what it was built from."""

    key: Any = None
    body: bytes = b""
    built_at: float = 0.0


def _listing_key(service: Service) -> tuple[Any, ...]:
    healer = service.healer
    return (
        service.broadcast.version,  # every container or policy change, every event record
        id(healer.settings),  # settings are replaced, never changed in place
        tuple(sorted(healer.choices.items())),
        tuple(map(id, healer.containers.values())),  # containers are frozen: a new object per change
        healer.maintenance,
    )


@router.get("", response_model=ContainerList, summary="All containers, with why each is (not) monitored")
async def list_containers(request: Request, service: Service = Depends(get_service)) -> Response:
    listing: _Listing | None = getattr(request.app.state, "container_listing", None)
    if listing is None:
        listing = request.app.state.container_listing = _Listing()
    key, now = _listing_key(service), time.monotonic()
    if key != listing.key or now - listing.built_at > LISTING_MAX_AGE_SECONDS:
        containers = sorted(list(service.healer.containers.values()), key=lambda c: c.name)
        graph = service.healer.dependents.graph()
        body = ContainerList(containers=[container_out(service, c, graph=graph) for c in containers])
        listing.key, listing.body, listing.built_at = key, body.model_dump_json().encode(), now
    return Response(listing.body, media_type="application/json")


@router.get("/{ref}", response_model=ContainerDetail, summary="One container (id, id prefix or name)")
async def get_container(ref: str, service: Service = Depends(get_service)) -> ContainerDetail:
    container = find_container(service, ref)
    await service.writer.flush()
    page = await service.store.query_events(container_id=container.id, limit=20)
    restart = apply_overrides(service.settings.restart, container.labels).restart
    return ContainerDetail(
        **container_out(service, container).model_dump(),
        restart_settings=restart.model_dump(mode="json"),
        events=[event_out(record, rid) for rid, record in page.records],
    )


@router.post("/select", response_model=SelectOut, summary="Enable or disable auto-heal for containers")
async def select(body: SelectIn, service: Service = Depends(get_service)) -> SelectOut:
    containers = [find_container(service, ref) for ref in body.container_ids]  # all or nothing
    await service.set_choices([c.name for c in containers], body.enabled)
    return SelectOut(updated=[container_out(service, c) for c in containers])


@router.post("/{ref}/restart", response_model=ActionOut, summary="Restart (or start) now; resets the failure count")
async def restart(ref: str, service: Service = Depends(get_service)) -> ActionOut:
    container = find_container(service, ref)
    record = await service.healer.operator_restart(container.id)
    return ActionOut(message=record.reason, container=container_out(service, service.healer.containers[container.id]))


@router.post("/{ref}/unquarantine", response_model=ActionOut, summary="Release from quarantine")
async def unquarantine(ref: str, service: Service = Depends(get_service)) -> ActionOut:
    container = find_container(service, ref)
    if not service.healer.unquarantine(container.id):
        raise HTTPException(409, f"{container.name} is not quarantined")
    service.watcher.settings_changed()  # look at it now rather than at the next pass
    return ActionOut(message="released from quarantine", container=container_out(service, container))


@router.post("/{ref}/quarantine", response_model=ActionOut, summary="Stop healing this container until released")
async def quarantine(ref: str, service: Service = Depends(get_service)) -> ActionOut:
    container = find_container(service, ref)
    if not service.healer.quarantine(container.id):
        raise HTTPException(409, f"{container.name} is already quarantined")
    return ActionOut(message="quarantined by an operator", container=container_out(service, container))
