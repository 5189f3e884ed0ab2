"""The restart policy: decide(state, observation, now) driven through simulated time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from autoheal.config import BackoffSettings, Mode, QuarantineSettings, RestartSettings
from autoheal.domain.policy import (
    Cancel,
    Decision,
    Exited,
    Failure,
    FailureKind,
    Healthy,
    Ignore,
    Noted,
    Observation,
    Paused,
    PolicyState,
    Quarantine,
    Recheck,
    Released,
    Restart,
    Restarted,
    Started,
    backoff_seconds,
    decide,
    mode_covers,
)

CRASH = Failure(FailureKind.CRASH, exit_code=1)
OOM = Failure(FailureKind.OOM, exit_code=137)
UNHEALTHY = Failure(FailureKind.UNHEALTHY)

ALMOST_ONE = 0.9999999


def low() -> float:
    return 0.0


def high() -> float:
    return ALMOST_ONE


def settings(*, jitter: bool = False, backoff: dict | None = None, **fields) -> RestartSettings:
    """Restart settings at the contract defaults, with jitter off unless asked for."""
    return RestartSettings(backoff=BackoffSettings(**{"jitter": jitter, **(backoff or {})}), **fields)


@dataclass
class Sim:
    """One container's policy state, fed observations at simulated times."""

    restart: RestartSettings = field(default_factory=settings)
    quarantine: QuarantineSettings = field(default_factory=QuarantineSettings)
    rand: Callable[[], float] = low
    state: PolicyState = field(default_factory=PolicyState)

    def feed(self, obs: Observation, now: float) -> Decision:
        self.state, decision = decide(self.state, obs, now, self.restart, self.quarantine, self.rand)
        return decision

    def heal(self, decision: Decision) -> float:
        """Carry out a Restart decision at its time: the call is made and the container runs."""
        assert isinstance(decision, Restart), decision
        self.feed(Restarted(), decision.at)
        self.feed(Started(by_autoheal=True), decision.at)
        return decision.at

    def crash_loop(self, first_failure_at: float = 0.0, failures: int = 6) -> tuple[list[Restart], Decision]:
        """A container that crashes the instant it starts: every restart is followed by a failure."""
        restarts: list[Restart] = []
        now = first_failure_at
        decision: Decision = Ignore("not started")
        for _ in range(failures):
            decision = self.feed(CRASH, now)
            if not isinstance(decision, Restart):
                break
            restarts.append(decision)
            now = self.heal(decision)
        return restarts, decision


def running_sim(started_at: float = 0.0, **kwargs) -> Sim:
    sim = Sim(**kwargs)
    sim.feed(Started(by_autoheal=False), started_at)
    return sim


# --- section 6: worked examples ----------------------------------------------------


def test_instant_crasher_is_restarted_at_0_60_120_180_260_then_quarantined():
    sim = Sim()

    restarts, last = sim.crash_loop(failures=6)

    assert [r.at for r in restarts] == [0, 60, 120, 180, 260]
    assert [r.attempt for r in restarts] == [1, 2, 3, 4, 5]
    assert [r.backoff_seconds for r in restarts] == [0, 10, 20, 40, 80]
    assert [r.window_count for r in restarts] == [0, 1, 2, 3, 4]
    assert isinstance(last, Quarantine)
    assert last.window_count == 5
    assert sim.state.quarantined_at == 260  # "about 4.5 minutes"


@pytest.mark.parametrize(
    ("rand", "expected_times"),
    [
        # cooldown (60 s) dominates the jittered 10/20/40 s; the 5th is 80 s jittered into [40, 80].
        (low, [0, 60, 120, 180, 240]),
        (high, [0, 60, 120, 180, 180 + 40 + 40 * ALMOST_ONE]),
        (lambda: 0.5, [0, 60, 120, 180, 240]),
        (lambda: 0.75, [0, 60, 120, 180, 250]),
    ],
)
def test_instant_crasher_with_jitter_is_quarantined_on_sixth_failure(rand, expected_times):
    sim = Sim(restart=settings(jitter=True), rand=rand)

    restarts, last = sim.crash_loop(failures=6)

    assert [r.at for r in restarts] == pytest.approx(expected_times)
    assert isinstance(last, Quarantine)
    assert last.window_count == 5


