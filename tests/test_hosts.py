"""Host and Origin checking against DNS rebinding, and the allowed hosts `autoheal serve` derives."""

from __future__ import annotations

import httpx
import pytest

from autoheal.api.security import HostCheck, host_name, origin_host
from autoheal.cli import allowed_hosts, build_parser, is_loopback


async def ok(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def status(allowed, method: str = "GET", **headers: str) -> int:
    transport = httpx.ASGITransport(app=HostCheck(ok, allowed))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return (await client.request(method, "/", headers=headers)).status_code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("localhost", "localhost"),
        ("LocalHost:8080", "localhost"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[::1]", "[::1]"),
        ("[::1]:8080", "[::1]"),
        ("::1", "[::1]"),
        (" autoheal.lan ", "autoheal.lan"),
        ("*", "*"),
        ("", ""),
    ],
)
def test_host_name_drops_the_port_and_brackets_ipv6(value, expected):
    assert host_name(value) == expected


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("http://localhost:8080", "localhost"),
        ("https://AutoHeal.lan", "autoheal.lan"),
        ("http://[::1]:8080", "[::1]"),
        ("null", ""),
        ("file://", ""),
        ("localhost", ""),
        ("http://[::1", ""),
    ],
)
def test_origin_host(origin, expected):
    assert origin_host(origin) == expected


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8080", "[::1]:8080", "autoheal.lan", "AUTOHEAL.LAN:1"])
async def test_loopback_and_listed_hosts_pass(host):
    assert await status(["autoheal.lan"], Host=host) == 200


@pytest.mark.parametrize("host", ["evil.example", "localhost.evil.example", "[::2]", "autoheal.lan.evil", ""])
async def test_other_hosts_are_400(host):
    assert await status(["autoheal.lan"], Host=host) == 400


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_a_state_change_from_a_foreign_origin_is_403(method):
    assert await status(["autoheal.lan"], method, Origin="http://evil.example") == 403
    assert await status(["autoheal.lan"], method, Origin="null") == 403
    assert await status(["autoheal.lan"], method, Origin="http://autoheal.lan:8080") == 200
    assert await status(["autoheal.lan"], method) == 200


async def test_a_read_from_a_foreign_origin_is_answered():
    assert await status(["autoheal.lan"], "GET", Origin="http://evil.example") == 200


@pytest.mark.parametrize("allowed", [None, ["*"], ["a.lan", " * "]])
async def test_none_or_a_star_allows_any_host_and_origin(allowed):
    assert await status(allowed, "POST", Host="evil.example", Origin="http://evil.example") == 200


async def test_an_empty_list_allows_only_the_loopback_names():
    assert await status([], Host="localhost:8080") == 200
    assert await status([], Host="autoheal.lan") == 400


@pytest.mark.parametrize(
    ("host", "expected"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("autoheal.lan", False)],
)  # fmt: skip
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    ("bind", "listed", "expected"),
    [
        ("127.0.0.1", None, ["127.0.0.1"]),
        ("::1", "", ["::1"]),
        ("localhost", " , ", ["localhost"]),
        ("127.0.0.1", "autoheal.lan, other.lan", ["127.0.0.1", "autoheal.lan", "other.lan"]),
        ("0.0.0.0", None, None),
        ("::", None, None),
        ("192.168.1.5", None, None),
        ("0.0.0.0", "autoheal.lan,192.168.1.5", ["autoheal.lan", "192.168.1.5"]),
        ("::", "*", ["*"]),
        ("192.168.1.5", "autoheal.lan", ["192.168.1.5", "autoheal.lan"]),
    ],
)
def test_allowed_hosts_of_a_bind_address_and_the_variable(bind, listed, expected):
    assert allowed_hosts(bind, listed) == expected


def test_serve_reads_autoheal_allowed_hosts():
    args = build_parser({"AUTOHEAL_ALLOWED_HOSTS": "autoheal.lan"}).parse_args(["serve"])
    assert args.allowed_hosts == "autoheal.lan"
    assert build_parser({}).parse_args(["serve", "--allowed-hosts", "a,b"]).allowed_hosts == "a,b"
    assert build_parser({}).parse_args(["serve"]).allowed_hosts is None
