"""A custom health check definition, validated as a whole (field names as in the brief)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

_NEEDED = {"http": "http_endpoint", "tcp": "tcp_port", "exec": "exec_command"}


class CheckDefinition(BaseModel):
    """What to check on one container, and how often. Stored; not yet run (see the README)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check_type: Literal["http", "tcp", "exec", "docker"]
    http_endpoint: str | None = Field(
        None, min_length=1, max_length=2048, validate_default=True, description="URL, or a path such as /health"
    )
    http_expected_status: int = Field(200, ge=100, le=599)
    tcp_port: int | None = Field(None, ge=1, le=65535, validate_default=True)
    exec_command: list[str] | None = Field(None, min_length=1, max_length=64, validate_default=True)
    interval_seconds: float = Field(30, ge=1, le=86400)
    timeout_seconds: float = Field(10, gt=0, le=3600)
    retries: int = Field(3, ge=1, le=100)
    start_period_seconds: float = Field(0, ge=0, le=86400)

    @field_validator("http_endpoint", "tcp_port", "exec_command")
    @classmethod
    def _required_for_the_kind(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("check_type")
        if value is None and _NEEDED.get(kind) == info.field_name:
            raise ValueError(f"required for a {kind} check")
        return value

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> CheckDefinition:
        if self.timeout_seconds > self.interval_seconds:
            raise ValueError("timeout_seconds must not exceed interval_seconds")
        return self
