"""Container endpoints: list, detail, select, restart, quarantine, unquarantine."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

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


@router.get("", response_model=ContainerList, summary="All containers, with why each is (not) monitored")
async def list_containers(service: Service = Depends(get_service)) -> ContainerList:
    containers = sorted(list(service.healer.containers.values()), key=lambda c: c.name)
    graph = service.healer.dependents.graph()
    return ContainerList(containers=[container_out(service, c, graph=graph) for c in containers])


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
