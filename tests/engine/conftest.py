"""Shared fixtures for the engine tests: a fake engine, a healer wired to it, and waiting helpers."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from autoheal.config import Settings, parse_settings
from autoheal.docker.fake import FakeDocker
from autoheal.domain.models import Container
from autoheal.checks.definition import CheckDefinition
from autoheal.engine.checker import Checker
from autoheal.engine.healer import Healer
from autoheal.engine.records import EventLog, Record

WAIT_SECONDS = 5.0
POLL_SECONDS = 0.01

# Small real timings: no cooldown, 0.05 s backoff without jitter, verification far beyond a test.
BASE_SETTINGS: dict[str, Any] = {
    "restart": {
        "cooldown_seconds": 0,
        "backoff": {"initial_seconds": 0.05, "multiplier": 2, "jitter": False},
        "verify_seconds": 600,
    },
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def make_settings(overrides: dict[str, Any] | None = None) -> Settings:
    return parse_settings(_merge(BASE_SETTINGS, overrides or {}))


async def wait_for(condition: Callable[[], bool], what: str = "condition", timeout: float = WAIT_SECONDS) -> None:
    """Poll every 10 ms; fail after `timeout` seconds (never a timing assertion, only a bound)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(POLL_SECONDS)


class Clock:
    """Wall time plus an offset a test can move forward (sleeps stay real)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class RecordingMetrics:
    def __init__(self) -> None:
        self.done: list[tuple[str, str]] = []
        self.held: list[str] = []

    def restart_done(self, cause: str, outcome: str, detect_seconds: float, duration_seconds: float) -> None:
        self.done.append((cause, outcome))

    def held_back(self, limit: str) -> None:
        self.held.append(limit)


class Harness:
    """A FakeDocker, a Healer on it, and a pump feeding the fake's events to Healer.handle_event."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.fake = FakeDocker()
        self.clock = clock
        self.metrics = RecordingMetrics()
        self.log = EventLog()
        self.healer = Healer(self.fake, settings, self.log, clock=clock, metrics=self.metrics)
        self.handled = 0
        self._base = 0
        self._pump: asyncio.Task[None] | None = None

    async def start_pump(self) -> None:
        opened = asyncio.Event()
        self._base = len(self.fake.history)
        self.handled = 0  # counted per pump, like _base: idle() works after a stop_pump/start_pump
        self._pump = asyncio.create_task(self._run_pump(opened.set))
        await asyncio.wait_for(opened.wait(), WAIT_SECONDS)

    async def _run_pump(self, on_open: Callable[[], None]) -> None:
        async for event in self.fake.events(on_open=on_open):
            await self.healer.handle_event(event)
            self.handled += 1

    async def stop_pump(self) -> None:
        """From here on the healer misses every event (as when the engine drops a slow reader)."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
            self._pump = None

    def delivered(self) -> bool:
        return self._pump is None or self.handled == len(self.fake.history) - self._base

    async def idle(self) -> None:
        """Every event handled, no restart scheduled or under way."""
        await wait_for(lambda: self.delivered() and not self.healer.timers and not self.healer.actions, "idle")

    async def wait_for(self, condition: Callable[[], bool], what: str = "condition") -> None:
        await wait_for(condition, what)

    def records(self, kind: str | None = None, container_id: str | None = None) -> list[Record]:
        """Oldest first."""
        return list(reversed(self.log.recent(10_000, container_id=container_id, kind=kind)))

    def container(self, container_id: str) -> Container:
        return self.fake.containers[container_id]

    async def close(self) -> None:
        await self.stop_pump()
        await self.healer.close(action_timeout_seconds=1)


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Awaitable[None]]:
    return wait_for


@pytest.fixture
def make_container() -> Callable[..., Container]:
    def make(name: str = "web", *, labels: dict[str, str] | None = None, **fields: Any) -> Container:
        fields.setdefault("status", "running")
        if fields["status"] == "running":
            fields.setdefault("started_at", time.time() - 3600)
        return Container(
            id=hashlib.sha256(name.encode()).hexdigest(),
            name=name,
            image="example/app:1",
            labels={"autoheal": "true"} if labels is None else labels,
            **fields,
        )

    return make


@pytest.fixture
async def harness() -> Any:
    """Factory: `await harness(settings_overrides, pump=True)`; every harness is closed afterwards."""
    made: list[Harness] = []
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))

    async def make(overrides: dict[str, Any] | None = None, *, pump: bool = True) -> Harness:
        h = Harness(make_settings(overrides), Clock())
        made.append(h)
        if pump:
            await h.start_pump()
        return h

    yield make
    for h in made:
        await h.close()
    gc.collect()
    await asyncio.sleep(0)
    loop.set_exception_handler(None)
    assert not errors, f"unhandled errors in background tasks: {errors}"


@pytest.fixture
async def checked(harness):
    """Factory: a harness whose healer tells a Checker of every change, as the service wires it."""
    made: list[Checker] = []

    async def make(overrides=None, *, api: dict[str, CheckDefinition] | None = None):
        h = await harness({"monitor": {"start_period_seconds": 0}, **(overrides or {})})
        definitions = api if api is not None else {}
        checker = Checker(h.healer, h.fake, lambda: definitions, clock=h.clock)
        h.healer.on_change = checker.sync
        made.append(checker)
        return h, checker

    yield make
    for checker in made:
        await checker.close()
