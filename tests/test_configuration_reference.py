"""docs/configuration.md names every setting, variable, label and default the code has, and nothing else."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest
from pydantic import BaseModel

from autoheal.checks.definition import CHECK_LABELS
from autoheal.config import _CLASSIC, Settings, env_variable_names
from autoheal.domain.labels import OVERRIDE_LABELS
from autoheal.notify.settings import ENVIRONMENT, NotifySettings

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
ROW = re.compile(r"^\| `(?P<setting>[a-z_]+\.[a-z_.]+)` \| `(?P<variable>[A-Z_]+)` \| (?P<label>[^|]+) \| (?P<default>[^|]+) \|", re.M)


def documented() -> dict[str, dict[str, str]]:
    return {m["setting"]: {k: m[k].strip() for k in ("variable", "label", "default")} for m in ROW.finditer(REFERENCE)}


def model_defaults() -> dict[str, object]:
    out: dict[str, object] = {}

    def walk(model: BaseModel, prefix: str) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                walk(value, f"{prefix}{name}.")
            else:
                out[f"{prefix}{name}"] = value

    walk(Settings(), "")
    return out


def as_documented(value: object) -> str:
    """A default as the reference writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return "empty" if not value else ", ".join(value)
    return str(value)


def test_the_reference_table_is_found():
    assert len(documented()) >= 20


def test_every_setting_of_the_models_is_documented_with_its_variable_and_default():
    rows = documented()
    variables = {".".join(path): name for name, path in env_variable_names().items()}
    for setting, default in model_defaults().items():
        assert setting in rows, f"{setting} is missing from docs/configuration.md"
        assert rows[setting]["variable"] == variables[setting], setting
        assert rows[setting]["default"] == as_documented(default), f"{setting}: default {default!r}"


def test_every_setting_the_reference_names_exists_in_the_models():
    defaults = model_defaults()
    for setting in documented():
        assert setting in defaults, f"docs/configuration.md names {setting}, which the settings models do not have"
    for dotted in set(re.findall(r"`((?:monitor|restart|quarantine|filters|events)\.[a-z_.]+)`", REFERENCE)):
        assert dotted in defaults, f"docs/configuration.md names {dotted}, which the settings models do not have"


@pytest.mark.parametrize("label, field", sorted(OVERRIDE_LABELS.items()))
def test_every_override_label_is_in_the_label_column_of_its_setting(label, field):
    rows = documented()
    assert rows[f"restart.{field}"]["label"] == f"`{label}`"
    assert f"| `{label}` |" in REFERENCE


def test_settings_without_a_label_say_so():
    labelled = {f"restart.{field}" for field in OVERRIDE_LABELS.values()}
    for setting, row in documented().items():
        if setting not in labelled:
            assert row["label"] == "–", setting


def test_every_label_the_reference_names_is_read_by_the_code():
    known = set(OVERRIDE_LABELS) | set(CHECK_LABELS)
    for label in set(re.findall(r"`(autoheal\.[a-z_.]+)`", REFERENCE)):
        assert label in known, f"docs/configuration.md names the label {label}, which the code does not read"
    for label in CHECK_LABELS:
        assert f"| `{label}` |" in REFERENCE, label


def test_every_classic_variable_is_documented():
    for name in [*_CLASSIC, "AUTOHEAL_CONTAINER_LABEL", "DOCKER_SOCK"]:
        assert f"| `{name}` |" in REFERENCE, name


NOTIFY_ROW = re.compile(r"^\| `(?P<variable>[A-Z_]+)` \| (?P<default>[^|]+) \|", re.M)


def test_every_notification_variable_is_documented_with_its_default():
    section = REFERENCE[REFERENCE.index("## Notifications"):]
    rows = {m["variable"]: m["default"].strip() for m in NOTIFY_ROW.finditer(section[: section.index("\n## ", 5)])}
    assert set(rows) == set(ENVIRONMENT), "the notification table must list exactly the variables autoheal reads"
    defaults = NotifySettings()
    for variable, field in ENVIRONMENT.items():
        value = getattr(defaults, field)
        if field == "events":
            assert rows[variable] == "all"
        elif value in ("", ()):
            assert rows[variable] == "empty", variable
        else:
            assert rows[variable] == as_documented(value), f"{variable}: default {value!r}"
