"""autoheal heals through a socket proxy that admits only the API sections docs/security.md lists."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.integration.support import CRASH_ONCE, HEALTH_CMD, HEALTHY_WHILE_OK, docker, inspect, wait_for

pytestmark = pytest.mark.integration

SECURITY = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
_V = r"^(/v[\d.]+)?"
# (method, path pattern, how docs/security.md names it): the table "The API sections autoheal needs".
SECTIONS = (
    ("GET", _V + r"/_ping$", "`GET /_ping`"),
    ("GET", _V + r"/version$", "`GET /version`"),
    ("GET", _V + r"/events$", "`GET /events`"),
    ("GET", _V + r"/containers/json$", "`GET /containers/json?all=1`"),
    ("GET", _V + r"/containers/[a-zA-Z0-9_.-]+/json$", "`GET /containers/{id}/json`"),
    ("POST", _V + r"/containers/[a-zA-Z0-9_.-]+/start$", "`POST /containers/{id}/start`"),
    ("POST", _V + r"/containers/[a-zA-Z0-9_.-]+/restart$", "`POST /containers/{id}/restart?t=…`"),
)
_DROP = {"host", "content-length", "transfer-encoding", "connection"}


class FilteringProxy:
    """A minimal stand-in for a Docker socket proxy: forwards the listed sections, refuses the rest (403)."""

    def __init__(self, socket_path: str = "/var/run/docker.sock") -> None:
        self.socket_path = socket_path
        self.seen: list[tuple[str, str, bool]] = []
        self.port = 0

    def allows(self, method: str, path: str) -> bool:
        return any(method == m and re.match(p, path) for m, p, _ in SECTIONS)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        allowed = self.allows(request.method, request.path)
        self.seen.append((request.method, request.path, allowed))
        if not allowed:
            return web.json_response({"message": "refused by the socket proxy"}, status=403)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROP}
        async with self.session.request(request.method, "http://docker" + request.path_qs, data=body or None,
                                        headers=headers) as upstream:
            response = web.StreamResponse(status=upstream.status)
            if "Content-Type" in upstream.headers:
                response.headers["Content-Type"] = upstream.headers["Content-Type"]
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=self.socket_path), timeout=aiohttp.ClientTimeout(total=None)
        )
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=1)
        await self.runner.setup()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.session.close()


@pytest.fixture
async def proxy(engine):
    made = FilteringProxy()
    await made.start()
    yield made
    await made.stop()


def test_the_sections_are_the_ones_docs_security_lists():
    for _, _, documented in SECTIONS:
        assert documented in SECURITY, documented


def test_the_proxy_refuses_what_is_not_listed():
    proxy = FilteringProxy()
    assert proxy.allows("POST", "/v1.41/containers/abc/restart")
    assert not proxy.allows("POST", "/v1.41/containers/create")
    assert not proxy.allows("POST", "/v1.41/containers/abc/exec")
    assert not proxy.allows("GET", "/v1.41/images/json")


async def test_autoheal_heals_through_a_proxy_with_only_the_listed_sections(proxy, containers, start_autoheal):
    ah = await start_autoheal(environ={"DOCKER_HOST": f"tcp://127.0.0.1:{proxy.port}", "DOCKER_SOCK": ""})
    assert ah.service.watcher.status.stream_live

    no_network = ("--network", "none")  # neither needs one
    crashed = containers.run(CRASH_ONCE, options=no_network)
    unhealthy = containers.run(HEALTHY_WHILE_OK, health=HEALTH_CMD, options=no_network)
    [record] = await ah.wait_record(crashed, "restart")
    assert record.cause == "crash"
    await wait_for(lambda: inspect(unhealthy)["State"]["Health"]["Status"] == "healthy", "container healthy")
    docker("exec", unhealthy, "rm", "/tmp/ok")
    [record] = await ah.wait_record(unhealthy, "restart")
    assert record.cause == "unhealthy"
    await ah.settle()

    refused = [(m, p) for m, p, allowed in proxy.seen if not allowed]
    assert refused == []
    used = {(m, re.sub(r"/containers/[a-zA-Z0-9_.-]+/", "/containers/{id}/", re.sub(_V, "", p))) for m, p, _ in proxy.seen}
    assert {("POST", "/containers/{id}/start"), ("POST", "/containers/{id}/restart"), ("GET", "/events")} <= used
