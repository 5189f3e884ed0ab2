"""Custom health check definitions: list, get, add, remove (stored; not yet run)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from autoheal.api.deps import find_container, get_service
from autoheal.api.schemas import Deleted, HealthCheckIn, HealthCheckList, HealthCheckOut
from autoheal.checks.definition import CheckDefinition
from autoheal.engine.service import Service

router = APIRouter(prefix="/api/healthchecks", tags=["health checks"])


def _out(name: str, definition: CheckDefinition) -> HealthCheckOut:
    return HealthCheckOut(container_name=name, **definition.model_dump())


def _stored_name(service: Service, ref: str) -> str:
    if ref in service.healthchecks:
        return ref
    container = service.healer.containers.get(ref) or next(
        (c for c in list(service.healer.containers.values()) if c.id.startswith(ref) or c.name == ref), None
    )
    if container is not None and container.name in service.healthchecks:
        return container.name
    raise HTTPException(404, f"no custom health check for {ref[:80]!r}")


@router.get("", response_model=HealthCheckList, summary="All custom health checks")
async def list_checks(service: Service = Depends(get_service)) -> HealthCheckList:
    return HealthCheckList(healthchecks=[_out(n, d) for n, d in sorted(service.healthchecks.items())])


@router.get("/{ref}", response_model=HealthCheckOut, summary="The custom health check of one container")
async def get_check(ref: str, service: Service = Depends(get_service)) -> HealthCheckOut:
    name = _stored_name(service, ref)
    return _out(name, service.healthchecks[name])


@router.post("", response_model=HealthCheckOut, status_code=201, summary="Add or replace a container's check")
async def put_check(body: HealthCheckIn, service: Service = Depends(get_service)) -> HealthCheckOut:
    container = find_container(service, body.container_id)
    definition = CheckDefinition.model_validate(body.model_dump(exclude={"container_id"}))
    await service.put_healthcheck(container.name, definition)
    return _out(container.name, definition)


@router.delete("/{ref}", response_model=Deleted, summary="Remove a container's custom check")
async def delete_check(ref: str, service: Service = Depends(get_service)) -> Deleted:
    name = _stored_name(service, ref)
    await service.delete_healthcheck(name)
    return Deleted(deleted=name)
