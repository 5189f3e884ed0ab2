"""Fixtures for notification tests: an in-memory outbox and a scripted channel."""

from __future__ import annotations

import asyncio

import pytest

from autoheal.notify.base import Delivery
from autoheal.notify.notice import Notice
from tests.store.conftest import outbox  # noqa: F401 - the same in-memory outbox fixture


class ScriptedChannel:
    """Answers each send with the next scripted Delivery (the last one repeats); can hang."""

    kind = "webhook"

    def __init__(self, *answers: Delivery, name: str = "webhook", hang: bool = False) -> None:
        self.name = name
        self.target = f"test://{name}"
        self.answers = list(answers) or [Delivery(True, status_code=200)]
        self.sent: list[Notice] = []
        self.hang = hang
        self.release = asyncio.Event()
        self.closed = False

    async def send(self, notice: Notice) -> Delivery:
        self.sent.append(notice)
        if self.hang:
            await self.release.wait()
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    async def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
