"""The engine restarting under a running autoheal: it degrades, reconnects, resyncs and heals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import httpx
import pytest

from autoheal.api.app import create_app
from tests.integration.receiver import Receiver
from tests.integration.support import CRASH_ONCE, Autoheal, inspect, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.engine_restart]

DOCKERD_ENV = "AUTOHEAL_TEST_DOCKERD_LOG"


def dockerd_pid() -> int | None:
    out = subprocess.run(
        ["pidof", "dockerd"], capture_output=True, text=True
    ).stdout.split()
    return int(out[0]) if out else None


async def reconnects_scraped(ah: Autoheal) -> float:
    """autoheal_event_stream_reconnects_total as /metrics serves it."""
    app = create_app(ah.service, manage_service=False, allowed_hosts=["test"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        text = (await client.get("/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("autoheal_event_stream_reconnects_total "))
    return float(line.split()[1])


def engine_answers() -> bool:
    return (
        subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode
        == 0
    )


@pytest.mark.skipif(
    not os.environ.get(DOCKERD_ENV),
    reason=f"only where the test run started the engine ({DOCKERD_ENV})",
)
async def test_it_survives_an_engine_restart_and_heals_afterwards(
    containers, start_autoheal, monkeypatch
):
    monkeypatch.setattr("autoheal.notify.notifier.DEGRADED_HOLD_SECONDS", 1.0)
    receiver = await Receiver().start()
    ah = await start_autoheal(environ={"WEBHOOK_URL": receiver.url("/ok"), "AUTOHEAL_HOSTNAME": "engine-host"})
    reconnects_before = await reconnects_scraped(ah)
    await wait_for(lambda: ah.service.health()[0], "autoheal healthy")
    await asyncio.sleep(2)  # anything told about the start-up (the hold is short here) has been sent
    before = len(receiver.at("/ok"))

    def told() -> list[str]:
        return [r.json()["event"] for r in receiver.at("/ok")[before:]]
    pid = dockerd_pid()
    assert pid, "dockerd is not running as a local process"

    os.kill(pid, signal.SIGTERM)
    await wait_for(lambda: dockerd_pid() is None, "dockerd stopped", timeout=90)
    ok, body = await wait_for(
        lambda: (h := ah.service.health()) and not h[0] and h,
        "autoheal reports degraded",
    )
    assert not body["engine"]["connected"] or not body["engine"]["event_stream_live"]
    # Told once the outage lasted the hold (1 s here), while the engine is still down.
    await wait_for(lambda: told() == ["degraded"], f"a degraded notice; got {told()}")

    with open(os.environ[DOCKERD_ENV], "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    await wait_for(engine_answers, "engine back", timeout=90)
    await wait_for(lambda: ah.service.health()[0], "autoheal healthy again", timeout=90)
    assert ah.service.watcher.status.reconnects >= 1
    assert await reconnects_scraped(ah) >= reconnects_before + 1
    # The outage was told once, and the recovery once.
    await wait_for(lambda: told() == ["degraded", "recovered"], f"degraded and recovered notices; got {told()}")
    assert "engine" in receiver.at("/ok")[before].json()["reason"]
    await receiver.close()
    assert any("restored" in r.reason for r in ah.records(kind="engine"))

    name = containers.run(CRASH_ONCE)
    await ah.wait_record(name, "restart")
    await wait_for(
        lambda: inspect(name)["State"]["Running"], "healed after the engine restart"
    )
