"""The healer against the fake engine: what it restarts, what it leaves alone, and what it records."""

from __future__ import annotations

import asyncio
import logging

import pytest

# --- healing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "container_stop_timeout", "expected"),
    [
        ({"autoheal.stop.timeout": "30"}, 20, 30),
        ({}, 20, 20),
        ({}, None, 7),
    ],
    ids=["label-beats-container", "container-beats-default", "default"],
)
async def test_it_restarts_an_unhealthy_running_container_with_its_stop_timeout(
    harness, make_container, labels, container_stop_timeout, expected
):
    h = await harness({"restart": {"stop_timeout_seconds": 7}})
    web = h.fake.add(
        make_container(
            labels={"autoheal": "true", **labels},
            stop_timeout_seconds=container_stop_timeout,
            has_healthcheck=True,
            health="healthy",
        )
    )

    h.fake.set_health(web.id, "unhealthy")
    await h.idle()

    assert h.fake.actions == [("restart", web.id, expected)]
    assert h.container(web.id).running
    [record] = h.records("restart")
    assert record.cause == "unhealthy"
    assert f"stop timeout {expected}s" in record.reason


async def test_it_starts_a_crashed_container(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())

    h.fake.crash(web.id, exit_code=1)
    await h.idle()

    assert h.fake.actions == [("start", web.id, None)]
    assert h.container(web.id).running
    [record] = h.records("restart")
    assert (record.cause, record.exit_code, record.attempt) == ("crash", 1, 1)


async def test_it_starts_an_oom_killed_container(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())

    h.fake.oom(web.id)
    await h.idle()

    assert h.fake.actions == [("start", web.id, None)]
    assert h.records("restart")[0].cause == "oom"


async def test_it_leaves_a_clean_exit_alone(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())

    h.fake.crash(web.id, exit_code=0)
    await h.idle()

    assert h.fake.actions == []
    assert [r.kind for r in h.records()] == ["skipped"]


# --- manual stops and autoheal's own events ------------------------------------------------


@pytest.mark.parametrize("how", ["user_stop", "user_kill"])
async def test_a_user_stop_is_recorded_as_manual_stop_and_not_restarted(harness, make_container, how):
    h = await harness()
    web = h.fake.add(make_container())

    getattr(h.fake, how)(web.id)
    await h.idle()

    assert h.fake.actions == []
    assert [r.kind for r in h.records()] == ["manual_stop"]
    assert h.healer.state(web.id).manual_stop


@pytest.mark.parametrize("how", ["user_stop", "user_kill"])
async def test_a_user_stop_after_autoheal_restarted_the_container_is_still_manual(harness, make_container, how):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.set_health(web.id, "unhealthy")
    await h.idle()
    assert len(h.fake.actions) == 1

    getattr(h.fake, how)(web.id)
    await h.idle()

    assert len(h.fake.actions) == 1
    assert h.records()[-1].kind == "manual_stop"


async def test_a_user_stop_after_autoheal_started_a_crashed_container_is_still_manual(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())
    h.fake.crash(web.id)
    await h.idle()

    h.fake.user_stop(web.id)
    await h.idle()

    assert h.fake.actions == [("start", web.id, None)]
    assert h.records()[-1].kind == "manual_stop"


async def test_autoheals_own_restart_events_are_neither_failures_nor_manual_stops(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))

    h.fake.set_health(web.id, "unhealthy")
    await h.idle()

    # The restart emitted kill(15), die(143), stop, start, restart: none of them is a new observation.
    assert [e.action for e in h.fake.history[-5:]] == ["kill", "die", "stop", "start", "restart"]
    assert [r.kind for r in h.records()] == ["scheduled", "restart"]
    state = h.healer.state(web.id)
    assert (state.failures, len(state.restarts), state.manual_stop, state.pending_at) == (1, 1, False, None)
    assert web.id not in h.healer.acting


async def test_a_user_start_is_not_taken_for_autoheals_own(harness, make_container):
    h = await harness({"restart": {"max_restarts": 1}})
    web = h.fake.add(make_container())
    h.fake.crash(web.id)
    await h.idle()
    h.fake.crash(web.id)
    await h.idle()
    assert h.healer.state(web.id).quarantined

    h.fake.user_start(web.id)
    await h.idle()

    state = h.healer.state(web.id)
    assert (state.quarantined, state.failures, state.restarts) == (False, 0, ())


