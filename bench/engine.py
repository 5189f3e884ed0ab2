"""The engine side of a benchmark: the docker CLI, the busybox image, a fleet of containers, events."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

IMAGE = os.environ.get("AUTOHEAL_TEST_IMAGE", "autoheal-test-busybox:latest")
RUN_LABEL = "ahbench"  # every container of a run carries ahbench=<run id>
# Healthy while /ahb/<AHB_ID> is absent (the benchmark creates it to make the container unhealthy,
# the start removes it); serves HTTP on 8080 for custom checks; exits 0 on SIGTERM (a prompt
# stop) and 3 on SIGUSR1 (a crash). Sleeps in `wait`, so it forks nothing while idle.
SCRIPT = (
    'trap "exit 0" TERM; trap "exit 3" USR1; rm -f /ahb/$AHB_ID; mkdir -p /www; echo ok > /www/index.html; '
    "httpd -p 8080 -h /www; while :; do sleep 3600 & wait $!; done"
)
# Every probe is an exec the engine runs (about 37 ms of engine CPU each, measured here): 200
# containers probed every second would need about 7 cores. So a few "active" containers are
# probed every second as the issue asks, and the others at the interval that keeps the engine's
# probes within a budget (health_intervals).
ACTIVE = 5


def health_args(interval_seconds: float) -> tuple[str, ...]:
    return ("--health-cmd", "test ! -e /ahb/$AHB_ID", "--health-interval", f"{interval_seconds:g}s",
            "--health-retries", "1", "--health-timeout", "10s")


def background_interval(n: int, budget_per_second: float) -> float:
    """Health interval of the containers beyond the ACTIVE ones: all probes within the budget."""
    spare = budget_per_second - min(n, ACTIVE)
    if budget_per_second <= 0 or n <= ACTIVE:
        return 1.0
    return max(1.0, round((n - ACTIVE) / max(spare, 1.0), 1))


def docker(*args: str, timeout: float = 120) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}… failed: {proc.stderr.strip()[:300]}")
    return proc.stdout.strip()


def engine_version() -> dict[str, str]:
    text = docker("version", "--format", "{{json .Server}}")
    server = json.loads(text)
    return {"version": server.get("Version", ""), "api": server.get("ApiVersion", "")}


def ensure_image() -> str:
    """AUTOHEAL_TEST_IMAGE, else the tests' busybox image, built FROM scratch if missing."""
    if os.environ.get("AUTOHEAL_TEST_IMAGE"):
        return IMAGE
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode == 0:
        return IMAGE
    busybox = shutil.which("busybox") or "/bin/busybox"
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copy(busybox, Path(ctx) / "busybox")
        (Path(ctx) / "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            'RUN ["/bin/sh", "-c", "mkdir -p /tmp && chmod 1777 /tmp"]\nCMD ["sh"]\n'
        )
        docker("build", "-q", "-t", IMAGE, ctx, timeout=300)
    return IMAGE


