"""Settings: contract defaults, the JSON file, environment variables and their precedence."""

from __future__ import annotations

import json
from functools import reduce
from pathlib import Path

import pytest

from autoheal.config import (
    ConfigError,
    Mode,
    Settings,
    env_variable_names,
    load_settings,
    parse_settings,
)


def value_at(settings: Settings, path: tuple[str, ...]):
    return reduce(getattr, path, settings)


def write(tmp_path: Path, document) -> Path:
    path = tmp_path / "autoheal.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


# --- defaults ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("restart", "mode"), Mode.BOTH),
        (("restart", "cooldown_seconds"), 60),
        (("restart", "backoff", "enabled"), True),
        (("restart", "backoff", "initial_seconds"), 10),
        (("restart", "backoff", "multiplier"), 2),
        (("restart", "backoff", "max_seconds"), 300),
        (("restart", "backoff", "jitter"), True),
        (("restart", "max_restarts"), 5),
        (("restart", "max_restarts_window_seconds"), 600),
        (("restart", "reset_after_seconds"), 600),
        (("restart", "max_parallel"), 4),
        (("restart", "rate_limit_per_minute"), 30),
        (("restart", "stop_timeout_seconds"), 10),
        (("restart", "grace_seconds"), 0),
        (("restart", "unhealthy_for_seconds"), 0),
        (("quarantine", "release_after_seconds"), 0),
        (("monitor", "interval_seconds"), 30),
        (("monitor", "label_key"), "autoheal"),
        (("monitor", "include_all"), False),
        (("filters", "whitelist_names"), ()),
        (("filters", "blacklist_names"), ()),
        (("filters", "whitelist_labels"), ()),
        (("filters", "blacklist_labels"), ()),
    ],
)
def test_defaults_match_the_contract(path, expected):
    assert value_at(Settings(), path) == expected
    assert value_at(load_settings(None, {}), path) == expected


def test_settings_are_frozen():
    settings = Settings()

    with pytest.raises(Exception):
        settings.restart.cooldown_seconds = 1  # type: ignore[misc]


# --- the JSON file ----------------------------------------------------------------


def test_a_json_file_sets_values_in_every_section(tmp_path):
    path = write(
        tmp_path,
        {
            "monitor": {"interval_seconds": 5, "label_key": "heal", "include_all": True},
            "restart": {"mode": "health", "max_restarts": 3, "backoff": {"jitter": False, "max_seconds": 120.5}},
            "quarantine": {"release_after_seconds": 3600},
            "filters": {"blacklist_names": ["db-*", " cache "], "whitelist_labels": ["team=ops"]},
        },
    )

    settings = load_settings(path, {})

    assert settings.monitor.interval_seconds == 5
    assert settings.monitor.label_key == "heal"
    assert settings.monitor.include_all is True
    assert settings.restart.mode is Mode.HEALTH
    assert settings.restart.max_restarts == 3
    assert settings.restart.backoff.jitter is False
    assert settings.restart.backoff.max_seconds == 120.5
    assert settings.restart.backoff.initial_seconds == 10  # untouched fields keep their defaults
    assert settings.quarantine.release_after_seconds == 3600
    assert settings.filters.blacklist_names == ("db-*", "cache")
    assert settings.filters.whitelist_labels == ("team=ops",)


def test_an_empty_json_object_gives_the_defaults(tmp_path):
    assert load_settings(write(tmp_path, "{}"), {}) == Settings()


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"monitor": {"interval_seconds": "30"}}, "monitor.interval_seconds"),
        ({"monitor": {"interval_seconds": True}}, "monitor.interval_seconds"),
        ({"monitor": {"include_all": "true"}}, "monitor.include_all"),
        ({"monitor": {"label_key": 5}}, "monitor.label_key"),
        ({"restart": {"max_restarts": "5"}}, "restart.max_restarts"),
        ({"restart": {"max_restarts": 5.5}}, "restart.max_restarts"),
        ({"restart": {"backoff": {"jitter": 1}}}, "restart.backoff.jitter"),
        ({"filters": {"blacklist_names": "db-*"}}, "filters.blacklist_names"),
        ({"restart": {"mode": 1}}, "restart.mode"),
    ],
)
def test_a_json_file_must_use_json_types(tmp_path, document, field):
    path = write(tmp_path, document)

    with pytest.raises(ConfigError) as caught:
        load_settings(path, {})

    message = str(caught.value)
    assert field in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"monitor": {"interval": 30}}, "monitor.interval"),
        ({"restart": {"backoff": {"factor": 3}}}, "restart.backoff.factor"),
        ({"restarts": {}}, "restarts"),
        ({"filters": {"blacklist": ["x"]}}, "filters.blacklist"),
    ],
)
def test_a_json_file_with_unknown_keys_is_refused_naming_them(tmp_path, document, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_settings(write(tmp_path, document), {})


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{"monitor": {"interval_seconds": 30,}}', 1, 37),
        ('{\n  "monitor": {\n    "interval_seconds": 30\n  }\n', 5, 1),
        ("{'monitor': {}}", 1, 2),
        ("", 1, 1),
    ],
)
def test_malformed_json_is_refused_with_line_and_column(tmp_path, text, line, column):
    with pytest.raises(ConfigError, match=f"invalid JSON at line {line} column {column}"):
        load_settings(write(tmp_path, text), {})


