"""Classifying exits, live and unobserved, against the contract's table."""

from __future__ import annotations

import pytest

from autoheal.config import QuarantineSettings, RestartSettings
from autoheal.domain.classify import ExitClass, ExitMemory, classify_die, classify_unobserved, observation_for
from autoheal.domain.models import Container
from autoheal.domain.policy import Exited, Failure, FailureKind, Ignore, PolicyState, Restart, Started, decide

NOTHING = ExitMemory()
KILLED = ExitMemory(foreign_kill=True)
OOM_SEEN = ExitMemory(oom=True)


def exited(exit_code: int | None = 1, status: str = "exited", **fields) -> Container:
    return Container(id="c0ffee" * 10, name="web", status=status, exit_code=exit_code, **fields)


# --- live exits: classify_die -----------------------------------------------------


@pytest.mark.parametrize(
    ("container", "exit_code", "memory", "expected"),
    [
        # crash: non-zero exit, no foreign kill since the last start
        (exited(1), 1, NOTHING, ExitClass.CRASH),
        (exited(2), 2, NOTHING, ExitClass.CRASH),
        (exited(139), 139, NOTHING, ExitClass.CRASH),
        (exited(255), 255, NOTHING, ExitClass.CRASH),
        (exited(137), 137, NOTHING, ExitClass.CRASH),  # live: a signal exit nobody sent is a crash
        (exited(143), 143, NOTHING, ExitClass.CRASH),
        # oom: an oom event before the die, or State.OOMKilled
        (exited(137), 137, OOM_SEEN, ExitClass.OOM),
        (exited(137, oom_killed=True), 137, NOTHING, ExitClass.OOM),
        (exited(1, oom_killed=True), 1, NOTHING, ExitClass.OOM),
        # clean exit
        (exited(0), 0, NOTHING, ExitClass.CLEAN),
        # manual stop: a kill or stop autoheal did not send
        (exited(143), 143, KILLED, ExitClass.MANUAL),
        (exited(137), 137, KILLED, ExitClass.MANUAL),
        (exited(1), 1, KILLED, ExitClass.MANUAL),
        (exited(0), 0, KILLED, ExitClass.MANUAL),
        # docker-owned: the engine restarts exits itself
        (exited(1, restart_policy="always"), 1, NOTHING, ExitClass.DOCKER_OWNED),
        (exited(1, restart_policy="unless-stopped"), 1, NOTHING, ExitClass.DOCKER_OWNED),
        (exited(1, restart_policy="on-failure"), 1, NOTHING, ExitClass.DOCKER_OWNED),
        (exited(137, restart_policy="always"), 137, OOM_SEEN, ExitClass.DOCKER_OWNED),
        (exited(1, restart_policy="no", status="restarting"), 1, NOTHING, ExitClass.DOCKER_OWNED),
        (exited(1, restart_policy="no"), 1, NOTHING, ExitClass.CRASH),
        (exited(1, restart_policy=""), 1, NOTHING, ExitClass.CRASH),
    ],
)
def test_a_live_die_is_classified_per_the_contract_table(container, exit_code, memory, expected):
    assert classify_die(container, exit_code, memory) is expected


def test_docker_stop_reads_as_a_manual_stop_and_is_not_restarted():
    """kill(15), die(143), stop: the worked example `docker stop web`."""
    exit_class = classify_die(exited(143), 143, KILLED)
    observation = observation_for(exit_class, 143)

    state, decision = decide(
        PolicyState(), observation, 10.0, RestartSettings(), QuarantineSettings(), lambda: 0.0
    )

    assert exit_class is ExitClass.MANUAL
    assert isinstance(decision, Ignore)
    assert state.pending_at is None
    assert state.manual_stop


# --- exits seen only by reconcile: classify_unobserved ----------------------------


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        (exited(1), ExitClass.CRASH),
        (exited(2), ExitClass.CRASH),
        (exited(139), ExitClass.CRASH),
        (exited(255), ExitClass.CRASH),
        (exited(137), ExitClass.MANUAL),  # presumed `docker kill`
        (exited(143), ExitClass.MANUAL),  # presumed `docker stop`
        (exited(137, oom_killed=True), ExitClass.OOM),
        (exited(143, oom_killed=True), ExitClass.OOM),
        (exited(0), ExitClass.CLEAN),
        (exited(1, restart_policy="always"), ExitClass.DOCKER_OWNED),
        (exited(1, restart_policy="unless-stopped"), ExitClass.DOCKER_OWNED),
        (exited(1, restart_policy="on-failure"), ExitClass.DOCKER_OWNED),
        (exited(137, oom_killed=True, restart_policy="on-failure"), ExitClass.DOCKER_OWNED),
        (exited(1, status="restarting"), ExitClass.DOCKER_OWNED),
    ],
)
def test_an_unobserved_exit_is_classified_per_the_contract_table(container, expected):
    assert classify_unobserved(container) is expected


def test_a_stop_before_autoheal_restarted_still_reads_as_manual_after_it_restarts():
    """`docker stop web` while autoheal was down leaves exit 143: left stopped."""
    observation = observation_for(classify_unobserved(exited(143)), 143)

    assert observation == Exited("stopped by hand", manual=True)


# --- exit class -> policy observation --------------------------------------------


@pytest.mark.parametrize(
    ("exit_class", "exit_code", "expected"),
    [
        (ExitClass.CRASH, 3, Failure(FailureKind.CRASH, 3)),
        (ExitClass.OOM, 137, Failure(FailureKind.OOM, 137)),
    ],
)
def test_crashes_and_ooms_become_failures(exit_class, exit_code, expected):
    assert observation_for(exit_class, exit_code) == expected


@pytest.mark.parametrize(
    ("exit_class", "manual"),
    [(ExitClass.MANUAL, True), (ExitClass.DOCKER_OWNED, False), (ExitClass.CLEAN, False)],
)
def test_other_exits_are_not_failures(exit_class, manual):
    observation = observation_for(exit_class, 0)

    assert isinstance(observation, Exited)
    assert observation.manual is manual


@pytest.mark.parametrize("exit_class", [ExitClass.CRASH, ExitClass.OOM])
def test_a_failing_exit_leads_to_a_restart(exit_class):
    restart, quarantine = RestartSettings(), QuarantineSettings()
    state, _ = decide(PolicyState(), Started(by_autoheal=False), 0.0, restart, quarantine, lambda: 0.0)

    _, decision = decide(state, observation_for(exit_class, 1), 5.0, restart, quarantine, lambda: 0.0)

    assert isinstance(decision, Restart)
    assert decision.kind.value == exit_class.value
