"""HTTP check: the URL it dials, and its verdict against a real local server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from autoheal.checks.definition import CheckDefinition
from autoheal.checks.http import HttpCheck, url_for
from autoheal.domain.models import Container

WEB = Container(id="a" * 64, name="web")


def http(endpoint: str = "/health", **fields) -> CheckDefinition:
    return CheckDefinition(check_type="http", http_endpoint=endpoint, **fields)


# --- the URL ---------------------------------------------------------------------------------


def test_a_path_is_dialled_on_the_container_at_the_http_port():
    assert url_for(http("/health?deep=1", http_port=8080), "172.18.0.5") == "http://172.18.0.5:8080/health?deep=1"


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://localhost:8080/health?x=1", "http://172.18.0.5:8080/health?x=1"),
        ("http://127.0.0.1/health", "http://172.18.0.5/health"),
        ("https://LOCALHOST:8443/", "https://172.18.0.5:8443/"),
        ("http://[::1]:81/z", "http://172.18.0.5:81/z"),
        ("http://{container_ip}:8080/status?a=b", "http://172.18.0.5:8080/status?a=b"),
        ("http://localhost:8080", "http://172.18.0.5:8080/"),
    ],
)
def test_a_url_naming_the_container_itself_is_dialled_on_its_address(endpoint, expected):
    assert url_for(http(endpoint), "172.18.0.5") == expected


def test_an_external_url_is_dialled_unchanged():
    endpoint = "https://status.example.com:8443/ping?x=1"

    assert url_for(http(endpoint), "172.18.0.5") == endpoint


def test_container_ip_is_substituted_in_the_query_of_an_external_url():
    assert url_for(http("http://monitor.example.com/?ip={container_ip}"), "172.18.0.5") == (
        "http://monitor.example.com/?ip=172.18.0.5"
    )


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("/health", "http://[fd00::5]:8080/health"),
        ("http://localhost:8080/health", "http://[fd00::5]:8080/health"),
        ("http://{container_ip}:8080/health", "http://[fd00::5]:8080/health"),
        ("http://{container_ip}/", "http://[fd00::5]/"),
    ],
)
def test_an_ipv6_address_is_bracketed(endpoint, expected):
    assert url_for(http(endpoint, http_port=8080), "fd00::5") == expected


@pytest.mark.parametrize(
    "endpoint",
    [
        "/health",
        "http://localhost:8080/health",
        "http://127.0.0.1/",
        "http://{container_ip}:8080/",
        "http://monitor.example.com/?ip={container_ip}",
    ],
)
def test_without_an_address_a_url_meaning_the_container_is_not_dialled(endpoint):
    assert url_for(http(endpoint), None) is None


# --- against a local server ------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def answering(status: str, body: bytes = b"") -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    return handle


async def never_answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the client gives up and closes
    writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[int]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return server.sockets[0].getsockname()[1]

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture(autouse=True)
def no_proxy_from_the_environment(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


async def test_a_200_answer_passes(serve):
    port = await serve(answering("200 OK", b"ok"))

    outcome = await HttpCheck().run(WEB, "127.0.0.1", http("/health", http_port=port))

    assert outcome.ok is True
    assert outcome.detail == "status 200"
    assert outcome.target == f"http://127.0.0.1:{port}/health"
    assert outcome.latency_seconds >= 0


async def test_a_404_answer_fails_with_its_status(serve):
    port = await serve(answering("404 Not Found", b"gone"))

    outcome = await HttpCheck().run(WEB, "127.0.0.1", http("/health", http_port=port))

    assert outcome.ok is False
    assert outcome.detail == "status 404"


async def test_a_redirect_is_not_followed_and_counts_as_its_own_status(serve):
    port = await serve(answering("302 Found\r\nLocation: http://127.0.0.1:1/", b""))

    outcome = await HttpCheck().run(WEB, "127.0.0.1", http("/", http_port=port, http_expected_status=200))

    assert (outcome.ok, outcome.detail) == (False, "status 302")


async def test_an_answer_without_the_expected_text_fails(serve):
    port = await serve(answering("200 OK", b"status: degraded"))

    outcome = await HttpCheck().run(WEB, "127.0.0.1", http("/", http_port=port, http_expected_body="status: ok"))

    assert outcome.ok is False
    assert "expected text not in the body" in outcome.detail


async def test_an_answer_with_the_expected_text_passes(serve):
    port = await serve(answering("200 OK", b"status: ok"))

    outcome = await HttpCheck().run(WEB, "127.0.0.1", http("/", http_port=port, http_expected_body="status: ok"))

    assert outcome.ok is True


async def test_a_server_that_accepts_and_never_answers_times_out(serve):
    port = await serve(never_answering)

    outcome = await HttpCheck().run(WEB, "127.0.0.1", http("/", http_port=port, timeout_seconds=0.3))

    assert outcome.ok is False
    assert outcome.detail == "timed out after 0.3s"


async def test_a_refused_connection_fails_and_says_so():
    outcome = await HttpCheck().run(WEB, "127.0.0.1", http("/", http_port=await _closed_port()))

    assert outcome.ok is False
    assert "ConnectError" in outcome.detail


async def test_without_an_address_nothing_is_dialled():
    outcome = await HttpCheck().run(WEB, None, http("/health"))

    assert (outcome.ok, outcome.detail) == (False, "no address to dial")


async def test_a_proxy_in_the_environment_is_not_used_for_the_container(serve, monkeypatch):
    port = await serve(answering("200 OK", b"ok"))
    dead_proxy = f"http://127.0.0.1:{await _closed_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)

    outcome = await HttpCheck().run(WEB, "127.0.0.1", http("/health", http_port=port))

    assert outcome.ok is True, outcome.detail



# --- regression: clients are kept, not built per run (building one costs a TLS context on the loop) ----


@pytest.fixture
def counted_clients(monkeypatch) -> list[httpx.AsyncClient]:
    """Every httpx.AsyncClient the check module builds from here on."""
    built: list[httpx.AsyncClient] = []

    class Counting(httpx.AsyncClient):
        def __init__(self, *args, **kwargs) -> None:
            built.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", Counting)
    return built


async def test_running_the_check_again_builds_no_new_client(serve, counted_clients):
    port = await serve(answering("200 OK", b"ok"))
    check = HttpCheck()
    try:
        for insecure in (False, True, False, True):
            outcome = await check.run(WEB, "127.0.0.1", http("/health", http_port=port, http_insecure=insecure))
            assert outcome.ok is True, outcome.detail

        assert len(counted_clients) == 2  # one verifying, one for http_insecure, each built once
    finally:
        await check.close()


async def test_it_builds_no_client_before_the_first_run(counted_clients):
    check = HttpCheck()

    await check.close()

    assert counted_clients == []


async def test_closing_the_check_closes_its_clients(serve, counted_clients):
    port = await serve(answering("200 OK", b"ok"))
    check = HttpCheck()
    await check.run(WEB, "127.0.0.1", http("/health", http_port=port))

    await check.close()

    assert counted_clients
    assert all(client.is_closed for client in counted_clients)


def test_importing_the_service_does_not_import_httpx():
    """httpx (and with it rich, pygments and click when installed) costs megabytes: only an HTTP check loads it."""
    code = "import sys, autoheal.engine.service, autoheal.cli; print('httpx' in sys.modules)"
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": src})

    assert done.stdout.strip() == "False", done.stderr


async def _closed_port() -> int:
    """A port nothing listens on any more."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port
