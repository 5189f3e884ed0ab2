"""Event records: one decision or action of autoheal's, as stored and shown."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Record:
    """One decision or action: what, to which container, why, and how it went."""

    time: float
    # restart, restart_failed, scheduled, quarantine, unquarantine, skipped, cancelled, manual_stop, engine,
    # and for dependent containers: dependency_restart, dependency_skipped, recreated, recreate_failed,
    # dependency_cycle (cause "dependency", the reason names the parent)
    kind: str
    reason: str
    container_id: str = ""
    container_name: str = ""
    cause: str = ""  # crash, oom, unhealthy
    exit_code: int | None = None
    attempt: int | None = None
    delay_seconds: float | None = None
    window_count: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
