"""Label values: booleans in any case, per-container overrides, and the stop timeout."""

from __future__ import annotations

import pytest

from autoheal.config import BackoffSettings, Mode, RestartSettings
from autoheal.domain.labels import OVERRIDE_LABELS, apply_overrides, stop_timeout, truthy

BASE = RestartSettings()


# --- truthy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(v, True) for v in ("true", "TRUE", "True", "1", "yes", "Yes", "on", "ON", " true ", "\tyes\n")],
        *[(v, False) for v in ("false", "FALSE", "False", "0", "no", "No", "off", "OFF", " off ")],
        *[(v, None) for v in (None, "", " ", "maybe", "2", "-1", "y", "n", "t", "enabled", "truex")],
    ],
)
def test_truthy_reads_boolean_label_values_in_any_case(value, expected):
    assert truthy(value) is expected


# --- overrides that apply ---------------------------------------------------------


def test_the_contract_override_labels_are_all_known():
    assert set(OVERRIDE_LABELS) == {
        "autoheal.cooldown",
        "autoheal.max_restarts",
        "autoheal.window",
        "autoheal.grace",
        "autoheal.unhealthy_for",
        "autoheal.stop.timeout",
        "autoheal.mode",
    }


@pytest.mark.parametrize(
    ("label", "raw", "field", "expected"),
    [
        ("autoheal.cooldown", "30", "cooldown_seconds", 30.0),
        ("autoheal.cooldown", "0", "cooldown_seconds", 0.0),
        ("autoheal.cooldown", " 12.5 ", "cooldown_seconds", 12.5),
        ("autoheal.cooldown", "86400", "cooldown_seconds", 86400.0),
        ("autoheal.max_restarts", "3", "max_restarts", 3),
        ("autoheal.max_restarts", "1", "max_restarts", 1),
        ("autoheal.max_restarts", "10000", "max_restarts", 10000),
        ("autoheal.window", "120", "max_restarts_window_seconds", 120.0),
        ("autoheal.window", "604800", "max_restarts_window_seconds", 604800.0),
        ("autoheal.grace", "15", "grace_seconds", 15.0),
        ("autoheal.grace", "0", "grace_seconds", 0.0),
        ("autoheal.unhealthy_for", "45", "unhealthy_for_seconds", 45.0),
        ("autoheal.stop.timeout", "20", "stop_timeout_seconds", 20),
        ("autoheal.stop.timeout", "0", "stop_timeout_seconds", 0),
        ("autoheal.stop.timeout", "3600", "stop_timeout_seconds", 3600),
        ("autoheal.mode", "health", "mode", Mode.HEALTH),
        ("autoheal.mode", "on-failure", "mode", Mode.ON_FAILURE),
        ("autoheal.mode", " BOTH ", "mode", Mode.BOTH),
    ],
)
def test_an_override_label_changes_that_setting_for_the_container(label, raw, field, expected):
    base = RestartSettings(mode=Mode.ON_FAILURE if expected is Mode.BOTH else Mode.BOTH)

    result = apply_overrides(base, {label: raw})

    value = getattr(result.restart, field)
    assert value == expected
    assert type(value) is type(getattr(base, field))
    assert result.problems == ()


def test_every_override_label_applies_at_once():
    labels = {
        "autoheal.cooldown": "5",
        "autoheal.max_restarts": "2",
        "autoheal.window": "300",
        "autoheal.grace": "20",
        "autoheal.unhealthy_for": "40",
        "autoheal.stop.timeout": "30",
        "autoheal.mode": "health",
    }

    restart = apply_overrides(BASE, labels).restart

    assert (
        restart.cooldown_seconds,
        restart.max_restarts,
        restart.max_restarts_window_seconds,
        restart.grace_seconds,
        restart.unhealthy_for_seconds,
        restart.stop_timeout_seconds,
        restart.mode,
    ) == (5, 2, 300, 20, 40, 30, Mode.HEALTH)


def test_overrides_keep_the_global_settings_they_do_not_name():
    base = RestartSettings(cooldown_seconds=90, backoff=BackoffSettings(jitter=False), max_parallel=2)

    restart = apply_overrides(base, {"autoheal.max_restarts": "2"}).restart

    assert restart.max_restarts == 2
    assert restart.model_dump(exclude={"max_restarts"}) == base.model_dump(exclude={"max_restarts"})


def test_without_override_labels_the_base_settings_are_used():
    result = apply_overrides(BASE, {"autoheal": "true", "com.example.other": "x", "autoheal.unknown": "1"})

    assert result.restart is BASE
    assert result.problems == ()


# --- bad values are ignored and reported, never raised ----------------------------


