"""Notices: what a notification says, built from an event record; pure, no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from autoheal.domain.records import Record

# Record kind -> notification event.
EVENT_OF_KIND = {
    "restart": "restarted",
    "restart_failed": "restart_failed",
    "quarantine": "quarantined",
    "unquarantine": "unquarantined",
    "health_check_failed": "health_check_failed",
}
# Event -> (what happened, Apprise notification type).
_WORDING = {
    "restarted": ("restarted", "success"),
    "restart_failed": ("restart failed", "failure"),
    "quarantined": ("quarantined: autoheal gave up on it", "failure"),
    "unquarantined": ("released from quarantine", "info"),
    "health_check_failed": ("health check failed", "warning"),
    "degraded": ("autoheal is degraded", "failure"),
    "recovered": ("autoheal recovered", "success"),
    "test": ("test notification", "info"),
}


@dataclass(frozen=True)
class Notice:
    """One notification: the event, where (host) and to what (container), and why."""

    event: str
    host: str
    time: float
    reason: str
    container_id: str = ""
    container_name: str = ""
    cause: str = ""
    exit_code: int | None = None
    attempt: int | None = None
    window_count: int | None = None

    @property
    def subject(self) -> str:
        return self.container_name or self.container_id[:12] or "autoheal"

    @property
    def notify_type(self) -> str:
        return _WORDING.get(self.event, (self.event, "info"))[1]

    @property
    def title(self) -> str:
        what = _WORDING.get(self.event, (self.event, "info"))[0]
        if self.container_id or self.container_name:
            return f"[{self.host}] {self.subject}: {what}"
        return f"[{self.host}] {what}"

    @property
    def text(self) -> str:
        when = datetime.fromtimestamp(self.time, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.title} - {self.reason} ({when})"

    def fields(self) -> dict[str, Any]:
        """The structured form, as stored in the outbox and sent by the webhook."""
        data = asdict(self)
        data["container"] = data.pop("container_name")
        data["title"] = self.title
        data["text"] = self.text
        return data

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> Notice:
        names = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in names}
        values["container_name"] = data.get("container", "")
        return cls(**values)


def notice_for(record: Record, host: str) -> Notice | None:
    """The notice an event record calls for, or None if it is not one operators are told about."""
    event = EVENT_OF_KIND.get(record.kind)
    if event is None:
        return None
    return Notice(
        event=event,
        host=host,
        time=record.time,
        reason=record.reason,
        container_id=record.container_id,
        container_name=record.container_name,
        cause=record.cause,
        exit_code=record.exit_code,
        attempt=record.attempt,
        window_count=record.window_count,
    )
