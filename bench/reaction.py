"""Reaction benchmark: engine event of a failure -> autoheal's restart, on a real engine.

Runs autoheal in-process (memory state) against the local engine, creates busybox containers
and, one incident at a time, makes one unhealthy or crash, then reads the engine's own event
timestamps (timeNano) for the failure and for autoheal's action. No wall clock of ours is in the
figures: both ends are stamped by the engine.

    python bench/reaction.py --incidents 20 --out bench/results/reaction.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from autoheal.config import parse_settings
from autoheal.engine.service import Service

IMAGE = os.environ.get("AUTOHEAL_TEST_IMAGE", "autoheal-test-busybox:latest")
# Healthy while /tmp/ok exists; exits 3 when /tmp/die appears; stops promptly on SIGTERM.
SCRIPT = "trap 'exit 0' TERM; rm -f /tmp/die; touch /tmp/ok; while [ ! -f /tmp/die ]; do sleep 0.05; done; exit 3"


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def build_image() -> None:
    if os.environ.get("AUTOHEAL_TEST_IMAGE"):
        return
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copy(shutil.which("busybox") or "/bin/busybox", Path(ctx) / "busybox")
        (Path(ctx) / "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            'RUN ["/bin/sh", "-c", "mkdir -p /tmp && chmod 1777 /tmp"]\n'
        )
        docker("build", "-q", "-t", IMAGE, ctx)


class EventTap:
    """`docker events` in the background; lookups by container and action, engine timestamps."""

    def __init__(self, label: str) -> None:
        self.proc = subprocess.Popen(
            ["docker", "events", "--format", "{{json .}}", "--filter", f"label={label}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict] = []

    async def pump(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, self.proc.stdout.readline)
            if not line:
                return
            self.events.append(json.loads(line))

    async def wait(self, cid: str, action: str, after_ns: int, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events:
                if e.get("id") == cid and e.get("Action", e.get("status")) == action and int(e["timeNano"]) > after_ns:
                    return int(e["timeNano"])
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no {action} for {cid[:12]}")


def summary(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(ordered[-1], 1),
    }


async def run(incidents: int) -> dict:
    build_image()
    label = f"ahbench-{uuid.uuid4().hex[:8]}"
    settings = parse_settings(
        {"monitor": {"label_key": label}, "restart": {"cooldown_seconds": 0, "backoff": {"enabled": False}, "max_restarts": 10000,
                                                 "rate_limit_per_minute": 10000}}
    )
    service = Service(settings)
    tap = EventTap(label)
    pump = asyncio.create_task(tap.pump())
    await service.start()
    names: list[str] = []
    results: dict[str, list[float]] = {"unhealthy_to_kill": [], "unhealthy_to_running": [], "die_to_start": []}
    try:
        while not service.watcher.status.stream_live:
            await asyncio.sleep(0.05)
        name = f"{label}-c"
        names.append(name)
        cid = docker(
            "run", "-d", "--name", name, "--label", f"{label}=true",
            "--health-cmd", "test -f /tmp/ok", "--health-interval", "1s", "--health-retries", "1",
            IMAGE, "sh", "-c", SCRIPT,
        )
        for _ in range(incidents):
            await _wait_healthy(name)
            mark = time.time_ns()
            docker("exec", name, "rm", "/tmp/ok")
            unhealthy = await tap.wait(cid, "health_status: unhealthy", mark)
            killed = await tap.wait(cid, "kill", unhealthy)
            started = await tap.wait(cid, "start", unhealthy)
            results["unhealthy_to_kill"].append((killed - unhealthy) / 1e6)
            results["unhealthy_to_running"].append((started - unhealthy) / 1e6)
        for _ in range(incidents):
            await _wait_healthy(name)
            mark = time.time_ns()
            docker("exec", name, "touch", "/tmp/die")
            died = await tap.wait(cid, "die", mark)
            started = await tap.wait(cid, "start", died)
            results["die_to_start"].append((started - died) / 1e6)
    finally:
        await service.stop()
        docker("rm", "-f", *names)
        tap.proc.terminate()
        pump.cancel()
    return {
        "benchmark": "reaction",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "engine": docker("version", "--format", "{{.Server.Version}}")},
        "settings": "cooldown 0, backoff off, rate limit 10000/min, health interval 1 s, retries 1",
        "results": {key: summary(values) for key, values in results.items()},
    }


async def _wait_healthy(name: str) -> None:
    for _ in range(600):
        if docker("inspect", "-f", "{{.State.Health.Status}}", name) == "healthy":
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{name} never became healthy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    report = asyncio.run(run(args.incidents))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
