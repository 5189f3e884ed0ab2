"""Classifying exits: crash, OOM, clean, manual stop, docker-owned, or autoheal's own."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from autoheal.domain.models import Container
from autoheal.domain.policy import Exited, Failure, FailureKind, Observation

# Exit codes of SIGKILL and SIGTERM: what `docker kill` and `docker stop` leave behind.
_SIGNAL_EXITS = frozenset({137, 143})


class ExitClass(StrEnum):
    """Why a container is no longer running."""

    CRASH = "crash"
    OOM = "oom"
    CLEAN = "clean_exit"
    MANUAL = "manual_stop"
    DOCKER_OWNED = "docker_owned"


@dataclass(frozen=True)
class ExitMemory:
    """What was seen since the container's last start that changes how its exit reads."""

    foreign_kill: bool = False  # a kill or stop autoheal did not send
    oom: bool = False


def _docker_owned(container: Container) -> bool:
    """The engine handles this container's exits: its own restart policy, or State.Restarting."""
    return container.docker_owned or container.status == "restarting"


def classify_die(container: Container, exit_code: int | None, memory: ExitMemory) -> ExitClass:
    """Classify a `die` event seen live on the event stream."""
    if memory.foreign_kill:
        return ExitClass.MANUAL
    if _docker_owned(container):
        return ExitClass.DOCKER_OWNED
    if memory.oom or container.oom_killed:
        return ExitClass.OOM
    if exit_code == 0:
        return ExitClass.CLEAN
    return ExitClass.CRASH


def classify_unobserved(container: Container) -> ExitClass:
    """Classify an exit that only a reconcile pass saw (autoheal was not watching)."""
    if _docker_owned(container):
        return ExitClass.DOCKER_OWNED
    if container.oom_killed:
        return ExitClass.OOM
    if container.exit_code == 0:
        return ExitClass.CLEAN
    if container.exit_code in _SIGNAL_EXITS:
        return ExitClass.MANUAL
    return ExitClass.CRASH


def observation_for(exit_class: ExitClass, exit_code: int | None) -> Observation:
    """The policy observation for an exit class."""
    match exit_class:
        case ExitClass.CRASH:
            return Failure(FailureKind.CRASH, exit_code)
        case ExitClass.OOM:
            return Failure(FailureKind.OOM, exit_code)
        case ExitClass.MANUAL:
            return Exited("stopped by hand", manual=True)
        case ExitClass.DOCKER_OWNED:
            return Exited("the container's own Docker restart policy handles exits")
        case _:
            return Exited(f"exited cleanly (code {exit_code})")