@pytest.mark.parametrize("text", ["[]", '["monitor"]', '"settings"', "30", "null", "true"])
def test_a_json_document_that_is_not_an_object_is_refused(tmp_path, text):
    with pytest.raises(ConfigError, match="must be a JSON object"):
        load_settings(write(tmp_path, text), {})


def test_a_file_nested_too_deeply_is_refused_naming_it(tmp_path):
    path = write(tmp_path, "[" * 100000 + "]" * 100000)

    with pytest.raises(ConfigError, match=r"autoheal\.json: JSON nested too deeply"):
        load_settings(path, {})


def test_a_document_too_deep_to_validate_strictly_is_refused_not_a_recursion_error():
    inner: list = []
    for _ in range(100000):
        inner = [inner]

    with pytest.raises(ConfigError, match=r"^\(document\): JSON nested too deeply$"):
        parse_settings({"monitor": {"label_key": inner}}, strict=True)


def test_a_missing_config_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "nope.json"

    with pytest.raises(ConfigError, match="nope.json"):
        load_settings(path, {})


# --- out-of-range values ----------------------------------------------------------


OUT_OF_RANGE = [
    ("monitor.interval_seconds", 0),
    ("monitor.interval_seconds", -1),
    ("monitor.interval_seconds", 86401),
    ("monitor.start_period_seconds", -1),
    ("monitor.label_key", ""),
    ("restart.mode", "sometimes"),
    ("restart.cooldown_seconds", -1),
    ("restart.cooldown_seconds", 86401),
    ("restart.max_restarts", 0),
    ("restart.max_restarts", 10001),
    ("restart.max_restarts_window_seconds", 0),
    ("restart.backoff.initial_seconds", -1),
    ("restart.backoff.multiplier", 0.5),
    ("restart.backoff.max_seconds", -1),
    ("restart.stop_timeout_seconds", -1),
    ("restart.stop_timeout_seconds", 3601),
    ("restart.max_parallel", 0),
    ("restart.rate_limit_per_minute", 0),
    ("restart.reset_after_seconds", -1),
    ("restart.grace_seconds", -1),
    ("restart.unhealthy_for_seconds", -1),
    ("restart.verify_seconds", 0),
    ("quarantine.release_after_seconds", -1),
    ("filters.blacklist_names", ["db", " "]),
]


def _document(dotted: str, value) -> dict:
    doc: dict = {}
    node = doc
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return doc


@pytest.mark.parametrize(("field", "value"), OUT_OF_RANGE)
def test_an_out_of_range_value_in_the_file_is_refused_naming_the_field(tmp_path, field, value):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_settings(write(tmp_path, _document(field, value)), {})


# Blank values cannot be refused from the environment: a blank variable means "not set".
OUT_OF_RANGE_ENV = [(f, v) for f, v in OUT_OF_RANGE if not isinstance(v, list) and v != ""]


@pytest.mark.parametrize(("field", "value"), OUT_OF_RANGE_ENV)
def test_an_out_of_range_value_in_the_environment_is_refused_naming_the_field(field, value):
    name = "AUTOHEAL_" + field.replace(".", "_").upper()

    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_settings(None, {name: str(value)})


@pytest.mark.parametrize(("field", "raw"), [("monitor.interval_seconds", "nan"), ("quarantine.release_after_seconds", "inf")])
def test_non_finite_numbers_are_refused(field, raw):
    name = "AUTOHEAL_" + field.replace(".", "_").upper()

    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_settings(None, {name: raw})


def test_parse_settings_reports_every_bad_field():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"restart": {"max_parallel": 0, "cooldown_seconds": -1}})

    assert "restart.max_parallel" in str(caught.value)
    assert "restart.cooldown_seconds" in str(caught.value)


# --- environment variables --------------------------------------------------------


