"""Event endpoints: the history with filters and cursor pagination, and a live stream (SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from autoheal.api.deps import find_container, get_service
from autoheal.api.schemas import EventPage
from autoheal.api.views import container_out, event_out
from autoheal.engine.broadcast import Change
from autoheal.engine.service import Service

router = APIRouter(prefix="/api/events", tags=["events"])
KEEPALIVE_SECONDS = 15.0
MAX_EVENT_ID = 2**63 - 1  # SQLite's largest integer: a larger cursor cannot even be bound


@router.get("", response_model=EventPage, summary="Event log, newest first (last 50 by default)")
async def list_events(
    service: Service = Depends(get_service),
    limit: int = Query(50, ge=1, le=1000),
    before: int | None = Query(None, ge=1, le=MAX_EVENT_ID, description="Cursor: the next_cursor of the previous page"),
    container: str | None = Query(None, max_length=255, description="Container id, id prefix or name"),
    kind: str | None = Query(None, max_length=512, description="One kind, or several separated by commas"),
    since: float | None = Query(None, ge=0, allow_inf_nan=False, description="Epoch seconds, inclusive"),
    until: float | None = Query(None, ge=0, allow_inf_nan=False, description="Epoch seconds, exclusive"),
) -> EventPage:
    container_id = container_name = None
    if container:
        try:
            container_id = find_container(service, container).id
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            container_name = container  # a container that is gone: its events by name
    kinds = tuple(k.strip() for k in (kind or "").split(",") if k.strip())
    await service.writer.flush()
    page = await service.store.query_events(
        limit=limit,
        before_id=before,
        container_id=container_id,
        container_name=container_name,
        kinds=kinds,
        since=since,
        until=until,
    )
    return EventPage(events=[event_out(r, rid) for rid, r in page.records], next_cursor=page.next_cursor)


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _format(service: Service, change: Change) -> str | None:
    if change.record is not None:
        return _sse("record", event_out(change.record).model_dump())
    container = service.healer.containers.get(change.container_id or "")
    if container is None:
        return _sse("container_removed", {"id": change.container_id})
    return _sse("container", container_out(service, container).model_dump())


@router.get(
    "/stream",
    summary="Live stream (Server-Sent Events) of new event records and container changes",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(request: Request, service: Service = Depends(get_service)) -> StreamingResponse:
    async def body() -> AsyncIterator[str]:
        async with service.broadcast.subscribe() as queue:
            yield ": autoheal event stream\n\n"
            while not await request.is_disconnected():
                try:
                    async with asyncio.timeout(KEEPALIVE_SECONDS):
                        change = await queue.get()
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                if change is None:
                    yield _sse("lagged", {"detail": "too slow to keep up; reconnect and reload"})
                    return
                text = _format(service, change)
                if text:
                    yield text

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
