"""The one adapter that talks to the Docker engine, through aiodocker."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import aiodocker
import aiohttp

from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable
from autoheal.domain.models import Blueprint, Container, DockerEvent

log = logging.getLogger(__name__)

# The container events autoheal acts on; everything else (exec_*, attach, …) is filtered by the engine.
WATCHED_ACTIONS = (
    "create", "start", "restart", "die", "oom", "kill", "stop",
    "pause", "unpause", "destroy", "rename", "health_status",
)
_DEFAULT_SOCKETS = ("/var/run/docker.sock", "/run/podman/podman.sock")
_REQUEST_TIMEOUT_SECONDS = 30
_HEALTH_IN_STATUS = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXIT_IN_STATUS = re.compile(r"^Exited \((-?\d+)\)")
_API_VERSION = re.compile(r"^v?\d+\.\d+$")
_EXEC_OUTPUT_BYTES = 2048
_NO_SUCH_CONTAINER = re.compile(r"No such container: ?(\S+)")
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
# The engine refuses these together with network mode container:<parent> (its runconfig checks);
# what inspect shows in them then came from the parent or the image, not from the user.
_CONFIG_NOT_WITH_CONTAINER_NETWORK = ("Hostname", "Domainname", "MacAddress", "ExposedPorts")
_HOST_NOT_WITH_CONTAINER_NETWORK = ("PortBindings", "PublishAllPorts", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "Links")


def resolve_host(environ: Mapping[str, str]) -> str:
    """DOCKER_HOST, else DOCKER_SOCK (the classic tool's), else the usual socket paths."""
    host = environ.get("DOCKER_HOST", "").strip()
    if host:
        return host
    sock = environ.get("DOCKER_SOCK", "").strip()
    if sock:
        return sock if "://" in sock else "unix://" + sock
    candidates = list(_DEFAULT_SOCKETS)
    runtime = environ.get("XDG_RUNTIME_DIR", "").strip()
    if runtime:
        candidates[1:1] = [f"{runtime}/docker.sock", f"{runtime}/podman/podman.sock"]
    for path in candidates:
        if Path(path).is_socket():
            return "unix://" + path
    return "unix://" + _DEFAULT_SOCKETS[0]


def check_socket(host: str) -> str | None:
    """A clear sentence when a unix socket is missing or not usable, else None."""
    if not host.startswith("unix://"):
        return None
    path = Path(host[len("unix://"):])
    if not path.exists():
        return (
            f"Docker socket {path} does not exist: is the engine running, and is the socket mounted "
            "(-v /var/run/docker.sock:/var/run/docker.sock)? Set DOCKER_HOST or DOCKER_SOCK to use another one."
        )
    if not path.is_socket():
        return f"{path} exists but is not a socket; set DOCKER_HOST or DOCKER_SOCK to the engine's socket"
    if not os.access(path, os.R_OK | os.W_OK):
        return (
            f"permission denied on Docker socket {path}: run autoheal as a user in the socket's group "
            f"(gid {path.stat().st_gid}), and do not mount it read-only"
        )
    return None


def api_version(environ: Mapping[str, str]) -> str:
    """DOCKER_API_VERSION if set (e.g. 1.41), else negotiate with the engine."""
    raw = environ.get("DOCKER_API_VERSION", "").strip()
    if not raw:
        return "auto"
    if not _API_VERSION.match(raw):
        raise ValueError(f"DOCKER_API_VERSION={raw!r} is not a version like 1.41")
    return raw if raw.startswith("v") else "v" + raw


def parse_time(value: str | None) -> float | None:
    """Engine RFC 3339 timestamps (nanoseconds, Z) as epoch seconds; the zero time is None."""
    if not value or value.startswith("0001-"):
        return None
    text = value.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        return datetime.fromisoformat(text + "+00:00").timestamp()
    except ValueError:
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    """A JSON object from the engine, or an empty one if it sent something else."""
    return value if isinstance(value, Mapping) else {}


def _labels(value: Any) -> dict[str, str]:
    """Labels as text: a proxy or a misbehaving engine may send other JSON types."""
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in _mapping(value).items()}


