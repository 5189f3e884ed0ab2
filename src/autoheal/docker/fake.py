"""A scripted in-memory Docker engine with the adapter's interface, for unit tests."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from autoheal.docker.adapter import container_from_listing
from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable
from autoheal.domain.models import Blueprint, Container, DockerEvent

FAKE_VERSION: dict[str, Any] = {"Version": "27.3.1-fake", "ApiVersion": "1.47"}
ENGINE_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
# What `docker stop` (SIGTERM) and `docker kill` (SIGKILL) leave behind.
SIGTERM, SIGTERM_EXIT = 15, 143
SIGKILL, SIGKILL_EXIT = 9, 137


@dataclass
class _Failure:
    verb: str
    message: str
    container_id: str | None
    times: int | None  # None: every call
    after_stop: bool


def listing_entry(c: Container) -> dict[str, Any]:
    """The container as GET /containers/json shows it: health and exit code only in the status text."""
    running, paused, exited = "Up 5 minutes", "Up 5 minutes (Paused)", f"Exited ({c.exit_code}) 5 seconds ago"
    status = {"running": running, "paused": paused, "exited": exited}.get(c.status, c.status.capitalize())
    if c.running and c.has_healthcheck and c.health:
        status += " (health: starting)" if c.health == "starting" else f" ({c.health})"
    names, host = ["/" + c.name], {"NetworkMode": c.network_mode}
    return {"Id": c.id, "Names": names, "Image": c.image, "Labels": dict(c.labels), "State": c.status,
            "Status": status, "HostConfig": host}


class FakeDocker:
    """Containers, an event log and action calls in memory; behaves like the engine, scripted to fail."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.containers: dict[str, Container] = {}
        self.history: list[DockerEvent] = []  # every event emitted; replayed to streams opened with `since`
        self.actions: list[tuple[str, str, int | None]] = []  # (verb, id, stop timeout) of every action call
        self.calls = self.connects = self.closes = 0
        self.available = True
        self.down_message = ENGINE_DOWN
        self.hold: asyncio.Event | None = None  # set by a test: actions wait for it, holding them in flight
        self.in_flight = self.peak_in_flight = 0
        self._failures: list[_Failure] = []
        self.execs: list[tuple[str, list[str]]] = []  # (id, command) of every exec call
        self._exec_results: dict[str, tuple[int, str, float]] = {}
        self._streams: list[asyncio.Queue[DockerEvent | EngineUnavailable]] = []
        self.blueprint_flags: dict[str, dict[str, Any]] = {}  # id -> Blueprint fields a test sets
        self._created = 0


        self._hung: list[asyncio.Queue[DockerEvent | EngineUnavailable]] = []  # streams of a hung engine

    # --- scripting the world ----------------------------------------------------

    def add(self, container: Container) -> Container:
        """A container that already exists (no event: it was there before anyone watched)."""
        return self._put(replace(container, detailed=True))

    def fail(self, verb: str, message: str, *, container_id: str | None = None, times: int | None = 1,
             after_stop: bool = False) -> None:
        """The next `times` calls of `verb` raise ActionFailed; after_stop: restart stops it, then fails to start."""
        self._failures.append(_Failure(verb, message, container_id, times, after_stop))

    def go_down(self, message: str = ENGINE_DOWN, *, silent: bool = False) -> None:
        """Every call raises EngineUnavailable; open streams fail, or (silent) hang for good: like a
        real hung engine's, closing the client does not end them either."""
        self.available = False
        self.down_message = message
        if silent:
            self._hung.extend(self._streams)
        else:
            self._drop(f"event stream lost: {message}")

    def come_back(self) -> None:
        self.available = True

    def crash(self, container_id: str, exit_code: int = 1) -> None:
        """The main process exits on its own (exit 0 is a clean exit)."""
        self._die(self._running(container_id), exit_code)

    def oom(self, container_id: str) -> None:
        container = self._running(container_id)
        self._emit(container, "oom")
        self._die(container, SIGKILL_EXIT, oom=True)

    def user_stop(self, container_id: str, exit_code: int = SIGTERM_EXIT) -> None:
        """`docker stop`: kill(15), die, stop."""
        container = self._running(container_id)
        self._emit(container, "kill", signal=SIGTERM)
        self._emit(self._die(container, exit_code), "stop")

    def user_kill(self, container_id: str) -> None:
        """`docker kill`: kill(9), die(137)."""
        container = self._running(container_id)
        self._emit(container, "kill", signal=SIGKILL)
        self._die(container, SIGKILL_EXIT)

    def user_start(self, container_id: str) -> None:
        """`docker start` (a no-op on a running container, as in the engine)."""
        container = self._get(container_id)
        if not container.running:
            self._start(container)

    def set_health(self, container_id: str, health: str) -> None:
        """The health check's verdict; the engine emits health_status only when it changes."""
        container = self._get(container_id)
        if container.status not in ("running", "paused"):
            raise ValueError(f"{container.name} is {container.status}: its health check does not run")
        if container.health != health:
            changed = self._put(replace(container, health=health, has_healthcheck=True))
            self._emit(changed, "health_status", health=health)

    def script_exec(self, container_id: str, exit_code: int = 0, output: str = "", *, delay_seconds: float = 0.0) -> None:
        """What `exec` in this container answers from now on, after delay_seconds (bounded by the caller's timeout)."""
        self._exec_results[self._get(container_id).id] = (exit_code, output, delay_seconds)

    def pause(self, container_id: str) -> None:
        self._emit(self._put(replace(self._running(container_id), status="paused")), "pause")

    def unpause(self, container_id: str) -> None:
        container = self._get(container_id)
        if container.status != "paused":
            raise ValueError(f"{container.name} is {container.status}, not paused")
        self._emit(self._put(replace(container, status="running")), "unpause")

    def run(self, container: Container) -> Container:
        """`docker run`: the container is created (event) and started (event)."""
        created = self._put(replace(container, status="created", detailed=True))
        self._emit(created, "create")
        return self._start(created)

    def remove(self, container_id: str) -> None:
        """`docker rm -f`: a running container is killed first, then destroyed."""
        container = self._get(container_id)
        if container.status in ("running", "paused"):
            self._emit(container, "kill", signal=SIGKILL)
            container = self._die(container, SIGKILL_EXIT)
        del self.containers[container.id]
        self._emit(container, "destroy")

    # --- the adapter's interface ------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        self.connects += 1
        self._check()
        return dict(FAKE_VERSION)

    async def list_containers(self) -> list[Container]:
        """Through the adapter's own parser, so the listing has exactly the adapter's gaps."""
        self._check()
        return [container_from_listing(listing_entry(c)) for c in self.containers.values()]

    async def inspect(self, container_id: str) -> Container:
        self._check()
        return self._get(container_id)

    async def restart(self, container_id: str, stop_timeout_seconds: int) -> None:
        """kill, die, stop (when running), then start and restart."""
        async with self._action("restart", container_id, stop_timeout_seconds) as (container, failure):
            if container.status == "paused":
                raise ActionFailed(f"Cannot restart container {container_id}: container is paused, unpause it first")
            if container.running:
                self._emit(container, "kill", signal=SIGTERM)
                container = self._die(container, SIGTERM_EXIT)
                self._emit(container, "stop")
            if failure is not None:
                raise ActionFailed(failure.message)
            self._emit(self._start(container), "restart")

    async def start(self, container_id: str) -> None:
        async with self._action("start", container_id, None) as (container, failure):
            if container.status == "paused":
                raise ActionFailed("cannot start a paused container, try unpause instead")
            if failure is not None:
                raise ActionFailed(failure.message)
            if not container.running:
                self._start(container)

    async def stop(self, container_id: str, stop_timeout_seconds: int) -> None:
        async with self._action("stop", container_id, stop_timeout_seconds) as (container, failure):
            if failure is not None:
                raise ActionFailed(failure.message)
            if container.running:
                self._emit(container, "kill", signal=SIGTERM)
                self._emit(self._die(container, SIGTERM_EXIT), "stop")

    async def rename(self, container_id: str, new_name: str) -> None:
        async with self._action("rename", container_id, None) as (container, failure):
            if failure is not None:
                raise ActionFailed(failure.message)
            if any(c.name == new_name for c in self.containers.values() if c.id != container.id):
                raise ActionFailed(f'Conflict. The container name "/{new_name}" is already in use')
            self._emit(self._put(replace(container, name=new_name)), "rename")

    async def delete(self, container_id: str, *, force: bool = False) -> None:
        async with self._action("delete", container_id, None) as (container, failure):
            if failure is not None:
                raise ActionFailed(failure.message)
            if container.running and not force:
                raise ActionFailed(f"You cannot remove a running container {container.id}. Stop the container before attempting removal or force remove")
            self.remove(container.id)

    async def blueprint(self, container_id: str) -> Blueprint:
        """The fake's create body is the container's own fields, as JSON."""
        self._check()
        c = self._get(container_id)
        body = {"image": c.image, "labels": dict(c.labels), "restart_policy": c.restart_policy,
                "stop_timeout_seconds": c.stop_timeout_seconds, "has_healthcheck": c.has_healthcheck}
        fields: dict[str, Any] = {"container_id": c.id, "name": c.name, "network_mode": c.network_mode,
                                  "create_body": json.dumps(body)}
        return Blueprint(**{**fields, **self.blueprint_flags.get(c.id, {})})

    async def create(self, blueprint: Blueprint, *, name: str, network_mode: str) -> str:
        async with self._action("create", name, None, existing=False) as (_, failure):
            if failure is not None:
                raise ActionFailed(failure.message)
            if any(c.name == name for c in self.containers.values()):
                raise ActionFailed(f'Conflict. The container name "/{name}" is already in use')
            self._created += 1
            cid = hashlib.sha256(f"{name}/{self._created}".encode()).hexdigest()
            body = json.loads(blueprint.create_body)
            created = self._put(Container(id=cid, name=name, status="created", network_mode=network_mode,
                                          started_at=None, **body))
            self._emit(created, "create")
            return cid

    async def exec(self, container_id: str, command: list[str], timeout_seconds: float) -> tuple[int, str]:
        """As the adapter: TimeoutError past timeout_seconds; exit 0 and no output unless scripted."""
        self._check()
        container = self._get(container_id)
        self.execs.append((container.id, list(command)))
        if not container.running:
            raise ActionFailed(f"container {container.id} is not running")
        exit_code, output, delay_seconds = self._exec_results.get(container.id, (0, "", 0.0))
        async with asyncio.timeout(timeout_seconds):
            await asyncio.sleep(delay_seconds)
        return exit_code, output

    async def events(self, since: float | None = None, on_open: Callable[[], None] | None = None,
                     ) -> AsyncIterator[DockerEvent]:
        """Events as they happen (after those since `since`); raises EngineUnavailable when dropped."""
        self._check()
        queue: asyncio.Queue[DockerEvent | EngineUnavailable] = asyncio.Queue()
        for event in self.history if since is not None else ():
            if event.time >= since:  # type: ignore[operator]
                queue.put_nowait(event)
        self._streams.append(queue)
        try:
            if on_open is not None:
                on_open()
            while True:
                item = await queue.get()
                if isinstance(item, EngineUnavailable):
                    raise item
                yield item
        finally:
            self._streams.remove(queue)
            if queue in self._hung:
                self._hung.remove(queue)

    async def close(self) -> None:
        """Closing the client ends any open stream, as in the adapter."""
        self.closes += 1
        self._drop("event stream lost: connection closed")

    # --- internals --------------------------------------------------------------

    @asynccontextmanager
    async def _action(
        self, verb: str, container_id: str, stop_timeout: int | None, *, existing: bool = True
    ) -> AsyncIterator[tuple[Container | None, _Failure | None]]:
        self.actions.append((verb, container_id, stop_timeout))
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.hold is not None:
                await self.hold.wait()
            self._check()
            container = self._get(container_id) if existing else None
            failure = self._take_failure(verb, container.id if container is not None else container_id)
            if failure is not None and not failure.after_stop:
                raise ActionFailed(failure.message)
            yield container, failure
        finally:
            self.in_flight -= 1

    def _take_failure(self, verb: str, container_id: str) -> _Failure | None:
        failure = next((f for f in self._failures if f.verb == verb and f.container_id in (None, container_id)), None)
        if failure is not None and failure.times is not None:
            failure.times -= 1
            if failure.times <= 0:
                self._failures.remove(failure)
        return failure

    def _check(self) -> None:
        self.calls += 1
        if not self.available:
            raise EngineUnavailable(self.down_message)

    def _get(self, container_id: str) -> Container:
        """By id or by name, like the engine; ContainerGone (the adapter's 404) otherwise."""
        found = self.containers.get(container_id)
        found = found or next((c for c in self.containers.values() if c.name == container_id), None)
        if found is None:
            raise ContainerGone(container_id)
        return found

    def _running(self, container_id: str) -> Container:
        container = self._get(container_id)
        if not container.running:
            raise ValueError(f"{container.name} is {container.status}, not running")
        return container

    def _put(self, container: Container) -> Container:
        self.containers[container.id] = container
        return container

    def _start(self, container: Container) -> Container:
        self._join_network(container)
        health = "starting" if container.has_healthcheck else None
        now = self.clock()
        started = self._put(replace(container, status="running", health=health, exit_code=0, oom_killed=False,
                                    started_at=now))
        self._emit(started, "start")
        return started

    def _join_network(self, container: Container) -> None:
        """As the engine: network mode container:<parent> needs that parent, running."""
        if not container.network_mode.startswith("container:"):
            return
        ref = container.network_mode.partition(":")[2]
        parent = self.containers.get(ref) or next((c for c in self.containers.values() if c.name == ref), None)
        if parent is None:
            raise ActionFailed(f"No such container: {ref}")
        if not parent.running:
            raise ActionFailed(f"cannot join network of a non running container: {parent.id}")

    def _die(self, container: Container, exit_code: int, oom: bool = False) -> Container:
        now = self.clock()
        dead = self._put(replace(container, status="exited", exit_code=exit_code, oom_killed=oom, finished_at=now))
        self._emit(dead, "die", exit_code=exit_code)
        return dead

    def _emit(self, container: Container, action: str, *, health: str | None = None, exit_code: int | None = None,
              signal: int | None = None) -> None:
        attributes = {**container.labels, "name": container.name, "image": container.image}
        attributes |= {k: str(v) for k, v in (("exitCode", exit_code), ("signal", signal)) if v is not None}
        event = DockerEvent(action, container.id, container.name, self.clock(), attributes, health, exit_code, signal)
        self.history.append(event)
        if self.available:  # a down engine still logs its events (a later `since` replays them)
            for queue in self._streams:
                if queue not in self._hung:
                    queue.put_nowait(event)

    def _drop(self, message: str) -> None:
        for queue in self._streams:
            if queue not in self._hung:
                queue.put_nowait(EngineUnavailable(message))
