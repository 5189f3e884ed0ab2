"""Exec check: a command run inside the container (Docker exec) exits 0 within the timeout."""

from __future__ import annotations

import time
from typing import Protocol

from autoheal.checks.base import Outcome
from autoheal.checks.definition import CheckDefinition
from autoheal.domain.models import Container


class ExecPort(Protocol):
    async def exec(self, container_id: str, command: list[str], timeout_seconds: float) -> tuple[int, str]: ...


class ExecCheck:
    """The engine's errors are raised, not judged: the scheduler tells an unreachable engine
    (inconclusive) from a refused exec (a failure)."""

    def __init__(self, docker: ExecPort) -> None:
        self.docker = docker

    async def run(self, container: Container, host: str | None, definition: CheckDefinition) -> Outcome:
        command = list(definition.exec_command or [])
        started = time.monotonic()
        try:
            exit_code, output = await self.docker.exec(container.id, command, definition.timeout_seconds)
        except TimeoutError:
            return Outcome(
                False,
                f"timed out after {definition.timeout_seconds:g}s",
                time.monotonic() - started,
            )
        latency = time.monotonic() - started
        if exit_code != 0:
            tail = output.strip().splitlines()[-3:]
            return Outcome(
                False,
                f"exit code {exit_code}" + (f": {' | '.join(tail)}"[:300] if tail else ""),
                latency,
            )
        return Outcome(True, "exit code 0", latency)
