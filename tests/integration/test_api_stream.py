"""The live event stream and token auth over a real uvicorn on a free port."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.integration.support import CRASH_ONCE, wait_for
from tests.integration.test_cli import free_port, get

pytestmark = pytest.mark.integration
TOKEN = "stream-token"


@pytest.fixture
def served(label_key, tmp_path):
    port = free_port()
    env = {**os.environ, "AUTOHEAL_API_TOKEN": TOKEN, "AUTOHEAL_CONTAINER_LABEL": label_key, "AUTOHEAL_STATE": "memory"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoheal", "serve", "--port", str(port), "--metrics-port", "0", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=60)


async def test_the_stream_pushes_a_heal_as_it_happens_and_needs_the_token(served, containers):
    await wait_for(lambda: get(served + "/health")[0] == 200, "serve healthy (without a token)")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=served, timeout=30) as client:
        assert (await client.get("/api/events/stream")).status_code == 401
        assert (await client.get("/api/status", headers={"Authorization": "Bearer wrong"})).status_code == 401
        assert (await client.get("/api/status", headers=auth)).status_code == 200

        seen: list[tuple[str, dict]] = []
        async with client.stream("GET", "/api/events/stream", headers=auth) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            name = containers.run(CRASH_ONCE)

            async def read() -> None:
                event = None
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[len("event: "):]
                    elif line.startswith("data: ") and event:
                        seen.append((event, json.loads(line[len("data: "):])))
                        if event == "record" and seen[-1][1]["kind"] == "restart" and seen[-1][1]["container_name"] == name:
                            return

            await asyncio.wait_for(read(), timeout=60)

    kinds = [(e, d.get("kind")) for e, d in seen if d.get("container_name") == name or d.get("name") == name]
    assert ("record", "scheduled") in kinds
    assert ("record", "restart") in kinds
    assert any(e == "container" and d["name"] == name for e, d in seen)
