"""Typed, frozen views of containers and engine events, built at the adapter edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# Docker restart policies under which the engine itself restarts an exited container.
DOCKER_OWNED_POLICIES = frozenset({"always", "unless-stopped", "on-failure"})


def _frozen(labels: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(labels or {}))


@dataclass(frozen=True)
class Container:
    """A container as autoheal sees it: identity, configuration and current state."""

    id: str
    name: str
    image: str = ""
    labels: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    status: str = "running"  # running, exited, paused, restarting, created, dead, removing
    health: str | None = None  # healthy, unhealthy, starting, or None without a check
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    restart_policy: str = "no"
    stop_timeout_seconds: int | None = None
    has_healthcheck: bool = False
    network_mode: str = ""
    networks: Mapping[str, str] = field(default_factory=lambda: _frozen(None))  # network name -> IP
    compose_project: str = ""  # label com.docker.compose.project
    compose_service: str = ""  # label com.docker.compose.service
    detailed: bool = True  # False when built from a listing (no exit detail)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen(self.labels))
        object.__setattr__(self, "networks", _frozen(self.networks))

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def docker_owned(self) -> bool:
        """The engine restarts this container's exits itself."""
        return self.restart_policy in DOCKER_OWNED_POLICIES


@dataclass(frozen=True)
class Blueprint:
    """What it takes to create a container again, read from its inspect data by the adapter.

    `create_body` is the engine's create request as JSON text: only the adapter reads it.
    """

    container_id: str
    name: str
    network_mode: str
    create_body: str
    auto_remove: bool = False
    swarm_service: bool = False
    image_missing: bool = False
    kept_volumes: tuple[str, ...] = ()  # anonymous volumes carried over by name (their data is kept)


@dataclass(frozen=True)
class DockerEvent:
    """One container event from the engine's stream."""

    action: str  # start, die, oom, kill, stop, restart, destroy, pause, unpause, health_status, create, rename
    container_id: str
    name: str
    time: float
    attributes: Mapping[str, str] = field(default_factory=lambda: _frozen(None))
    health: str | None = None  # for health_status
    exit_code: int | None = None  # for die
    signal: int | None = None  # for kill

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _frozen(self.attributes))