@pytest.mark.parametrize("jitter", [False, True])
@pytest.mark.parametrize("rand", [low, high])
def test_container_running_fifteen_minutes_between_crashes_is_always_restarted_at_once(jitter, rand):
    sim = running_sim(0.0, restart=settings(jitter=jitter), rand=rand)

    for cycle in range(1, 21):
        now = cycle * 900.0
        decision = sim.feed(CRASH, now)
        assert isinstance(decision, Restart), (cycle, decision)
        assert decision.at == now
        assert decision.delay_seconds == 0
        assert decision.attempt == 1
        assert decision.window_count == 0
        sim.heal(decision)

    assert not sim.state.quarantined


def test_manual_stop_is_not_restarted():
    sim = running_sim(0.0)

    decision = sim.feed(Exited("stopped by hand", manual=True), 10.0)

    assert isinstance(decision, Ignore)
    assert sim.state.manual_stop
    assert sim.state.pending_at is None


# --- backoff formula, cap and jitter ----------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(1, 0), (2, 10), (3, 20), (4, 40), (5, 80), (6, 160), (7, 300), (8, 300), (50, 300), (2000, 300)],
)
def test_backoff_doubles_from_ten_seconds_up_to_the_cap(attempt, expected):
    assert backoff_seconds(attempt, settings(), low) == expected


@pytest.mark.parametrize(
    ("backoff", "attempt", "expected"),
    [
        ({"initial_seconds": 5, "multiplier": 3, "max_seconds": 100}, 2, 5),
        ({"initial_seconds": 5, "multiplier": 3, "max_seconds": 100}, 3, 15),
        ({"initial_seconds": 5, "multiplier": 3, "max_seconds": 100}, 4, 45),
        ({"initial_seconds": 5, "multiplier": 3, "max_seconds": 100}, 5, 100),
        ({"initial_seconds": 7, "multiplier": 1, "max_seconds": 100}, 9, 7),
        ({"initial_seconds": 50, "multiplier": 2, "max_seconds": 20}, 2, 20),
        ({"initial_seconds": 0, "multiplier": 2, "max_seconds": 300}, 5000, 0),
        ({"initial_seconds": 10, "multiplier": 100, "max_seconds": 300}, 400, 300),
        ({"enabled": False}, 5, 0),
    ],
)
def test_backoff_follows_the_configured_formula(backoff, attempt, expected):
    assert backoff_seconds(attempt, settings(backoff=backoff), low) == expected


@pytest.mark.parametrize("attempt", [2, 3, 4, 5, 6, 7, 30])
def test_jittered_backoff_lies_between_half_and_all_of_the_backoff(attempt):
    plain = backoff_seconds(attempt, settings(jitter=False), low)
    jittered = settings(jitter=True)

    assert backoff_seconds(attempt, jittered, low) == plain / 2
    top = backoff_seconds(attempt, jittered, high)
    assert plain / 2 < top < plain
    assert top == pytest.approx(plain, rel=1e-6)
    for r in (0.1, 0.25, 0.5, 0.9):
        assert plain / 2 <= backoff_seconds(attempt, jittered, lambda r=r: r) <= plain


def test_first_restart_is_never_jittered():
    assert backoff_seconds(1, settings(jitter=True), high) == 0


@pytest.mark.parametrize(
    ("rand", "expected_times"),
    [(low, [0, 5, 15, 35, 75]), (high, [0, 10, 30, 70, 150])],
)
def test_without_cooldown_restarts_follow_the_jittered_backoff(rand, expected_times):
    sim = Sim(restart=settings(jitter=True, cooldown_seconds=0), rand=rand)

    restarts, last = sim.crash_loop(failures=6)

    assert [r.at for r in restarts] == pytest.approx(expected_times, rel=1e-5)
    assert isinstance(last, Quarantine)


