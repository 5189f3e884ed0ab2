"""Notification settings: where notices go and which ones, read from the environment only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autoheal.config import ConfigError, describe_error

# What an operator can subscribe to; "degraded" also covers the "recovered" that follows it.
EVENTS = ("restarted", "restart_failed", "quarantined", "unquarantined", "health_check_failed", "degraded")
Event = Literal["restarted", "restart_failed", "quarantined", "unquarantined", "health_check_failed", "degraded"]

# Environment variable -> field. The first three are the classic shell tool's names.
ENVIRONMENT: dict[str, str] = {
    "WEBHOOK_URL": "webhook_url",
    "WEBHOOK_JSON_KEY": "webhook_json_key",
    "APPRISE_URL": "apprise_urls",
    "AUTOHEAL_NOTIFY_WEBHOOK_FORMAT": "webhook_format",
    "AUTOHEAL_NOTIFY_EVENTS": "events",
    "AUTOHEAL_HOSTNAME": "hostname",
    "AUTOHEAL_NOTIFY_MAX_ATTEMPTS": "max_attempts",
    "AUTOHEAL_NOTIFY_RETRY_SECONDS": "retry_seconds",
    "AUTOHEAL_NOTIFY_RETRY_MAX_SECONDS": "retry_max_seconds",
    "AUTOHEAL_NOTIFY_TIMEOUT_SECONDS": "timeout_seconds",
    "AUTOHEAL_NOTIFY_REPEAT_SECONDS": "repeat_seconds",
}
_LISTS = {"apprise_urls", "events"}


class NotifySettings(BaseModel):
    """Channels, filters and delivery policy. Not part of the stored, exportable configuration:
    an API client or an imported document can never point autoheal at another host."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: str = Field("", description="Generic JSON webhook (http or https).")
    webhook_json_key: str = Field("content", min_length=1, max_length=100, description="Key that carries the text.")
    webhook_format: Literal["full", "text"] = Field(
        "full", description="full: the text key plus structured fields; text: only the text key (classic tool)."
    )
    apprise_urls: tuple[str, ...] = Field((), description="Apprise URLs (Slack, Discord, Telegram, ntfy, email, ...).")
    events: tuple[Event, ...] = Field(EVENTS, description="Which events are sent.")
    hostname: str = Field("", max_length=255, description="Host name in every message (and in /health); empty: this machine's.")
    max_attempts: int = Field(5, ge=1, le=100, description="Attempts per notice before it is given up.")
    retry_seconds: float = Field(10, ge=0.1, le=3600, description="Wait before the first retry; doubles each time.")
    retry_max_seconds: float = Field(600, ge=0.1, le=86400, description="Longest wait between retries.")
    timeout_seconds: float = Field(10, gt=0, le=300, description="Time allowed for one delivery attempt.")
    repeat_seconds: float = Field(
        900, ge=0, le=7 * 86400, description="The same event for the same container is not sent again within this."
    )

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip()
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("apprise_urls")
    @classmethod
    def _apprise_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if "://" not in url:
                raise ValueError(f"{url[:40]!r} is not an Apprise URL (scheme://...)")
        return value

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url or self.apprise_urls)


def _split(raw: str) -> list[str]:
    return [item for item in re.split(r"[\s,]+", raw) if item]


def notify_settings(environ: Mapping[str, str]) -> NotifySettings:
    """NotifySettings from environment variables, or ConfigError naming the variable."""
    values: dict[str, object] = {}
    for name, field in ENVIRONMENT.items():
        raw = environ.get(name, "").strip()
        if raw:
            values[field] = _split(raw) if field in _LISTS else raw
    try:
        return NotifySettings.model_validate(values)
    except ValidationError as exc:
        by_field = {field: name for name, field in ENVIRONMENT.items()}
        message = describe_error(exc)
        for field, name in by_field.items():
            message = re.sub(rf"\b{field}\b", name, message)
        raise ConfigError(message) from None
