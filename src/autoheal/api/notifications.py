"""Notification endpoints: channels, the outbox with every delivery attempt, and a test send."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from autoheal.api.deps import get_service
from autoheal.engine.service import Service
from autoheal.store.outbox import Entry

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


class ChannelOut(BaseModel):
    name: str
    kind: str = Field(description="webhook or apprise")
    target: str = Field(description="Where it goes, with secrets masked")


class AttemptOut(BaseModel):
    at: float
    ok: bool
    permanent: bool = Field(description="Trying again could not help (a 4xx answer, say)")
    status_code: int | None
    error: str
    duration_seconds: float


class EntryOut(BaseModel):
    id: int
    created_at: float
    channel: str
    event: str
    container_name: str
    text: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    next_attempt_at: float | None = Field(description="When the next attempt is due (pending only)")
    last_error: str
    history: list[AttemptOut]


class NotificationsOut(BaseModel):
    configured: bool
    host: str = Field(description="The host name every message carries")
    events: list[str] = Field(description="The events that are sent")
    channels: list[ChannelOut]
    max_attempts: int
    repeat_seconds: float
    counts: dict[str, int] = Field(description="Outbox entries by status: pending, sent, failed")
    entries: list[EntryOut] = Field(description="Newest first")


class TestResultOut(BaseModel):
    channel: str
    kind: str
    target: str
    ok: bool
    permanent: bool
    status_code: int | None
    error: str
    duration_seconds: float


class TestOut(BaseModel):
    ok: bool = Field(description="Every channel took the test notification")
    results: list[TestResultOut]


def entry_out(entry: Entry) -> EntryOut:
    return EntryOut(
        id=entry.id,
        created_at=entry.created_at,
        channel=entry.channel,
        event=entry.event,
        container_name=entry.container_name,
        text=str(entry.notice.get("text", "")),
        status=entry.status,  # type: ignore[arg-type]
        attempts=entry.attempts,
        next_attempt_at=entry.next_attempt_at if entry.status == "pending" else None,
        last_error=entry.last_error,
        history=[AttemptOut(**vars(a)) for a in entry.history],
    )


@router.get("", response_model=NotificationsOut, summary="Notification channels and the outbox, newest first")
async def notifications(
    service: Service = Depends(get_service),
    limit: int = Query(50, ge=1, le=500),
    status: Literal["pending", "sent", "failed"] | None = Query(None, description="Only entries in this state"),
) -> NotificationsOut:
    settings = service.notify_settings
    channels = service.dispatcher.channels
    return NotificationsOut(
        configured=bool(channels),
        host=service.hostname,
        events=list(settings.events),
        channels=[ChannelOut(name=c.name, kind=c.kind, target=c.target) for c in channels],
        max_attempts=settings.max_attempts,
        repeat_seconds=settings.repeat_seconds,
        counts=await service.outbox.counts(),
        entries=[entry_out(e) for e in await service.outbox.recent(limit=limit, status=status)],
    )


@router.post(
    "/test",
    response_model=TestOut,
    summary="Send a test notification to every channel now, and say how each delivery went",
)
async def send_test(service: Service = Depends(get_service)) -> TestOut:
    if not service.dispatcher.channels:
        raise HTTPException(409, "no notification channel is configured: set WEBHOOK_URL or APPRISE_URL")
    results = [TestResultOut(**r) for r in await service.notify_test()]
    return TestOut(ok=all(r.ok for r in results), results=results)
