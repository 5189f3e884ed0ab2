"""TCP check: a connection to the port opens within the timeout, against real local sockets."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncIterator

import pytest

from autoheal.checks.definition import CheckDefinition
from autoheal.checks.tcp import TcpCheck
from autoheal.domain.models import Container

WEB = Container(id="a" * 64, name="web")


def tcp(port: int, **fields) -> CheckDefinition:
    return CheckDefinition(check_type="tcp", tcp_port=port, **fields)


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[str]]]:
    """A port that accepts connections, and a list of who connected."""
    accepted: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer.get_extra_info("peername")[0])
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], accepted
    server.close()
    await server.wait_closed()


async def closed_port() -> int:
    """A port nothing listens on any more."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


async def test_an_open_port_passes(listener, wait_for):
    port, accepted = listener

    outcome = await TcpCheck().run(WEB, "127.0.0.1", tcp(port))

    assert (outcome.ok, outcome.detail, outcome.target) == (True, "connected", f"127.0.0.1:{port}")
    await wait_for(lambda: accepted == ["127.0.0.1"])


async def test_a_closed_port_fails_with_the_systems_reason():
    port = await closed_port()

    outcome = await TcpCheck().run(WEB, "127.0.0.1", tcp(port))

    assert outcome.ok is False
    assert outcome.detail == os.strerror(errno.ECONNREFUSED) == "Connection refused"
    assert outcome.target == f"127.0.0.1:{port}"


async def test_without_an_address_nothing_is_dialled():
    outcome = await TcpCheck().run(WEB, None, tcp(80))

    assert (outcome.ok, outcome.detail) == (False, "no address to dial")


@pytest.fixture(name="wait_for")
def wait_for_fixture():
    async def wait(condition, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.01)

    return wait
