"""autoheal as a real subprocess (this worktree's code): start, wait for /health, CPU and RSS from /proc."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

SRC = Path(__file__).resolve().parents[1] / "src"
_TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process (all threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak RSS) in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


class Autoheal:
    """One `python3 -m autoheal serve` with its own data dir, port and config; stop() ends it."""

    def __init__(self, workdir: Path, settings: dict[str, Any], *, docker_host: str | None = None,
                 state: str = "sqlite", data_dir: Path | None = None) -> None:
        self.workdir = workdir
        self.data_dir = data_dir or workdir / "data"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = workdir / "config.json"
        config.write_text(json.dumps(settings))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOHEAL_")}
        env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
        if docker_host:
            env["DOCKER_HOST"] = docker_host
        self.log = workdir / "autoheal.log"
        self.command = [sys.executable, "-m", "autoheal", "serve", "--config", str(config), "--host", "127.0.0.1",
                        "--port", str(self.port), "--metrics-port", "0", "--data-dir", str(self.data_dir),
                        "--state", state, "--log-level", "warning"]
        self.spawned_at = time.time()
        self.proc = subprocess.Popen(self.command, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.pid = self.proc.pid
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def wait_healthy(self, timeout: float = 120) -> dict[str, Any]:
        """Poll /health every 10 ms; returns seconds from spawn to 200 and to the first reconcile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"autoheal exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                response = self.http.get("/health", timeout=2)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == 200:
                now = time.time()
                reconciled = response.json()["engine"]["last_reconcile_at"]
                return {"spawn_to_health_200_s": round(now - self.spawned_at, 3),
                        "spawn_to_first_reconcile_s": round(reconciled - self.spawned_at, 3)}
            time.sleep(0.01)
        raise TimeoutError(f"autoheal not healthy within {timeout:.0f}s: {self.log.read_text()[-2000:]}")

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> dict[str, int]:
        return memory_kib(self.pid)

    def metric(self, name: str, labels: str = "") -> float:
        """One sample from /metrics, e.g. metric("autoheal_health_checks_total", 'kind="http"')."""
        want = f"{name}{{{labels}}}" if labels else name
        for line in self.http.get("/metrics/").text.splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return 0.0

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
