"""The channel protocol: one send per notice, an outcome that says whether to try again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from autoheal.notify.notice import Notice


@dataclass(frozen=True)
class Delivery:
    """How one attempt went. permanent: trying again cannot help (a 4xx, a refused URL)."""

    ok: bool
    permanent: bool = False
    status_code: int | None = None
    error: str = ""
    duration_seconds: float = 0.0


class Channel(Protocol):
    """A place notices go: a webhook, or an Apprise URL."""

    name: str  # unique among the configured channels, stored with each outbox entry
    kind: str  # "webhook" or "apprise": the bounded label of the metrics
    target: str  # where it goes, with secrets masked

    async def send(self, notice: Notice) -> Delivery: ...

    async def close(self) -> None: ...
