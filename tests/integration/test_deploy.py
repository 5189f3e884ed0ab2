"""The deployment as users run it: the image built, docker-compose.test.yml up on the real engine, autoheal healing from inside its container."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.support import docker, inspect

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PYTHON_IMAGE = "python:3.11-slim-bookworm"
STANDIN_TAG = "autoheal-standin-python:bookworm"
PYTHON_IMAGE_ENV = "AUTOHEAL_TEST_PYTHON_IMAGE"
WAIT_SECONDS = 120.0


def compose_command() -> list[str]:
    """`docker compose` (v2) where the plugin exists, else `docker-compose` (v1, Debian's package)."""
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def python_image(engine: None) -> str:
    """The base for the autoheal image: AUTOHEAL_TEST_PYTHON_IMAGE, else the Dockerfile's default
    where a registry can be reached, else a stand-in built with deploy/standin-base.sh (cached by tag)."""
    chosen = os.environ.get(PYTHON_IMAGE_ENV)
    if chosen:
        return chosen
    for image in (DEFAULT_PYTHON_IMAGE, STANDIN_TAG):
        if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0:
            return image
    if subprocess.run(["docker", "pull", "-q", DEFAULT_PYTHON_IMAGE], capture_output=True, timeout=300).returncode == 0:
        return DEFAULT_PYTHON_IMAGE
    if not shutil.which("debootstrap"):
        pytest.fail(f"no registry and no debootstrap to build a stand-in base (apt-get install debootstrap), or set {PYTHON_IMAGE_ENV}")
    proc = subprocess.run(
        [str(ROOT / "deploy" / "standin-base.sh"), STANDIN_TAG], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, f"building the stand-in base failed: {proc.stderr[-2000:]}"
    return STANDIN_TAG


class Deployment:
    """One docker-compose.test.yml deployment under its own project name, ports and label key."""

    def __init__(self, python_image: str, sample_base: str) -> None:
        self.project = f"ahdeploy-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.env = {
            **os.environ,
            "PYTHON_IMAGE": python_image,
            "AUTOHEAL_TEST_SAMPLE_BASE": sample_base,
            "AUTOHEAL_TEST_AUTOHEAL_TAG": f"{self.project}-autoheal:test",
            "AUTOHEAL_TEST_SAMPLE_TAG": f"{self.project}-sample:test",
            "AUTOHEAL_TEST_PORT": str(self.port),
            "AUTOHEAL_TEST_METRICS_PORT": str(free_port()),
            "AUTOHEAL_TEST_LABEL": self.project,
        }
        self.env.pop("AUTOHEAL_API_TOKEN", None)
        self.base = [*compose_command(), "-p", self.project, "-f", str(ROOT / "docker-compose.test.yml")]
        self.api = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=timeout, env=self.env, cwd=ROOT)
        if check:
            assert proc.returncode == 0, f"compose {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc

    def container(self, service: str) -> str:
        ids = self.compose("ps", "-q", service).stdout.split()
        assert len(ids) == 1, f"{service}: {ids}"
        return ids[0]

    def events(self, container: str, kind: str) -> list[dict]:
        response = self.api.get("/api/events", params={"container": container, "kind": kind})
        response.raise_for_status()
        return response.json()["events"]

    def down(self) -> None:
        self.api.close()
        self.compose("down", "-v", "--remove-orphans", "--timeout", "5", check=False, timeout=300)
        docker("rmi", self.env["AUTOHEAL_TEST_AUTOHEAL_TAG"], self.env["AUTOHEAL_TEST_SAMPLE_TAG"], check=False)


def wait_until(condition, what: str, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.5)


@pytest.fixture
def deployment(python_image: str, image: str) -> Iterator[Deployment]:
    made = Deployment(python_image, image)
    try:
        yield made
    finally:
        if os.environ.get("AUTOHEAL_TEST_KEEP_DEPLOYMENT") != "1":
            made.down()


def test_the_compose_files_are_valid():
    env = {**os.environ, "AUTOHEAL_API_TOKEN": ""}
    for name in ("docker-compose.yml", "docker-compose.socket-proxy.yml", "docker-compose.test.yml"):
        proc = subprocess.run([*compose_command(), "-f", str(ROOT / name), "config", "-q"],
                              capture_output=True, text=True, cwd=ROOT, env=env)
        assert proc.returncode == 0, f"{name}: {proc.stderr}"


def test_the_compose_files_build_with_the_dockerfiles_default_base():
    dockerfile_default = next(
        line.split("=", 1)[1].strip() for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("ARG PYTHON_IMAGE=")
    )
    assert dockerfile_default == DEFAULT_PYTHON_IMAGE
    for name in ("docker-compose.yml", "docker-compose.socket-proxy.yml", "docker-compose.test.yml"):
        assert f"${{PYTHON_IMAGE:-{DEFAULT_PYTHON_IMAGE}}}" in (ROOT / name).read_text(), name


