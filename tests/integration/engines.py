"""Engines a fault test controls itself: a private dockerd it stops and starts, and a socket that stops answering."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from tests.integration.support import docker


class PrivateEngine:
    """A dockerd of the test's own, beside the shared one: its own socket, data, exec root,
    containerd namespace and bridge, no iptables rules, and live-restore so that its containers
    keep running (and can fail) while it is stopped.

    Never `--bridge none`: dockerd then deletes the host's `docker0`, the shared engine's bridge.
    """

    def __init__(self) -> None:
        # Short: a unix socket path must fit in 108 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="ahd-", dir="/tmp"))
        self.sock = self.dir / "docker.sock"
        self.host = f"unix://{self.sock}"
        self.log = self.dir / "dockerd.log"
        self.proc: subprocess.Popen | None = None
        self.namespace = f"ah{uuid.uuid4().hex[:8]}"
        self.bridge = f"ahbr{uuid.uuid4().hex[:8]}"  # at most 15 characters
        self.subnet = f"10.254.{uuid.uuid4().int % 250 + 1}"

    def _make_bridge(self) -> None:
        if Path(f"/sys/class/net/{self.bridge}").exists():
            return
        for cmd in (
            ["ip", "link", "add", "name", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ):
            subprocess.run(cmd, check=True, capture_output=True)

    def start(self, timeout: float = 120) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._make_bridge()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    "dockerd",
                    "--host", self.host,
                    "--data-root", str(self.dir / "root"),
                    "--exec-root", str(self.dir / "exec"),
                    "--pidfile", str(self.dir / "docker.pid"),
                    "--bridge", self.bridge,
                    "--iptables=false",
                    "--ip-masq=false",
                    "--ip6tables=false",
                    "--live-restore",
                    "--containerd-namespace", self.namespace,
                    "--containerd-plugins-namespace", self.namespace + "p",
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None:
                raise AssertionError(f"private dockerd exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"private dockerd did not answer: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)

    def stop(self, timeout: float = 120) -> None:
        """SIGTERM, as systemd stops it; its containers keep running (live-restore)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def answers(self) -> bool:
        proc = subprocess.run(
            ["docker", "--host", self.host, "version", "--format", "{{.Server.Version}}"],
            capture_output=True, timeout=30,
        )
        return proc.returncode == 0

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        return docker("--host", self.host, *args, check=check, timeout=timeout)

    def inspect(self, name: str) -> dict:
        return json.loads(self.docker("inspect", name))[0]

    def load_image(self, image: str) -> None:
        """The shared engine's test image, copied over (no registry is reachable)."""
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "--host", self.host, "load"], stdin=save.stdout, capture_output=True, timeout=300)
        save.wait(timeout=300)
        assert load.returncode == 0, load.stderr

    def destroy(self) -> None:
        """Remove every container of this engine, stop it, and delete its directory."""
        if self.proc is not None and self.proc.poll() is None:
            ids = self.docker("ps", "-aq", check=False).split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
            self.stop()
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if str(self.dir) in line]
        for mount in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


class SilentProxy:
    """A unix socket in front of the real engine that forwards, until told to go silent: then it
    accepts connections and never replies, and the connections it had stop moving (for good)."""

    def __init__(self, upstream: str = "/var/run/docker.sock") -> None:
        self.upstream = upstream
        self.dir = Path(tempfile.mkdtemp(prefix="ahs-", dir="/tmp"))
        self.path = self.dir / "docker.sock"
        self.host = f"unix://{self.path}"
        self.silent = False
        self._server: asyncio.AbstractServer | None = None
        self._held: list[asyncio.StreamWriter] = []
        self._pipes: set[asyncio.Task] = set()
        self._stalled = asyncio.Event()

    async def start(self) -> SilentProxy:
        self._server = await asyncio.start_unix_server(self._accept, path=str(self.path))
        return self

    def go_silent(self) -> None:
        self.silent = True
        self._stalled.set()

    def answer_again(self) -> None:
        """New connections are forwarded again; those that stalled stay stalled."""
        self.silent = False
        self._stalled = asyncio.Event()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._held.append(writer)
        if self.silent:
            return  # accepted, and never answered
        up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        self._held.append(up_writer)
        stalled = self._stalled
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst, stalled))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, stalled: asyncio.Event) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await src.read(65536):
                if stalled.is_set():
                    await asyncio.Event().wait()  # the engine hangs: nothing moves any more
                dst.write(data)
                await dst.drain()
            dst.close()

    async def close(self) -> None:
        for task in list(self._pipes):
            task.cancel()
        for writer in self._held:
            writer.close()
        if self._server is not None:
            self._server.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def has_dockerd() -> bool:
    return shutil.which("dockerd") is not None and shutil.which("ip") is not None and os.geteuid() == 0


class EngineEvents:
    """The engine's own events for one label, followed live from the start of a test (the engine
    keeps only a short backlog, which a busy shared engine overwrites within seconds)."""

    def __init__(self, label: str, host: str | None = None) -> None:
        args = ["docker"] + (["--host", host] if host else [])
        self._proc = subprocess.Popen(
            [*args, "events", "--filter", "type=container", "--filter", f"label={label}",
             "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.TimeNano}}"],
            stdout=subprocess.PIPE, text=True,
        )
        self.seen: list[tuple[str, str, int]] = []  # (action, container name, time in ns)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        time.sleep(0.5)  # subscribed before the test acts

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            parts = line.split()
            if len(parts) == 3:
                self.seen.append((parts[0].split(":")[0], parts[1], int(parts[2])))

    def names(self, action: str) -> list[str]:
        return [name for act, name, _ in list(self.seen) if act == action]

    def close(self) -> None:
        self._proc.terminate()
        self._proc.wait(timeout=30)
