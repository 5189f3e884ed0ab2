"""The engine restarting under a running autoheal: it degrades, reconnects, resyncs and heals."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.integration.support import CRASH_ONCE, inspect, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.engine_restart]

DOCKERD_ENV = "AUTOHEAL_TEST_DOCKERD_LOG"


def dockerd_pid() -> int | None:
    out = subprocess.run(
        ["pidof", "dockerd"], capture_output=True, text=True
    ).stdout.split()
    return int(out[0]) if out else None


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
    containers, start_autoheal
):
    ah = await start_autoheal()
    assert ah.service.health()[0]
    pid = dockerd_pid()
    assert pid, "dockerd is not running as a local process"

    os.kill(pid, signal.SIGTERM)
    await wait_for(lambda: dockerd_pid() is None, "dockerd stopped", timeout=90)
    ok, body = await wait_for(
        lambda: (h := ah.service.health()) and not h[0] and h,
        "autoheal reports degraded",
    )
    assert not body["engine"]["connected"] or not body["engine"]["event_stream_live"]

    with open(os.environ[DOCKERD_ENV], "ab") as log:
        subprocess.Popen(["dockerd"], stdout=log, stderr=log, start_new_session=True)
    await wait_for(engine_answers, "engine back", timeout=90)
    await wait_for(lambda: ah.service.health()[0], "autoheal healthy again", timeout=90)
    assert ah.service.watcher.status.reconnects >= 1
    assert any("restored" in r.reason for r in ah.records(kind="engine"))

    name = containers.run(CRASH_ONCE)
    await ah.wait_record(name, "restart")
    await wait_for(
        lambda: inspect(name)["State"]["Running"], "healed after the engine restart"
    )
