"""Export and import of the whole configuration as one versioned JSON document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autoheal.config import ConfigError, Settings, load_file, parse_settings

SCHEMA_VERSION = 1
_MAX_CONTAINER_CHOICES = 10000


def export_document(settings: Settings, choices: dict[str, bool]) -> dict[str, Any]:
    """Settings and per-container choices; there are no secrets to redact in this version."""
    doc: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    doc.update(settings.model_dump(mode="json"))
    doc["containers"] = {name: {"enabled": enabled} for name, enabled in sorted(choices.items())}
    return doc


def parse_document(doc: Any) -> tuple[Settings, dict[str, bool]]:
    """Validate a whole document; raise ConfigError naming the first bad field. Nothing is applied."""
    if not isinstance(doc, dict):
        raise ConfigError("(document): must be a JSON object")
    version = doc.get("schema_version", SCHEMA_VERSION)
    if type(version) is not int:
        raise ConfigError("schema_version: must be an integer")
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"schema_version: {version} is newer than this autoheal understands ({SCHEMA_VERSION}); upgrade autoheal"
        )
    if version < 1:
        raise ConfigError(f"schema_version: {version} is not a known version (1 to {SCHEMA_VERSION})")
    settings = parse_settings({k: v for k, v in doc.items() if k not in ("schema_version", "containers")}, strict=True)
    return settings, _parse_choices(doc.get("containers", {}))


def _parse_choices(raw: Any) -> dict[str, bool]:
    if not isinstance(raw, dict):
        raise ConfigError("containers: must be an object of container names")
    if len(raw) > _MAX_CONTAINER_CHOICES:
        raise ConfigError(f"containers: at most {_MAX_CONTAINER_CHOICES} entries")
    choices: dict[str, bool] = {}
    for name, entry in raw.items():
        if not name or len(name) > 255:
            raise ConfigError(f"containers.{name[:40]}: a container name of 1 to 255 characters is required")
        if not isinstance(entry, dict) or set(entry) != {"enabled"} or not isinstance(entry["enabled"], bool):
            raise ConfigError(f'containers.{name}: must be {{"enabled": true|false}}')
        choices[name] = entry["enabled"]
    return choices


def parse_text(text: str | bytes) -> tuple[Settings, dict[str, bool]]:
    """Parse a document from JSON text."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ConfigError(f"(document): invalid JSON{where}: {getattr(exc, 'msg', exc)}") from None
    except RecursionError:
        raise ConfigError("(document): JSON nested too deeply") from None
    return parse_document(doc)


def file_choices(path: Path | None) -> dict[str, bool]:
    """The per-container choices (`containers`) of a --config file written as an export document."""
    if path is None:
        return {}
    doc = load_file(path)
    try:
        return _parse_choices(doc.get("containers", {}))
    except ConfigError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
