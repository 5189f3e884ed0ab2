"""Helpers for tests against a real Docker engine: the docker CLI, test containers, waiting."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

from autoheal.engine.records import Record
from autoheal.engine.service import Service

TEST_LABEL = "autoheal-test"
IMAGE_ENV = "AUTOHEAL_TEST_IMAGE"
DEFAULT_IMAGE = "autoheal-test-busybox:latest"
WAIT_SECONDS = 60.0


# Healthy while /tmp/ok exists; the command recreates it on every start.
HEALTHY_WHILE_OK = "touch /tmp/ok; exec sleep 100000"
HEALTH_CMD = "test -f /tmp/ok"
# Crashes once with exit 3, then stays up on the next start (the container's filesystem persists).
CRASH_ONCE = "if [ -f /tmp/crashed ]; then exec sleep 100000; fi; touch /tmp/crashed; sleep 1; exit 3"


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    """Run the docker CLI against the engine the tests use."""
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def inspect(name: str) -> dict[str, Any]:
    return json.loads(docker("inspect", name))[0]


class Containers:
    """Creates test containers and removes them afterwards."""

    def __init__(self, image: str, label_key: str) -> None:
        self.image = image
        self.label_key = label_key
        self.names: list[str] = []

    def run(
        self,
        script: str,
        *,
        monitored: bool = True,
        labels: dict[str, str] | None = None,
        health: str | None = None,
        options: tuple[str, ...] = (),
        name: str | None = None,
    ) -> str:
        """Start a container running `sh -c script`; returns its name."""
        name = name or f"ahtest-{uuid.uuid4().hex[:10]}"
        args = ["run", "-d", "--name", name, "--label", f"{TEST_LABEL}=1"]
        if monitored:
            args += ["--label", f"{self.label_key}=true"]
        for key, value in (labels or {}).items():
            args += ["--label", f"{key}={value}"]
        if health:
            args += [
                "--health-cmd",
                health,
                "--health-interval",
                "1s",
                "--health-retries",
                "1",
                "--health-timeout",
                "2s",
            ]
        args += [*options, self.image, "sh", "-c", script]
        docker(*args)
        self.names.append(name)
        return name

    def id(self, name: str) -> str:
        return inspect(name)["Id"]

    def cleanup(self) -> None:
        if self.names:
            docker("rm", "-f", *self.names, check=False)


async def wait_for(
    condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS
) -> Any:
    """Poll until condition() is truthy; fail with `what` if it never is."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        await asyncio.sleep(0.05)


class Autoheal:
    """An in-process autoheal service against the real engine, with helpers to observe it."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.healer = service.healer

    def records(self, name: str | None = None, kind: str | None = None) -> list[Record]:
        """Oldest first."""
        out = [r for r in reversed(self.healer.events.recent(limit=100000, kind=kind))]
        return [r for r in out if name is None or r.container_name == name]

    async def wait_record(
        self, name: str, kind: str, count: int = 1, timeout: float = WAIT_SECONDS
    ) -> list[Record]:
        return await wait_for(
            lambda: (recs := self.records(name, kind)) and len(recs) >= count and recs,
            f"{count} {kind!r} record(s) for {name}; have {[(r.kind, r.reason) for r in self.records(name)]}",
            timeout,
        )

    async def settle(self) -> None:
        """Let queued events be handled, then run a full reconcile pass."""
        await asyncio.sleep(0.5)
        await self.service.watcher.reconcile()
        await asyncio.sleep(0.2)

    def container(self, name: str):
        return next(
            (c for c in self.healer.containers.values() if c.name == name), None
        )
