"""50 concurrent API writers against `autoheal serve`: no torn writes, and the store agrees with what is served."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.integration.support import HEALTHY_WHILE_OK, wait_for
from tests.integration.test_cli import free_port

pytestmark = pytest.mark.integration

WRITERS = 50


def _serve(env: dict, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "autoheal", "serve", "--port", str(port), "--metrics-port", "0", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def _ready(url: str, names: list[str]) -> bool:
    """Healthy, and the test's containers known (so that selecting them cannot be a 404)."""
    try:
        if httpx.get(url + "/health", timeout=10).status_code != 200:
            return False
        known = {c["name"] for c in httpx.get(url + "/api/containers", timeout=30).json()["containers"]}
        return set(names) <= known
    except httpx.HTTPError:
        return False


async def test_concurrent_writers_leave_one_submitted_state_whole_in_memory_and_in_the_store(
    containers, label_key, tmp_path
):
    names = [containers.run(HEALTHY_WHILE_OK) for _ in range(3)]
    data = tmp_path / "data"
    env = {**os.environ, "AUTOHEAL_CONTAINER_LABEL": label_key, "AUTOHEAL_DATA_DIR": str(data)}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _serve(env, port)
    try:
        await wait_for(lambda: _ready(url, names), "serve ready", timeout=180)
        base = httpx.get(url + "/api/config").json()
        start = threading.Barrier(WRITERS)

        def full(i: int) -> dict:
            doc = json.loads(json.dumps(base))
            doc["monitor"]["interval_seconds"] = 100 + i
            doc["restart"].update(cooldown_seconds=i, max_restarts=1 + i, rate_limit_per_minute=100 + i)
            doc["filters"]["blacklist_names"] = [f"writer-{i}-*"]
            return doc

        def write(i: int) -> int:
            with httpx.Client(base_url=url, timeout=120) as client:
                start.wait()
                if i % 5 in (0, 1, 2):  # a whole configuration
                    return client.put("/api/config", json=full(i)).status_code
                if i % 5 == 3:  # one section, merged into whatever is current
                    return client.put("/api/config/restart", json={"cooldown_seconds": 1000 + i, "max_restarts": 200 + i}).status_code
                return client.post("/api/containers/select", json={"container_ids": names, "enabled": i % 2 == 0}).status_code

        with ThreadPoolExecutor(WRITERS) as pool:
            codes = list(pool.map(write, range(WRITERS)))
        assert codes == [200] * WRITERS, codes

        served = httpx.get(url + "/api/config").json()
        exported = httpx.get(url + "/api/config/export").json()
        j = int(served["monitor"]["interval_seconds"]) - 100
        assert j % 5 in (0, 1, 2) and served["filters"]["blacklist_names"] == [f"writer-{j}-*"]  # one whole document
        restart = served["restart"]
        assert restart["rate_limit_per_minute"] == 100 + j
        if restart["cooldown_seconds"] < 1000:  # the last write was that whole document
            assert (restart["cooldown_seconds"], restart["max_restarts"]) == (j, 1 + j)
            assert served == full(j)
        else:  # a section merged on top of it, whole
            k = int(restart["cooldown_seconds"]) - 1000
            assert k % 5 == 3 and restart["max_restarts"] == 200 + k
        choices = exported["containers"]
        assert {n: choices[n]["enabled"] for n in names} in ({n: True for n in names}, {n: False for n in names})

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
        db = data / "autoheal.sqlite3"
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = json.loads(conn.execute("SELECT document FROM settings WHERE id = 1").fetchone()[0])
            stored_choices = dict(conn.execute("SELECT name, enabled FROM choices").fetchall())
        assert stored == served  # the store holds exactly what was served last
        assert {n: bool(stored_choices[n]) for n in names} == {n: choices[n]["enabled"] for n in names}

        proc = _serve(env, port)
        await wait_for(lambda: _ready(url, names), "serve ready again", timeout=180)
        assert httpx.get(url + "/api/config").json() == served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=90)
