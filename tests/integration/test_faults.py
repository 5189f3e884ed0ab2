"""Faults injected for real: an engine that stops, restarts or hangs, and autoheal killed or stopped mid-storm."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from autoheal.config import parse_settings
from autoheal.engine.service import Service
from autoheal.metrics import Metrics
from tests.integration.engines import EngineEvents, PrivateEngine, SilentProxy, has_dockerd
from tests.integration.results import record_result
from tests.integration.support import CRASH_ONCE, HEALTH_CMD, HEALTHY_WHILE_OK, Autoheal, docker, inspect, wait_for
from tests.integration.test_cli import free_port

pytestmark = pytest.mark.integration

# A health check that a busy 2-core machine does not fail by itself (the quick default would start
# restarts before the test means them to).
FORGIVING = ("--health-timeout", "20s", "--health-retries", "2")

# Crashes once (exit 3) when the test touches /trigger/crash, then runs on after its next start.
CRASH_ON_TRIGGER = (
    "if [ -f /tmp/crashed ]; then exec sleep 100000; fi; "
    "while [ ! -f /trigger/crash ]; do sleep 0.2; done; touch /tmp/crashed /trigger/exited; exit 3"
)


def _settings(label_key: str, **restart) -> dict:
    return {
        "monitor": {"label_key": label_key, "interval_seconds": 2},
        "restart": {"cooldown_seconds": 0, "backoff": {"initial_seconds": 0.2, "max_seconds": 1}, "verify_seconds": 5, **restart},
    }


def _problems(service: Service) -> list[str]:
    return service.health()[1]["problems"]


# --- 1. engine faults ---------------------------------------------------------------------------


async def test_an_engine_that_stops_answering_degrades_health_then_autoheal_reconnects_and_heals(
    containers, start_autoheal, monkeypatch
):
    # The default request timeout is 30 s; 5 s keeps the test short, the path is the same.
    monkeypatch.setattr("autoheal.docker.adapter._REQUEST_TIMEOUT_SECONDS", 5)
    proxy = await SilentProxy().start()
    try:
        ah = await start_autoheal(environ={"DOCKER_HOST": proxy.host})
        await wait_for(lambda: ah.service.health()[0], "healthy through the proxy")

        proxy.go_silent()
        silent_at = time.monotonic()
        problems = await wait_for(
            lambda: (p := _problems(ah.service)) and p, "health turns 503 while the engine hangs"
        )
        detected = time.monotonic() - silent_at
        assert any("engine not answering" in p or "engine not connected" in p for p in problems), problems

        name = containers.run(CRASH_ONCE)  # fails while autoheal cannot see the engine
        await wait_for(lambda: (s := inspect(name)["State"]) and not s["Running"] and s["ExitCode"] == 3, "crashed")
        dropped = await wait_for(
            lambda: not ah.service.watcher.status.engine_connected and time.monotonic(), "the hung connection dropped"
        )

        proxy.answer_again()
        back_at = time.monotonic()
        await wait_for(lambda: ah.service.health()[0], "healthy again after the engine answers", timeout=120)
        reconnect = time.monotonic() - back_at
        [healed] = await ah.wait_record(name, "restart", timeout=120)
        healed_after = time.monotonic() - back_at
        await wait_for(lambda: inspect(name)["State"]["Running"], "healed after the hang")
        assert healed.cause == "crash" and healed.exit_code == 3
        assert ah.service.watcher.status.reconnects >= 1
        assert all(loop.crashes == 0 for loop in ah.service.loops), ah.service.health()[1]["loops"]
        assert any("restored" in r.reason for r in ah.records(kind="engine"))
        record_result(
            "engine_hang",
            {
                "interval_seconds": 2,
                "request_timeout_seconds": 5,
                "health_503_after_seconds": round(detected, 2),
                "first_problems": problems,
                "connection_dropped_after_seconds": round(dropped - silent_at, 2),
                "healthy_after_engine_answers_seconds": round(reconnect, 2),
                "container_healed_after_engine_answers_seconds": round(healed_after, 2),
            },
        )
    finally:
        await proxy.close()


@pytest.mark.skipif(not has_dockerd(), reason="needs dockerd and root to run a private engine")
async def test_an_engine_down_at_start_then_stopped_and_started_again_is_survived_and_healed_after(
    image, label_key, caplog, tmp_path
):
    caplog.set_level(logging.INFO, logger="autoheal")
    engine = PrivateEngine()
    trigger = tmp_path / "trigger"
    trigger.mkdir()
    service = Service(
        parse_settings(_settings(label_key)),
        environ={**os.environ, "DOCKER_HOST": engine.host},
        metrics=Metrics(),
    )
    numbers: dict = {"interval_seconds": 2}
    try:
        # Unreachable at start-up: retried, said clearly, no crash loop.
        await service.start()
        problems = await wait_for(lambda: (p := _problems(service)) and "does not exist" in " ".join(p) and p, "503 why")
        await wait_for(lambda: "reconnecting to the engine in" in caplog.text, "a retry is logged")
        unavailable = [r for r in caplog.records if "engine unavailable" in r.getMessage()]
        assert len(unavailable) == 1 and str(engine.sock) in unavailable[0].getMessage()
        assert unavailable[0].levelno == logging.WARNING
        assert all(loop.crashes == 0 for loop in service.loops)
        numbers["problems_before_the_engine_exists"] = problems

        started = time.monotonic()
        engine.start()
        answering = time.monotonic()
        await wait_for(lambda: service.health()[0], "connected once the engine is up", timeout=120)
        numbers["engine_start_seconds"] = round(answering - started, 2)
        numbers["connected_after_engine_answers_seconds"] = round(time.monotonic() - answering, 2)

        engine.load_image(image)
        name = "ahfault-" + label_key
        engine.docker(
            "run", "-d", "--name", name, "--network", "none", "--label", f"{label_key}=true",
            "-v", f"{trigger}:/trigger", image, "sh", "-c", CRASH_ON_TRIGGER,
        )
        ah = Autoheal(service)
        await wait_for(lambda: (c := ah.container(name)) is not None and c.running, "autoheal sees the container")

        stop_at = time.monotonic()
        engine.stop()  # live-restore: the container keeps running without its engine
        numbers["engine_stop_seconds"] = round(time.monotonic() - stop_at, 2)
        problems = await wait_for(lambda: (p := _problems(service)) and p, "503 while the engine is stopped")
        numbers["health_503_after_engine_stopped_seconds"] = round(time.monotonic() - stop_at, 2)
        numbers["problems_while_stopped"] = problems
        assert any("engine not connected" in p or "event stream" in p for p in problems), problems

        (trigger / "crash").touch()  # the container fails during the outage
        await wait_for(lambda: (trigger / "exited").exists(), "the container exited while the engine was down")

        restart_at = time.monotonic()
        engine.start()
        answering = time.monotonic()
        await wait_for(lambda: service.health()[0], "healthy after the engine restart", timeout=120)
        numbers["engine_restart_seconds"] = round(answering - restart_at, 2)
        numbers["reconnected_after_engine_answers_seconds"] = round(time.monotonic() - answering, 2)
        [healed] = await ah.wait_record(name, "restart", timeout=120)
        numbers["healed_after_engine_answers_seconds"] = round(time.monotonic() - answering, 2)
        assert healed.cause == "crash" and healed.exit_code == 3, healed
        await wait_for(lambda: engine.inspect(name)["State"]["Running"], "running again on the private engine")
        assert service.watcher.status.reconnects >= 1
        assert all(loop.crashes == 0 for loop in service.loops)
        assert "Traceback" not in caplog.text
        record_result("engine_stop_start", numbers)
    finally:
        if not service.stopped:
            await service.stop()
        engine.destroy()


# --- 2. autoheal's own faults --------------------------------------------------------------------


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "autoheal", "serve", "--port", str(port), "--metrics-port", "0"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except OSError:
        return 0, None


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


async def test_sigkill_in_a_restart_storm_loses_and_doubles_no_restart(containers, label_key, tmp_path):
    max_restarts, count = 3, 6
    data = tmp_path / "data"
    env = {
        **os.environ,
        "AUTOHEAL_CONTAINER_LABEL": label_key,
        "AUTOHEAL_DATA_DIR": str(data),
        "AUTOHEAL_INTERVAL": "2",
        "AUTOHEAL_RESTART_COOLDOWN_SECONDS": "0",
        "AUTOHEAL_RESTART_BACKOFF_ENABLED": "false",
        "AUTOHEAL_RESTART_MAX_RESTARTS": str(max_restarts),
        "AUTOHEAL_RESTART_RATE_LIMIT_PER_MINUTE": "1000",
        "AUTOHEAL_LOG_LEVEL": "info",
    }
    db = data / "autoheal.sqlite3"
    port = free_port()
    log = tmp_path / "serve.log"
    seen = EngineEvents(label_key)
    proc = _serve(env, port, log)
    try:
        await wait_for(lambda: _get(f"http://127.0.0.1:{port}/health")[0] == 200, "serve healthy")
        names = [containers.run("sleep 0.5; exit 1") for _ in range(count)]

        def starts_by_autoheal() -> int:
            return len(seen.names("start")) - count

        await wait_for(lambda: starts_by_autoheal() >= count, "the storm under way", timeout=120)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        killed_after = starts_by_autoheal()
        assert _integrity(db) == "ok"

        proc = _serve(env, port, log)
        url = f"http://127.0.0.1:{port}/api/containers"
        await wait_for(
            lambda: (r := _get(url))[0] == 200
            and sum(1 for c in r[1]["containers"] if c["name"] in names and c["quarantined"]) == count,
            "every container quarantined after the restart of autoheal",
            timeout=180,
        )
        await wait_for(lambda: _get(f"http://127.0.0.1:{port}/health")[0] == 200, "healthy")
        time.sleep(3)  # a reconcile pass or two: nothing more may happen
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        seen.close()

    assert _integrity(db) == "ok", log.read_text()[-3000:]
    started = seen.names("start")
    with sqlite3.connect(db) as conn:
        states = {name: json.loads(state) for name, state in conn.execute("SELECT name, state FROM container_state")}
        restarts = dict(conn.execute(
            "SELECT container_name, COUNT(*) FROM events WHERE kind = 'restart' GROUP BY container_name"
        ).fetchall())
    per_container = {}
    for name in names:
        by_autoheal = started.count(name) - 1  # the first start is the test's own docker run
        assert states[name]["quarantined_at"] is not None, states[name]
        window = states[name]["restarts"]
        # The engine started it exactly as often as the policy allows and the store counted.
        assert by_autoheal == max_restarts == len(window), (name, by_autoheal, window)
        per_container[name] = {"engine_starts": by_autoheal, "restart_records": restarts.get(name, 0)}
        assert restarts.get(name, 0) <= by_autoheal
    record_result(
        "sigkill_mid_storm",
        {"containers": count, "max_restarts": max_restarts, "restarts_before_sigkill": killed_after, "per_container": per_container},
    )


async def test_sigterm_mid_restart_exits_cleanly_and_leaves_no_container_half_restarted(containers, label_key, tmp_path):
    data = tmp_path / "data"
    env = {
        **os.environ,
        "AUTOHEAL_CONTAINER_LABEL": label_key,
        "AUTOHEAL_DATA_DIR": str(data),
        "AUTOHEAL_INTERVAL": "2",
        "AUTOHEAL_RESTART_COOLDOWN_SECONDS": "0",
    }
    port = free_port()
    log = tmp_path / "serve.log"
    # sleep as PID 1 ignores SIGTERM: each restart takes its whole 4 s stop timeout.
    names = [containers.run(HEALTHY_WHILE_OK, health=HEALTH_CMD, labels={"autoheal.stop.timeout": "4"}, options=FORGIVING) for _ in range(3)]
    await wait_for(lambda: all(inspect(n)["State"]["Health"]["Status"] == "healthy" for n in names), "healthy")
    proc = _serve(env, port, log)
    seen = EngineEvents(label_key)
    try:
        await wait_for(lambda: _get(f"http://127.0.0.1:{port}/health")[0] == 200, "serve healthy")
        for name in names:
            docker("exec", name, "rm", "/tmp/ok")
        await wait_for(lambda: seen.names("kill"), "a restart in flight", timeout=120)
        in_flight = sorted(set(seen.names("kill")))
        term_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
        shutdown = time.monotonic() - term_at
        time.sleep(1)  # the last events on their way
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        seen.close()
    out = log.read_text()
    assert code == 0, out
    assert "autoheal stopped" in out
    # Every restart that had begun was finished: each killed container was started again.
    for name in in_flight:
        assert inspect(name)["State"]["Running"], name
        assert seen.names("start").count(name) >= 1, (name, seen.seen)
    db = data / "autoheal.sqlite3"
    assert _integrity(db) == "ok"
    with sqlite3.connect(db) as conn:
        recorded = {n for (n,) in conn.execute("SELECT container_name FROM events WHERE kind = 'restart'")}
    assert set(in_flight) <= recorded  # autoheal waited for them and wrote down how they went
    record_result(
        "sigterm_mid_restart",
        {"restarts_in_flight_at_sigterm": len(in_flight), "stop_timeout_seconds": 4, "shutdown_seconds": round(shutdown, 2)},
    )
