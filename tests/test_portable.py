"""Export and import: one versioned JSON document, validated as a whole, naming the bad field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from autoheal.config import ConfigError, Mode, Settings, parse_settings
from autoheal.portable import (
    SCHEMA_VERSION,
    export_document,
    parse_document,
    parse_text,
)

CUSTOM: dict[str, Any] = {
    "monitor": {"interval_seconds": 7.5, "label_key": "heal.me", "include_all": True, "start_period_seconds": 12},
    "restart": {
        "mode": "health",
        "cooldown_seconds": 0,
        "max_restarts": 9,
        "backoff": {"enabled": False, "initial_seconds": 1.25, "jitter": False},
        "stop_timeout_seconds": 3,
    },
    "quarantine": {"release_after_seconds": 3600},
    "filters": {"whitelist_names": ["web-*", "api"], "blacklist_labels": ["tier=db"]},
    "events": {"retention_count": 500, "retention_days": 2.5},
}


def exported(settings: Settings | None = None, choices: dict[str, bool] | None = None) -> dict[str, Any]:
    return export_document(settings or parse_settings({}), choices or {})


def refusal(doc: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_document(doc)
    return str(caught.value)


# --- round trip -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "choices"),
    [
        pytest.param({}, {}, id="defaults"),
        pytest.param(CUSTOM, {"web": True, "db": False, "name with spaces": True}, id="custom-with-choices"),
    ],
)
def test_export_then_parse_then_export_is_identical(settings: dict[str, Any], choices: dict[str, bool]):
    first = exported(parse_settings(settings), choices)
    text = json.dumps(first)
    parsed_settings, parsed_choices = parse_text(text)
    assert parsed_settings == parse_settings(settings)
    assert parsed_choices == choices
    assert export_document(parsed_settings, parsed_choices) == first
    assert json.dumps(export_document(parsed_settings, parsed_choices)) == text


def test_the_export_carries_the_schema_version_every_section_and_the_choices():
    doc = exported(parse_settings(CUSTOM), {"web": False})
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert set(doc) == {"schema_version", "monitor", "restart", "quarantine", "filters", "events", "containers"}
    assert doc["containers"] == {"web": {"enabled": False}}
    assert doc["restart"]["mode"] == "health"
    assert doc["filters"]["whitelist_names"] == ["web-*", "api"]


def test_parsing_does_not_change_the_document_it_is_given():
    doc = exported(parse_settings(CUSTOM), {"web": True})
    before = copy.deepcopy(doc)
    parse_document(doc)
    assert doc == before


# --- schema_version ---------------------------------------------------------------------


def test_a_newer_schema_version_is_refused_naming_schema_version():
    doc = exported() | {"schema_version": SCHEMA_VERSION + 1}
    message = refusal(doc)
    assert message.startswith("schema_version:")
    assert str(SCHEMA_VERSION + 1) in message and "newer" in message


@pytest.mark.parametrize("version", [0, -1, "1", 1.0, True, None, [1]], ids=repr)
def test_a_schema_version_that_is_not_a_positive_integer_is_refused(version: Any):
    assert refusal(exported() | {"schema_version": version}).startswith("schema_version:")


def test_a_document_without_schema_version_is_read_as_the_current_version():
    doc = exported(parse_settings(CUSTOM), {"web": True})
    del doc["schema_version"]
    assert parse_document(doc) == (parse_settings(CUSTOM), {"web": True})


def test_an_empty_document_is_the_defaults_without_choices():
    assert parse_document({}) == (parse_settings({}), {})


# --- refusals that name the field ---------------------------------------------------------


def with_value(path: str, value: Any) -> dict[str, Any]:
    doc = exported()
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param("colour", "blue", "colour", id="unknown-top-level-key"),
        pytest.param("restart.colour", "blue", "restart.colour", id="unknown-nested-key"),
        pytest.param("restart.backoff.colour", 1, "restart.backoff.colour", id="unknown-deeply-nested-key"),
        pytest.param("monitor.interval_seconds", "30", "monitor.interval_seconds", id="string-for-a-number"),
        pytest.param("restart.max_restarts", "5", "restart.max_restarts", id="string-for-an-integer"),
        pytest.param("restart.max_restarts", 2.5, "restart.max_restarts", id="fraction-for-an-integer"),
        pytest.param("monitor.include_all", "true", "monitor.include_all", id="string-for-a-boolean"),
        pytest.param("monitor.include_all", 1, "monitor.include_all", id="number-for-a-boolean"),
        pytest.param("filters.whitelist_names", "web", "filters.whitelist_names", id="string-for-a-list"),
        pytest.param("restart.mode", "sometimes", "restart.mode", id="unknown-mode"),
        pytest.param("monitor", "fast", "monitor", id="string-for-a-section"),
        pytest.param("monitor.interval_seconds", 0, "monitor.interval_seconds", id="zero-interval"),
        pytest.param("monitor.interval_seconds", 86401, "monitor.interval_seconds", id="interval-too-long"),
        pytest.param("restart.max_restarts", 0, "restart.max_restarts", id="max-restarts-zero"),
        pytest.param("restart.backoff.multiplier", 0.5, "restart.backoff.multiplier", id="multiplier-below-1"),
        pytest.param("events.retention_count", 99, "events.retention_count", id="retention-below-bound"),
        pytest.param("filters.blacklist_names", ["ok", " "], "filters.blacklist_names", id="blank-filter-entry"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_dotted_field(path: str, value: Any, field: str):
    assert refusal(with_value(path, value)).startswith(f"{field}")


@pytest.mark.parametrize(
    ("containers", "field"),
    [
        pytest.param([], "containers", id="a-list"),
        pytest.param(None, "containers", id="null"),
        pytest.param({"web": True}, "containers.web", id="bare-boolean"),
        pytest.param({"web": {}}, "containers.web", id="missing-enabled"),
        pytest.param({"web": {"enabled": 1}}, "containers.web", id="number-for-enabled"),
        pytest.param({"web": {"enabled": "true"}}, "containers.web", id="string-for-enabled"),
        pytest.param({"web": {"enabled": True, "note": "x"}}, "containers.web", id="unknown-key"),
        pytest.param({"": {"enabled": True}}, "containers.", id="empty-name"),
        pytest.param({"x" * 256: {"enabled": True}}, "containers.xxxx", id="name-too-long"),
    ],
)
def test_a_bad_containers_entry_is_refused_naming_it(containers: Any, field: str):
    doc = exported() | {"containers": containers}
    message = refusal(doc)
    assert message.startswith(f"{field}"), message


def test_a_document_that_is_not_an_object_is_refused():
    assert refusal([1, 2]).startswith("(document)")


def test_one_bad_field_refuses_the_whole_document():
    doc = exported(parse_settings(CUSTOM), {"web": True})
    doc["events"]["retention_days"] = -1
    with pytest.raises(ConfigError, match=r"^events\.retention_days"):
        parse_document(doc)


# --- JSON text ----------------------------------------------------------------------------


def test_parse_text_reads_a_valid_document():
    text = json.dumps({"schema_version": 1, "restart": {"mode": "on-failure"}, "containers": {"db": {"enabled": False}}})
    settings, choices = parse_text(text.encode("utf-8"))
    assert settings.restart.mode is Mode.ON_FAILURE and choices == {"db": False}


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        pytest.param('{"monitor": {\n  "interval_seconds": 30,\n}}', 3, 1, id="trailing-comma"),
        pytest.param('{"monitor": ', 1, 13, id="truncated"),
        pytest.param("", 1, 1, id="empty"),
    ],
)
def test_malformed_json_is_refused_with_line_and_column(text: str, line: int, column: int):
    with pytest.raises(ConfigError) as caught:
        parse_text(text)
    message = str(caught.value)
    assert message.startswith("(document): invalid JSON")
    assert f"line {line} column {column}" in message


def test_bytes_that_are_not_utf8_text_are_refused_as_invalid_json():
    with pytest.raises(ConfigError, match=r"^\(document\): invalid JSON"):
        parse_text(b'{"monitor": "\xff"}')


def nested_list(depth: int) -> list:
    """A list nested `depth` deep, built without recursion."""
    inner: list = []
    for _ in range(depth):
        inner = [inner]
    return inner


@pytest.mark.parametrize("text", ["[" * 100000 + "]" * 100000, b"[" * 100000 + b"]" * 100000], ids=["str", "bytes"])
def test_json_nested_too_deeply_is_refused_not_a_recursion_error(text):
    with pytest.raises(ConfigError, match=r"^\(document\): JSON nested too deeply$"):
        parse_text(text)


def test_a_parsed_document_too_deep_to_validate_is_refused_not_a_recursion_error():
    document = {"schema_version": 1, "monitor": {"label_key": nested_list(100000)}}

    with pytest.raises(ConfigError, match=r"^\(document\): JSON nested too deeply$"):
        parse_document(document)