def _networks(raw: Mapping[str, Any]) -> dict[str, str]:
    nets = ((raw.get("NetworkSettings") or {}).get("Networks")) or {}
    return {str(name): str(n.get("IPAddress") or "") for name, n in nets.items() if isinstance(n, Mapping)}


def container_from_listing(raw: Mapping[str, Any]) -> Container:
    """A Container from one entry of GET /containers/json (no exit detail)."""
    status_text = raw.get("Status") or ""
    health_match = _HEALTH_IN_STATUS.search(status_text)
    health = None
    if health_match:
        health = "starting" if health_match.group(1) == "health: starting" else health_match.group(1)
    exit_match = _EXIT_IN_STATUS.match(status_text)
    names = raw.get("Names") or ["/" + raw["Id"][:12]]
    labels = _labels(raw.get("Labels"))
    return Container(
        id=raw["Id"],
        name=names[0].lstrip("/"),
        image=raw.get("Image") or "",
        labels=labels,
        compose_project=labels.get(COMPOSE_PROJECT_LABEL, ""),
        compose_service=labels.get(COMPOSE_SERVICE_LABEL, ""),
        status=raw.get("State") or "unknown",
        health=health,
        exit_code=int(exit_match.group(1)) if exit_match else None,
        network_mode=(raw.get("HostConfig") or {}).get("NetworkMode") or "",
        networks=_networks(raw),
        has_healthcheck=health is not None,
        detailed=False,
    )


def container_from_inspect(raw: Mapping[str, Any]) -> Container:
    """A Container from GET /containers/{id}/json."""
    config = raw.get("Config") or {}
    state = raw.get("State") or {}
    host = raw.get("HostConfig") or {}
    healthcheck = config.get("Healthcheck") or {}
    test = healthcheck.get("Test") or []
    health = (state.get("Health") or {}).get("Status") or None
    labels = _labels(config.get("Labels"))
    return Container(
        id=raw["Id"],
        name=(raw.get("Name") or raw["Id"][:12]).lstrip("/"),
        image=config.get("Image") or "",
        labels=labels,
        compose_project=labels.get(COMPOSE_PROJECT_LABEL, ""),
        compose_service=labels.get(COMPOSE_SERVICE_LABEL, ""),
        status=state.get("Status") or "unknown",
        health=health if health in ("healthy", "unhealthy", "starting") else None,
        exit_code=state.get("ExitCode"),
        oom_killed=bool(state.get("OOMKilled")),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
        restart_policy=((host.get("RestartPolicy") or {}).get("Name") or "no"),
        stop_timeout_seconds=config.get("StopTimeout"),
        has_healthcheck=bool(test) and test[0] != "NONE",
        network_mode=host.get("NetworkMode") or "",
        networks=_networks(raw),
        detailed=True,
    )


