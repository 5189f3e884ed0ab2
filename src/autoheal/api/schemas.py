"""Request and response schemas of the REST API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from autoheal.checks.definition import CheckDefinition


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: a sentence, and the fields at fault where there are any."""

    detail: str
    errors: list[FieldError] = []


class EventOut(BaseModel):
    id: int | None = Field(None, description="Store id; pass as `before` for the next page")
    time: float
    kind: str
    reason: str
    container_id: str
    container_name: str
    cause: str
    exit_code: int | None
    attempt: int | None
    delay_seconds: float | None
    window_count: int | None


class EventPage(BaseModel):
    events: list[EventOut]
    next_cursor: int | None = Field(None, description="Pass as `before` to get older events")


class CheckStateOut(BaseModel):
    kind: str
    source: Literal["api", "labels"]
    target: str
    last_ok: bool | None
    last_detail: str
    last_latency_seconds: float | None
    last_run_at: float | None
    consecutive_failures: int
    failing: bool


class ContainerOut(BaseModel):
    id: str
    short_id: str
    name: str
    image: str
    status: str
    health: str | None
    monitored: bool
    monitored_rule: str = Field(description="The selection rule that decided")
    monitored_reason: str
    quarantined: bool
    quarantined_at: float | None
    failures: int
    restarts_in_window: int
    window_seconds: float
    next_attempt_at: float | None = Field(description="When a scheduled restart is due (backoff), if one is")
    manual_stop: bool
    docker_restart_policy: str
    labels: dict[str, str]
    label_problems: list[str]
    custom_check: bool = Field(description="A custom check (API or labels) is in force")
    check: CheckStateOut | None = Field(None, description="The custom check's live state, while it runs")
    parents: list[str] = Field(
        default_factory=list,
        description="Names of the containers this one depends on (network mode container:X, autoheal.depends_on)",
    )
    children: list[str] = Field(
        default_factory=list, description="Names of the containers restarted (or recreated) after this one"
    )


class ContainerDetail(ContainerOut):
    restart_settings: dict[str, object] = Field(description="Effective restart settings after labels")
    events: list[EventOut]


class ContainerList(BaseModel):
    containers: list[ContainerOut]


class SelectIn(_In):
    container_ids: list[str] = Field(min_length=1, max_length=1000)
    enabled: bool


class SelectOut(BaseModel):
    updated: list[ContainerOut]


class ActionOut(BaseModel):
    message: str
    container: ContainerOut


class MaintenanceIn(_In):
    paused: bool


class EngineOut(BaseModel):
    host: str
    connected: bool
    event_stream_live: bool
    version: str
    api_version: str
    reconnects: int


class StatusOut(BaseModel):
    version: str
    host: str
    healthy: bool
    problems: list[str]
    maintenance: bool
    engine: EngineOut
    total_containers: int
    monitored_containers: int
    quarantined_containers: int
    unhealthy_containers: int
    restarts_last_hour: int
    restarts_last_day: int
    store: str
    uptime_seconds: float


class HealthCheckIn(CheckDefinition):
    """A check for one container (id, id prefix or name); stored by the container's name."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    container_id: str = Field(min_length=1, max_length=255)


class HealthCheckOut(CheckDefinition):
    container_name: str
    source: Literal["api", "labels"] = Field(description="api overrides the container's labels")
    running: bool = Field(description="The check runs now (the container is running, managed, not quarantined)")
    state: CheckStateOut | None = None


class HealthCheckList(BaseModel):
    healthchecks: list[HealthCheckOut]


class ImportOut(BaseModel):
    changed: list[str]


class Deleted(BaseModel):
    deleted: str
