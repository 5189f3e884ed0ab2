"""Parsing of label values: booleans in any case and per-container policy overrides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from pydantic import ValidationError

from autoheal.config import Mode, RestartSettings

TRUE_VALUES = frozenset({"true", "1", "yes", "on"})
FALSE_VALUES = frozenset({"false", "0", "no", "off"})

# label -> (RestartSettings field, parser)
OVERRIDE_LABELS: dict[str, str] = {
    "autoheal.cooldown": "cooldown_seconds",
    "autoheal.max_restarts": "max_restarts",
    "autoheal.window": "max_restarts_window_seconds",
    "autoheal.grace": "grace_seconds",
    "autoheal.unhealthy_for": "unhealthy_for_seconds",
    "autoheal.stop.timeout": "stop_timeout_seconds",
    "autoheal.mode": "mode",
}
_MAX_SECONDS = 7 * 86400


def _short(text: str, limit: int) -> str:
    """At most `limit` characters: a label's value is echoed in records and the API, never whole."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def truthy(value: str | None) -> bool | None:
    """True/False for a recognised boolean label value (any case), None otherwise."""
    if value is None:
        return None
    v = value.strip().lower()
    if v in TRUE_VALUES:
        return True
    if v in FALSE_VALUES:
        return False
    return None


@dataclass(frozen=True)
class Overrides:
    """Restart settings for one container after its labels are applied."""

    restart: RestartSettings
    problems: tuple[str, ...] = ()  # labels that were ignored, and why
    applied: frozenset[str] = frozenset()  # labels that took effect

    def stop_timeout_for(self, container_stop_timeout: int | None) -> int:
        """This container's stop timeout: its label if usable, else its own, else the default."""
        return stop_timeout(self.restart, container_stop_timeout, "autoheal.stop.timeout" in self.applied)


def _parse(field: str, raw: str) -> object:
    text = raw.strip()
    if field == "mode":
        return Mode(text.lower())
    if field in ("max_restarts",):
        value: float = int(text)
        if value < 1:
            raise ValueError("must be at least 1")
        return value
    if field == "stop_timeout_seconds":
        value = int(float(text))
    else:
        value = float(text)
    if not 0 <= value <= _MAX_SECONDS:
        raise ValueError(f"must be between 0 and {_MAX_SECONDS}")
    if field == "max_restarts_window_seconds" and value == 0:
        raise ValueError("must be greater than 0")
    return value


def _within_bounds(base: RestartSettings, field: str, value: object) -> object:
    """A label obeys the same bounds as the global setting (model_copy does not validate)."""
    try:
        base.model_validate({**base.model_dump(), field: value})
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"].lower()) from None
    return value


def apply_overrides(base: RestartSettings, labels: Mapping[str, str]) -> Overrides:
    """Per-container restart settings; a bad label is ignored and reported, never fatal."""
    if labels.keys().isdisjoint(OVERRIDE_LABELS):
        return _unchanged(base)  # most containers: nothing to parse (the API lists hundreds at a time)
    changes: dict[str, object] = {}
    problems: list[str] = []
    for label, field in OVERRIDE_LABELS.items():
        raw = labels.get(label)
        if raw is None:
            continue
        if len(raw) > 64:
            problems.append(f"{label}: value too long, ignored")
            continue
        try:
            changes[field] = _within_bounds(base, field, _parse(field, raw))
        except (ValueError, OverflowError) as exc:  # OverflowError: int(float("inf"))
            problems.append(f"{label}={_short(repr(raw), 80)}: {_short(str(exc), 100)}, ignored")
    restart = base.model_copy(update=changes) if changes else base
    applied = frozenset(label for label, field in OVERRIDE_LABELS.items() if field in changes)
    return Overrides(restart=restart, problems=tuple(problems), applied=applied)


_UNCHANGED: list[Overrides] = []  # the last one built, reused while the settings object is the same


def _unchanged(base: RestartSettings) -> Overrides:
    """Overrides of a container without override labels; frozen, so one serves them all."""
    if not _UNCHANGED or _UNCHANGED[0].restart is not base:
        _UNCHANGED[:] = [Overrides(restart=base, problems=(), applied=frozenset())]
    return _UNCHANGED[0]


def stop_timeout(restart: RestartSettings, container_stop_timeout: int | None, labelled: bool) -> int:
    """Label first, then the container's own StopTimeout, then the global default."""
    if labelled:
        return restart.stop_timeout_seconds
    if container_stop_timeout is not None:
        return container_stop_timeout
    return restart.stop_timeout_seconds
