"""Fixtures for tests against a real Docker engine: a local busybox image, containers, autoheal."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autoheal.config import parse_settings
from autoheal.engine.records import Record
from autoheal.engine.service import Service
from autoheal.metrics import Metrics

TEST_LABEL = "autoheal-test"
IMAGE_ENV = "AUTOHEAL_TEST_IMAGE"
DEFAULT_IMAGE = "autoheal-test-busybox:latest"
WAIT_SECONDS = 60.0


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    """Run the docker CLI against the engine the tests use."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def inspect(name: str) -> dict[str, Any]:
    return json.loads(docker("inspect", name))[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart the engine run last, so they cannot disturb the others."""
    items.sort(key=lambda item: item.get_closest_marker("engine_restart") is not None)


@pytest.fixture(scope="session")
def engine() -> None:
    proc = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.fail(
            "integration tests need a running Docker engine (docker info failed: "
            f"{proc.stderr.strip()[:300]}); .ci/run shows how to start one",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def image(engine: None) -> str:
    """A small image with sh and sleep: AUTOHEAL_TEST_IMAGE, else busybox built FROM scratch."""
    chosen = os.environ.get(IMAGE_ENV)
    if chosen:
        return chosen
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not Path(busybox).exists():
        pytest.fail("no static busybox binary found (apt-get install busybox-static), or set AUTOHEAL_TEST_IMAGE")
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copy(busybox, Path(ctx) / "busybox")
        (Path(ctx) / "Dockerfile").write_text(
            "FROM scratch\n"
            "COPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            'RUN ["/bin/sh", "-c", "mkdir -p /tmp && chmod 1777 /tmp"]\n'
            'CMD ["sh"]\n'
        )
        docker("build", "-q", "-t", DEFAULT_IMAGE, ctx, timeout=300)
    return DEFAULT_IMAGE


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
                "--health-cmd", health, "--health-interval", "1s", "--health-retries", "1", "--health-timeout", "2s",
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


@pytest.fixture
def label_key() -> str:
    """A label key unique to the test, so that only its own containers are managed."""
    return f"ahtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def containers(image: str, label_key: str) -> Iterator[Containers]:
    made = Containers(image, label_key)
    yield made
    made.cleanup()


async def wait_for(condition: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
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

    async def wait_record(self, name: str, kind: str, count: int = 1, timeout: float = WAIT_SECONDS) -> list[Record]:
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
        return next((c for c in self.healer.containers.values() if c.name == name), None)


@pytest.fixture
async def start_autoheal(label_key: str, engine: None) -> AsyncIterator[Callable[..., Any]]:
    """Start autoheal with settings (merged over fast test defaults); stopped at teardown."""
    started: list[Service] = []

    async def start(
        settings: dict[str, Any] | None = None,
        environ: dict[str, str] | None = None,
        choices: dict[str, bool] | None = None,
    ) -> Autoheal:
        doc: dict[str, Any] = {
            "monitor": {"label_key": label_key, "interval_seconds": 2},
            "restart": {"cooldown_seconds": 0, "backoff": {"initial_seconds": 0.2, "max_seconds": 1}, "verify_seconds": 5},
        }
        for section, values in (settings or {}).items():
            doc.setdefault(section, {}).update(values)
        service = Service(parse_settings(doc), environ={**os.environ, **(environ or {})}, metrics=Metrics())
        service.healer.choices.update(choices or {})
        await service.start()
        started.append(service)
        await wait_for(lambda: service.watcher.status.stream_live, "autoheal connected to the engine")
        return Autoheal(service)

    yield start
    for service in started:
        await service.stop()
