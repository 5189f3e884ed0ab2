"""GET /api/containers: built once and served again while nothing it shows changed, for at most a second."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from autoheal.api import containers as listing_module
from autoheal.api.app import create_app
from autoheal.config import parse_settings
from autoheal.domain.models import Container
from autoheal.engine.service import Service


def container(name: str, status: str = "running") -> Container:
    return Container(id=hashlib.sha256(name.encode()).hexdigest(), name=name, image="app:1", status=status,
                     labels={"autoheal": "true"})


@pytest.fixture
def service() -> Service:
    made = Service(parse_settings({}), environ={"DOCKER_HOST": "unix:///nonexistent.sock"})
    for c in (container("web"), container("db")):
        made.healer.containers[c.id] = c
    return made


@pytest.fixture
async def client(service):
    app = create_app(service, manage_service=False, allowed_hosts=[])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        yield http


@pytest.fixture
def builds(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = listing_module.container_out

    def counting(service, c, **kwargs):
        seen.append(c.name)
        return real(service, c, **kwargs)

    monkeypatch.setattr(listing_module, "container_out", counting)
    return seen


async def names(client) -> list[tuple[str, str]]:
    response = await client.get("/api/containers")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    return [(c["name"], c["status"]) for c in response.json()["containers"]]


async def test_an_unchanged_list_is_not_built_again(client, builds):
    first = await names(client)
    assert first == [("db", "running"), ("web", "running")]
    assert await names(client) == first
    assert len(builds) == 2  # two containers, built once


async def test_a_changed_container_shows_at_once(client, service, builds):
    await names(client)
    stopped = container("web", status="exited")
    service.healer.containers[stopped.id] = stopped
    assert await names(client) == [("db", "running"), ("web", "exited")]


async def test_a_change_announced_on_the_stream_rebuilds_the_list(client, service, builds):
    await names(client)
    service.broadcast.container(container("web").id)  # e.g. its restart window or quarantine changed
    await names(client)
    assert len(builds) == 4


async def test_a_choice_or_settings_change_rebuilds_the_list(client, service, builds):
    await names(client)
    service.healer.choices["web"] = False
    [web] = [c for c in (await client.get("/api/containers")).json()["containers"] if c["name"] == "web"]
    assert web["monitored"] is False
    service.healer.settings = parse_settings({"monitor": {"label_key": "other"}})
    assert all(not c["monitored"] for c in (await client.get("/api/containers")).json()["containers"])


async def test_the_list_is_rebuilt_after_a_second_even_if_nothing_was_announced(client, builds, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(listing_module.time, "monotonic", lambda: clock[0])
    await names(client)
    clock[0] += listing_module.LISTING_MAX_AGE_SECONDS / 2
    await names(client)
    assert len(builds) == 2
    clock[0] += listing_module.LISTING_MAX_AGE_SECONDS
    await names(client)
    assert len(builds) == 4