def _anonymous_volumes(raw: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """(volume name, destination, read-write) of volumes no bind or mount names: made up by the engine."""
    host = raw.get("HostConfig") or {}
    named = {str(b).split(":")[1] for b in host.get("Binds") or [] if str(b).count(":") >= 1}
    named |= {str(m.get("Target")) for m in host.get("Mounts") or [] if m.get("Source")}
    return [
        (str(m["Name"]), str(m["Destination"]), bool(m.get("RW", True)))
        for m in raw.get("Mounts") or []
        if m.get("Type") == "volume" and m.get("Name") and m.get("Destination") not in named
    ]


def blueprint_from_inspect(raw: Mapping[str, Any], image_id_of_name: str | None) -> Blueprint:
    """The create request that makes this container again (same config, host config, volumes).

    image_id_of_name: what the container's image name resolves to now; when it no longer is the
    container's own image (the tag moved), the image is named by id so nothing changes.
    """
    config = dict(raw.get("Config") or {})
    host = dict(raw.get("HostConfig") or {})
    network_mode = str(host.get("NetworkMode") or "")
    if network_mode.startswith("container:"):
        for key in _CONFIG_NOT_WITH_CONTAINER_NETWORK:
            config.pop(key, None)
        for key in _HOST_NOT_WITH_CONTAINER_NETWORK:
            host.pop(key, None)
    image_id = str(raw.get("Image") or "")
    if image_id and image_id_of_name != image_id:
        config["Image"] = image_id
    kept = _anonymous_volumes(raw)
    if kept:
        # Mounted again by name, so the new container keeps the old one's data.
        by_target = {dest: name for name, dest, _ in kept}
        mounts = [dict(m) for m in host.get("Mounts") or []]
        for m in mounts:
            if m.get("Type") == "volume" and not m.get("Source") and m.get("Target") in by_target:
                m["Source"] = by_target.pop(m["Target"])
        if mounts:
            host["Mounts"] = mounts
        binds = list(host.get("Binds") or [])
        binds += [f"{name}:{dest}{'' if rw else ':ro'}" for name, dest, rw in kept if dest in by_target]
        host["Binds"] = binds or None
    labels = config.get("Labels") or {}
    return Blueprint(
        container_id=str(raw["Id"]),
        name=str(raw.get("Name") or "").lstrip("/"),
        network_mode=network_mode,
        create_body=json.dumps({**config, "HostConfig": host}),
        auto_remove=bool(host.get("AutoRemove")),
        swarm_service="com.docker.swarm.service.id" in labels,
        image_missing=image_id_of_name is None and not image_id,
        kept_volumes=tuple(f"{name[:12]}:{dest}" for name, dest, _ in kept),
    )


def event_from_raw(raw: Mapping[str, Any]) -> DockerEvent | None:
    """A typed event from one JSON object of the event stream; None if not a usable container event."""
    raw = _mapping(raw)
    if raw.get("Type", "container") != "container":
        return None
    actor = _mapping(raw.get("Actor"))
    attributes = {str(k): str(v) for k, v in _mapping(actor.get("Attributes")).items()}
    action = raw.get("Action") or raw.get("status") or ""
    if not isinstance(action, str):
        return None
    health = None
    if action.startswith("health_status"):
        health = action.partition(":")[2].strip() or None
        action = "health_status"
    cid = actor.get("ID") or raw.get("id")
    if not cid or not isinstance(cid, str) or not action:
        return None
    try:
        time_nano = raw.get("timeNano")
        when = int(time_nano) / 1e9 if time_nano else float(raw.get("time") or 0)
    except (TypeError, ValueError, OverflowError):
        return None
    exit_code = attributes.get("exitCode")
    signal = attributes.get("signal")
    return DockerEvent(
        action=action,
        container_id=str(cid),
        name=attributes.get("name", ""),
        time=when,
        attributes=attributes,
        health=health,
        exit_code=int(exit_code) if exit_code and exit_code.lstrip("-").isdecimal() else None,
        signal=int(signal) if signal and signal.isdecimal() else None,
    )


class DockerAdapter:
    """Engine access for the service: listing, inspecting, events, restart and start."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.host = resolve_host(environ)
        self._api_version = api_version(environ)
        self._docker: aiodocker.Docker | None = None
        self.calls = 0  # engine API calls made, for benchmarks and the status page
        # Requests that should answer at once (not the event stream, not a restart or exec), by
        # when they were sent: an engine that accepts and never replies shows here long before
        # the request's own timeout.
        self._waiting: dict[int, float] = {}
        self._clock = time.monotonic

    @property
    def api_version(self) -> str:
        return self._docker.api_version if self._docker else self._api_version

    def _client(self) -> aiodocker.Docker:
        if self._docker is None:
            self._docker = aiodocker.Docker(
                url=self.host,
                api_version=self._api_version,
                timeout=aiohttp.ClientTimeout(total=_REQUEST_TIMEOUT_SECONDS),
            )
        return self._docker

    def waiting_seconds(self) -> float:
        """How long the oldest quick request (version, listing, inspect) has gone unanswered; 0 if none."""
        if not self._waiting:
            return 0.0
        return max(0.0, self._clock() - min(self._waiting.values()))

    async def _quick(self, awaitable):
        token = object()
        self._waiting[id(token)] = self._clock()
        try:
            return await awaitable
        finally:
            del self._waiting[id(token)]

    async def close(self) -> None:
        if self._docker is not None:
            docker, self._docker = self._docker, None
            await docker.close()

    async def _reset(self) -> None:
        """Forget the connection (and the negotiated version) after an engine failure."""
        await self.close()

    async def connect(self) -> dict[str, Any]:
        """Check the socket, negotiate the API version, and return the engine's version info."""
        problem = check_socket(self.host)
        if problem:
            raise EngineUnavailable(problem)
        try:
            self.calls += 1
            version = await self._quick(self._client().version())
            self.calls += 1
            await self._quick(self._client()._check_version())  # noqa: SLF001 - negotiates the API version
        except aiodocker.DockerError as exc:
            await self._reset()
            raise EngineUnavailable(f"Docker engine at {self.host} is not usable: {exc.message}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self._reset()
            raise EngineUnavailable(f"Docker engine at {self.host} did not answer: {exc!r}") from None
        return version

    async def list_containers(self) -> list[Container]:
        """All containers, running or not, from one listing call."""
        raw = await self._call(self._client().containers.list(all=True))
        return [container_from_listing(c._container) for c in raw]  # noqa: SLF001

    async def inspect(self, container_id: str) -> Container:
        """Full detail of one container; ContainerGone if it no longer exists."""
        raw = await self._call(self._client().containers.container(container_id).show(), container_id)
        return container_from_inspect(raw)

    async def restart(self, container_id: str, stop_timeout_seconds: int) -> None:
        """Restart with this stop timeout; the request itself may take longer than it."""
        timeout = aiohttp.ClientTimeout(total=stop_timeout_seconds + _REQUEST_TIMEOUT_SECONDS)
        container = self._client().containers.container(container_id)
        await self._call(container.restart(t=stop_timeout_seconds, timeout=timeout), container_id, action=True)

    async def start(self, container_id: str) -> None:
        """Start an exited container."""
        container = self._client().containers.container(container_id)
        await self._call(container.start(), container_id, action=True)

    async def stop(self, container_id: str, stop_timeout_seconds: int) -> None:
        """Stop with this stop timeout (a stopped container stays stopped)."""
        timeout = aiohttp.ClientTimeout(total=stop_timeout_seconds + _REQUEST_TIMEOUT_SECONDS)
        container = self._client().containers.container(container_id)
        await self._call(container.stop(t=stop_timeout_seconds, timeout=timeout), container_id, action=True)

    async def rename(self, container_id: str, new_name: str) -> None:
        container = self._client().containers.container(container_id)
        await self._call(container.rename(new_name), container_id, action=True)

    async def delete(self, container_id: str, *, force: bool = False) -> None:
        """Remove the container; its volumes, anonymous ones included, are kept."""
        container = self._client().containers.container(container_id)
        await self._call(container.delete(force=force, v=False), container_id, action=True)

    async def blueprint(self, container_id: str) -> Blueprint:
        """How to create this container again, from its inspect data."""
        raw = await self._call(self._client().containers.container(container_id).show(), container_id)
        name = str((raw.get("Config") or {}).get("Image") or "")
        image_id: str | None = None
        if name:
            try:
                self.calls += 1
                image_id = str((await self._client().images.inspect(name)).get("Id") or "")
            except aiodocker.DockerError as exc:
                if exc.status != 404:
                    raise EngineUnavailable(f"engine error {exc.status}: {exc.message}") from None
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise EngineUnavailable(f"engine did not answer: {exc!r}") from None
        return blueprint_from_inspect(raw, image_id)

    async def create(self, blueprint: Blueprint, *, name: str, network_mode: str) -> str:
        """Create a container from a blueprint under `name`, in `network_mode`; its id."""
        body = json.loads(blueprint.create_body)
        body.setdefault("HostConfig", {})["NetworkMode"] = network_mode
        created = await self._call(self._client().containers.create(body, name=name), action=True)
        return str(created.id)

    async def exec(self, container_id: str, command: list[str], timeout_seconds: float) -> tuple[int, str]:
        """Run a command in the container; its exit code and the tail of its output."""
        container = self._client().containers.container(container_id)
        self.calls += 3
        try:
            async with asyncio.timeout(timeout_seconds):
                execution = await container.exec(command, stdout=True, stderr=True)
                output = bytearray()
                async with execution.start(detach=False) as stream:
                    while (message := await stream.read_out()) is not None:
                        output.extend(message.data)
                        del output[:-_EXEC_OUTPUT_BYTES]
                exit_code = (await execution.inspect()).get("ExitCode")
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                raise ContainerGone(container_id) from None
            raise ActionFailed(exc.message) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise EngineUnavailable(f"engine did not answer: {exc!r}") from None
        return (exit_code if isinstance(exit_code, int) else -1), output.decode("utf-8", "replace")

    async def events(
        self, since: float | None = None, on_open: Callable[[], None] | None = None
    ) -> AsyncIterator[DockerEvent]:
        """Container events as they happen; ends (raising EngineUnavailable) when the stream drops."""
        params: dict[str, str] = {"filters": json.dumps({"type": ["container"], "event": list(WATCHED_ACTIONS)})}
        if since is not None:
            params["since"] = f"{since:.9f}"
        no_timeout = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=_REQUEST_TIMEOUT_SECONDS)
        try:
            self.calls += 1
            async with self._client()._query("events", params=params, timeout=no_timeout) as response:  # noqa: SLF001
                if on_open is not None:
                    on_open()
                async for line in response.content:
                    if not line.strip():
                        continue
                    try:
                        event = event_from_raw(json.loads(line))
                    except (ValueError, KeyError, TypeError) as exc:
                        log.warning("skipping an unreadable engine event: %s", exc)
                        continue
                    if event is not None:
                        yield event
        except aiodocker.DockerError as exc:
            raise EngineUnavailable(f"event stream refused: {exc.message}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            await self._reset()
            raise EngineUnavailable(f"event stream lost: {exc!r}") from None
        raise EngineUnavailable("event stream ended")

    async def _call(self, awaitable, container_id: str | None = None, *, action: bool = False):
        self.calls += 1
        try:
            return await (awaitable if action else self._quick(awaitable))
        except aiodocker.DockerError as exc:
            if exc.status == 404 and container_id and _names_this_container(exc.message, container_id):
                raise ContainerGone(container_id) from None
            if exc.status == 900:
                await self._reset()
                raise EngineUnavailable(exc.message) from None
            if action:
                raise ActionFailed(exc.message) from None
            raise EngineUnavailable(f"engine error {exc.status}: {exc.message}") from None
        except (aiohttp.ClientError, OSError) as exc:
            await self._reset()
            raise EngineUnavailable(f"engine did not answer: {exc!r}") from None
        except TimeoutError:
            if action:
                raise ActionFailed("the engine did not answer in time") from None
            raise EngineUnavailable("the engine did not answer in time") from None


def _names_this_container(message: str, container_id: str) -> bool:
    """A 404 is about this container unless it names another one (a start whose network parent
    `container:<id>` is gone answers 404 "No such container: <parent id>")."""
    match = _NO_SUCH_CONTAINER.search(message or "")
    if match is None:
        return True
    ref = match.group(1).strip()
    return ref == container_id or container_id.startswith(ref) or ref.startswith(container_id)
