"""config-example.json at the repository root: a valid document that spells out every setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoheal.config import ConfigError, env_variable_names, load_settings
from autoheal.portable import SCHEMA_VERSION, file_choices, parse_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config-example.json"


def leaf_paths(document: dict, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths: set[tuple[str, ...]] = set()
    for key, value in document.items():
        if isinstance(value, dict):
            paths |= leaf_paths(value, prefix + (key,))
        else:
            paths.add(prefix + (key,))
    return paths


def test_the_example_loads_as_an_import_document():
    settings, choices = parse_text(EXAMPLE.read_text(encoding="utf-8"))

    assert settings is not None
    assert choices == {}


def test_the_example_names_every_setting_and_nothing_else():
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))

    assert document["schema_version"] == SCHEMA_VERSION
    assert document["containers"] == {}
    settings_part = {k: v for k, v in document.items() if k not in ("schema_version", "containers")}
    assert leaf_paths(settings_part) == set(env_variable_names().values())


def test_the_example_is_a_valid_config_file_as_it_is():
    assert load_settings(EXAMPLE, {}) == parse_text(EXAMPLE.read_text(encoding="utf-8"))[0]


def test_a_config_file_carries_container_choices_and_checks_its_version(tmp_path):
    document = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    document["containers"] = {"web": {"enabled": False}}
    path = tmp_path / "autoheal.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert file_choices(path) == {"web": False}

    document["schema_version"] = 2
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError, match="schema_version"):
        load_settings(path, {})
    document["schema_version"], document["containers"] = 1, {"web": {"enabled": "no"}}
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ConfigError, match="containers.web"):
        file_choices(path)


def test_the_readme_points_to_the_example():
    assert "config-example.json" in (ROOT / "README.md").read_text(encoding="utf-8")