def test_backoff_longer_than_cooldown_delays_the_restart():
    sim = Sim(restart=settings(cooldown_seconds=5))

    restarts, _ = sim.crash_loop(failures=4)

    assert [r.at for r in restarts] == [0, 10, 30, 70]
    assert [r.delay_seconds for r in restarts] == [0, 10, 20, 40]


# --- cooldown ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure_at", "expected_at"),
    [(100.0, 160.0), (130.0, 160.0), (159.0, 160.0), (160.0, 160.0), (400.0, 400.0)],
)
def test_a_restart_waits_for_the_cooldown_after_the_previous_restart(failure_at, expected_at):
    sim = Sim(restart=settings(backoff={"enabled": False}))
    sim.heal(sim.feed(CRASH, 100.0))

    decision = sim.feed(CRASH, failure_at)

    assert isinstance(decision, Restart)
    assert decision.at == expected_at
    assert decision.delay_seconds == expected_at - failure_at


@pytest.mark.parametrize(
    ("cooldown", "expected_times"),
    [(60, [0, 60, 120, 180, 240]), (30, [0, 30, 60, 90, 120]), (0, [0, 0, 0, 0, 0])],
)
def test_backoff_disabled_leaves_cooldown_alone(cooldown, expected_times):
    sim = Sim(restart=settings(cooldown_seconds=cooldown, backoff={"enabled": False}))

    restarts, last = sim.crash_loop(failures=6)

    assert [r.at for r in restarts] == expected_times
    assert all(r.backoff_seconds == 0 for r in restarts)
    assert isinstance(last, Quarantine)


# --- the sliding window and quarantine ----------------------------------------------


@pytest.mark.parametrize("max_restarts", [1, 2, 3, 5, 8])
def test_it_quarantines_after_exactly_max_restarts_restarts(max_restarts):
    sim = Sim(restart=settings(max_restarts=max_restarts, max_restarts_window_seconds=100_000))

    restarts, last = sim.crash_loop(failures=max_restarts + 3)

    assert len(restarts) == max_restarts
    assert isinstance(last, Quarantine)
    assert last.window_count == max_restarts


def test_it_quarantines_after_fifth_restart():
    sim = Sim()
    restarts, _ = sim.crash_loop(failures=5)
    assert len(restarts) == 5

    decision = sim.feed(CRASH, restarts[-1].at + 1)

    assert isinstance(decision, Quarantine)
    assert "5 restarts" in decision.reason


def _five_restarts_a_hundred_seconds_apart() -> Sim:
    sim = Sim(restart=settings(cooldown_seconds=0, backoff={"enabled": False}))
    for t in (0.0, 100.0, 200.0, 300.0, 400.0):
        decision = sim.feed(CRASH, t)
        assert isinstance(decision, Restart) and decision.at == t
        sim.heal(decision)
    return sim


@pytest.mark.parametrize(
    ("failure_at", "quarantined", "window_count"),
    [
        (450.0, True, 5),
        (599.0, True, 5),  # the restart at 0 is 599 s old: still inside the 600 s window
        (600.0, False, 4),  # the restart at 0 is 600 s old: it no longer counts
        (750.0, False, 3),
        (1001.0, False, 0),
    ],
)
def test_restarts_older_than_the_window_stop_counting(failure_at, quarantined, window_count):
    sim = _five_restarts_a_hundred_seconds_apart()

    decision = sim.feed(CRASH, failure_at)

    assert isinstance(decision, Quarantine if quarantined else Restart)
    assert decision.window_count == window_count


def test_a_quarantined_container_gets_no_more_decisions():
    sim = Sim()
    _, last = sim.crash_loop(failures=6)
    assert isinstance(last, Quarantine)

    for t in (261.0, 1000.0, 100_000.0):
        for failure in (CRASH, OOM, UNHEALTHY):
            decision = sim.feed(failure, t)
            assert isinstance(decision, Ignore)
            assert decision.reason == "quarantined"
    assert sim.state.quarantined_at == 260


# --- reset ------------------------------------------------------------------------


def _three_quick_restarts() -> Sim:
    """Restarted at 0, 60 and 120: the next crash would be attempt 4."""
    sim = Sim()
    restarts, _ = sim.crash_loop(failures=3)
    assert [r.at for r in restarts] == [0, 60, 120]
    return sim


