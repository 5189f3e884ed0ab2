"""`autoheal serve` as a user runs it: health, metrics, healing, a clear error, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.integration.support import CRASH_ONCE, inspect, wait_for

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


class Served:
    def __init__(self, proc: subprocess.Popen, port: int, metrics_port: int) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{port}"
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"


@pytest.fixture
def serve(tmp_path) -> Iterator:
    procs: list[subprocess.Popen] = []

    def start(**env: str) -> Served:
        port, metrics_port = free_port(), free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "autoheal",
                "serve",
                "--port",
                str(port),
                "--metrics-port",
                str(metrics_port),
            ],
            env={**os.environ, "AUTOHEAL_DATA_DIR": str(tmp_path / "data"), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return Served(proc, port, metrics_port)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def restarts(metrics_text: str, cause: str) -> float:
    prefix = (
        f'autoheal_container_restarts_total{{cause="{cause}",outcome="restarted"}} '
    )
    values = [
        float(line[len(prefix) :])
        for line in metrics_text.splitlines()
        if line.startswith(prefix)
    ]
    return values[0] if values else 0.0


async def test_serve_heals_with_classic_env_and_stops_cleanly(
    serve, containers, label_key, tmp_path
):
    served = serve(AUTOHEAL_CONTAINER_LABEL=label_key, AUTOHEAL_INTERVAL="2")
    await wait_for(lambda: get(served.url + "/health")[0] == 200, "serve healthy")
    body = json.loads(get(served.url + "/health")[1])
    assert body["engine"]["connected"] and body["engine"]["event_stream_live"]
    assert (tmp_path / "data").is_dir()

    name = containers.run(CRASH_ONCE)
    await wait_for(
        lambda: restarts(get(served.metrics_url)[1], "crash") == 1.0,
        "restart counted on the metrics port",
    )
    await wait_for(lambda: inspect(name)["State"]["Running"], "container running again")
    assert restarts(get(served.url + "/metrics/")[1], "crash") == 1.0

    served.proc.send_signal(signal.SIGTERM)
    out, _ = served.proc.communicate(timeout=60)
    assert served.proc.returncode == 0, out
    assert "autoheal stopped" in out


async def test_serve_says_clearly_when_the_socket_is_missing(serve, tmp_path):
    served = serve(DOCKER_SOCK=str(tmp_path / "nope.sock"), DOCKER_HOST="")
    status, text = await wait_for(
        lambda: (r := get(served.url + "/health"))[0] == 503 and r,
        "health says degraded",
    )
    body = json.loads(text)
    assert any("nope.sock does not exist" in p for p in body["problems"])
    assert served.proc.poll() is None  # it keeps retrying instead of exiting


async def test_serve_answers_only_to_loopback_names_and_autoheal_allowed_hosts(serve):
    served = serve(AUTOHEAL_ALLOWED_HOSTS="autoheal.lan, other.lan")
    await wait_for(lambda: get(served.url + "/health")[0] in (200, 503), "serve answering")

    port = served.url.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"autoheal.lan:{port}", "other.lan"):
        assert get(served.url + "/api/status", host=host)[0] == 200, host
    status, text = get(served.url + "/api/status", host=f"evil.example:{port}")
    assert status == 400
    assert json.loads(text)["detail"] == "host not allowed"


def test_a_bad_config_file_is_refused_with_the_field_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"restart": {"cooldown_seconds": "soon"}}))
    proc = subprocess.run(
        [sys.executable, "-m", "autoheal", "serve", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "restart.cooldown_seconds" in proc.stderr


async def test_docker_api_version_pins_the_api_version(serve, containers, label_key):
    served = serve(AUTOHEAL_CONTAINER_LABEL=label_key, DOCKER_API_VERSION="1.40")
    await wait_for(lambda: get(served.url + "/health")[0] == 200, "serve healthy")
    assert json.loads(get(served.url + "/health")[1])["engine"]["api_version"] == "1.40"
    name = containers.run(CRASH_ONCE)
    await wait_for(
        lambda: restarts(get(served.metrics_url)[1], "crash") == 1.0,
        "healed through API 1.40",
    )
    assert inspect(name)["State"]["Running"]


def test_a_malformed_docker_api_version_is_refused():
    proc = subprocess.run(
        [sys.executable, "-m", "autoheal", "serve"],
        env={**os.environ, "DOCKER_API_VERSION": "latest"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "DOCKER_API_VERSION='latest'" in proc.stderr


async def test_json_logs_carry_each_decision_with_its_record_fields(serve, containers, label_key):
    served = serve(AUTOHEAL_CONTAINER_LABEL=label_key, AUTOHEAL_LOG_FORMAT="json", AUTOHEAL_LOG_LEVEL="info")
    await wait_for(lambda: get(served.url + "/health")[0] == 200, "serve healthy")
    name = containers.run(CRASH_ONCE)
    await wait_for(lambda: restarts(get(served.metrics_url)[1], "crash") == 1.0, "restart counted")
    served.proc.send_signal(signal.SIGTERM)
    out, _ = served.proc.communicate(timeout=60)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]  # every line is one JSON object
    [restart] = [line for line in lines if line.get("kind") == "restart" and line.get("container_name") == name]
    assert restart["level"] == "info" and restart["logger"] == "autoheal.events"
    assert restart["cause"] == "crash" and restart["exit_code"] == 3 and restart["container_id"]
    assert {"ts", "message", "reason", "time", "attempt"} <= set(restart)
    assert any(line["message"] == "autoheal stopped" for line in lines)


def test_a_bad_log_format_or_notification_variable_is_refused_at_start(tmp_path):
    for env in ({"AUTOHEAL_LOG_FORMAT": "xml"}, {"WEBHOOK_URL": "ftp://example.com/x"}, {"APPRISE_URL": "nonsense://x"}):
        proc = subprocess.run(
            [sys.executable, "-m", "autoheal", "serve", "--port", str(free_port()), "--metrics-port", "0"],
            env={**os.environ, "AUTOHEAL_DATA_DIR": str(tmp_path / "data"), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, (env, proc.stderr)
        assert "configuration error" in proc.stderr and next(iter(env)) in proc.stderr, proc.stderr
