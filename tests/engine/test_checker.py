"""The check scheduler against the fake engine: exec checks feeding the healer, loops following containers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from autoheal.checks.definition import CheckDefinition
from autoheal.engine import checker as checker_module
from autoheal.engine.checker import Checker, next_due

# Checks run every 20 ms here: definitions refuse intervals under 1 s, so tests shorten them after validation.
FAST_SECONDS = 0.02


def fast(definition: CheckDefinition) -> CheckDefinition:
    return definition.model_copy(update={"interval_seconds": FAST_SECONDS})


def exec_labels(command: str = "test -f /tmp/ok", **values: str) -> dict[str, str]:
    extra = {f"autoheal.check.{key}": value for key, value in values.items()}
    return {"autoheal": "true", "autoheal.check.type": "exec", "autoheal.check.command": command, **extra}


def exec_check(command: list[str], **fields) -> CheckDefinition:
    return fast(CheckDefinition(check_type="exec", exec_command=command, **fields))


@pytest.fixture(autouse=True)
def fast_label_checks(monkeypatch):
    real = checker_module.from_labels

    def from_labels(labels):
        definition, problem = real(labels)
        return (None if definition is None else fast(definition)), problem

    monkeypatch.setattr(checker_module, "from_labels", from_labels)


class Spy:
    """Counts calls of a healer method while still calling it."""

    def __init__(self, method: Callable[..., None]) -> None:
        self.method = method
        self.calls: list[tuple] = []

    def __call__(self, *args) -> None:
        self.calls.append(args)
        self.method(*args)


async def seen(h, checker: Checker) -> None:
    """What the service does at startup: a reconcile pass, then every container's loop synced."""
    await h.healer.reconcile()
    checker.sync_all()


# --- failures and recoveries -------------------------------------------------------------------


async def test_an_exec_check_failing_retries_times_marks_the_container_unhealthy_and_restarts_it(
    checked, make_container
):
    h, checker = await checked()
    web = h.fake.add(make_container(labels=exec_labels(retries="2")))
    h.fake.script_exec(web.id, 1, "test: /tmp/ok: no such file\n")
    await seen(h, checker)

    await h.wait_for(lambda: h.fake.actions, "a restart")

    [failed] = h.records("health_check_failed")
    assert failed.reason == "exec check failed 2 times: exit code 1: test: /tmp/ok: no such file"
    assert failed.cause == "unhealthy"
    [scheduled] = h.records("scheduled", web.id)
    assert scheduled.cause == "unhealthy"
    assert h.fake.actions[0] == ("restart", web.id, 10)
    assert all(command == ["test", "-f", "/tmp/ok"] for _, command in h.fake.execs)


async def test_a_failing_check_is_reported_once_however_long_it_keeps_failing(checked, make_container):
    h, checker = await checked()
    h.healer.maintenance = True  # nothing restarts it: the check keeps failing on the same start
    web = h.fake.add(make_container(labels=exec_labels(retries="2")))
    h.fake.script_exec(web.id, 1)
    spy = h.healer.check_failed = Spy(h.healer.check_failed)
    await seen(h, checker)

    await h.wait_for(lambda: checker.states[web.id].consecutive_failures >= 6, "six failures in a row")

    assert len(spy.calls) == 1
    assert len(h.records("health_check_failed")) == 1
    assert web.id in h.healer.check_failing


async def test_a_passing_check_does_not_report_anything(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container(labels=exec_labels(retries="1")))
    await seen(h, checker)

    await h.wait_for(lambda: checker.runs >= 3, "three runs")

    state = checker.states[web.id]
    assert (state.last_ok, state.last_detail, state.consecutive_failures) == (True, "exit code 0", 0)
    assert h.records("health_check_failed") == []
    assert h.fake.actions == []


async def test_failures_in_the_start_period_do_not_count(checked, make_container):
    definition = exec_check(["false"], retries=1, start_period_seconds=600)
    h, checker = await checked(api={"web": definition})
    web = h.fake.add(make_container(labels={"autoheal": "true"}, started_at=time.time()))
    h.fake.script_exec(web.id, 1)
    await seen(h, checker)

    await h.wait_for(lambda: checker.runs >= 3, "three runs in the start period")
    state = checker.states[web.id]
    assert (state.last_ok, state.consecutive_failures) == (False, 0)
    assert h.records("health_check_failed") == []

    h.clock.advance(600)  # the start period is over: the next failure counts

    await h.wait_for(lambda: h.records("health_check_failed"), "the check failing")