# --- who owns the container ---------------------------------------------------------------


async def test_a_docker_owned_exit_is_left_to_docker(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(restart_policy="always"))

    h.fake.crash(web.id, exit_code=1)
    await h.idle()
    await h.healer.reconcile()
    await h.idle()

    assert h.fake.actions == []
    [record] = h.records()
    assert record.kind == "skipped" and "restart policy" in record.reason


async def test_a_docker_owned_container_that_turns_unhealthy_is_restarted(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(restart_policy="unless-stopped", has_healthcheck=True, health="healthy"))

    h.fake.set_health(web.id, "unhealthy")
    await h.idle()

    assert h.fake.actions == [("restart", web.id, 10)]


async def test_a_paused_container_is_not_acted_on_until_unpaused(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))

    h.fake.pause(web.id)
    h.fake.set_health(web.id, "unhealthy")
    await h.idle()
    await h.healer.reconcile()
    await h.idle()
    assert h.fake.actions == []

    h.fake.unpause(web.id)
    await h.idle()
    await h.healer.reconcile()
    await h.idle()
    assert h.fake.actions == [("restart", web.id, 10)]


async def test_a_container_pausing_while_a_restart_is_pending_is_not_restarted(harness, make_container):
    h = await harness({"restart": {"backoff": {"initial_seconds": 0.3}}})
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.set_health(web.id, "unhealthy")
    await h.idle()
    h.fake.set_health(web.id, "healthy")
    h.fake.set_health(web.id, "unhealthy")  # second failure: restart 2 waits 0.3 s
    await h.wait_for(lambda: h.healer.state(web.id).pending_at is not None, "restart 2 pending")

    h.fake.pause(web.id)
    await h.idle()

    assert len(h.fake.actions) == 1
    assert h.records()[-1].kind == "cancelled"


# --- crash loops and quarantine -----------------------------------------------------------


async def crash_loop(h, container_id: str, restarts: int) -> None:
    for k in range(1, restarts + 1):
        h.fake.crash(container_id, exit_code=1)
        await h.wait_for(lambda k=k: len(h.fake.actions) == k, f"restart {k}")
        await h.idle()


async def test_a_crash_loop_is_quarantined_after_exactly_max_restarts(harness, make_container):
    h = await harness({"restart": {"max_restarts": 3}})
    web = h.fake.add(make_container())

    await crash_loop(h, web.id, 3)
    h.fake.crash(web.id, exit_code=1)
    await h.idle()

    assert h.fake.actions == [("start", web.id, None)] * 3
    assert [r.attempt for r in h.records("scheduled")] == [1, 2, 3]
    [quarantine] = h.records("quarantine")
    assert quarantine.window_count == 3
    assert h.healer.state(web.id).quarantined

    # Later passes see the same stopped container: still no action and no second record.
    for _ in range(2):
        await h.healer.reconcile()
        await h.idle()
    assert len(h.fake.actions) == 3
    assert len(h.records("quarantine")) == 1


async def test_unquarantine_releases_the_container(harness, make_container):
    h = await harness({"restart": {"max_restarts": 2}})
    web = h.fake.add(make_container())
    await crash_loop(h, web.id, 2)
    h.fake.crash(web.id)
    await h.idle()
    assert h.healer.state(web.id).quarantined

    assert h.healer.unquarantine(web.id) is True
    assert h.records()[-1].kind == "unquarantine"
    await h.healer.reconcile()  # the next pass finds it still down and starts it
    await h.idle()

    assert len(h.fake.actions) == 3
    assert h.container(web.id).running
    assert h.healer.unquarantine(web.id) is False


# --- failed actions and vanished containers -----------------------------------------------


async def test_a_failed_start_is_recorded_with_the_engines_text(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())
    text = "driver failed programming external connectivity: Bind for 0.0.0.0:80 failed: port is already allocated"
    h.fake.fail("start", text)

    h.fake.crash(web.id)
    await h.idle()

    [failed] = h.records("restart_failed")
    assert failed.reason == f"start failed: {text}"
    assert (failed.cause, failed.attempt) == ("crash", 1)
    assert h.records("restart") == []
    assert h.metrics.done == [("crash", "failed")]


