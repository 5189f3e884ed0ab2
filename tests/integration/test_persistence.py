"""State that survives a restart of autoheal, and settings that change while it runs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from autoheal.config import parse_settings
from tests.integration.support import CRASH_ONCE, docker, inspect, wait_for

pytestmark = pytest.mark.integration

CRASH_LOOP = "sleep 0.3; exit 1"


async def test_a_quarantine_survives_a_restart_of_autoheal(containers, start_autoheal, tmp_path):
    first = await start_autoheal({"restart": {"max_restarts": 2}}, data_dir=tmp_path)
    name = containers.run(CRASH_LOOP)
    await first.wait_record(name, "quarantine")
    await first.service.stop()

    second = await start_autoheal({"restart": {"max_restarts": 2}}, data_dir=tmp_path)
    cid = containers.id(name)
    assert second.healer.state(cid).quarantined
    await second.settle()
    await second.settle()
    assert not inspect(name)["State"]["Running"]
    assert second.records(name, "restart") == []  # nothing new in this run
    page = await second.service.store.query_events(container_id=cid, kinds=("restart", "quarantine"))
    assert [r.kind for _, r in page.records] == ["quarantine", "restart", "restart"]


async def test_the_restart_window_survives_a_restart_of_autoheal(containers, start_autoheal, tmp_path):
    settings = {"restart": {"max_restarts": 3}}
    first = await start_autoheal(settings, data_dir=tmp_path)
    name = containers.run(CRASH_LOOP)
    await first.wait_record(name, "restart", count=2)
    await first.service.stop()
    cid = containers.id(name)
    await wait_for(lambda: not inspect(name)["State"]["Running"], "container down while autoheal is stopped")

    second = await start_autoheal(settings, data_dir=tmp_path)

    [quarantine] = await second.wait_record(name, "quarantine")
    assert quarantine.window_count == 3
    stored = await second.service.store.query_events(container_id=cid, kinds=("restart",), limit=100)
    assert len(stored.records) == 3  # 2 before the restart of autoheal, 1 after: the window held


async def test_a_container_removed_while_autoheal_was_down_is_dropped(containers, start_autoheal, tmp_path):
    first = await start_autoheal({"restart": {"max_restarts": 1}}, data_dir=tmp_path)
    name = containers.run(CRASH_LOOP)
    await first.wait_record(name, "quarantine")
    cid = containers.id(name)
    await first.service.stop()
    docker("rm", "-f", name)

    second = await start_autoheal(data_dir=tmp_path)
    await second.settle()
    assert cid not in second.healer.policy
    await second.service.writer.flush()
    assert cid not in await second.service.store.load_states()


async def test_settings_changed_at_runtime_apply_at_once_and_persist(containers, start_autoheal, tmp_path, label_key):
    ah = await start_autoheal({"monitor": {"interval_seconds": 3600}}, data_dir=tmp_path)
    other_key = label_key + "-new"
    old_label = containers.run(CRASH_ONCE)
    await ah.wait_record(old_label, "restart")

    doc = ah.service.settings.model_dump(mode="json")
    doc["monitor"]["label_key"] = other_key
    changed = await ah.service.apply_settings(parse_settings(doc))
    assert changed == ["monitor.label_key"]

    new_label = containers.run(CRASH_ONCE, monitored=False, labels={other_key: "true"})
    old_again = containers.run(CRASH_ONCE)
    await ah.wait_record(new_label, "restart")
    await wait_for(lambda: (c := ah.container(old_again)) is not None and c.status == "exited", "old label exit seen")
    await ah.settle()
    assert ah.records(old_again, "restart") == []
    await ah.service.stop()

    again = await start_autoheal({"monitor": {"interval_seconds": 3600}}, data_dir=tmp_path)
    assert again.service.settings.monitor.label_key == other_key


async def test_file_and_environment_settings_win_over_stored_ones(start_autoheal, tmp_path):
    first = await start_autoheal(data_dir=tmp_path)
    doc = first.service.settings.model_dump(mode="json")
    doc["restart"]["cooldown_seconds"] = 42
    doc["restart"]["max_restarts"] = 9
    await first.service.apply_settings(parse_settings(doc))
    await first.service.stop()

    second = await start_autoheal(data_dir=tmp_path, explicit={"restart": {"max_restarts": 2}})
    assert second.service.settings.restart.max_restarts == 2  # given explicitly at start
    assert second.service.settings.restart.cooldown_seconds == 42  # changed at runtime, kept


async def test_a_sigkilled_autoheal_restarts_with_a_consistent_store(containers, label_key, tmp_path):
    data = tmp_path / "data"
    env = {
        **os.environ,
        "AUTOHEAL_CONTAINER_LABEL": label_key,
        "AUTOHEAL_DATA_DIR": str(data),
        "AUTOHEAL_RESTART_COOLDOWN_SECONDS": "0",
        "AUTOHEAL_RESTART_BACKOFF_ENABLED": "false",
        "AUTOHEAL_RESTART_MAX_RESTARTS": "1000",
    }
    cmd = [sys.executable, "-m", "autoheal", "serve", "--port", "0", "--metrics-port", "0", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3):
            containers.run("sleep 0.2; exit 1")
        db = data / "autoheal.sqlite3"

        def restarts_written() -> int:
            if not db.exists():
                return 0
            with sqlite3.connect(db) as conn:
                return conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'restart'").fetchone()[0]

        await wait_for(lambda: restarts_written() >= 10, "autoheal busy writing events")
        proc.send_signal(signal.SIGKILL)  # in the middle of a storm of writes
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        before = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    out = subprocess.run([sys.executable, "-m", "autoheal", "config"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_for(lambda: restarts_written() > 0 and _count(db) > before, "autoheal writing again after SIGKILL")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT state FROM container_state").fetchall()
    assert all(json.loads(state)["failures"] >= 0 for (state,) in rows)


def _count(db) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]


async def test_memory_state_writes_nothing_to_disk(label_key, tmp_path, containers):
    data = tmp_path / "data"
    env = {**os.environ, "AUTOHEAL_CONTAINER_LABEL": label_key, "AUTOHEAL_DATA_DIR": str(data), "AUTOHEAL_STATE": "memory"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "autoheal", "serve", "--port", "0", "--metrics-port", "0"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        name = containers.run(CRASH_ONCE)
        first_start = inspect(name)["State"]["StartedAt"]
        await wait_for(
            lambda: (state := inspect(name)["State"])["Running"] and state["StartedAt"] != first_start,
            "healed in memory mode",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert "memory (nothing is written to disk)" in out
    assert list(tmp_path.iterdir()) == []