@pytest.mark.parametrize(
    ("ran_for", "attempt", "delay"),
    [(10.0, 4, 50.0), (599.0, 4, 40.0), (600.0, 1, 0.0), (601.0, 1, 0.0), (5000.0, 1, 0.0)],
)
def test_failures_reset_after_running_for_reset_after_seconds(ran_for, attempt, delay):
    sim = _three_quick_restarts()

    decision = sim.feed(CRASH, 120.0 + ran_for)

    assert isinstance(decision, Restart)
    assert decision.attempt == attempt
    assert decision.delay_seconds == delay


@pytest.mark.parametrize(("reset_after", "ran_for", "attempt"), [(60, 59, 4), (60, 60, 1), (0, 0, 1)])
def test_reset_after_seconds_is_configurable(reset_after, ran_for, attempt):
    sim = Sim(restart=settings(reset_after_seconds=reset_after))
    sim.crash_loop(failures=3)

    decision = sim.feed(CRASH, 120.0 + ran_for)

    assert isinstance(decision, Restart)
    assert decision.attempt == attempt


@pytest.mark.parametrize(("crash_at", "attempt"), [(720.0, 4), (909.0, 4), (910.0, 1)])
def test_an_unhealthy_spell_restarts_the_stable_clock(crash_at, attempt):
    sim = _three_quick_restarts()
    sim.restart = settings(unhealthy_for_seconds=30)
    # Unhealthy at 300 (debounced: no restart), healthy again at 310.
    assert isinstance(sim.feed(UNHEALTHY, 300.0), Recheck)
    sim.feed(Healthy(), 310.0)

    decision = sim.feed(CRASH, crash_at)

    assert isinstance(decision, Restart)
    assert decision.attempt == attempt


def test_a_start_autoheal_did_not_make_resets_failures_but_keeps_the_window():
    sim = _three_quick_restarts()

    sim.feed(Started(by_autoheal=False), 130.0)
    decision = sim.feed(CRASH, 135.0)

    assert isinstance(decision, Restart)
    assert decision.attempt == 1
    assert decision.window_count == 3  # the window is real: a docker restart loop still quarantines
    assert decision.at == 180.0  # the cooldown after autoheal's restart at 120 still holds


def test_a_start_autoheal_made_does_not_reset_failures():
    sim = _three_quick_restarts()

    sim.feed(Started(by_autoheal=True), 130.0)
    decision = sim.feed(CRASH, 135.0)

    assert isinstance(decision, Restart)
    assert decision.attempt == 4


# --- grace and unhealthy debounce --------------------------------------------------


@pytest.mark.parametrize(
    ("unhealthy_at", "expected"),
    [(100.0, Recheck), (110.0, Recheck), (129.9, Recheck), (130.0, Restart), (200.0, Restart)],
)
def test_unhealthy_is_ignored_during_grace_after_start(unhealthy_at, expected):
    sim = running_sim(100.0, restart=settings(grace_seconds=30))

    decision = sim.feed(UNHEALTHY, unhealthy_at)

    assert isinstance(decision, expected)
    if isinstance(decision, Recheck):
        assert decision.at == 130.0
    else:
        assert decision.at == unhealthy_at
        assert decision.kind is FailureKind.UNHEALTHY


def test_grace_does_not_delay_a_crash():
    sim = running_sim(100.0, restart=settings(grace_seconds=30))

    decision = sim.feed(CRASH, 101.0)

    assert isinstance(decision, Restart)
    assert decision.at == 101.0


def test_without_grace_unhealthy_right_after_start_restarts():
    sim = running_sim(100.0)

    assert isinstance(sim.feed(UNHEALTHY, 100.0), Restart)


def test_grace_applies_again_after_autoheal_restart():
    sim = running_sim(0.0, restart=settings(grace_seconds=30))
    sim.heal(sim.feed(UNHEALTHY, 50.0))

    decision = sim.feed(UNHEALTHY, 60.0)

    assert isinstance(decision, Recheck)
    assert decision.at == 80.0