async def test_a_failed_restart_is_recorded_with_the_engines_text(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.fail("restart", "Cannot restart container web: tried to kill container, but did not receive an exit event")

    h.fake.set_health(web.id, "unhealthy")
    await h.idle()

    [failed] = h.records("restart_failed")
    assert failed.reason.endswith("tried to kill container, but did not receive an exit event")
    assert failed.cause == "unhealthy"


async def test_a_failed_start_is_retried_by_a_later_reconcile(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())
    h.fake.fail("start", "OCI runtime create failed: unable to start container process")
    h.fake.crash(web.id)
    await h.idle()
    assert len(h.records("restart_failed")) == 1

    h.clock.advance(60)  # well past the slack for autoheal's own events
    await h.healer.reconcile()
    await h.idle()

    assert len(h.fake.actions) == 2
    assert h.container(web.id).running


async def test_a_restart_that_stopped_but_could_not_start_the_container_is_retried(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.fail("restart", "driver failed programming external connectivity: port is already allocated", after_stop=True)
    h.fake.set_health(web.id, "unhealthy")
    await h.idle()
    assert h.container(web.id).status == "exited"

    h.clock.advance(60)
    await h.healer.reconcile()
    await h.idle()

    assert h.records("manual_stop") == []
    assert h.fake.actions[-1] == ("start", web.id, None)
    assert h.container(web.id).running


async def test_a_container_removed_while_a_restart_is_pending_is_forgotten(harness, make_container, caplog):
    h = await harness({"restart": {"backoff": {"initial_seconds": 0.3}}})
    web = h.fake.add(make_container())
    await crash_loop(h, web.id, 1)
    h.fake.crash(web.id)
    await h.wait_for(lambda: web.id in h.healer.timers, "restart 2 pending")

    with caplog.at_level(logging.ERROR):
        h.fake.remove(web.id)
        await h.idle()

    assert len(h.fake.actions) == 1
    assert web.id not in h.healer.containers and web.id not in h.healer.policy
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_container_removed_unseen_while_a_restart_is_pending_is_forgotten(harness, make_container, caplog):
    h = await harness({"restart": {"backoff": {"initial_seconds": 0.3}}})
    web = h.fake.add(make_container())
    await crash_loop(h, web.id, 1)
    h.fake.crash(web.id)
    await h.wait_for(lambda: web.id in h.healer.timers, "restart 2 pending")
    await h.stop_pump()  # the destroy event never arrives: the timer finds the container gone

    with caplog.at_level(logging.ERROR):
        h.fake.remove(web.id)
        await h.idle()

    assert len(h.fake.actions) == 1
    assert web.id not in h.healer.containers
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_container_removed_during_its_restart_is_a_failed_restart(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.hold = asyncio.Event()
    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(lambda: h.fake.in_flight == 1, "restart under way")

    h.fake.remove(web.id)
    h.fake.hold.set()
    await h.idle()

    [failed] = h.records("restart_failed")
    assert "removed" in failed.reason
    assert h.metrics.done == [("unhealthy", "gone")]
    assert web.id not in h.healer.containers


# --- what only a reconcile pass sees --------------------------------------------------------


@pytest.mark.parametrize(
    ("exit_code", "oom_killed", "started"),
    [(1, False, True), (137, True, True), (137, False, False), (143, False, False), (0, False, False)],
    ids=["exit-1", "oom-137", "kill-137", "stop-143", "clean-0"],
)
async def test_reconcile_classifies_an_exit_it_did_not_see(harness, make_container, exit_code, oom_killed, started):
    h = await harness()
    web = h.fake.add(make_container(status="exited", exit_code=exit_code, oom_killed=oom_killed))

    await h.healer.reconcile()
    await h.idle()

    assert h.fake.actions == ([("start", web.id, None)] if started else [])
    first = h.records()[0]
    assert first.reason.startswith("unobserved exit: ")
    if exit_code in (137, 143) and not oom_killed:
        assert first.kind == "manual_stop"


async def test_reconcile_starts_a_known_container_whose_crash_the_stream_missed(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())
    await h.healer.reconcile()
    await h.stop_pump()

    h.fake.crash(web.id, exit_code=2)
    await h.healer.reconcile()
    await h.idle()

    assert h.fake.actions == [("start", web.id, None)]


async def test_reconcile_starts_a_known_container_whose_oom_kill_the_stream_missed(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())
    await h.healer.reconcile()
    await h.stop_pump()

    h.fake.oom(web.id)
    await h.healer.reconcile()
    await h.idle()

    assert h.fake.actions == [("start", web.id, None)]


async def test_reconcile_restarts_a_container_found_unhealthy(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="unhealthy"))

    await h.healer.reconcile()
    await h.idle()

    assert h.fake.actions == [("restart", web.id, 10)]


async def test_a_user_stop_is_still_manual_after_a_resync(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())
    h.fake.user_stop(web.id, exit_code=1)  # an app that exits 1 on SIGTERM
    await h.idle()
    assert h.records()[-1].kind == "manual_stop"

    await h.healer.reconcile(resync=True)
    await h.idle()

    assert h.fake.actions == []


async def test_a_pending_crash_restart_is_dropped_when_the_container_runs_again(harness, make_container):
    h = await harness({"restart": {"backoff": {"initial_seconds": 0.3}}})
    web = h.fake.add(make_container())
    await crash_loop(h, web.id, 1)
    h.fake.crash(web.id)
    await h.wait_for(lambda: web.id in h.healer.timers, "restart 2 pending")
    await h.stop_pump()  # the start event is missed (or still on its way)

    h.fake.user_start(web.id)
    await h.idle()

    assert h.fake.actions == [("start", web.id, None)]
    assert h.records()[-1].kind == "cancelled"


async def test_a_container_healthy_again_after_its_restart_is_not_restarted_by_verification(harness, make_container):
    h = await harness({"restart": {"verify_seconds": 0.2}})
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.set_health(web.id, "unhealthy")
    await h.idle()
    h.fake.set_health(web.id, "healthy")
    await h.idle()

    await h.healer.reconcile()  # a routine pass while verification is waiting
    await h.wait_for(lambda: not h.healer.tasks, "verification done")
    await h.idle()

    assert len(h.fake.actions) == 1
    assert h.records("restart_failed") == []
    assert h.healer.state(web.id).failures == 1


async def test_a_container_not_healthy_within_verify_seconds_is_a_failed_restart(harness, make_container):
    h = await harness({"restart": {"verify_seconds": 0.2}})
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.set_health(web.id, "unhealthy")
    await h.idle()

    await h.wait_for(lambda: h.records("restart_failed"), "verification failed")
    [failed] = h.records("restart_failed")
    assert failed.reason == "not healthy within verify_seconds (starting)"
    assert h.healer.state(web.id).failures == 2


async def test_a_container_not_healthy_within_verify_seconds_is_restarted_again(harness, make_container):
    h = await harness({"restart": {"verify_seconds": 0.2}})
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.set_health(web.id, "unhealthy")
    await h.idle()

    await h.wait_for(lambda: h.records("restart_failed"), "verification failed")
    await h.idle()

    assert h.records("cancelled") == []
    assert len(h.fake.actions) == 2


# --- selection ----------------------------------------------------------------------------


async def test_an_operator_disable_stops_healing_and_enable_resumes_it(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.healer.choices["web"] = False

    h.fake.set_health(web.id, "unhealthy")
    await h.idle()
    await h.healer.reconcile()
    await h.idle()
    assert h.fake.actions == []

    h.healer.choices["web"] = True
    await h.healer.reconcile()
    await h.idle()
    assert h.fake.actions == [("restart", web.id, 10)]


async def test_a_pending_restart_is_cancelled_when_healing_is_disabled(harness, make_container):
    h = await harness({"restart": {"backoff": {"initial_seconds": 0.3}}})
    web = h.fake.add(make_container())
    await crash_loop(h, web.id, 1)
    h.fake.crash(web.id)
    await h.wait_for(lambda: web.id in h.healer.timers, "restart 2 pending")

    h.healer.choices["web"] = False
    await h.idle()

    assert len(h.fake.actions) == 1
    assert h.records()[-1].kind == "cancelled"
    assert "no longer monitored" in h.records()[-1].reason


async def test_a_container_without_the_opt_in_label_is_left_alone(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(labels={}))

    h.fake.crash(web.id)
    await h.idle()
    await h.healer.reconcile()
    await h.idle()

    assert h.fake.actions == []
    assert h.records() == []


async def test_include_all_manages_unlabelled_containers_but_not_opted_out_ones(harness, make_container):
    h = await harness({"monitor": {"include_all": True}})
    plain = h.fake.add(make_container("plain", labels={}))
    out = h.fake.add(make_container("out", labels={"autoheal": "FALSE"}))

    h.fake.crash(plain.id)
    h.fake.crash(out.id)
    await h.idle()

    assert h.fake.actions == [("start", plain.id, None)]
