"""Regression tests for the review findings on the healer (one per reproduction script).

Each test drives the fake engine into the situation the reviewer found and asserts what autoheal
must do there. Waits are bounded polls (conftest.wait_for); time that matters to the healer is
moved with the harness clock, never measured.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from autoheal.config import parse_settings
from autoheal.docker.errors import ActionFailed
from autoheal.engine.acting import OWN_EVENT_SLACK_SECONDS
from autoheal.engine.service import Service

ENVIRON = {"DOCKER_HOST": "unix:///nonexistent.sock"}


def verbs(h) -> list[str]:
    return [action[0] for action in h.fake.actions]


def record_detection_times(h) -> list[float]:
    """The detect_seconds of every restart_done call (the harness metrics keep only cause and outcome)."""
    seen: list[float] = []
    recorded = h.metrics.restart_done

    def restart_done(cause: str, outcome: str, detect_seconds: float, duration_seconds: float) -> None:
        seen.append(detect_seconds)
        recorded(cause, outcome, detect_seconds, duration_seconds)

    h.metrics.restart_done = restart_done
    return seen


# --- (1) r_stuck: a restart falling due while the engine is down ----------------------------


async def test_a_restart_due_while_the_engine_is_down_is_not_left_pending_and_is_made_once_it_is_back(
    harness, make_container
):
    h = await harness({"restart": {"backoff": {"initial_seconds": 0.3}}})
    web = h.fake.add(make_container())
    await h.healer.reconcile()
    h.fake.crash(web.id)
    await h.wait_for(lambda: len(h.fake.actions) == 1, "restart 1")
    await h.idle()
    h.fake.crash(web.id)  # restart 2 is due in 0.3 s
    await h.wait_for(lambda: h.healer.state(web.id).pending_at is not None, "restart 2 pending")
    await h.stop_pump()

    h.fake.go_down()  # the engine restarts just as the restart falls due
    await h.wait_for(lambda: not h.healer.timers and not h.healer.actions, "the due restart tried")

    # Never "scheduled" with nothing behind it.
    assert h.healer.state(web.id).pending_at is None or web.id in h.healer.timers

    h.fake.come_back()
    await h.start_pump()
    await h.healer.reconcile(resync=True)  # what the watcher does after reconnecting
    await h.wait_for(lambda: h.container(web.id).running, "started once the engine is back")
    assert verbs(h) == ["start", "start"]


# --- (2) r_race: a reconcile listing older than an event ------------------------------------


async def test_a_listing_taken_before_autoheals_start_does_not_turn_the_running_container_into_a_clean_exit(
    harness, make_container
):
    h = await harness()
    web = h.fake.add(make_container())
    await h.healer.reconcile()

    listed, answer = asyncio.Event(), asyncio.Event()
    real_list = h.fake.list_containers

    async def slow_list():  # the engine answers the listing some time after taking it
        snapshot = await real_list()
        listed.set()
        await answer.wait()
        return snapshot

    h.fake.list_containers = slow_list
    h.fake.hold = asyncio.Event()
    h.fake.crash(web.id)  # autoheal's start is under way, held
    await h.wait_for(lambda: h.fake.in_flight == 1, "start under way")
    reconcile = asyncio.create_task(h.healer.reconcile())
    await asyncio.wait_for(listed.wait(), 5)  # the listing shows 'exited'

    h.fake.hold.set()  # autoheal's start completes while the listing is on its way
    h.fake.hold = None
    await h.wait_for(lambda: h.healer.containers[web.id].running, "start event handled")
    answer.set()
    await reconcile
    await h.idle()

    assert h.container(web.id).running
    assert h.healer.exits.get(web.id) is None  # nothing classified: it is running

    h.fake.crash(web.id, exit_code=1)  # a real crash later is healed
    await h.idle()

    assert verbs(h) == ["start", "start"]
    assert h.container(web.id).running


# --- (3) r_paused, r_manual: stale stored flags --------------------------------------------


async def test_a_missed_unpause_is_corrected_by_reconcile_and_failures_are_healed_again(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    await h.healer.reconcile()
    h.fake.pause(web.id)
    await h.wait_for(lambda: h.healer.state(web.id).paused, "paused noted")
    await h.stop_pump()  # the stream drops (or autoheal restarts with paused=True stored)
    h.fake.unpause(web.id)  # the unpause is missed
    await h.start_pump()

    await h.healer.reconcile(resync=True)

    assert not h.healer.state(web.id).paused
    h.fake.set_health(web.id, "unhealthy")
    await h.idle()
    assert verbs(h) == ["restart"]
    assert not [r for r in h.records("skipped") if r.reason == "paused"]


async def test_a_crash_after_a_missed_manual_start_is_healed_not_taken_for_the_old_manual_stop(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())
    await h.healer.reconcile()
    h.fake.user_stop(web.id)  # docker stop: remembered as manual
    await h.wait_for(lambda: h.healer.state(web.id).manual_stop, "manual stop noted")
    await h.stop_pump()  # autoheal goes away (its state is stored) or the stream drops
    h.fake.user_start(web.id)
    h.fake.crash(web.id, exit_code=2)  # the user's new run crashes while nobody watched
    await h.start_pump()

    await h.healer.reconcile(resync=True)
    await h.idle()

    assert verbs(h) == ["start"]
    assert h.container(web.id).running
    assert not h.healer.state(web.id).manual_stop


async def test_a_crash_seen_live_after_a_missed_manual_start_is_healed(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())
    await h.healer.reconcile()
    h.fake.user_stop(web.id)
    await h.wait_for(lambda: h.healer.state(web.id).manual_stop, "manual stop noted")
    await h.stop_pump()  # the stream drops; the watcher replays only from its resync on
    h.fake.user_start(web.id)  # the start is missed
    await h.start_pump()
    await h.healer.reconcile(resync=True)
    assert not h.healer.state(web.id).manual_stop

    h.fake.crash(web.id, exit_code=2)  # seen live this time
    await h.idle()

    assert verbs(h) == ["start"]
    assert h.container(web.id).running


# --- (4) r_oprestart: a failed operator restart --------------------------------------------


async def test_a_failed_operator_restart_leaves_the_pending_automatic_restart_in_place(harness, make_container):
    h = await harness({"restart": {"backoff": {"initial_seconds": 0.3}}})
    web = h.fake.add(make_container())
    await h.healer.reconcile()
    h.fake.crash(web.id)
    await h.wait_for(lambda: len(h.fake.actions) == 1, "restart 1")
    await h.idle()
    h.fake.crash(web.id)  # restart 2 scheduled in 0.3 s
    await h.wait_for(lambda: h.healer.state(web.id).pending_at is not None, "restart 2 pending")
    h.fake.fail("start", "driver failed programming external connectivity: port is already allocated")

    with pytest.raises(ActionFailed):
        await h.healer.operator_restart(web.id)  # the API answers 409

    assert web.id in h.healer.timers
    assert h.healer.state(web.id).pending_at is not None
    await h.wait_for(lambda: h.container(web.id).running, "the automatic restart made")
    assert verbs(h) == ["start", "start", "start"]


# --- (5) r_health_mode: a restart that stopped the container and could not start it ---------


async def test_in_mode_health_a_restart_that_left_the_container_stopped_is_retried(harness, make_container):
    h = await harness({"restart": {"mode": "health"}})
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    await h.healer.reconcile()
    h.fake.fail("restart", "error while mounting volume: no such file or directory", after_stop=True)
    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(lambda: h.fake.actions, "restart tried")
    await h.idle()
    assert h.container(web.id).status == "exited"  # stopped by autoheal, not started again

    h.clock.advance(OWN_EVENT_SLACK_SECONDS + 1)  # the restart's own events are all in
    await h.healer.reconcile()
    await h.idle()

    assert verbs(h) == ["restart", "start"]
    assert h.container(web.id).running
    assert h.records("restart")[-1].cause == "unhealthy"


# --- (6) r_oom: an old OOM flag --------------------------------------------------------------


async def test_a_clean_exit_after_an_oom_kill_was_healed_is_not_an_oom(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container())
    await h.healer.reconcile()
    h.fake.oom(web.id)
    await h.wait_for(lambda: len(h.fake.actions) == 1, "OOM restart")
    await h.idle()
    assert not h.healer.containers[web.id].oom_killed

    h.fake.crash(web.id, exit_code=0)  # a clean exit later on
    await h.idle()

    assert verbs(h) == ["start"]
    assert [r.cause for r in h.records("scheduled")] == ["oom"]
    assert h.records()[-1].reason == "exited cleanly (code 0)"


# --- (7) r_window: starts autoheal did not make ----------------------------------------------


async def test_starts_by_dockers_restart_policy_do_not_clear_the_restart_window(harness, make_container):
    h = await harness({"restart": {"max_restarts": 3, "backoff": {"enabled": False}}})
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy", restart_policy="unless-stopped"))
    await h.healer.reconcile()

    for _ in range(8):
        h.fake.set_health(web.id, "unhealthy")  # the health check fails ...
        await h.idle()
        if h.healer.state(web.id).quarantined:
            break
        h.fake.crash(web.id, exit_code=1)  # ... then the process dies
        h.fake.user_start(web.id)  # and Docker's own restart policy starts it
        await h.idle()

    assert verbs(h) == ["restart"] * 3
    assert h.healer.state(web.id).quarantined
    [quarantine] = h.records("quarantine")
    assert quarantine.window_count == 3


# --- (8) r_verify: verification of autoheal's own start only ---------------------------------


async def test_verification_does_not_judge_a_manual_restart_made_after_autoheals(harness, make_container):
    h = await harness({"restart": {"verify_seconds": 0.3}})
    h.fake.clock = h.clock  # engine times on the harness clock, so "later" needs no real waiting
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(lambda: len(h.fake.actions) == 1, "restart")
    await h.idle()
    h.fake.set_health(web.id, "healthy")  # autoheal's restart healed it

    h.clock.advance(10)
    h.fake.user_stop(web.id)  # docker restart by hand: its health check is 'starting' again
    h.fake.user_start(web.id)
    await h.wait_for(lambda: not h.healer.tasks, "verification done")
    await h.idle()

    assert h.records("restart_failed") == []
    assert verbs(h) == ["restart"]


async def test_verification_does_not_judge_a_manual_restart_made_right_after_autoheals(harness, make_container):
    h = await harness({"restart": {"verify_seconds": 0.3}})
    h.fake.clock = h.clock
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(lambda: len(h.fake.actions) == 1, "restart")
    await h.idle()
    h.fake.set_health(web.id, "healthy")

    h.clock.advance(0.5)  # as in the reviewer's script: the user restarts it 0.3-0.5 s later
    h.fake.user_stop(web.id)
    h.fake.user_start(web.id)
    await h.wait_for(lambda: not h.healer.tasks, "verification done")
    await h.idle()

    assert h.records("restart_failed") == []
    assert verbs(h) == ["restart"]


# --- (9) r_double: an operator restart during an automatic one -----------------------------


async def test_an_operator_restart_is_refused_while_an_automatic_restart_is_in_flight(harness, make_container):
    h = await harness()
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    await h.healer.reconcile()
    h.fake.hold = asyncio.Event()  # a slow stop
    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(lambda: h.fake.in_flight == 1, "autoheal's restart in flight")

    operator = asyncio.create_task(h.healer.operator_restart(web.id))
    try:
        await h.wait_for(lambda: operator.done() or h.fake.in_flight > 1, "operator request answered")
        in_flight = h.fake.in_flight
    finally:
        h.fake.hold.set()

    assert in_flight == 1
    with pytest.raises(ActionFailed):
        await operator
    await h.idle()
    assert verbs(h) == ["restart"]
    assert h.fake.peak_in_flight == 1


# --- (12) r_startperiod: start_period_seconds from the store --------------------------------


async def test_a_start_period_restored_from_the_store_holds_healing_after_start(tmp_path: Path):
    first = Service(parse_settings({}), environ=ENVIRON, data_dir=tmp_path, explicit={})
    await first.store.db.open()
    await first._restore()
    await first.apply_settings(
        parse_settings({"monitor": {"start_period_seconds": 600}}), why="PUT /api/config/monitor"
    )
    await first.store.db.close()
    await first.adapter.close()

    second = Service(parse_settings({}), environ=ENVIRON, data_dir=tmp_path, explicit={})  # autoheal restarted
    await second.start()
    try:
        assert second.settings.monitor.start_period_seconds == 600
        assert second.healer.hold_until >= second.started_at + 600
    finally:
        await second.stop()


# --- detection time ---------------------------------------------------------------------------


async def test_a_cancelled_restart_does_not_leave_its_detection_time_for_a_later_failure(harness, make_container):
    h = await harness({"restart": {"cooldown_seconds": 600}})
    detect = record_detection_times(h)
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(lambda: len(h.fake.actions) == 1, "restart 1")
    await h.idle()
    h.fake.set_health(web.id, "healthy")
    h.fake.set_health(web.id, "unhealthy")  # restart 2 waits for the cooldown ...
    await h.wait_for(lambda: h.healer.state(web.id).pending_at is not None, "restart 2 pending")
    h.fake.set_health(web.id, "healthy")  # ... and is cancelled: it recovered by itself
    await h.idle()
    assert h.records("cancelled")

    h.clock.advance(6 * 3600)  # six hours later it really fails
    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(lambda: len(h.fake.actions) == 2, "restart 2")
    await h.idle()

    assert len(detect) == 2
    assert detect[-1] < 60


async def test_an_unhealthy_blip_does_not_leave_its_detection_time_for_a_later_failure(harness, make_container):
    h = await harness({"restart": {"unhealthy_for_seconds": 30}})
    detect = record_detection_times(h)
    web = h.fake.add(make_container(has_healthcheck=True, health="healthy"))
    await h.healer.reconcile()
    h.fake.set_health(web.id, "unhealthy")  # a blip: unhealthy for a moment ...
    await h.wait_for(h.delivered, "blip seen")
    h.fake.set_health(web.id, "healthy")  # ... and healthy again: nothing to do
    await h.wait_for(h.delivered, "recovery seen")

    h.clock.advance(6 * 3600)  # six hours later it really fails
    h.fake.set_health(web.id, "unhealthy")
    await h.wait_for(h.delivered, "failure seen")
    h.clock.advance(31)
    await h.healer.reconcile()
    await h.wait_for(lambda: h.fake.actions, "restart")
    await h.idle()

    assert len(detect) == 1
    assert detect[0] < 60


async def test_an_event_of_autoheals_own_action_handled_late_is_still_its_own(harness):
    """Under heavy load an engine event can be handled more than the slack after it happened."""
    from autoheal.engine.acting import OWN_EVENT_SLACK_SECONDS, ActionMark

    h = await harness(pump=False)
    cid = "e" * 64
    done_at = h.clock()
    h.healer.acting[cid] = ActionMark(done_at=done_at)
    h.clock.advance(OWN_EVENT_SLACK_SECONDS * 3)  # handled long after the action ended...
    assert h.healer._is_own(cid, "die", event_time=done_at + 1)  # ...but it happened within the slack
    assert not h.healer._is_own(cid, "die", event_time=done_at + OWN_EVENT_SLACK_SECONDS + 1)
    assert cid not in h.healer.acting  # a later event of someone else's ends the mark


async def test_an_unhealthy_verdict_about_the_run_before_the_last_start_is_ignored(harness, make_container):
    """Seen in a storm of 100: a probe's verdict handled after the restart it caused restarted it again."""
    from autoheal.domain.models import DockerEvent

    h = await harness({"restart": {"cooldown_seconds": 0}})
    web = h.fake.add(make_container(labels={"autoheal": "true"}, has_healthcheck=True, health="healthy"))
    await h.healer.reconcile()
    started_at = h.healer.containers[web.id].started_at
    stale = DockerEvent("health_status", web.id, web.name, started_at - 1.0, health="unhealthy")
    await h.healer.handle_event(stale)
    await h.idle()
    assert h.fake.actions == [] and h.records("scheduled") == []
    assert h.healer.containers[web.id].health == "healthy"  # the live view is not overwritten either
    h.fake.set_health(web.id, "unhealthy")  # a verdict about this run is acted on
    await h.idle()
    assert [a[0] for a in h.fake.actions] == ["restart"]
