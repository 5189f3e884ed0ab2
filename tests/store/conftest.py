"""Store fixtures: an in-memory outbox (also used by the notification tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from autoheal.store.db import Database
from autoheal.store.outbox import Outbox


@pytest.fixture
async def outbox() -> AsyncIterator[Outbox]:
    db = Database(None)
    await db.open()
    yield Outbox(db)
    await db.close()