# Every settings field, a raw environment value and what it must become.
ENV_VALUES: dict[str, tuple[str, object]] = {
    "AUTOHEAL_MONITOR_INTERVAL_SECONDS": ("12.5", 12.5),
    "AUTOHEAL_MONITOR_LABEL_KEY": ("heal.me", "heal.me"),
    "AUTOHEAL_MONITOR_INCLUDE_ALL": ("true", True),
    "AUTOHEAL_MONITOR_START_PERIOD_SECONDS": ("45", 45),
    "AUTOHEAL_RESTART_MODE": ("on-failure", Mode.ON_FAILURE),
    "AUTOHEAL_RESTART_COOLDOWN_SECONDS": ("15", 15),
    "AUTOHEAL_RESTART_MAX_RESTARTS": ("7", 7),
    "AUTOHEAL_RESTART_MAX_RESTARTS_WINDOW_SECONDS": ("1200", 1200),
    "AUTOHEAL_RESTART_BACKOFF_ENABLED": ("false", False),
    "AUTOHEAL_RESTART_BACKOFF_INITIAL_SECONDS": ("3", 3),
    "AUTOHEAL_RESTART_BACKOFF_MULTIPLIER": ("1.5", 1.5),
    "AUTOHEAL_RESTART_BACKOFF_MAX_SECONDS": ("90", 90),
    "AUTOHEAL_RESTART_BACKOFF_JITTER": ("off", False),
    "AUTOHEAL_RESTART_STOP_TIMEOUT_SECONDS": ("25", 25),
    "AUTOHEAL_RESTART_MAX_PARALLEL": ("2", 2),
    "AUTOHEAL_RESTART_RATE_LIMIT_PER_MINUTE": ("12", 12),
    "AUTOHEAL_RESTART_RESET_AFTER_SECONDS": ("300", 300),
    "AUTOHEAL_RESTART_GRACE_SECONDS": ("20", 20),
    "AUTOHEAL_RESTART_UNHEALTHY_FOR_SECONDS": ("40", 40),
    "AUTOHEAL_RESTART_VERIFY_SECONDS": ("50", 50),
    "AUTOHEAL_QUARANTINE_RELEASE_AFTER_SECONDS": ("7200", 7200),
    "AUTOHEAL_EVENTS_RETENTION_COUNT": ("500", 500),
    "AUTOHEAL_EVENTS_RETENTION_DAYS": ("7", 7),
    "AUTOHEAL_FILTERS_WHITELIST_NAMES": ("web-*, api", ("web-*", "api")),
    "AUTOHEAL_FILTERS_BLACKLIST_NAMES": ("db-*", ("db-*",)),
    "AUTOHEAL_FILTERS_WHITELIST_LABELS": ("team=ops,tier", ("team=ops", "tier")),
    "AUTOHEAL_FILTERS_BLACKLIST_LABELS": ("skip", ("skip",)),
}


def test_every_settings_field_has_an_environment_variable():
    assert set(env_variable_names()) == set(ENV_VALUES)


@pytest.mark.parametrize(("name", "path"), sorted(env_variable_names().items()))
def test_environment_variable_names_follow_section_and_field(name, path):
    assert name == "AUTOHEAL_" + "_".join(path).upper()
    value_at(Settings(), path)  # the path names a real field


@pytest.mark.parametrize(("name", "raw", "expected"), [(n, r, e) for n, (r, e) in ENV_VALUES.items()])
def test_an_environment_variable_sets_its_field(name, raw, expected):
    path = env_variable_names()[name]
    assert value_at(Settings(), path) != expected  # the variable must change something

    settings = load_settings(None, {name: raw})

    assert value_at(settings, path) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a", ("a",)),
        ("a,b", ("a", "b")),
        (" a , b* ,, c ", ("a", "b*", "c")),
        ("a,", ("a",)),
        ("team=ops,tier=web", ("team=ops", "tier=web")),
    ],
)
def test_filter_variables_are_comma_separated_lists(raw, expected):
    settings = load_settings(None, {"AUTOHEAL_FILTERS_BLACKLIST_NAMES": raw})

    assert settings.filters.blacklist_names == expected


@pytest.mark.parametrize(("name", "raw"), [("AUTOHEAL_RESTART_MAX_PARALLEL", "four"), ("AUTOHEAL_RESTART_MODE", "always")])
def test_an_unparsable_environment_value_is_refused_naming_the_field(name, raw):
    dotted = ".".join(env_variable_names()[name])

    with pytest.raises(ConfigError, match=dotted.replace(".", r"\.")):
        load_settings(None, {name: raw})