BAD_VALUES = [
    *[("autoheal.cooldown", v) for v in ("-1", "abc", "", "  ", "30s", "nan", "inf", "-inf", "1e400", "86401")],
    *[("autoheal.max_restarts", v) for v in ("0", "-3", "2.5", "many", "10001", "99999999999999999999", "inf")],
    *[("autoheal.window", v) for v in ("0", "-5", "604801", "nan", "inf", "10m")],
    *[("autoheal.grace", v) for v in ("-1", "x", "86401", "nan")],
    *[("autoheal.unhealthy_for", v) for v in ("-0.5", "x", "86401", "inf")],
    *[("autoheal.stop.timeout", v) for v in ("-1", "ten", "nan", "inf", "-inf", "1e400", "3601", "99999999999999999999")],
    *[("autoheal.mode", v) for v in ("sometimes", "", "always", "on_failure")],
    *[(label, "1" * 65) for label in OVERRIDE_LABELS],
    *[(label, "\x00") for label in OVERRIDE_LABELS],
]


@pytest.mark.parametrize(("label", "raw"), BAD_VALUES)
def test_a_bad_override_label_is_ignored_and_reported(label, raw):
    result = apply_overrides(BASE, {label: raw})

    assert result.restart == BASE
    assert len(result.problems) == 1
    assert result.problems[0].startswith(label)
    assert "ignored" in result.problems[0]


def test_good_labels_still_apply_next_to_bad_ones():
    result = apply_overrides(
        BASE, {"autoheal.cooldown": "-5", "autoheal.max_restarts": "2", "autoheal.mode": "never"}
    )

    assert result.restart.max_restarts == 2
    assert result.restart.cooldown_seconds == BASE.cooldown_seconds
    assert result.restart.mode is BASE.mode
    assert len(result.problems) == 2
    assert any(p.startswith("autoheal.cooldown") for p in result.problems)
    assert any(p.startswith("autoheal.mode") for p in result.problems)


def test_a_problem_report_quotes_at_most_a_short_part_of_the_value():
    result = apply_overrides(BASE, {"autoheal.cooldown": "9" * 5000})

    assert len(result.problems) == 1
    assert len(result.problems[0]) < 120


# --- stop timeout -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "container_stop_timeout", "expected"),
    [
        ({"autoheal.stop.timeout": "20"}, 30, 20),  # the label first
        ({"autoheal.stop.timeout": "20"}, None, 20),
        ({"autoheal.stop.timeout": "0"}, 30, 0),
        ({}, 30, 30),  # then the container's own StopTimeout
        ({}, 0, 0),
        ({}, None, 10),  # then restart.stop_timeout_seconds
    ],
)
def test_stop_timeout_prefers_label_then_container_then_default(labels, container_stop_timeout, expected):
    restart = apply_overrides(BASE, labels).restart

    result = stop_timeout(restart, container_stop_timeout, labelled="autoheal.stop.timeout" in labels)

    assert result == expected


def test_stop_timeout_default_follows_the_global_setting():
    assert stop_timeout(RestartSettings(stop_timeout_seconds=25), None, labelled=False) == 25


@pytest.mark.parametrize(
    ("value", "applied"),
    [("5", True), ("-1", False), ("soon", False), ("7200", False)],
)
def test_only_usable_labels_count_as_applied(value, applied):
    overrides = apply_overrides(RestartSettings(), {"autoheal.stop.timeout": value})
    assert ("autoheal.stop.timeout" in overrides.applied) is applied
    # An ignored stop-timeout label falls back to the container's own StopTimeout.
    labelled = "autoheal.stop.timeout" in overrides.applied
    assert stop_timeout(overrides.restart, 42, labelled) == (5 if applied else 42)


def test_a_container_without_override_labels_gets_the_global_settings_unchanged():
    base = RestartSettings()

    first = apply_overrides(base, {"com.example.team": "web", "autoheal": "true"})
    second = apply_overrides(base, {})

    assert first.restart is base
    assert first.problems == () and first.applied == frozenset()
    assert second is first  # one frozen value serves every such container


def test_new_settings_are_not_answered_with_the_old_ones():
    apply_overrides(RestartSettings(cooldown_seconds=5), {})

    assert apply_overrides(RestartSettings(cooldown_seconds=7), {}).restart.cooldown_seconds == 7


def test_a_value_of_escaped_characters_is_echoed_short():
    """Found by hypothesis: repr() of astral characters and the parser's message both grow a short value."""
    from autoheal.config import RestartSettings
    from autoheal.domain.labels import apply_overrides

    value = "0" * 14 + "\x1f" * 3 + "\U000101fe\U00011daa" + "\U00018cd6" * 20
    [problem] = apply_overrides(RestartSettings(), {"autoheal.cooldown": value}).problems
    assert problem.startswith("autoheal.cooldown=") and problem.endswith(", ignored")
    assert len(problem) < 300
