"""Regressions in custom checks feeding the healer: quarantine probation, results judged at the wrong
time, engine outages, Docker's health events against a failing check, choices, and client lifetime."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from autoheal.checks.definition import CheckDefinition
from autoheal.config import parse_settings
from autoheal.engine.checker import Checker
from autoheal.engine.service import Service

FAST_SECONDS = 0.02


def exec_check(command: list[str], **fields) -> CheckDefinition:
    # Definitions refuse intervals under 1 s: shortened after validation.
    definition = CheckDefinition(check_type="exec", exec_command=command, **fields)
    return definition.model_copy(update={"interval_seconds": FAST_SECONDS})


async def seen(h, checker: Checker) -> None:
    """What the service does at startup: a reconcile pass, then every container's loop synced."""
    await h.healer.reconcile()
    checker.sync_all()


def restarts(h) -> int:
    return sum(verb == "restart" for verb, _, _ in h.fake.actions)


# --- (1) quarantine by a failing check keeps the container unhealthy: probation still restarts it ------


async def test_a_container_quarantined_by_its_failing_check_gets_its_probation_restart(checked, make_container):
    h, checker = await checked(
        {"restart": {"max_restarts": 1, "max_restarts_window_seconds": 600}, "quarantine": {"release_after_seconds": 1}},
        api={"web": exec_check(["false"], retries=1)},
    )
    web = h.fake.add(make_container(labels={"autoheal": "true"}))
    h.fake.script_exec(web.id, 1, "down")
    await seen(h, checker)
    await h.wait_for(lambda: h.healer.state(web.id).quarantined, "quarantined")
    await h.idle()
    assert restarts(h) == 1
    assert web.id not in checker.states  # no loop while quarantined...
    assert web.id in h.healer.check_failing  # ...but it still counts as unhealthy

    h.clock.advance(3600)  # far beyond quarantine.release_after_seconds
    await h.healer.reconcile()
    checker.sync_all()

    await h.wait_for(lambda: restarts(h) == 2, "the probation restart")


# --- (2) a result arriving while autoheal restarts the container is not judged --------------------------


async def test_a_check_result_arriving_while_autoheal_restarts_the_container_is_not_judged(checked, make_container):
    h, checker = await checked(api={"web": exec_check(["probe"], retries=1, timeout_seconds=5)})
    web = h.fake.add(make_container(labels={"autoheal": "true"}, has_healthcheck=True, health="healthy"))
    h.fake.script_exec(web.id, 1, "shutting down", delay_seconds=0.3)  # what the app answers once SIGTERMed
    await seen(h, checker)
    await h.wait_for(lambda: h.fake.execs, "a check in flight")

    h.fake.hold = asyncio.Event()
    h.fake.set_health(web.id, "unhealthy")  # Docker's own HEALTHCHECK: autoheal restarts it
    await h.wait_for(lambda: h.fake.in_flight == 1, "autoheal's restart in flight")
    h.fake.script_exec(web.id, 0)  # after the restart the check passes (the one in flight keeps its answer)
    await asyncio.sleep(0.5)  # the in-flight check (0.3 s) answers during the restart

    assert h.records("health_check_failed") == []
    assert web.id not in h.healer.check_failing
    assert checker.states[web.id].consecutive_failures == 0

    h.fake.hold.set()
    h.fake.hold = None
    await h.idle()
    assert restarts(h) == 1
    assert h.records("health_check_failed") == []


# --- (4) an engine outage during an exec check is inconclusive, not a failure -------------------------


@pytest.mark.parametrize("outage", ["engine_down", "container_gone"])
async def test_an_exec_check_the_engine_cannot_run_is_inconclusive(checked, make_container, outage):
    h, checker = await checked(api={"web": exec_check(["true"], retries=1)})
    web = h.fake.add(make_container(labels={"autoheal": "true"}))
    await seen(h, checker)
    await h.wait_for(lambda: checker.states[web.id].last_ok is True, "passing")

    if outage == "engine_down":
        h.fake.go_down("Cannot connect to the Docker daemon", silent=True)
    else:
        del h.fake.containers[web.id]  # the exec's 404, with no event seen yet
    await h.wait_for(lambda: checker.states[web.id].last_ok is not True, "a run during the outage")
    await asyncio.sleep(FAST_SECONDS * 5)  # several more runs

    state = checker.states[web.id]
    assert state.last_ok is None
    assert state.last_detail.startswith("not run: ")
    assert (state.failing, state.consecutive_failures) == (False, 0)
    assert h.records("health_check_failed") == []
    assert web.id not in h.healer.check_failing
    assert h.healer.state(web.id).pending_at is None
    assert h.fake.actions == []


