"""Selection on a real engine: opt-in and opt-out labels, include_all, blacklists, whitelists."""

from __future__ import annotations

import pytest

from tests.integration.support import CRASH_ONCE, docker, inspect, wait_for

pytestmark = pytest.mark.integration


async def assert_left_alone(ah, name: str) -> None:
    """The exit was seen by autoheal, a full pass ran, and nothing was done about it."""
    await wait_for(
        lambda: (c := ah.container(name)) is not None and c.status == "exited",
        f"autoheal saw {name} exit",
    )
    await ah.settle()
    assert not inspect(name)["State"]["Running"]
    assert ah.records(name, "restart") == []
    assert ah.records(name, "scheduled") == []


def all_but(names: set[str]) -> dict[str, bool]:
    """include_all would see every container on the engine: disable all but this test's own."""
    others = set(docker("ps", "-a", "--format", "{{.Names}}").split()) - names
    return {name: False for name in others}


async def test_include_all_heals_unlabelled_containers_but_honours_opt_out(
    containers, start_autoheal
):
    plain = containers.run(CRASH_ONCE, monitored=False)
    opted_out = containers.run(
        CRASH_ONCE, monitored=False, labels={"autoheal": "FALSE"}
    )
    ah = await start_autoheal(
        {"monitor": {"include_all": True, "label_key": "autoheal"}},
        choices=all_but({plain, opted_out}),
    )

    await ah.wait_record(plain, "restart")
    await assert_left_alone(ah, opted_out)
    selection = ah.healer.selection(ah.container(opted_out))
    assert (selection.monitored, selection.rule) == (False, "opt_out_label")


async def test_opt_in_label_value_is_not_case_sensitive(
    containers, start_autoheal, label_key
):
    ah = await start_autoheal()
    upper = containers.run(CRASH_ONCE, monitored=False, labels={label_key: "TRUE"})
    unlabelled = containers.run(CRASH_ONCE, monitored=False)

    await ah.wait_record(upper, "restart")
    await assert_left_alone(ah, unlabelled)
    assert ah.healer.selection(ah.container(unlabelled)).rule == "default"


async def test_blacklisted_names_and_labels_are_not_healed(containers, start_autoheal):
    ah = await start_autoheal(
        {"filters": {"blacklist_names": ["*-skipme"], "blacklist_labels": ["tier=db"]}}
    )
    by_name = containers.run(CRASH_ONCE, name=f"ahtest-{id(ah) % 100000}-skipme")
    by_label = containers.run(CRASH_ONCE, labels={"tier": "db"})
    healed = containers.run(CRASH_ONCE, labels={"tier": "web"})

    await ah.wait_record(healed, "restart")
    await assert_left_alone(ah, by_name)
    await assert_left_alone(ah, by_label)
    assert ah.healer.selection(ah.container(by_label)).rule == "blacklist"


async def test_a_whitelist_manages_only_matching_containers(containers, start_autoheal):
    ah = await start_autoheal({"filters": {"whitelist_labels": ["team=core"]}})
    listed = containers.run(CRASH_ONCE, monitored=False, labels={"team": "core"})
    labelled_but_unlisted = containers.run(CRASH_ONCE, labels={"team": "other"})

    await ah.wait_record(listed, "restart")
    await assert_left_alone(ah, labelled_but_unlisted)
    assert (
        ah.healer.selection(ah.container(labelled_but_unlisted)).reason
        == "not on the whitelist"
    )


async def test_an_operator_choice_disables_healing_at_runtime(
    containers, start_autoheal
):
    ah = await start_autoheal()
    name = containers.run("sleep 3; exit 3")
    await wait_for(lambda: ah.container(name) is not None, "autoheal saw the container")
    ah.healer.choices[name] = False

    await assert_left_alone(ah, name)
    assert ah.healer.selection(ah.container(name)).rule == "choice"
