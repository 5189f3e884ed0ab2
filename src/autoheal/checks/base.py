"""The one protocol every check kind implements, and what a check run returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from autoheal.checks.definition import CheckDefinition
from autoheal.domain.models import Container


@dataclass(frozen=True)
class Outcome:
    """One run of a check: healthy or not, a short reason, and how long it took."""

    ok: bool
    detail: str
    latency_seconds: float = 0.0
    target: str = ""


class Check(Protocol):
    """Runs one check once; must return within the definition's timeout (the caller also bounds it)."""

    async def run(self, container: Container, host: str | None, definition: CheckDefinition) -> Outcome: ...
