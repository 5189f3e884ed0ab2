"""Fixtures for tests against a real Docker engine: a local busybox image, containers, autoheal."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autoheal.config import parse_settings
from autoheal.engine.service import Service
from autoheal.metrics import Metrics
from tests.integration.support import (
    DEFAULT_IMAGE,
    IMAGE_ENV,
    Autoheal,
    Containers,
    docker,
    wait_for,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart the engine run last, so they cannot disturb the others."""
    items.sort(key=lambda item: item.get_closest_marker("engine_restart") is not None)


@pytest.fixture(scope="session")
def engine() -> None:
    proc = subprocess.run(
        ["docker", "info"], capture_output=True, text=True, timeout=60
    )
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
        pytest.fail(
            "no static busybox binary found (apt-get install busybox-static), or set AUTOHEAL_TEST_IMAGE"
        )
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


@pytest.fixture
def label_key() -> str:
    """A label key unique to the test, so that only its own containers are managed."""
    return f"ahtest-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def containers(image: str, label_key: str) -> Iterator[Containers]:
    made = Containers(image, label_key)
    yield made
    made.cleanup()


@pytest.fixture
async def start_autoheal(
    label_key: str, engine: None
) -> AsyncIterator[Callable[..., Any]]:
    """Start autoheal with settings (merged over fast test defaults); stopped at teardown."""
    started: list[Service] = []

    async def start(
        settings: dict[str, Any] | None = None,
        environ: dict[str, str] | None = None,
        choices: dict[str, bool] | None = None,
        data_dir: Path | None = None,
        explicit: dict[str, Any] | None = None,
    ) -> Autoheal:
        """data_dir None: memory state. explicit: settings that win over stored ones."""
        doc: dict[str, Any] = {
            "monitor": {"label_key": label_key, "interval_seconds": 2},
            "restart": {
                "cooldown_seconds": 0,
                "backoff": {"initial_seconds": 0.2, "max_seconds": 1},
                "verify_seconds": 5,
            },
        }
        for section, values in (settings or {}).items():
            doc.setdefault(section, {}).update(values)
        service = Service(
            parse_settings(doc),
            environ={**os.environ, **(environ or {})},
            metrics=Metrics(),
            data_dir=data_dir,
            explicit=explicit,
        )
        service.healer.choices.update(choices or {})
        await service.start()
        started.append(service)
        await wait_for(
            lambda: service.watcher.status.stream_live,
            "autoheal connected to the engine",
        )
        return Autoheal(service)

    yield start
    for service in started:
        if not service.stopped:
            await service.stop()
