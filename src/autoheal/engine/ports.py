"""What the engine needs from its collaborators: the Docker engine and the metrics."""

from __future__ import annotations

from typing import Protocol

from autoheal.domain.models import Blueprint, Container


class DockerPort(Protocol):
    """What the healer needs from the engine (the adapter and the fake both provide it)."""

    async def list_containers(self) -> list[Container]: ...
    async def inspect(self, container_id: str) -> Container: ...
    async def restart(self, container_id: str, stop_timeout_seconds: int) -> None: ...
    async def start(self, container_id: str) -> None: ...
    # Recreating a dependent whose parent was replaced:
    async def stop(self, container_id: str, stop_timeout_seconds: int) -> None: ...
    async def rename(self, container_id: str, new_name: str) -> None: ...
    async def delete(self, container_id: str, *, force: bool = False) -> None: ...
    async def blueprint(self, container_id: str) -> Blueprint: ...
    async def create(self, blueprint: Blueprint, *, name: str, network_mode: str) -> str: ...


class HealerMetrics(Protocol):
    """The counters the healer moves (see autoheal.metrics)."""

    def restart_done(self, cause: str, outcome: str, detect_seconds: float, duration_seconds: float) -> None: ...
    def held_back(self, limit: str) -> None: ...


class NoMetrics:
    def restart_done(self, cause: str, outcome: str, detect_seconds: float, duration_seconds: float) -> None:
        pass

    def held_back(self, limit: str) -> None:
        pass