def test_unhealthy_restarts_only_once_it_has_lasted_unhealthy_for_seconds():
    sim = running_sim(0.0, restart=settings(unhealthy_for_seconds=60))

    first = sim.feed(UNHEALTHY, 100.0)
    again = sim.feed(UNHEALTHY, 130.0)
    lasted = sim.feed(UNHEALTHY, 160.0)

    assert isinstance(first, Recheck) and first.at == 160.0
    assert isinstance(again, Recheck) and again.at == 160.0
    assert isinstance(lasted, Restart)
    assert lasted.at == 160.0
    assert lasted.kind is FailureKind.UNHEALTHY


def test_a_healthy_report_restarts_the_unhealthy_for_count():
    sim = running_sim(0.0, restart=settings(unhealthy_for_seconds=60))
    sim.feed(UNHEALTHY, 100.0)
    sim.feed(Healthy(), 120.0)

    decision = sim.feed(UNHEALTHY, 150.0)

    assert isinstance(decision, Recheck)
    assert decision.at == 210.0


def test_unhealthy_for_does_not_delay_a_crash():
    sim = running_sim(0.0, restart=settings(unhealthy_for_seconds=60))

    assert isinstance(sim.feed(CRASH, 10.0), Restart)


def test_grace_then_unhealthy_for_both_apply():
    sim = running_sim(0.0, restart=settings(grace_seconds=30, unhealthy_for_seconds=20))

    in_grace = sim.feed(UNHEALTHY, 10.0)
    after_grace = sim.feed(UNHEALTHY, 30.0)
    lasted = sim.feed(UNHEALTHY, 50.0)

    assert isinstance(in_grace, Recheck) and in_grace.at == 30.0
    assert isinstance(after_grace, Recheck) and after_grace.at == 50.0
    assert isinstance(lasted, Restart)


# --- modes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "failure", "acts"),
    [
        (Mode.BOTH, CRASH, True),
        (Mode.BOTH, OOM, True),
        (Mode.BOTH, UNHEALTHY, True),
        (Mode.ON_FAILURE, CRASH, True),
        (Mode.ON_FAILURE, OOM, True),
        (Mode.ON_FAILURE, UNHEALTHY, False),
        (Mode.HEALTH, CRASH, False),
        (Mode.HEALTH, OOM, False),
        (Mode.HEALTH, UNHEALTHY, True),
    ],
)
def test_restart_mode_chooses_which_failures_are_healed(mode, failure, acts):
    sim = running_sim(0.0, restart=settings(mode=mode))

    decision = sim.feed(failure, 10.0)

    assert mode_covers(mode, failure.kind) is acts
    if acts:
        assert isinstance(decision, Restart)
        assert decision.kind is failure.kind
    else:
        assert isinstance(decision, Ignore)
        assert mode.value in decision.reason
        assert sim.state.pending_at is None
        assert sim.state.failures == 0


def test_default_mode_is_both():
    assert RestartSettings().mode is Mode.BOTH


# --- pending restarts and recovery ------------------------------------------------


def _pending(failure: Failure) -> Sim:
    """A restart is scheduled for 110 (the cooldown after a restart at 50)."""
    sim = running_sim(0.0)
    sim.heal(sim.feed(CRASH, 50.0))
    decision = sim.feed(failure, 60.0)
    assert isinstance(decision, Restart) and decision.at == 110.0
    return sim


@pytest.mark.parametrize("second", [CRASH, OOM, UNHEALTHY])
def test_a_second_failure_while_a_restart_is_pending_is_ignored(second):
    sim = _pending(CRASH)
    before = sim.state

    decision = sim.feed(second, 70.0)

    assert isinstance(decision, Ignore)
    assert sim.state == before


def test_healthy_cancels_a_pending_unhealthy_restart():
    sim = _pending(UNHEALTHY)

    decision = sim.feed(Healthy(), 70.0)

    assert isinstance(decision, Cancel)
    assert sim.state.pending_at is None