async def test_a_passing_run_after_failing_tells_the_healer_it_recovered(checked, make_container):
    h, checker = await checked()
    h.healer.maintenance = True  # no restart: the same loop sees the failure and the recovery
    web = h.fake.add(make_container(labels=exec_labels(retries="1")))
    h.fake.script_exec(web.id, 1)
    recovered = h.healer.check_recovered = Spy(h.healer.check_recovered)
    await seen(h, checker)
    await h.wait_for(lambda: web.id in h.healer.check_failing, "failing")
    assert recovered.calls == []

    h.fake.script_exec(web.id, 0)

    await h.wait_for(lambda: recovered.calls, "recovered")
    state = checker.states[web.id]
    assert (state.failing, state.consecutive_failures, state.last_ok) == (False, 0, True)
    assert web.id not in h.healer.check_failing
    assert len(recovered.calls) == 1


# --- loops follow the containers ---------------------------------------------------------------


async def test_the_loop_stops_when_the_container_stops(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container(labels=exec_labels()))
    await seen(h, checker)
    task = checker.states[web.id].task

    h.fake.user_stop(web.id)
    await h.idle()

    assert web.id not in checker.states
    await h.wait_for(lambda: task.done(), "loop ended")
    assert task.cancelled()


async def test_the_loop_stops_when_the_container_is_removed(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container(labels=exec_labels()))
    await seen(h, checker)
    task = checker.states[web.id].task

    h.fake.remove(web.id)
    await h.idle()

    assert web.id not in checker.states
    await h.wait_for(lambda: task.done(), "loop ended")


async def test_the_loop_stops_when_the_container_is_quarantined(checked, make_container):
    h, checker = await checked({"restart": {"max_restarts": 1}})
    web = h.fake.add(make_container(labels=exec_labels(retries="1")))
    h.fake.script_exec(web.id, 1)
    await seen(h, checker)

    await h.wait_for(lambda: h.healer.state(web.id).quarantined, "quarantined")
    await h.idle()
    execs = len(h.fake.execs)
    for _ in range(3):
        await h.healer.reconcile()
        checker.sync_all()
        await asyncio.sleep(FAST_SECONDS * 3)  # several intervals in which a live loop would run

    assert h.container(web.id).running
    assert web.id not in checker.states
    assert len(h.fake.actions) == 1
    assert len(h.fake.execs) == execs


async def test_a_new_start_begins_a_fresh_loop(checked, make_container):
    h, checker = await checked()
    h.healer.maintenance = True
    web = h.fake.add(make_container(labels=exec_labels(retries="1")))
    h.fake.script_exec(web.id, 1)
    await seen(h, checker)
    await h.wait_for(lambda: checker.states[web.id].failing, "failing")
    first = checker.states[web.id]

    h.fake.user_stop(web.id)
    h.fake.script_exec(web.id, 0)
    h.fake.user_start(web.id)
    await h.idle()

    second = checker.states[web.id]
    assert second is not first
    assert second.generation == first.generation + 1 == h.healer.starts[web.id]
    assert (second.failing, second.consecutive_failures) == (False, 0)
    assert web.id not in h.healer.check_failing
    await h.wait_for(lambda: second.last_ok is True, "passing on the new start")


async def test_a_start_seen_without_its_stop_still_begins_a_fresh_loop(checked, make_container):
    h, checker = await checked()
    h.healer.maintenance = True
    web = h.fake.add(make_container(labels=exec_labels(retries="1")))
    h.fake.script_exec(web.id, 1)
    await seen(h, checker)
    await h.wait_for(lambda: checker.states[web.id].failing, "failing")
    first = checker.states[web.id]
    await h.stop_pump()
    h.fake.user_stop(web.id)  # missed: the healer still takes it for running
    h.fake.script_exec(web.id, 0)
    await h.start_pump()

    h.fake.user_start(web.id)
    await h.idle()

    second = checker.states[web.id]
    assert second is not first
    assert first.task.done()
    assert (second.generation, second.failing) == (first.generation + 1, False)
    await h.wait_for(lambda: second.last_ok is True, "passing on the new start")


async def test_a_restart_by_autoheal_begins_a_fresh_loop(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container(labels=exec_labels(retries="1")))
    h.fake.script_exec(web.id, 1)
    await seen(h, checker)
    first = checker.states[web.id]
    await h.wait_for(lambda: h.fake.actions, "a restart")
    h.fake.script_exec(web.id, 0)
    await h.idle()

    await h.wait_for(lambda: (s := checker.states.get(web.id)) is not None and s is not first, "a new loop")
    second = checker.states[web.id]
    assert first.task.done()
    await h.wait_for(lambda: second.last_ok is True, "passing after the restart")
    assert len(h.fake.actions) == 1


async def test_an_unchanged_container_keeps_its_loop(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container(labels=exec_labels()))
    await seen(h, checker)
    first = checker.states[web.id]

    await seen(h, checker)
    checker.sync(web.id)

    assert checker.states[web.id] is first
    assert not first.task.done()


