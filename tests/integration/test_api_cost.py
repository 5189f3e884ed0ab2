"""Serving the API costs no engine calls per container: it answers from the live view."""

from __future__ import annotations

import httpx
import pytest

from autoheal.api.app import create_app
from tests.integration.support import wait_for

pytestmark = pytest.mark.integration


async def test_listing_containers_makes_no_engine_call(containers, start_autoheal):
    ah = await start_autoheal({"monitor": {"interval_seconds": 3600}})  # no reconcile pass meanwhile
    names = [containers.run("exec sleep 100000") for _ in range(5)]
    await wait_for(lambda: all(ah.container(n) is not None for n in names), "autoheal saw the containers")
    app = create_app(ah.service, manage_service=False, allowed_hosts=["test"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        calls = ah.service.adapter.calls
        listed = (await client.get("/api/containers")).json()["containers"]
        detail = (await client.get(f"/api/containers/{names[0]}")).json()
        status = (await client.get("/api/status")).json()
        assert ah.service.adapter.calls == calls
    assert {n for n in names} <= {c["name"] for c in listed}
    assert detail["name"] == names[0] and detail["monitored"] is True
    assert status["monitored_containers"] >= 5
