"""Status and maintenance: what autoheal sees, how it is doing, and pausing all healing."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends

from autoheal import __version__
from autoheal.api.deps import get_service
from autoheal.api.schemas import EngineOut, MaintenanceIn, StatusOut
from autoheal.engine.service import Service

router = APIRouter(prefix="/api", tags=["status"])


async def build_status(service: Service) -> StatusOut:
    healthy, health = service.health()
    containers = list(service.healer.containers.values())
    monitored = [c for c in containers if service.healer.selection(c).monitored]
    now = time.time()
    await service.writer.flush()
    engine = health["engine"]
    return StatusOut(
        version=__version__,
        host=service.hostname,
        healthy=healthy,
        problems=health["problems"],
        maintenance=service.healer.maintenance,
        engine=EngineOut(
            host=engine["host"],
            connected=engine["connected"],
            event_stream_live=engine["event_stream_live"],
            version=engine["version"],
            api_version=engine["api_version"],
            reconnects=engine["reconnects"],
        ),
        total_containers=len(containers),
        monitored_containers=len(monitored),
        quarantined_containers=sum(1 for c in monitored if service.healer.state(c.id).quarantined),
        unhealthy_containers=sum(1 for c in containers if c.running and c.health == "unhealthy"),
        restarts_last_hour=await service.store.count_events(("restart",), now - 3600),
        restarts_last_day=await service.store.count_events(("restart",), now - 86400),
        store=health["store"],
        uptime_seconds=health["uptime_seconds"],
    )


@router.get("/status", response_model=StatusOut, summary="System status with counts")
async def status(service: Service = Depends(get_service)) -> StatusOut:
    return await build_status(service)


@router.post("/maintenance", response_model=StatusOut, summary="Pause or resume all healing (maintenance)")
async def maintenance(body: MaintenanceIn, service: Service = Depends(get_service)) -> StatusOut:
    await service.set_maintenance(body.paused)
    return await build_status(service)