async def test_a_container_without_check_labels_gets_no_loop(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container())
    docker = h.fake.add(make_container("db", labels={"autoheal": "true", "autoheal.check.type": "docker"}))
    await seen(h, checker)

    assert web.id not in checker.states
    assert docker.id not in checker.states


async def test_bad_check_labels_start_no_loop_and_are_reported(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container(labels={"autoheal": "true", "autoheal.check.type": "tcp"}))
    await seen(h, checker)

    assert web.id not in checker.states
    assert "tcp_port" in checker.label_problems[web.id]


async def test_the_label_problem_of_a_removed_container_is_forgotten(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container(labels={"autoheal": "true", "autoheal.check.type": "tcp"}))
    await seen(h, checker)
    assert web.id in checker.label_problems

    h.fake.remove(web.id)
    await h.idle()

    assert web.id not in checker.label_problems


async def test_an_unmonitored_container_gets_no_loop(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container(labels={**exec_labels(), "autoheal": "false"}))
    await seen(h, checker)

    assert web.id not in checker.states


# --- where the definition comes from -----------------------------------------------------------


async def test_a_check_defined_through_the_api_overrides_the_labels(checked, make_container):
    api: dict[str, CheckDefinition] = {}
    h, checker = await checked(api=api)
    web = h.fake.add(make_container(labels=exec_labels("test -f /from/labels")))
    await seen(h, checker)
    assert checker.states[web.id].source == "labels"

    api["web"] = exec_check(["test", "-f", "/from/api"])
    checker.sync(web.id)
    await h.wait_for(lambda: any(command[-1] == "/from/api" for _, command in h.fake.execs), "the API's command")

    state = checker.states[web.id]
    assert state.source == "api"
    assert state.definition.exec_command == ["test", "-f", "/from/api"]
    h.fake.execs.clear()
    await h.wait_for(lambda: len(h.fake.execs) >= 3, "three more runs")
    assert {command[-1] for _, command in h.fake.execs} == {"/from/api"}


async def test_removing_the_api_definition_falls_back_to_the_labels(checked, make_container):
    api = {"web": exec_check(["test", "-f", "/from/api"])}
    h, checker = await checked(api=api)
    web = h.fake.add(make_container(labels=exec_labels("test -f /from/labels")))
    await seen(h, checker)
    assert checker.states[web.id].source == "api"

    del api["web"]
    checker.sync(web.id)

    assert checker.states[web.id].source == "labels"
    assert checker.states[web.id].definition.exec_command == ["test", "-f", "/from/labels"]


# --- one slow check holds up nothing else ------------------------------------------------------


async def test_a_hanging_check_does_not_hold_up_another_containers_check(checked, make_container):
    api = {
        "slow": exec_check(["sleep", "forever"], timeout_seconds=60),
        "quick": exec_check(["true"]),
    }
    h, checker = await checked(api=api)
    slow = h.fake.add(make_container("slow", labels={"autoheal": "true"}))
    quick = h.fake.add(make_container("quick", labels={"autoheal": "true"}))
    h.fake.script_exec(slow.id, 0, delay_seconds=3600)
    await seen(h, checker)

    await h.wait_for(lambda: any(cid == slow.id for cid, _ in h.fake.execs), "the slow check in flight")
    await h.wait_for(lambda: sum(cid == quick.id for cid, _ in h.fake.execs) >= 5, "five quick checks")

    assert checker.states[slow.id].last_run_at is None  # its first run has not returned yet
    assert checker.states[quick.id].last_ok is True


async def test_a_check_past_its_timeout_is_a_failure(checked, make_container):
    h, checker = await checked(api={"web": exec_check(["sleep", "forever"], timeout_seconds=0.05, retries=1)})
    h.healer.maintenance = True
    web = h.fake.add(make_container(labels={"autoheal": "true"}))
    h.fake.script_exec(web.id, 0, delay_seconds=3600)
    await seen(h, checker)

    await h.wait_for(lambda: h.records("health_check_failed"), "the check failing")

    [failed] = h.records("health_check_failed")
    assert failed.reason == "exec check failed 1 times: timed out after 0.05s"
    assert checker.states[web.id].last_ok is False


# --- the schedule: runs stay on the interval's grid --------------------------------------------------


@pytest.mark.parametrize(
    ("due", "now", "expected"),
    [
        (100.0, 100.4, 101.0),  # a run that took 0.4 s: the next is still due one interval after the last
        (100.0, 100.0, 101.0),
        (100.0, 101.0, 101.0),  # exactly on time
        (100.0, 103.5, 103.5),  # fell behind (a run longer than the interval): now, not three in a burst
    ],
)
def test_the_next_run_is_due_one_interval_after_the_last_was_due(due, now, expected):
    assert next_due(due, 1.0, now) == expected
