"""Healing on a real engine: unhealthy and crashed containers, manual stops, quarantine."""

from __future__ import annotations

import pytest

from tests.integration.support import (
    CRASH_ONCE,
    HEALTH_CMD,
    HEALTHY_WHILE_OK,
    docker,
    inspect,
    wait_for,
)

pytestmark = pytest.mark.integration


def started_at(name: str) -> str:
    return inspect(name)["State"]["StartedAt"]


async def test_it_restarts_an_unhealthy_container(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run(HEALTHY_WHILE_OK, health=HEALTH_CMD)
    await wait_for(
        lambda: inspect(name)["State"]["Health"]["Status"] == "healthy",
        "container healthy",
    )
    before = started_at(name)

    docker("exec", name, "rm", "/tmp/ok")

    [record] = await ah.wait_record(name, "restart")
    assert record.cause == "unhealthy"
    assert record.attempt == 1
    assert started_at(name) != before
    await wait_for(
        lambda: inspect(name)["State"]["Health"]["Status"] == "healthy",
        "healthy again after restart",
    )
    await ah.settle()
    assert ah.records(name, "restart_failed") == []
    assert (
        ah.records(name, "manual_stop") == []
    )  # autoheal's own kill is not a manual stop
    assert not ah.healer.state(containers.id(name)).manual_stop


async def test_it_starts_a_crashed_container(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run(CRASH_ONCE)

    [record] = await ah.wait_record(name, "restart")
    assert record.cause == "crash"
    assert record.exit_code == 3
    await wait_for(lambda: inspect(name)["State"]["Running"], "container running again")
    assert inspect(name)["RestartCount"] == 0  # autoheal started it, not Docker


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_it_respects_a_manual_stop_even_after_healing_the_container(
    containers, start_autoheal, how
):
    ah = await start_autoheal()
    name = containers.run(CRASH_ONCE)
    await ah.wait_record(name, "restart")
    await wait_for(
        lambda: inspect(name)["State"]["Running"], "running after autoheal started it"
    )

    docker(how, *(["-t", "1"] if how == "stop" else []), name)

    [record] = await ah.wait_record(name, "manual_stop")
    assert record.exit_code in (137, 143)
    await ah.settle()
    assert not inspect(name)["State"]["Running"]
    assert len(ah.records(name, "restart")) == 1
    assert ah.records(name, "scheduled")[-1].time < record.time


async def test_it_does_not_fight_dockers_own_restart_policy(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run("sleep 1; exit 2", options=("--restart", "always"))

    records = await ah.wait_record(name, "skipped", count=2)
    assert "own Docker restart policy" in records[0].reason
    await ah.settle()
    assert ah.records(name, "restart") == []
    assert ah.records(name, "scheduled") == []
    assert inspect(name)["RestartCount"] >= 1  # Docker kept restarting it


async def test_it_still_heals_an_unhealthy_container_with_a_restart_policy(
    containers, start_autoheal
):
    ah = await start_autoheal()
    name = containers.run(
        HEALTHY_WHILE_OK, health=HEALTH_CMD, options=("--restart", "unless-stopped")
    )
    await wait_for(
        lambda: inspect(name)["State"]["Health"]["Status"] == "healthy",
        "container healthy",
    )

    docker("exec", name, "rm", "/tmp/ok")

    [record] = await ah.wait_record(name, "restart")
    assert record.cause == "unhealthy"


async def test_it_leaves_a_paused_container_alone(containers, start_autoheal):
    ah = await start_autoheal({"restart": {"unhealthy_for_seconds": 3}})
    name = containers.run(HEALTHY_WHILE_OK, health=HEALTH_CMD)
    await wait_for(
        lambda: inspect(name)["State"]["Health"]["Status"] == "healthy",
        "container healthy",
    )
    docker("exec", name, "rm", "/tmp/ok")
    await ah.wait_record(
        name, "skipped"
    )  # unhealthy, but not yet for unhealthy_for_seconds

    docker("pause", name)
    await wait_for(
        lambda: ah.healer.state(containers.id(name)).paused, "autoheal saw the pause"
    )
    await wait_for(
        lambda: containers.id(name) not in ah.healer.timers,
        "the recheck ran",
        timeout=10,
    )
    await ah.settle()

    assert inspect(name)["State"]["Paused"]
    assert ah.records(name, "restart") == []
    docker("unpause", name)


async def test_it_quarantines_a_crash_loop_after_exactly_max_restarts(
    containers, start_autoheal
):
    ah = await start_autoheal(
        {"restart": {"max_restarts": 3, "max_restarts_window_seconds": 600}}
    )
    name = containers.run("sleep 0.3; exit 1")

    [quarantine] = await ah.wait_record(name, "quarantine")
    restarts = ah.records(name, "restart")
    assert len(restarts) == 3
    assert [r.attempt for r in restarts] == [1, 2, 3]
    assert quarantine.window_count == 3
    await ah.settle()
    await ah.settle()
    assert not inspect(name)["State"]["Running"]
    assert len(ah.records(name, "restart")) == 3
    assert len(ah.records(name, "quarantine")) == 1
    assert ah.healer.state(containers.id(name)).quarantined


async def test_an_operator_unquarantine_lets_healing_resume(containers, start_autoheal):
    ah = await start_autoheal({"restart": {"max_restarts": 1}})
    name = containers.run("sleep 0.3; exit 1")
    await ah.wait_record(name, "quarantine")
    cid = containers.id(name)

    assert ah.healer.unquarantine(cid)
    await ah.settle()

    await ah.wait_record(name, "restart", count=2)


async def test_a_user_start_releases_the_quarantine(containers, start_autoheal):
    ah = await start_autoheal({"restart": {"max_restarts": 1}})
    name = containers.run("sleep 0.5; exit 1")
    await ah.wait_record(name, "quarantine")

    docker("start", name)

    await wait_for(
        lambda: not ah.healer.state(containers.id(name)).quarantined,
        "quarantine released",
    )
    await ah.wait_record(name, "restart", count=2)


async def test_a_failed_restart_records_the_engines_error(containers, start_autoheal):
    ah = await start_autoheal({"restart": {"max_restarts": 2}})
    # sh exists at the first start but not at the next one: the engine refuses to start it.
    name = containers.run("rm /bin/sh; exit 1")

    [failed] = await ah.wait_record(name, "restart_failed")
    assert "start failed" in failed.reason
    assert "executable file not found" in failed.reason  # the engine's own words


async def test_it_heals_an_exit_that_happened_while_it_was_not_running(
    containers, start_autoheal
):
    crashed = containers.run("if [ -f /tmp/ran ]; then exec sleep 100000; fi; touch /tmp/ran; exit 5")
    stopped = containers.run("exec sleep 100000")
    docker("stop", "-t", "1", stopped)
    await wait_for(
        lambda: not inspect(crashed)["State"]["Running"], "first container exited"
    )

    ah = await start_autoheal()

    [record] = await ah.wait_record(crashed, "restart")
    assert record.cause == "crash"
    [manual] = await ah.wait_record(stopped, "manual_stop")
    assert "unobserved exit" in manual.reason
    assert ah.records(stopped, "restart") == []


async def test_an_oom_killed_container_is_healed_as_oom(containers, start_autoheal):
    ah = await start_autoheal()
    # Blows its 8 MiB limit on the first run only.
    script = "if [ -f /tmp/ran ]; then exec sleep 100000; fi; touch /tmp/ran; x=aaaaaaaa; while true; do x=$x$x; done"
    name = containers.run(script, options=("--memory", "8m", "--memory-swap", "8m"))

    [record] = await ah.wait_record(name, "restart")
    assert record.cause == "oom"
    assert record.exit_code == 137  # a SIGKILL exit, yet not taken for a manual kill
    await wait_for(lambda: inspect(name)["State"]["Running"], "running again")


async def test_a_storm_never_runs_more_than_max_parallel_restarts(
    containers, start_autoheal
):
    ah = await start_autoheal(
        {"restart": {"max_parallel": 2, "stop_timeout_seconds": 1}}
    )
    # sleep as PID 1 ignores SIGTERM, so each restart takes the whole stop timeout.
    names = [containers.run(HEALTHY_WHILE_OK, health=HEALTH_CMD) for _ in range(6)]
    for name in names:
        await wait_for(
            lambda name=name: inspect(name)["State"]["Health"]["Status"] == "healthy",
            "healthy",
        )

    for name in names:
        docker("exec", name, "rm", "/tmp/ok")

    for name in names:
        await ah.wait_record(name, "restart")
    assert ah.healer.gate.peak_in_flight == 2
    held = ah.service.metrics.held.labels("max_parallel")._value.get()
    assert held >= 1