def test_healthy_does_not_cancel_a_pending_crash_restart():
    sim = _pending(CRASH)

    decision = sim.feed(Healthy(), 70.0)

    assert not isinstance(decision, Cancel)
    assert sim.state.pending_at == 110.0


@pytest.mark.parametrize("failure", [CRASH, OOM, UNHEALTHY])
def test_a_manual_exit_cancels_a_pending_restart(failure):
    sim = _pending(failure)

    decision = sim.feed(Exited("stopped by hand", manual=True), 70.0)

    assert isinstance(decision, Cancel)
    assert sim.state.pending_at is None
    assert sim.state.manual_stop


def test_a_clean_exit_of_an_unhealthy_container_cancels_its_pending_health_restart():
    sim = _pending(UNHEALTHY)

    decision = sim.feed(Exited("exited cleanly (code 0)"), 70.0)

    assert isinstance(decision, Cancel)
    assert not sim.state.manual_stop


def test_a_start_by_someone_else_cancels_a_pending_restart():
    sim = _pending(CRASH)

    decision = sim.feed(Started(by_autoheal=False), 70.0)

    assert isinstance(decision, Cancel)
    assert sim.state.pending_at is None


def test_the_restart_call_clears_the_pending_restart_and_enters_the_window():
    sim = _pending(CRASH)

    sim.feed(Restarted(), 110.0)

    assert sim.state.pending_at is None
    assert sim.state.restarts == (50.0, 110.0)
    assert sim.state.last_restart_at == 110.0


# --- pause ------------------------------------------------------------------------


def test_pausing_cancels_a_pending_restart():
    sim = _pending(UNHEALTHY)

    decision = sim.feed(Paused(True), 70.0)

    assert isinstance(decision, Cancel)
    assert sim.state.pending_at is None


@pytest.mark.parametrize("failure", [CRASH, OOM, UNHEALTHY])
def test_failures_of_a_paused_container_are_ignored_until_unpaused(failure):
    sim = running_sim(0.0)
    assert isinstance(sim.feed(Paused(True), 10.0), Noted)

    ignored = sim.feed(failure, 20.0)
    sim.feed(Paused(False), 30.0)
    acted = sim.feed(failure, 40.0)

    assert isinstance(ignored, Ignore)
    assert ignored.reason == "paused"
    assert isinstance(acted, Restart)


# --- release from quarantine --------------------------------------------------------


def _quarantined(**kwargs) -> Sim:
    sim = Sim(**kwargs)
    _, last = sim.crash_loop(failures=6)
    assert isinstance(last, Quarantine)
    return sim


def test_an_operator_release_lifts_quarantine_and_clears_the_window():
    sim = _quarantined()

    noted = sim.feed(Released(), 400.0)
    decision = sim.feed(CRASH, 400.0)

    assert isinstance(noted, Noted)
    assert isinstance(decision, Restart)
    assert decision.attempt == 1
    assert decision.window_count == 0
    assert decision.at == 400.0


def test_a_user_start_lifts_quarantine_and_clears_the_window():
    sim = _quarantined()

    sim.feed(Started(by_autoheal=False), 400.0)
    decision = sim.feed(CRASH, 401.0)

    assert not sim.state.quarantined
    assert isinstance(decision, Restart)
    assert decision.attempt == 1
    assert decision.window_count == 0


def test_a_start_by_autoheal_does_not_lift_quarantine():
    sim = _quarantined()

    sim.feed(Started(by_autoheal=True), 400.0)

    assert isinstance(sim.feed(CRASH, 401.0), Ignore)


def test_after_release_the_full_allowance_of_restarts_is_available_again():
    sim = _quarantined()
    sim.feed(Released(), 1000.0)

    restarts, last = sim.crash_loop(first_failure_at=1000.0, failures=6)

    assert len(restarts) == 5
    assert isinstance(last, Quarantine)


@pytest.mark.parametrize("waited", [0.0, 1.0, 10_000.0, 10_000_000.0])
def test_without_release_after_quarantine_lasts_until_someone_steps_in(waited):
    sim = _quarantined()

    assert isinstance(sim.feed(CRASH, 260.0 + waited), Ignore)


