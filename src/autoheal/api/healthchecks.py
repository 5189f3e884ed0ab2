"""Custom health checks: list, get, add, remove; the API definition overrides a container's labels."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from autoheal.api.deps import find_container, get_service
from autoheal.api.schemas import Deleted, HealthCheckIn, HealthCheckList, HealthCheckOut
from autoheal.api.views import check_out
from autoheal.checks.definition import CheckDefinition, from_labels
from autoheal.domain.models import Container
from autoheal.engine.service import Service

router = APIRouter(prefix="/api/healthchecks", tags=["health checks"])


def _out(service: Service, name: str, definition: CheckDefinition, source: str) -> HealthCheckOut:
    container = _by_name(service, name)
    state = check_out(service, container.id) if container is not None else None
    return HealthCheckOut(
        container_name=name,
        source=source,
        running=state is not None,
        state=state,
        **definition.model_dump(),
    )


def _by_name(service: Service, name: str) -> Container | None:
    return next((c for c in list(service.healer.containers.values()) if c.name == name), None)


def _all(service: Service) -> dict[str, tuple[CheckDefinition, str]]:
    found = {name: (d, "api") for name, d in service.healthchecks.items()}
    for container in list(service.healer.containers.values()):
        definition, _ = from_labels(container.labels)
        if definition is not None and container.name not in found:
            found[container.name] = (definition, "labels")
    return found


def _name_for(service: Service, ref: str) -> str:
    if ref in service.healthchecks:
        return ref
    try:
        return find_container(service, ref).name
    except HTTPException:
        raise HTTPException(404, f"no custom health check for {ref[:80]!r}") from None


@router.get(
    "",
    response_model=HealthCheckList,
    summary="All custom health checks (API-defined and from labels)",
)
async def list_checks(service: Service = Depends(get_service)) -> HealthCheckList:
    return HealthCheckList(healthchecks=[_out(service, n, d, s) for n, (d, s) in sorted(_all(service).items())])


@router.get(
    "/{ref}",
    response_model=HealthCheckOut,
    summary="The custom health check in force for one container",
)
async def get_check(ref: str, service: Service = Depends(get_service)) -> HealthCheckOut:
    name = _name_for(service, ref)
    found = _all(service).get(name)
    if found is None:
        raise HTTPException(404, f"no custom health check for {ref[:80]!r}")
    return _out(service, name, *found)


@router.post(
    "",
    response_model=HealthCheckOut,
    status_code=201,
    summary="Add or replace a container's check",
)
async def put_check(body: HealthCheckIn, service: Service = Depends(get_service)) -> HealthCheckOut:
    container = find_container(service, body.container_id)
    definition = CheckDefinition.model_validate(body.model_dump(exclude={"container_id"}))
    await service.put_healthcheck(container.name, definition)
    return _out(service, container.name, definition, "api")


@router.delete("/{ref}", response_model=Deleted, summary="Remove a container's API-defined check")
async def delete_check(ref: str, service: Service = Depends(get_service)) -> Deleted:
    name = _name_for(service, ref)
    if name not in service.healthchecks:
        if name in _all(service):
            raise HTTPException(
                409,
                f"the check of {name} comes from its labels; change the labels to remove it",
            )
        raise HTTPException(404, f"no custom health check for {ref[:80]!r}")
    await service.delete_healthcheck(name)
    return Deleted(deleted=name)
