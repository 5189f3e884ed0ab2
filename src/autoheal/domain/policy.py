"""The restart policy: a pure decide(state, observation, now) with no I/O and no clock."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from autoheal.config import Mode, QuarantineSettings, RestartSettings

# At most this many restart timestamps are kept per container, whatever the window.
_MAX_HISTORY = 1000


class FailureKind(StrEnum):
    """The classes of failure that autoheal may heal."""

    CRASH = "crash"
    OOM = "oom"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class PolicyState:
    """What the policy remembers about one container (keyed by container id)."""

    failures: int = 0
    restarts: tuple[float, ...] = ()  # times of autoheal's own restarts
    last_restart_at: float | None = None
    started_at: float | None = None
    stable_since: float | None = None  # running and not unhealthy since then
    unhealthy_since: float | None = None
    pending_at: float | None = None  # a restart is scheduled for this time
    pending_attempt: int = 0
    pending_kind: FailureKind | None = None
    quarantined_at: float | None = None
    probation: bool = False  # one restart is granted despite a full window
    manual_stop: bool = False
    paused: bool = False

    @property
    def quarantined(self) -> bool:
        return self.quarantined_at is not None

    def restarts_within(self, window_seconds: float, now: float) -> tuple[float, ...]:
        if not self.restarts:
            return ()  # most containers, asked for each one in every container listing
        return tuple(t for t in self.restarts if now - t < window_seconds)


# --- observations -----------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """The container crashed, was OOM-killed, or is unhealthy."""

    kind: FailureKind
    exit_code: int | None = None


@dataclass(frozen=True)
class Started:
    """The container started; by_autoheal tells whether autoheal started it."""

    by_autoheal: bool


@dataclass(frozen=True)
class Healthy:
    """The container reports healthy (or a custom check passed again)."""


@dataclass(frozen=True)
class Exited:
    """The container exited in a way that is not a failure (clean, manual, docker-owned)."""

    reason: str
    manual: bool = False


@dataclass(frozen=True)
class Paused:
    paused: bool


@dataclass(frozen=True)
class Restarted:
    """Autoheal has just made its restart (or start) call.

    counted=False: a restart along with a parent; it spaces the next restart (cooldown) but is
    neither a failure nor a restart in the container's window, so a parent's trouble never
    quarantines a healthy child.
    """

    counted: bool = True


@dataclass(frozen=True)
class Released:
    """An operator lifted the quarantine."""


Observation = Failure | Started | Healthy | Exited | Paused | Restarted | Released


# --- decisions --------------------------------------------------------------------


@dataclass(frozen=True)
class Ignore:
    """Nothing to do; the reason says why."""

    reason: str


@dataclass(frozen=True)
class Recheck:
    """Not yet: look at the container again at `at`."""

    at: float
    reason: str


@dataclass(frozen=True)
class Restart:
    """Restart (or start) the container at `at`."""

    at: float
    attempt: int
    delay_seconds: float
    backoff_seconds: float
    window_count: int
    kind: FailureKind


@dataclass(frozen=True)
class Quarantine:
    """Give up on the container until an operator or the user steps in."""

    reason: str
    window_count: int


@dataclass(frozen=True)
class Cancel:
    """A scheduled restart is no longer wanted."""

    reason: str


@dataclass(frozen=True)
class Noted:
    """State updated; nothing to act on."""

    reason: str


Decision = Ignore | Recheck | Restart | Quarantine | Cancel | Noted


def mode_covers(mode: Mode, kind: FailureKind) -> bool:
    """Whether the restart mode acts on this kind of failure."""
    if mode is Mode.BOTH:
        return True
    if mode is Mode.HEALTH:
        return kind is FailureKind.UNHEALTHY
    return kind is not FailureKind.UNHEALTHY


def backoff_seconds(attempt: int, restart: RestartSettings, rand: Callable[[], float]) -> float:
    """Delay after the failure before restart number `attempt` (1 is immediate)."""
    b = restart.backoff
    if attempt <= 1 or not b.enabled:
        return 0.0
    try:
        grown = b.initial_seconds * b.multiplier ** (attempt - 2)
    except OverflowError:  # a long failure streak: multiplier**k leaves the float range, the cap holds
        grown = math.inf if b.initial_seconds > 0 else 0.0
    raw = min(b.max_seconds, grown)
    if b.jitter:
        # Equal jitter: a random point in [raw/2, raw].
        return raw / 2 + rand() * raw / 2
    return raw


def decide(
    state: PolicyState,
    obs: Observation,
    now: float,
    restart: RestartSettings,
    quarantine: QuarantineSettings,
    rand: Callable[[], float],
) -> tuple[PolicyState, Decision]:
    """Apply one observation at time `now`; return the new state and what to do."""
    match obs:
        case Failure():
            return _on_failure(state, obs, now, restart, quarantine, rand)
        case Started(by_autoheal=by_autoheal):
            return _on_started(state, by_autoheal, now)
        case Healthy():
            return _on_healthy(state, now)
        case Exited(reason=reason, manual=manual):
            return _on_exited(state, reason, manual)
        case Paused(paused=paused):
            return _on_paused(state, paused)
        case Restarted(counted=counted):
            return _on_restarted(state, now, restart, counted), Noted("restarted")
        case Released():
            released = replace(state, quarantined_at=None, probation=False, failures=0, restarts=())
            return released, Noted("released from quarantine by an operator")
    raise TypeError(f"unknown observation {obs!r}")


def _on_failure(
    state: PolicyState,
    failure: Failure,
    now: float,
    restart: RestartSettings,
    quarantine: QuarantineSettings,
    rand: Callable[[], float],
) -> tuple[PolicyState, Decision]:
    kind = failure.kind
    if state.paused:
        return state, Ignore("paused")
    if not mode_covers(restart.mode, kind):
        if kind is FailureKind.UNHEALTHY:  # not acted on, but not stable either: no reset
            state = replace(state, stable_since=None)
        return state, Ignore(f"restart mode {restart.mode.value} does not act on {kind.value}")
    if state.pending_at is not None:
        return state, Ignore("a restart is already scheduled")
    if state.quarantined:
        release_after = quarantine.release_after_seconds
        if release_after <= 0 or now - state.quarantined_at < release_after:  # type: ignore[operator]
            return state, Ignore("quarantined")
        state = replace(state, quarantined_at=None, probation=True)
    if kind is FailureKind.UNHEALTHY:
        if state.started_at is not None and now < state.started_at + restart.grace_seconds:
            return state, Recheck(state.started_at + restart.grace_seconds, "unhealthy within the grace period after start")
        since = state.unhealthy_since if state.unhealthy_since is not None else now
        state = replace(state, unhealthy_since=since, stable_since=None)
        if now < since + restart.unhealthy_for_seconds:
            return state, Recheck(since + restart.unhealthy_for_seconds, "unhealthy for less than unhealthy_for_seconds")

    failures = state.failures
    if state.stable_since is not None and now - state.stable_since >= restart.reset_after_seconds:
        failures = 0
    window = state.restarts_within(restart.max_restarts_window_seconds, now)
    if len(window) >= restart.max_restarts and not state.probation:
        reason = (
            f"{len(window)} restarts within {restart.max_restarts_window_seconds:g}s "
            f"(max_restarts {restart.max_restarts})"
        )
        return replace(state, failures=failures + 1, quarantined_at=now, stable_since=None), Quarantine(reason, len(window))

    attempt = failures + 1
    backoff = backoff_seconds(attempt, restart, rand)
    at = now + backoff
    if state.last_restart_at is not None:
        at = max(at, state.last_restart_at + restart.cooldown_seconds)
    new = replace(
        state,
        failures=attempt,
        stable_since=None,
        pending_at=at,
        pending_attempt=attempt,
        pending_kind=kind,
    )
    return new, Restart(at, attempt, at - now, backoff, len(window), kind)


def _on_started(state: PolicyState, by_autoheal: bool, now: float) -> tuple[PolicyState, Decision]:
    fresh = replace(state, started_at=now, stable_since=now, unhealthy_since=None, manual_stop=False, paused=False)
    if by_autoheal:
        return fresh, Noted("started by autoheal")
    # A start autoheal did not make resets the count and releases a quarantine.
    had_pending = state.pending_at is not None
    fresh = replace(
        fresh,
        failures=0,
        # The window is real: only a release (a start of a quarantined container) clears it.
        restarts=() if state.quarantined else state.restarts,
        quarantined_at=None,
        probation=False,
        pending_at=None,
        pending_attempt=0,
        pending_kind=None,
    )
    if had_pending:
        return fresh, Cancel("started by someone else")
    return fresh, Noted("started by someone else: failures reset")


def _on_healthy(state: PolicyState, now: float) -> tuple[PolicyState, Decision]:
    stable = state.stable_since if state.stable_since is not None else now
    new = replace(state, unhealthy_since=None, stable_since=stable)
    if state.pending_at is not None and state.pending_kind is FailureKind.UNHEALTHY:
        return _clear_pending(new), Cancel("recovered by itself")
    return new, Noted("healthy")


def _on_exited(state: PolicyState, reason: str, manual: bool) -> tuple[PolicyState, Decision]:
    new = replace(state, stable_since=None, unhealthy_since=None, manual_stop=manual or state.manual_stop)
    if state.pending_at is not None and (manual or state.pending_kind is FailureKind.UNHEALTHY):
        return _clear_pending(new), Cancel(reason)
    return new, Ignore(reason)


def _on_paused(state: PolicyState, paused: bool) -> tuple[PolicyState, Decision]:
    new = replace(state, paused=paused, unhealthy_since=None)
    if paused and state.pending_at is not None:
        return _clear_pending(new), Cancel("paused")
    return new, Noted("paused" if paused else "unpaused")


def _on_restarted(state: PolicyState, now: float, restart: RestartSettings, counted: bool = True) -> PolicyState:
    if not counted:
        return replace(_clear_pending(state), last_restart_at=now, unhealthy_since=None, stable_since=None)
    kept = state.restarts_within(max(restart.max_restarts_window_seconds, 1.0) * 2, now)[-_MAX_HISTORY:]
    return replace(
        _clear_pending(state),
        restarts=kept + (now,),
        last_restart_at=now,
        probation=False,
        unhealthy_since=None,
        stable_since=None,
    )


def _clear_pending(state: PolicyState) -> PolicyState:
    return replace(state, pending_at=None, pending_attempt=0, pending_kind=None)
