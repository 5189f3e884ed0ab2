"""Hostile input, generated: config documents, label values and engine JSON are parsed safely or refused by name."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autoheal.checks.definition import from_labels
from autoheal.config import ConfigError, RestartSettings, Settings, parse_settings
from autoheal.docker.adapter import container_from_inspect, container_from_listing, event_from_raw
from autoheal.domain.labels import OVERRIDE_LABELS, apply_overrides, truthy
from autoheal.domain.models import Container, DockerEvent
from autoheal.domain.selection import select
from autoheal.portable import parse_document, parse_text

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Odd text: control characters, shell and SQL injection, template syntax, huge values, numbers as text.
NASTY_TEXT = st.one_of(
    st.text(max_size=50),
    st.sampled_from([
        "", " ", "\x00", "true\x00", "1e308", "-0", "nan", "inf", "-inf", "1e9999", "0x10", "  5  ", "５",
        "'; DROP TABLE events; --", "$(rm -rf /)", "`reboot`", "{{7*7}}", "${jndi:ldap://x}", "../../etc/passwd",
        "unix:///var/run/docker.sock", "http://169.254.169.254/", "a" * 10_000, "9" * 5000,
    ]),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | NASTY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
SECTIONS = ("monitor", "restart", "quarantine", "filters", "events", "schema_version", "containers")


def documents():
    """Documents shaped like settings (known keys, odd values), and anything at all."""
    fields = st.dictionaries(
        st.sampled_from(["interval_seconds", "label_key", "include_all", "mode", "cooldown_seconds", "max_restarts",
                         "backoff", "whitelist_names", "blacklist_labels", "retention_count", "enabled", "x"]),
        JSON, max_size=4,
    )
    return st.one_of(JSON, st.dictionaries(st.sampled_from(SECTIONS), st.one_of(fields, JSON), max_size=5))


@FAST
@given(documents())
def test_a_settings_document_is_valid_or_refused_with_a_config_error(doc):
    try:
        parsed = parse_settings(doc, strict=True)
    except ConfigError as exc:
        assert str(exc)  # names what is wrong
        return
    assert parse_settings(parsed.model_dump(mode="json"), strict=True) == parsed


@FAST
@given(documents())
def test_an_imported_document_is_valid_or_refused_with_a_config_error(doc):
    try:
        parse_document(doc)
    except ConfigError:
        pass


@FAST
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), st.just("[" * 100_000), st.just('{"a":' * 50_000)))
def test_imported_text_of_any_kind_is_valid_or_refused_with_a_config_error(text):
    try:
        parse_text(text)
    except ConfigError:
        pass


LABEL_KEYS = st.one_of(st.sampled_from(sorted(OVERRIDE_LABELS)), st.sampled_from(
    ["autoheal", "autoheal.check.type", "autoheal.check.port", "autoheal.check.path", "autoheal.check.status",
     "autoheal.check.command", "autoheal.check.interval", "autoheal.check.timeout", "autoheal.check.retries",
     "autoheal.check.method", "autoheal.notify"]
), st.text(max_size=20))
LABELS = st.dictionaries(LABEL_KEYS, NASTY_TEXT, max_size=8)


@FAST
@given(LABELS)
def test_override_labels_never_raise_and_stay_within_the_global_bounds(labels):
    result = apply_overrides(RestartSettings(), labels)
    RestartSettings.model_validate(result.restart.model_dump())  # still within every bound
    for label in result.applied:
        assert label in labels and len(labels[label]) <= 64
    for label, value in labels.items():
        if label in OVERRIDE_LABELS and label not in result.applied:
            assert any(p.startswith(label) for p in result.problems), (label, value, result.problems)
    assert all(len(p) < 300 for p in result.problems)  # a huge value is never echoed whole


@FAST
@given(LABELS, st.text(max_size=30))
def test_selection_and_check_labels_never_raise(labels, name):
    container = Container(id="c" * 64, name=name or "x", labels=labels)
    decided = select(container, Settings(), {}, None)
    assert decided.rule and isinstance(decided.monitored, bool)
    definition, problem = from_labels(labels)
    assert definition is None or not problem
    assert truthy(labels.get("autoheal")) in (True, False, None)


# --- engine JSON (a proxy or a misbehaving engine may send anything) ------------------------


ENGINE_OBJECTS = st.dictionaries(
    st.sampled_from(["Type", "Action", "status", "id", "Actor", "time", "timeNano", "Id", "Names", "Labels",
                     "State", "Status", "Config", "HostConfig", "NetworkSettings", "Name", "Image"]),
    JSON, max_size=8,
)


@FAST
@given(st.one_of(ENGINE_OBJECTS, st.builds(
    lambda attrs, action, cid: {"Type": "container", "Action": action, "Actor": {"ID": cid, "Attributes": attrs}},
    st.one_of(st.dictionaries(st.text(max_size=10), JSON, max_size=5), JSON), JSON, JSON,
)))
def test_an_engine_event_of_any_shape_is_an_event_or_none(raw):
    event = event_from_raw(raw)
    assert event is None or (isinstance(event, DockerEvent) and isinstance(event.container_id, str) and event.action)


@FAST
@given(st.dictionaries(st.text(max_size=10), JSON, max_size=5), JSON)
def test_odd_label_values_from_the_engine_become_text(labels, status):
    listed = container_from_listing({"Id": "c" * 64, "Names": ["/x"], "Labels": labels, "Status": "Up", "State": "running"})
    inspected = container_from_inspect({"Id": "c" * 64, "Name": "/x", "Config": {"Labels": labels}, "State": {"Status": "running"}})
    for container in (listed, inspected):
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in container.labels.items())
        select(container, Settings(), {}, None)
        apply_overrides(RestartSettings(), container.labels)


# --- an imported configuration cannot point autoheal anywhere --------------------------------


def _string_fields(schema: dict, defs: dict, path: str = "") -> list[str]:
    found = []
    for name, prop in schema.get("properties", {}).items():
        ref = prop.get("$ref") or next((a.get("$ref") for a in prop.get("allOf", []) if "$ref" in a), None)
        if ref:
            found += _string_fields(defs[ref.rsplit("/", 1)[1]], defs, f"{path}{name}.")
        elif prop.get("type") == "string" or prop.get("items", {}).get("type") == "string":
            found.append(path + name)
    return found


def test_no_setting_names_a_file_a_host_a_url_or_a_socket():
    schema = Settings.model_json_schema()
    # Every free-text setting is a label key, a name glob or a label filter: none is opened or dialled.
    assert sorted(_string_fields(schema, schema.get("$defs", {}))) == [
        "filters.blacklist_labels", "filters.blacklist_names", "filters.whitelist_labels", "filters.whitelist_names",
        "monitor.label_key",
    ]


@pytest.mark.parametrize(
    "extra",
    [
        {"docker_host": "tcp://evil.example:2375"},
        {"monitor": {"docker_host": "unix:///etc/shadow"}},
        {"store": {"path": "/etc/passwd"}},
        {"data_dir": "/"},
        {"notifications": {"webhook_url": "http://169.254.169.254/latest/meta-data"}},
        {"restart": {"webhook_url": "http://evil.example/"}},
        {"apprise_url": "mailto://x"},
        {"events": {"export_file": "/tmp/x"}},
        {"__class__": {}},
    ],
)
def test_an_import_that_names_files_hosts_or_channels_is_refused_naming_the_key(extra):
    doc = {"schema_version": 1, **extra}
    with pytest.raises(ConfigError) as refused:
        parse_document(json.loads(json.dumps(doc)))
    key = next(iter(extra))
    inner = extra[key]
    assert key in str(refused.value) or (isinstance(inner, dict) and next(iter(inner), "") in str(refused.value))
