"""Selection: which containers autoheal manages, and the rule that decided it."""

from __future__ import annotations

import pytest

from autoheal.config import FilterSettings, MonitorSettings, Settings
from autoheal.domain.models import Container
from autoheal.domain.selection import select

SELF_ID = "5e1f" * 16


def container(name: str = "web", labels: dict[str, str] | None = None, id: str = "c0ffee" * 10) -> Container:
    return Container(id=id, name=name, labels=labels or {})


def config(*, include_all: bool = False, label_key: str = "autoheal", **filters: tuple[str, ...]) -> Settings:
    return Settings(
        monitor=MonitorSettings(include_all=include_all, label_key=label_key),
        filters=FilterSettings(**filters),
    )


# --- rule 1: autoheal itself ------------------------------------------------------


@pytest.mark.parametrize("self_id", [SELF_ID, SELF_ID[:12]])
def test_autoheal_never_manages_itself(self_id):
    me = container("autoheal", {"autoheal": "true"}, id=SELF_ID)

    result = select(me, config(include_all=True), {"autoheal": True}, self_id=self_id)

    assert (result.monitored, result.rule) == (False, "self")


def test_a_container_with_a_short_id_matching_autoheal_is_itself():
    me = container("autoheal", {"autoheal": "true"}, id=SELF_ID[:12])

    assert select(me, config(), {}, self_id=SELF_ID).rule == "self"


def test_another_container_is_not_mistaken_for_autoheal():
    other = container("web", {"autoheal": "true"})

    assert select(other, config(), {}, self_id=SELF_ID).rule == "opt_in_label"


# --- rule 2: an operator's choice -------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "settings", "choice"),
    [
        ({}, config(), True),
        ({"autoheal": "false"}, config(), True),  # choice beats the opt-out label
        ({"skip": "1"}, config(blacklist_labels=("skip",)), True),
        ({}, config(whitelist_names=("api*",)), True),
        ({"autoheal": "true"}, config(), False),
        ({}, config(include_all=True), False),
        ({}, config(whitelist_names=("web",)), False),
    ],
)
def test_an_operator_choice_wins_over_every_label_and_filter(labels, settings, choice):
    result = select(container("web", labels), settings, {"web": choice})

    assert result.monitored is choice
    assert result.rule == "choice"
    assert ("enabled" if choice else "disabled") in result.reason


def test_an_operator_choice_is_keyed_by_container_name():
    result = select(container("web"), config(), {"db": True})

    assert (result.monitored, result.rule) == (False, "default")


# --- rule 3: the opt-out label ----------------------------------------------------


@pytest.mark.parametrize("value", ["false", "FALSE", "False", "0", "no", "NO", "off", "Off", " off "])
def test_the_opt_out_label_excludes_in_any_case(value):
    result = select(container(labels={"autoheal": value}), config(), {})

    assert (result.monitored, result.rule) == (False, "opt_out_label")


@pytest.mark.parametrize(
    "settings",
    [
        config(include_all=True),  # opt-out beats include_all
        config(whitelist_names=("web",)),
        config(whitelist_labels=("autoheal",)),
    ],
)
def test_the_opt_out_label_beats_include_all_and_the_whitelist(settings):
    result = select(container("web", {"autoheal": "false"}), settings, {})

    assert (result.monitored, result.rule) == (False, "opt_out_label")


def test_the_opt_out_label_uses_the_configured_label_key():
    settings = config(include_all=True, label_key="heal.me")

    opted_out = select(container(labels={"heal.me": "no"}), settings, {})
    other_key = select(container(labels={"autoheal": "no"}), settings, {})

    assert opted_out.rule == "opt_out_label"
    assert (other_key.monitored, other_key.rule) == (True, "include_all")


# --- rule 4: the blacklist --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "labels", "filters", "fragment"),
    [
        ("db-1", {}, {"blacklist_names": ("db-*",)}, "db-*"),
        ("web", {}, {"blacklist_names": ("web",)}, "'web'"),
        ("cache-7", {}, {"blacklist_names": ("db*", "cache-?")}, "cache-?"),
        ("web", {"skip": ""}, {"blacklist_labels": ("skip",)}, "skip"),
        ("web", {"tier": "batch"}, {"blacklist_labels": ("tier=batch",)}, "tier=batch"),
        ("web", {"a": "1", "tier": "batch"}, {"blacklist_labels": ("b", "tier=batch")}, "tier=batch"),
    ],
)
def test_the_blacklist_excludes_by_name_glob_or_label(name, labels, filters, fragment):
    result = select(container(name, labels), config(**filters), {})

    assert (result.monitored, result.rule) == (False, "blacklist")
    assert fragment in result.reason