def test_the_test_deployment_heals_from_inside_its_container(deployment: Deployment):
    timings: dict[str, float] = {}
    started = time.monotonic()
    # The image, built as compose would build it, but on the host's network: a build on the
    # default bridge fails whenever that bridge is missing, which a shared test engine allows.
    docker("build", "-q", "--network", "host", "--build-arg", f"PYTHON_IMAGE={deployment.env['PYTHON_IMAGE']}",
           "-t", deployment.env["AUTOHEAL_TEST_AUTOHEAL_TAG"], str(ROOT), timeout=1200)
    deployment.compose("build", "sample-healthy")  # the samples' one image; `up` builds nothing more
    timings["build"] = time.monotonic() - started

    deployment.compose("up", "-d")
    crash = deployment.container("sample-crash")
    first_start = inspect(crash)["State"]["StartedAt"]

    # /health from the host, through the published port.
    health = wait_until(lambda: (r := deployment.api.get("/health")).status_code == 200 and r.json(),
                        "autoheal's /health answers 200 through the published port")
    assert health["engine"]["connected"] and health["engine"]["event_stream_live"]
    assert health["store"] == "/data/autoheal.sqlite3"
    # The compose file keeps the Host check on: a name it was not given is refused (DNS rebinding).
    assert deployment.api.get("/health", headers={"Host": "attacker.example:80"}).status_code == 400
    timings["healthy"] = time.monotonic() - started

    # The samples fail by themselves 20 s after they start; autoheal heals each in its own way.
    for service in ("sample-crash", "sample-unhealthy", "sample-http"):
        cid = deployment.container(service)
        wait_until(lambda: deployment.events(cid, "restart"), f"autoheal restarted {service}")
    assert deployment.events(deployment.container("sample-http"), "health_check_failed")
    crashloop = deployment.container("sample-crashloop")
    wait_until(lambda: deployment.events(crashloop, "quarantine"), "the crash-looping sample is quarantined")
    optout = deployment.container("sample-optout")
    wait_until(lambda: inspect(optout)["State"]["Health"]["Status"] == "unhealthy", "the opted-out sample is unhealthy")
    assert deployment.events(optout, "restart,scheduled") == []
    # The engine agrees: the crashed sample was started again, and runs.
    state = inspect(crash)["State"]
    assert state["Running"] and state["StartedAt"] > first_start
    timings["healed"] = time.monotonic() - started

    # The guided demo, as the README runs it: inside autoheal's container, to the end.
    proc = deployment.compose("exec", "-T", "autoheal", "autoheal", "demo", "--step-timeout", "60", check=False, timeout=600)
    assert proc.returncode == 0, f"demo failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    assert "demo finished: every sample behaved as expected" in proc.stdout
    # It restored what it broke: the opted-out sample is healthy again.
    wait_until(lambda: inspect(optout)["State"]["Health"]["Status"] == "healthy", "the demo restored the opted-out sample")
    timings["demo"] = time.monotonic() - started

    autoheal = deployment.container("autoheal")
    # The image's HEALTHCHECK (every 5 s in the test file) says healthy.
    wait_until(lambda: inspect(autoheal)["State"]["Health"]["Status"] == "healthy", "autoheal's own HEALTHCHECK is healthy")
    # It runs as the unprivileged user with the socket's group, unless the socket belongs to root.
    status = dict(
        line.split(":", 1) for line in docker("exec", autoheal, "cat", "/proc/1/status").splitlines() if ":" in line
    )
    uid, socket_gid = int(status["Uid"].split()[0]), os.stat("/var/run/docker.sock").st_gid
    if socket_gid != 0:
        assert uid == 10001, status["Uid"]
        assert str(socket_gid) in status["Groups"].split(), status["Groups"]
    assert "autoheal" in docker("exec", autoheal, "cat", "/proc/1/cmdline").replace("\0", " ")

    # docker stop ends it cleanly within the stop timeout: exit code 0 (137 would be SIGKILL).
    stop_started = time.monotonic()
    docker("stop", autoheal, timeout=60)
    timings["stop"] = time.monotonic() - stop_started
    assert inspect(autoheal)["State"]["ExitCode"] == 0
    logs = subprocess.run(["docker", "logs", "--tail", "20", autoheal], capture_output=True, text=True)
    assert "autoheal stopped" in logs.stdout + logs.stderr
    timings["total"] = time.monotonic() - started
    print("deployment timings (s):", json.dumps({k: round(v, 1) for k, v in timings.items()}))