def test_the_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, {"restart": {"cooldown_seconds": 30, "max_restarts": 3}, "filters": {"blacklist_names": ["x"]}})

    settings = load_settings(
        path,
        {"AUTOHEAL_RESTART_COOLDOWN_SECONDS": "45", "AUTOHEAL_FILTERS_BLACKLIST_NAMES": "y,z"},
    )

    assert settings.restart.cooldown_seconds == 45
    assert settings.restart.max_restarts == 3  # the file still counts where env is silent
    assert settings.filters.blacklist_names == ("y", "z")


@pytest.mark.parametrize("raw", ["", "   "])
def test_a_blank_environment_variable_leaves_the_file_value(tmp_path, raw):
    path = write(tmp_path, {"restart": {"cooldown_seconds": 30}})

    settings = load_settings(path, {"AUTOHEAL_RESTART_COOLDOWN_SECONDS": raw})

    assert settings.restart.cooldown_seconds == 30


def test_unrelated_environment_variables_are_ignored():
    settings = load_settings(None, {"PATH": "/bin", "AUTOHEAL_NOT_A_FIELD": "1", "HOME": "/root"})

    assert settings == Settings()


def test_a_bad_file_is_refused_even_when_the_environment_would_fix_it(tmp_path):
    path = write(tmp_path, {"monitor": {"interval_seconds": "30"}})

    with pytest.raises(ConfigError, match=r"monitor\.interval_seconds"):
        load_settings(path, {"AUTOHEAL_MONITOR_INTERVAL_SECONDS": "30"})


# --- classic variable names -------------------------------------------------------


@pytest.mark.parametrize("raw", ["all", "ALL", "All", " all "])
def test_classic_container_label_all_includes_every_container(raw):
    settings = load_settings(None, {"AUTOHEAL_CONTAINER_LABEL": raw})

    assert settings.monitor.include_all is True
    assert settings.monitor.label_key == "autoheal"


@pytest.mark.parametrize("raw", ["watchme", "com.example.heal", "autoheal"])
def test_classic_container_label_names_the_label_key(raw):
    settings = load_settings(None, {"AUTOHEAL_CONTAINER_LABEL": raw})

    assert settings.monitor.label_key == raw
    assert settings.monitor.include_all is False


@pytest.mark.parametrize(
    ("name", "raw", "path", "expected"),
    [
        ("AUTOHEAL_INTERVAL", "5", ("monitor", "interval_seconds"), 5),
        ("AUTOHEAL_START_PERIOD", "60", ("monitor", "start_period_seconds"), 60),
        ("AUTOHEAL_DEFAULT_STOP_TIMEOUT", "25", ("restart", "stop_timeout_seconds"), 25),
    ],
)
def test_classic_variables_set_their_fields(name, raw, path, expected):
    assert value_at(load_settings(None, {name: raw}), path) == expected


@pytest.mark.parametrize(
    ("name", "raw", "field"),
    [
        ("AUTOHEAL_INTERVAL", "0", "monitor.interval_seconds"),
        ("AUTOHEAL_START_PERIOD", "-5", "monitor.start_period_seconds"),
        ("AUTOHEAL_DEFAULT_STOP_TIMEOUT", "ten", "restart.stop_timeout_seconds"),
    ],
)
def test_classic_variables_are_validated_like_the_rest(name, raw, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_settings(None, {name: raw})


def test_classic_variables_override_the_file(tmp_path):
    path = write(tmp_path, {"monitor": {"interval_seconds": 90, "label_key": "x"}})

    settings = load_settings(path, {"AUTOHEAL_INTERVAL": "5", "AUTOHEAL_CONTAINER_LABEL": "all"})

    assert settings.monitor.interval_seconds == 5
    assert settings.monitor.include_all is True


@pytest.mark.parametrize(
    ("classic", "modern", "path", "expected"),
    [
        (("AUTOHEAL_INTERVAL", "5"), ("AUTOHEAL_MONITOR_INTERVAL_SECONDS", "7"), ("monitor", "interval_seconds"), 7),
        (("AUTOHEAL_CONTAINER_LABEL", "old"), ("AUTOHEAL_MONITOR_LABEL_KEY", "new"), ("monitor", "label_key"), "new"),
        (
            ("AUTOHEAL_DEFAULT_STOP_TIMEOUT", "20"),
            ("AUTOHEAL_RESTART_STOP_TIMEOUT_SECONDS", "30"),
            ("restart", "stop_timeout_seconds"),
            30,
        ),
    ],
)
def test_section_field_variables_win_over_classic_names(classic, modern, path, expected):
    settings = load_settings(None, dict([classic, modern]))

    assert value_at(settings, path) == expected
