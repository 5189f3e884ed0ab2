"""Typed settings: the live healing configuration and where it is loaded from."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the field."""


class Mode(StrEnum):
    """Which failures autoheal acts on."""

    ON_FAILURE = "on-failure"
    HEALTH = "health"
    BOTH = "both"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class MonitorSettings(_Section):
    """What to watch and how often to reconcile."""

    interval_seconds: float = Field(30, gt=0, le=86400, description="Seconds between full reconcile passes.")
    label_key: str = Field("autoheal", min_length=1, max_length=255, description="Opt-in label key (value true/1/yes/on).")
    include_all: bool = Field(False, description="Manage every container unless it opts out.")
    start_period_seconds: float = Field(
        0, ge=0, le=86400, description="After autoheal starts, observe for this long before acting."
    )


class BackoffSettings(_Section):
    """Exponential backoff between repeated restarts of one container."""

    enabled: bool = True
    initial_seconds: float = Field(10, ge=0, le=86400)
    multiplier: float = Field(2, ge=1, le=100)
    max_seconds: float = Field(300, ge=0, le=86400)
    jitter: bool = True


class RestartSettings(_Section):
    """When and how autoheal restarts a failing container."""

    mode: Mode = Mode.BOTH
    cooldown_seconds: float = Field(60, ge=0, le=86400)
    max_restarts: int = Field(5, ge=1, le=10000)
    max_restarts_window_seconds: float = Field(600, gt=0, le=7 * 86400)
    backoff: BackoffSettings = BackoffSettings()
    stop_timeout_seconds: int = Field(10, ge=0, le=3600)
    max_parallel: int = Field(4, ge=1, le=256)
    rate_limit_per_minute: int = Field(30, ge=1, le=10000)
    reset_after_seconds: float = Field(600, ge=0, le=7 * 86400)
    grace_seconds: float = Field(0, ge=0, le=86400)
    unhealthy_for_seconds: float = Field(0, ge=0, le=86400)
    verify_seconds: float = Field(30, gt=0, le=3600)


class QuarantineSettings(_Section):
    """What happens to a container that autoheal gave up on."""

    release_after_seconds: float = Field(0, ge=0, le=30 * 86400, description="0 = only an operator releases it.")


class FilterSettings(_Section):
    """Name globs and labels (`key` or `key=value`) that narrow selection."""

    whitelist_names: tuple[str, ...] = ()
    blacklist_names: tuple[str, ...] = ()
    whitelist_labels: tuple[str, ...] = ()
    blacklist_labels: tuple[str, ...] = ()

    @field_validator("*")
    @classmethod
    def _no_blank_entries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(v.strip() for v in value)
        if any(not v for v in cleaned):
            raise ValueError("entries must not be empty")
        return cleaned


class EventSettings(_Section):
    """Retention of the event log, so that the store stays bounded."""

    retention_count: int = Field(10000, ge=100, le=10_000_000, description="Newest records kept.")
    retention_days: float = Field(30, gt=0, le=3650, description="Records older than this are dropped.")


class Settings(_Section):
    """The whole healing configuration."""

    monitor: MonitorSettings = MonitorSettings()
    restart: RestartSettings = RestartSettings()
    quarantine: QuarantineSettings = QuarantineSettings()
    filters: FilterSettings = FilterSettings()
    events: EventSettings = EventSettings()


def describe_error(exc: ValidationError) -> str:
    """One line per problem, each naming the dotted field path."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(document)"
        lines.append(f"{path}: {err['msg']}")
    return "; ".join(lines)


def parse_settings(data: Any, *, strict: bool = False) -> Settings:
    """Validate a settings document as a whole, or raise ConfigError naming the field.

    strict: JSON documents must carry JSON types ("30" is not a number); environment
    variables are strings by nature and are parsed leniently.
    """
    try:
        if strict:
            return Settings.model_validate_json(json.dumps(data), strict=True)
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_error(exc)) from None
    except RecursionError:  # json.dumps of a document nested deeper than the interpreter allows
        raise ConfigError("(document): JSON nested too deeply") from None


def load_file(path: Path) -> dict[str, Any]:
    """Read a JSON settings file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(f"config file {path}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the document must be a JSON object")
    return data


# Classic shell-tool variables, so switching tools is a one-line change.
_CLASSIC: dict[str, tuple[str, str]] = {
    "AUTOHEAL_INTERVAL": ("monitor", "interval_seconds"),
    "AUTOHEAL_START_PERIOD": ("monitor", "start_period_seconds"),
    "AUTOHEAL_DEFAULT_STOP_TIMEOUT": ("restart", "stop_timeout_seconds"),
}


def env_variable_names() -> dict[str, tuple[str, ...]]:
    """Every settings field's AUTOHEAL_<SECTION>_<FIELD> variable and its path."""
    names: dict[str, tuple[str, ...]] = {}

    def walk(model: type[BaseModel], path: tuple[str, ...]) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, path + (name,))
            else:
                names["AUTOHEAL_" + "_".join(path + (name,)).upper()] = path + (name,)

    walk(Settings, ())
    return names


def _set(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        node = doc.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{'.'.join(path)}: parent is not an object")
        doc = node
    doc[path[-1]] = value


def _env_value(path: tuple[str, ...], raw: str) -> Any:
    field = _field(path)
    if field is not None and "tuple" in str(field.annotation):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def _field(path: tuple[str, ...]):
    model: type[BaseModel] = Settings
    for key in path[:-1]:
        model = model.model_fields[key].annotation  # type: ignore[assignment]
    return model.model_fields.get(path[-1])


def overlay_env(doc: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Apply environment variables over a settings document (env wins over the file)."""
    out = json.loads(json.dumps(doc))
    for name, (section, field) in _CLASSIC.items():
        if environ.get(name, "").strip():
            _set(out, (section, field), environ[name].strip())
    label = environ.get("AUTOHEAL_CONTAINER_LABEL", "").strip()
    if label:
        if label.lower() == "all":
            _set(out, ("monitor", "include_all"), True)
        else:
            _set(out, ("monitor", "label_key"), label)
    for name, path in env_variable_names().items():
        raw = environ.get(name)
        if raw is not None and raw.strip() != "":
            _set(out, path, _env_value(path, raw.strip()))
    return out


def explicit_document(config_file: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings given explicitly: the JSON file, then environment variables over it."""
    environ = os.environ if environ is None else environ
    doc = load_file(config_file) if config_file else {}
    # An exported document works as a file too: its version is checked, its per-container
    # choices are read by file_choices().
    version = doc.pop("schema_version", 1)
    if version != 1:
        raise ConfigError(f"config file {config_file}: schema_version: {version!r} is not a version this autoheal knows (1)")
    doc.pop("containers", None)
    if doc:
        try:
            parse_settings(doc, strict=True)
        except ConfigError as exc:
            raise ConfigError(f"config file {config_file}: {exc}") from None
    doc = overlay_env(doc, environ)
    parse_settings(doc)
    return doc


def load_settings(config_file: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from defaults, then the JSON file, then environment variables."""
    return parse_settings(explicit_document(config_file, environ))


def merge_documents(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` wins, section by section and field by field."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_documents(out[key], value)
        else:
            out[key] = value
    return out


def changed_fields(old: Settings, new: Settings) -> list[str]:
    """Dotted paths of the settings that differ."""
    def flat(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if isinstance(value, Mapping):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    a, b = flat(old.model_dump(mode="json")), flat(new.model_dump(mode="json"))
    return sorted(k for k in a if a[k] != b.get(k))


LogLevel = Literal["debug", "info", "warning", "error"]