# --- (6) Docker's "healthy" does not overrule a failing custom check ----------------------------------


async def test_docker_turning_healthy_does_not_cancel_a_restart_the_failing_check_scheduled(checked, make_container):
    h, checker = await checked({"restart": {"cooldown_seconds": 1}}, api={"web": exec_check(["probe"], retries=1)})
    web = h.fake.add(make_container(labels={"autoheal": "true"}, has_healthcheck=True, health="starting"))
    await seen(h, checker)
    # Restarted 0.5 s ago: the cooldown holds the next restart back for another 0.5 s.
    h.healer.policy[web.id] = replace(h.healer.state(web.id), last_restart_at=h.clock() - 0.5)
    h.fake.script_exec(web.id, 1, "app broken")
    await h.wait_for(lambda: h.records("scheduled", web.id), "a restart scheduled by the check")
    assert restarts(h) == 0

    h.fake.set_health(web.id, "healthy")  # Docker's own HEALTHCHECK (say, the process is alive) passes
    await h.wait_for(h.delivered, "the event handled")

    assert h.records("cancelled", web.id) == []
    assert h.healer.state(web.id).pending_at is not None
    await h.wait_for(lambda: restarts(h) == 1, "the scheduled restart")
    assert h.records("cancelled", web.id) == []


async def test_a_recovered_check_does_not_cancel_a_restart_docker_health_still_wants(checked, make_container):
    h, checker = await checked({"restart": {"cooldown_seconds": 1}})
    web = h.fake.add(make_container(labels={"autoheal": "true"}, has_healthcheck=True, health="starting"))
    await seen(h, checker)
    h.healer.policy[web.id] = replace(h.healer.state(web.id), last_restart_at=h.clock() - 0.5)
    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(lambda: h.records("scheduled", web.id), "a restart scheduled for Docker's unhealthy")
    h.healer.check_failing.add(web.id)

    h.healer.check_recovered(h.healer.containers[web.id])  # its custom check passes again

    assert web.id not in h.healer.check_failing
    assert h.records("cancelled", web.id) == []
    assert h.healer.state(web.id).pending_at is not None
    await h.wait_for(lambda: restarts(h) == 1, "the scheduled restart")


# --- (7) an unmonitored container: no check failure, and its loop stops with the choice ------------------


async def test_a_check_failure_of_an_unmonitored_container_is_ignored(checked, make_container):
    h, checker = await checked()
    web = h.fake.add(make_container(labels={"autoheal": "true"}))
    await seen(h, checker)
    h.healer.choices["web"] = False

    h.healer.check_failed(h.healer.containers[web.id], "exec check failed 3 times: exit code 1")

    assert h.records("health_check_failed") == []
    assert web.id not in h.healer.check_failing
    assert h.healer.state(web.id).pending_at is None
    await h.idle()
    assert h.fake.actions == []


@pytest.fixture
async def service(tmp_path: Path):
    """A Service with its store open; no loops, no Docker engine (as tests/engine/test_service.py)."""
    made = Service(parse_settings({}), environ={"DOCKER_HOST": "unix:///nonexistent.sock"}, data_dir=tmp_path)
    await made.store.db.open()
    await made._restore()
    yield made
    await made.checker.close()
    await made.store.db.close()
    await made.adapter.close()


async def test_disabling_a_container_stops_its_check_loop_at_once_and_enabling_starts_it(service, make_container):
    web = make_container(labels={"autoheal": "true"})
    service.healer.containers[web.id] = web
    service.healthchecks["web"] = CheckDefinition(check_type="exec", exec_command=["true"])
    service.checker.sync_all()
    first = service.checker.states[web.id]

    await service.set_choices(["web"], False)

    assert web.id not in service.checker.states
    await asyncio.wait_for(asyncio.gather(first.task, return_exceptions=True), 5)
    assert first.task.cancelled()

    await service.set_choices(["web"], True)

    assert web.id in service.checker.states


# --- (5) the checker closes the HTTP clients it keeps ---------------------------------------------------


async def test_closing_the_checker_closes_its_http_clients(checked, monkeypatch):
    built: list[httpx.AsyncClient] = []

    class Counting(httpx.AsyncClient):
        def __init__(self, *args, **kwargs) -> None:
            built.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", Counting)
    _, checker = await checked()
    checker._http._client(verify=True)  # built at the first HTTP check run  # noqa: SLF001

    await checker.close()

    assert built
    assert all(client.is_closed for client in built)