def test_probation_grants_one_restart_then_quarantines_again_while_the_window_is_full():
    sim = _quarantined(
        restart=settings(max_restarts_window_seconds=7200),
        quarantine=QuarantineSettings(release_after_seconds=600),
    )
    assert sim.state.quarantined_at == 260

    too_early = sim.feed(CRASH, 859.0)
    probation = sim.feed(CRASH, 860.0)

    assert isinstance(too_early, Ignore)
    assert isinstance(probation, Restart)
    assert probation.window_count == 5
    assert not sim.state.quarantined
    ran_at = sim.heal(probation)

    again = sim.feed(CRASH, ran_at)

    assert isinstance(again, Quarantine)
    assert again.window_count == 6
    assert sim.state.quarantined_at == ran_at


def test_probation_after_the_window_emptied_restarts_normally():
    sim = _quarantined(quarantine=QuarantineSettings(release_after_seconds=3600))

    decision = sim.feed(CRASH, 260.0 + 3600.0)

    assert isinstance(decision, Restart)
    assert decision.window_count == 0
    sim.heal(decision)
    assert isinstance(sim.feed(CRASH, decision.at), Restart)


# --- misc -------------------------------------------------------------------------


def test_decide_rejects_an_unknown_observation():
    with pytest.raises(TypeError):
        decide(PolicyState(), object(), 0.0, settings(), QuarantineSettings(), low)  # type: ignore[arg-type]


def test_decide_leaves_the_given_state_untouched():
    state = PolicyState()

    new, _ = decide(state, CRASH, 0.0, settings(), QuarantineSettings(), low)

    assert state == PolicyState()
    assert new.pending_at == 0.0


@pytest.mark.parametrize("failures", [1100, 100_000])
def test_a_long_failure_streak_keeps_the_capped_backoff(failures):
    state = PolicyState(failures=failures)
    restart = settings(max_restarts=10_000, max_restarts_window_seconds=7 * 86400)

    _, decision = decide(state, CRASH, 0.0, restart, QuarantineSettings(), low)

    assert isinstance(decision, Restart)
    assert decision.attempt == failures + 1
    assert decision.backoff_seconds == 300


@pytest.mark.parametrize(("crash_at", "attempt"), [(720.0, 4), (910.0, 1)])
def test_an_ignored_unhealthy_spell_still_prevents_a_reset_in_on_failure_mode(crash_at, attempt):
    sim = _three_quick_restarts()
    sim.restart = settings(mode=Mode.ON_FAILURE)
    assert isinstance(sim.feed(UNHEALTHY, 300.0), Ignore)
    sim.feed(Healthy(), 310.0)

    decision = sim.feed(CRASH, crash_at)

    assert isinstance(decision, Restart)
    assert decision.attempt == attempt


# --- restarts along with a parent ---------------------------------------------------------


def test_a_restart_with_a_parent_is_not_counted_in_the_window_nor_as_a_failure():
    sim = running_sim()
    for t in (10.0, 20.0, 30.0, 40.0, 50.0, 60.0):  # the parent flaps six times
        sim.feed(Restarted(counted=False), t)
        sim.feed(Started(by_autoheal=True), t)
    assert sim.state.restarts == ()
    assert sim.state.failures == 0

    decision = sim.feed(CRASH, 200.0)  # its own first failure: attempt 1, not a quarantine

    assert isinstance(decision, Restart)
    assert (decision.attempt, decision.window_count) == (1, 0)


def test_a_restart_with_a_parent_still_spaces_the_next_restart_by_the_cooldown():
    sim = running_sim()
    sim.feed(Restarted(counted=False), 100.0)
    sim.feed(Started(by_autoheal=True), 100.0)

    decision = sim.feed(CRASH, 110.0)

    assert isinstance(decision, Restart)
    assert decision.at == 160.0  # cooldown 60 s after the restart with its parent


def test_restarts_within_a_window_counts_only_recent_ones():
    state = PolicyState(restarts=(100.0, 500.0, 900.0))

    assert state.restarts_within(600, 1000.0) == (500.0, 900.0)
    assert PolicyState().restarts_within(600, 1000.0) == ()