class Fleet:
    """N containers of one run, all labelled with the run id; removed by cleanup(), also on errors."""

    def __init__(self, run_id: str, label_key: str, workdir: Path) -> None:
        self.run_id = run_id
        self.label_key = label_key
        self.flags = workdir / "flags"
        self.flags.mkdir(parents=True, exist_ok=True)
        self.flags.chmod(0o777)
        # A network of the run's own: independent of the default bridge, and removed with the run.
        self.network = f"ahbench-{run_id}"
        docker("network", "create", "--label", f"{RUN_LABEL}={run_id}", self.network)
        self.names: list[str] = []
        self.ids: dict[str, str] = {}  # name -> id
        self.intervals: dict[str, float] = {}  # name -> health interval (s)

    @property
    def active(self) -> list[str]:
        """The containers probed every second: the ones incidents are made on."""
        return [name for name in self.names if self.intervals[name] == 1.0][:ACTIVE] or self.names[:ACTIVE]

    def _run(self, index: int, started: bool, interval: float) -> tuple[str, str]:
        name = f"ahb-{self.run_id}-{index}"
        args = [
            "run" if started else "create", *(["-d"] if started else []), "--name", name,
            "--label", f"{RUN_LABEL}={self.run_id}", "--label", f"{self.label_key}=true",
            "--network", self.network, "-e", f"AHB_ID={name}", "-v", f"{self.flags}:/ahb", *health_args(interval), IMAGE, "sh", "-c", SCRIPT,
        ]
        return name, docker(*args)

    def add(self, count: int, *, started: bool = True, interval: float = 1.0, workers: int = 4) -> list[str]:
        """Create (and start) count more containers, a few at a time; returns their names."""
        first = len(self.names)
        with ThreadPoolExecutor(workers) as pool:
            made = list(pool.map(lambda i: self._run(i, started, interval), range(first, first + count)))
        for name, cid in made:
            self.names.append(name)
            self.ids[name] = cid
            self.intervals[name] = interval
        return [name for name, _ in made]

    def describe(self) -> dict[str, object]:
        """Containers and their health intervals, for the result files."""
        by_interval: dict[str, int] = {}
        for interval in self.intervals.values():
            by_interval[f"{interval:g}s"] = by_interval.get(f"{interval:g}s", 0) + 1
        return {"containers": len(self.names), "health_interval_counts": by_interval, "health_retries": 1}

    def healthy_count(self) -> int:
        out = docker("ps", "-q", "--filter", f"label={RUN_LABEL}={self.run_id}", "--filter", "health=healthy")
        return len(out.split())

    def wait_healthy(self, count: int | None = None, timeout: float = 300) -> float:
        """Seconds until count (default all) containers report healthy."""
        want = len(self.names) if count is None else count
        start = time.monotonic()
        while self.healthy_count() < want:
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"only {self.healthy_count()} of {want} containers healthy after {timeout:.0f}s")
            time.sleep(0.5)
        return time.monotonic() - start

    def make_unhealthy(self, names: list[str]) -> None:
        for name in names:
            (self.flags / name).touch()

    def crash(self, name: str) -> None:
        """SIGUSR1 to the container's shell: it exits 3. The exec may fail as its container dies."""
        subprocess.run(["docker", "exec", name, "kill", "-USR1", "1"], capture_output=True, timeout=60)

    def health(self, name: str) -> str:
        return docker("inspect", "-f", "{{.State.Status}}/{{.State.Health.Status}}", name)

    def cleanup(self) -> None:
        ids = docker("ps", "-aq", "--filter", f"label={RUN_LABEL}={self.run_id}").split()
        for start in range(0, len(ids), 100):
            subprocess.run(["docker", "rm", "-f", *ids[start:start + 100]], capture_output=True, timeout=300)
        for _ in range(10):  # the engine may still be detaching removed containers from it
            if subprocess.run(["docker", "network", "rm", self.network], capture_output=True, timeout=60).returncode == 0:
                break
            time.sleep(2)
        self.names.clear()
        self.ids.clear()
        self.intervals.clear()


class EventTap:
    """`docker events` of one run in a thread; engine timestamps (timeNano) by container and action."""

    def __init__(self, run_id: str) -> None:
        self.proc = subprocess.Popen(
            ["docker", "events", "--format", "{{json .}}", "--filter", "type=container",
             "--filter", f"label={RUN_LABEL}={run_id}"],
            stdout=subprocess.PIPE, text=True,
        )
        self.times: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            key = (event.get("id", ""), event.get("Action") or event.get("status", ""))
            with self.changed:
                self.times[key].append(int(event["timeNano"]))
                self.changed.notify_all()

    def first_after(self, cid: str, action: str, after_ns: int) -> int | None:
        with self.changed:
            return next((t for t in self.times.get((cid, action), ()) if t > after_ns), None)

    def wait(self, cid: str, action: str, after_ns: int, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = next((t for t in self.times.get((cid, action), ()) if t > after_ns), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {action!r} event for {cid[:12]} within {timeout:.0f}s")
                self.changed.wait(left)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