@pytest.mark.parametrize(
    ("name", "labels", "filters"),
    [
        ("web", {}, {"blacklist_names": ("db-*",)}),
        ("Web", {}, {"blacklist_names": ("web",)}),  # globs are case-sensitive, like names
        ("web", {"tier": "web"}, {"blacklist_labels": ("tier=batch",)}),
        ("web", {"tier": "batch"}, {"blacklist_labels": ("tiers",)}),
        ("web", {}, {"blacklist_labels": ("tier",)}),
    ],
)
def test_the_blacklist_leaves_non_matching_containers_alone(name, labels, filters):
    result = select(container(name, {**labels, "autoheal": "true"}), config(**filters), {})

    assert (result.monitored, result.rule) == (True, "opt_in_label")


@pytest.mark.parametrize(
    "settings",
    [
        config(blacklist_names=("web",)),  # blacklist beats the opt-in label
        config(blacklist_names=("web",), include_all=True),
        config(blacklist_names=("web",), whitelist_names=("web",)),
    ],
)
def test_the_blacklist_beats_opt_in_include_all_and_whitelist(settings):
    result = select(container("web", {"autoheal": "true"}), settings, {})

    assert (result.monitored, result.rule) == (False, "blacklist")


# --- rule 5: the whitelist --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "labels", "filters"),
    [
        ("web-1", {}, {"whitelist_names": ("web-*",)}),
        ("web-1", {}, {"whitelist_names": ("db", "web-?")}),
        ("web", {"team": "ops"}, {"whitelist_labels": ("team",)}),
        ("web", {"team": "ops"}, {"whitelist_labels": ("team=ops",)}),
        ("web", {"team": "ops"}, {"whitelist_names": ("nope",), "whitelist_labels": ("team=ops",)}),
    ],
)
def test_a_whitelist_match_enrols_the_container(name, labels, filters):
    result = select(container(name, labels), config(**filters), {})

    assert (result.monitored, result.rule) == (True, "whitelist")
    assert "whitelisted" in result.reason


@pytest.mark.parametrize(
    ("name", "labels", "filters"),
    [
        ("api", {"autoheal": "true"}, {"whitelist_names": ("web-*",)}),
        ("web", {"team": "dev", "autoheal": "yes"}, {"whitelist_labels": ("team=ops",)}),
        ("web", {"autoheal": "1"}, {"whitelist_labels": ("team",)}),
    ],
)
def test_a_non_empty_whitelist_excludes_everything_it_does_not_match(name, labels, filters):
    for include_all in (False, True):
        result = select(container(name, labels), config(include_all=include_all, **filters), {})

        assert (result.monitored, result.rule) == (False, "whitelist")
        assert "not on the whitelist" in result.reason


# --- rule 6: opt-in label or include_all ------------------------------------------


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1", "yes", "YES", "on", "ON", " on "])
def test_the_opt_in_label_enrols_in_any_case(value):
    result = select(container(labels={"autoheal": value}), config(), {})

    assert (result.monitored, result.rule) == (True, "opt_in_label")


def test_the_opt_in_label_uses_the_configured_label_key():
    settings = config(label_key="heal.me")

    custom = select(container(labels={"heal.me": "true"}), settings, {})
    classic = select(container(labels={"autoheal": "true"}), settings, {})

    assert (custom.monitored, custom.rule) == (True, "opt_in_label")
    assert (classic.monitored, classic.rule) == (False, "default")


def test_include_all_enrols_an_unlabelled_container():
    result = select(container(), config(include_all=True), {})

    assert (result.monitored, result.rule) == (True, "include_all")


@pytest.mark.parametrize("value", ["maybe", "", "2", "y", "enabled"])
def test_an_unrecognised_label_value_is_neither_opt_in_nor_opt_out(value):
    default = select(container(labels={"autoheal": value}), config(), {})
    everything = select(container(labels={"autoheal": value}), config(include_all=True), {})

    assert (default.monitored, default.rule) == (False, "default")
    assert "not a recognised" in default.reason
    assert (everything.monitored, everything.rule) == (True, "include_all")


# --- default ----------------------------------------------------------------------


def test_an_unlabelled_container_is_not_managed_by_default():
    result = select(container(labels={"other": "true"}), config(), {})

    assert (result.monitored, result.rule) == (False, "default")
    assert "include_all is off" in result.reason


def test_removing_the_label_stops_management():
    settings = config()
    labelled = container("web", {"autoheal": "true"})
    unlabelled = container("web", {})

    assert select(labelled, settings, {}).monitored
    assert not select(unlabelled, settings, {}).monitored
