"""The REST API in process, over the real service and a real Docker engine: every endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from autoheal.api.app import create_app
from autoheal.api.security import MAX_BODY_BYTES
from autoheal.config import parse_settings
from autoheal.engine.records import Record
from autoheal.engine.service import Service
from autoheal.metrics import Metrics
from tests.integration.support import (
    CRASH_ONCE,
    Autoheal,
    docker,
    inspect,
    wait_for,
)

pytestmark = pytest.mark.integration

# Runs until stopped; leaves at once on SIGTERM (sh as PID 1 would otherwise wait out the stop timeout).
RUNNING = "trap 'exit 0' TERM; while :; do sleep 0.1; done"
# Crashes with exit 3 every time it is started.
CRASH_LOOP = "sleep 2; exit 3"
XHR = {"X-Requested-With": "XMLHttpRequest"}
TOKEN = "t0ken"


@asynccontextmanager
async def api_client(ah: Autoheal, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ah.service, token=token, manage_service=False, allowed_hosts=["test"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
async def ah(start_autoheal) -> Autoheal:
    return await start_autoheal()


@pytest.fixture
async def client(ah: Autoheal) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(ah) as client:
        yield client


def fields(response: httpx.Response) -> list[str]:
    """The fields a 4xx answer names (and it must be JSON with a detail)."""
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return [e["field"] for e in body["errors"]]


def started_at(name: str) -> str:
    return inspect(name)["State"]["StartedAt"]


async def seen(ah: Autoheal, name: str, status: str | None = None):
    """Wait until autoheal's live view has the container (in this status)."""
    return await wait_for(
        lambda: (c := ah.container(name)) is not None and (status is None or c.status == status) and c,
        f"autoheal sees {name}" + (f" {status}" if status else ""),
    )


async def store_caught_up(ah: Autoheal) -> None:
    """Every record so far is in the store, and the writer loop is idle."""
    await ah.service.writer.flush()


async def assert_not_healed(ah: Autoheal, name: str) -> None:
    """The container exited, autoheal looked (events and a full pass), and did not act."""
    await seen(ah, name, "exited")
    await ah.settle()
    assert not inspect(name)["State"]["Running"]
    assert ah.records(name, "scheduled") == []
    assert ah.records(name, "restart") == []


# --- self-health and status ---------------------------------------------------------------


async def test_health_is_200_with_a_live_engine_and_no_problems(client):
    response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["problems"] == []
    assert body["engine"]["connected"] and body["engine"]["event_stream_live"]
    assert body["version"]


async def test_health_is_503_naming_the_engine_when_it_cannot_be_reached(label_key):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = Service(
        parse_settings({"monitor": {"label_key": label_key}}),
        environ={**os.environ, "DOCKER_HOST": f"tcp://127.0.0.1:{port}"},
        metrics=Metrics(),
    )
    await service.start()
    try:
        await wait_for(lambda: service.watcher.status.last_error, "the connection attempt failed")
        async with api_client(Autoheal(service)) as client:
            health = await client.get("/health")
            status = await client.get("/api/status")
    finally:
        await service.stop()

    assert health.status_code == 503
    assert health.json()["status"] == "degraded"
    assert any("engine not connected" in p for p in health.json()["problems"])
    assert status.status_code == 200
    assert status.json()["healthy"] is False
    assert status.json()["engine"]["connected"] is False


async def test_status_counts_monitored_quarantined_and_unhealthy_containers(ah, client, containers):
    first = containers.run(RUNNING)
    second = containers.run(RUNNING)
    sick = containers.run("exec sleep 100000", monitored=False, health="false")  # unmonitored: left unhealthy
    await seen(ah, first)
    await seen(ah, second)
    await wait_for(lambda: (c := ah.container(sick)) is not None and c.health == "unhealthy", "sick is unhealthy")
    assert (await client.post(f"/api/containers/{second}/quarantine", headers=XHR)).status_code == 200

    status = (await client.get("/api/status")).json()
    listed = (await client.get("/api/containers")).json()["containers"]

    assert status["monitored_containers"] == 2
    assert status["quarantined_containers"] == 1
    assert status["total_containers"] == len(listed)
    assert status["unhealthy_containers"] == sum(
        1 for c in listed if c["status"] == "running" and c["health"] == "unhealthy"
    )
    assert sick in {c["name"] for c in listed if c["health"] == "unhealthy"}
    assert status["maintenance"] is False
    assert status["healthy"] is True


async def test_status_counts_a_real_heal_in_restarts_last_hour(ah, client, containers):
    assert (await client.get("/api/status")).json()["restarts_last_hour"] == 0
    name = containers.run(CRASH_ONCE)

    await ah.wait_record(name, "restart")
    await store_caught_up(ah)
    status = (await client.get("/api/status")).json()

    assert status["restarts_last_hour"] == 1
    assert status["restarts_last_day"] == 1


# --- containers -----------------------------------------------------------------------------


async def test_container_list_shows_why_a_container_is_monitored(ah, client, containers):
    name = containers.run(RUNNING)
    other = containers.run(RUNNING, monitored=False)
    await seen(ah, name)
    await seen(ah, other)

    response = await client.get("/api/containers")

    assert response.status_code == 200
    by_name = {c["name"]: c for c in response.json()["containers"]}
    mine = by_name[name]
    assert mine["id"] == containers.id(name)
    assert mine["status"] == "running"
    assert mine["monitored"] is True
    assert mine["monitored_rule"] == "opt_in_label"
    assert ah.service.settings.monitor.label_key in mine["monitored_reason"]
    assert mine["quarantined"] is False
    assert mine["restarts_in_window"] == 0
    assert mine["next_attempt_at"] is None
    assert (by_name[other]["monitored"], by_name[other]["monitored_rule"]) == (False, "default")


@pytest.mark.parametrize("ref", ["full id", "id prefix", "name"])
async def test_a_container_is_found_by_id_id_prefix_or_name(ah, client, containers, ref):
    name = containers.run(RUNNING)
    await seen(ah, name)
    cid = containers.id(name)
    given = {"full id": cid, "id prefix": cid[:8], "name": name}[ref]

    response = await client.get(f"/api/containers/{given}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["name"]) == (cid, name)


async def test_an_id_prefix_of_several_containers_is_409(ah, client, containers):
    by_first_char: dict[str, str] = {}
    while True:  # at most 17 containers: two of them share the first hex digit of the id
        name = containers.run(RUNNING)
        first = containers.id(name)[0]
        if first in by_first_char:
            break
        by_first_char[first] = name
    await seen(ah, name)
    await seen(ah, by_first_char[first])

    response = await client.get(f"/api/containers/{first}")

    assert response.status_code == 409
    assert "matches" in response.json()["detail"]


async def test_an_unknown_container_is_404_with_a_json_detail(client):
    response = await client.get("/api/containers/no-such-container-here")

    assert response.status_code == 404
    assert "no-such-container-here" in response.json()["detail"]


async def test_container_detail_lists_the_events_of_a_heal(ah, client, containers):
    name = containers.run(CRASH_ONCE)
    await ah.wait_record(name, "restart")
    await store_caught_up(ah)

    response = await client.get(f"/api/containers/{name}")

    assert response.status_code == 200
    body = response.json()
    kinds = [e["kind"] for e in body["events"]]
    assert "scheduled" in kinds and "restart" in kinds
    assert all(e["container_name"] == name for e in body["events"])
    restart = next(e for e in body["events"] if e["kind"] == "restart")
    assert (restart["cause"], restart["exit_code"]) == ("crash", 3)
    assert body["restarts_in_window"] == 1
    assert body["restart_settings"]["max_restarts"] == ah.service.settings.restart.max_restarts


# --- select -----------------------------------------------------------------------------------


async def test_a_container_disabled_through_select_is_not_healed(ah, client, containers):
    name = containers.run("sleep 2; exit 3")
    await seen(ah, name)

    response = await client.post("/api/containers/select", json={"container_ids": [name], "enabled": False})

    assert response.status_code == 200
    [updated] = response.json()["updated"]
    assert (updated["name"], updated["monitored"], updated["monitored_rule"]) == (name, False, "choice")
    assert ah.healer.choices == {name: False}
    await assert_not_healed(ah, name)


async def test_select_with_an_unknown_container_is_404_and_changes_nothing(ah, client, containers):
    name = containers.run(RUNNING)
    await seen(ah, name)

    response = await client.post(
        "/api/containers/select", json={"container_ids": [name, "no-such-container-here"], "enabled": False}
    )

    assert response.status_code == 404
    assert "no-such-container-here" in response.json()["detail"]
    assert ah.healer.choices == {}
    assert (await client.get(f"/api/containers/{name}")).json()["monitored"] is True


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"container_ids": "x", "enabled": "yes"}, {"container_ids", "enabled"}),
        ({"container_ids": ["x"], "enabled": True, "everything": True}, {"everything"}),
        ({"container_ids": [], "enabled": True}, {"container_ids"}),
        ({"container_ids": ["x"]}, {"enabled"}),
        (b'{"container_ids": ["x"], "enabled": ', {"(body)"}),
    ],
    ids=["wrong types", "unknown field", "empty list", "missing field", "malformed json"],
)
async def test_select_refuses_bad_input_with_422_naming_the_field(ah, client, body, expected):
    if isinstance(body, bytes):
        response = await client.post(
            "/api/containers/select", content=body, headers={"Content-Type": "application/json"}
        )
    else:
        response = await client.post("/api/containers/select", json=body)

    assert response.status_code == 422
    assert set(fields(response)) == expected
    assert ah.healer.choices == {}


# --- restart ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how", [{"headers": XHR}, {"json": {}}], ids=["x-requested-with", "json content type"]
)
async def test_an_operator_restart_restarts_the_container_and_is_not_a_manual_stop(
    ah, client, containers, how
):
    name = containers.run(RUNNING)
    await seen(ah, name, "running")
    before = started_at(name)

    response = await client.post(f"/api/containers/{name}/restart", **how)

    assert response.status_code == 200
    assert response.json()["container"]["name"] == name
    assert started_at(name) != before
    assert inspect(name)["State"]["Running"]
    [record] = await ah.wait_record(name, "restart")
    assert record.cause == "operator"
    await ah.settle()
    assert ah.records(name, "manual_stop") == []
    assert ah.records(name, "scheduled") == []
    assert not ah.healer.state(containers.id(name)).manual_stop


async def test_an_operator_restart_starts_a_stopped_container_and_clears_its_manual_stop(
    ah, client, containers
):
    name = containers.run(RUNNING)
    await seen(ah, name, "running")
    docker("stop", "-t", "1", name)
    await ah.wait_record(name, "manual_stop")

    response = await client.post(f"/api/containers/{name}/restart", headers=XHR)

    assert response.status_code == 200
    assert "start by an operator" in response.json()["message"]
    assert inspect(name)["State"]["Running"]
    assert response.json()["container"]["manual_stop"] is False
    assert not ah.healer.state(containers.id(name)).manual_stop


async def test_restart_without_json_or_x_requested_with_is_415_and_does_nothing(ah, client, containers):
    name = containers.run(RUNNING)
    await seen(ah, name, "running")
    before = started_at(name)

    response = await client.post(f"/api/containers/{name}/restart")

    assert response.status_code == 415
    assert "X-Requested-With" in response.json()["detail"]
    assert started_at(name) == before
    assert ah.records(name, "restart") == []


async def test_restart_of_an_unknown_container_is_404(client):
    response = await client.post("/api/containers/no-such-container-here/restart", headers=XHR)

    assert response.status_code == 404


# --- quarantine --------------------------------------------------------------------------------


async def test_quarantine_and_unquarantine_each_conflict_the_second_time(ah, client, containers):
    name = containers.run(RUNNING)
    await seen(ah, name)
    url = f"/api/containers/{name}"

    first = await client.post(f"{url}/quarantine", headers=XHR)
    again = await client.post(f"{url}/quarantine", headers=XHR)
    assert (first.status_code, again.status_code) == (200, 409)
    assert first.json()["container"]["quarantined"] is True
    assert (await client.get(url)).json()["quarantined"] is True

    released = await client.post(f"{url}/unquarantine", headers=XHR)
    released_again = await client.post(f"{url}/unquarantine", headers=XHR)
    assert (released.status_code, released_again.status_code) == (200, 409)
    assert released.json()["container"]["quarantined"] is False
    assert (await client.get(url)).json()["quarantined"] is False


async def test_quarantine_of_an_unknown_container_is_404(client):
    for action in ("quarantine", "unquarantine"):
        response = await client.post(f"/api/containers/no-such-container-here/{action}", headers=XHR)
        assert response.status_code == 404, action


async def test_a_quarantined_crash_looping_container_is_not_restarted_until_released(
    ah, client, containers
):
    name = containers.run(CRASH_LOOP)
    await seen(ah, name)

    assert (await client.post(f"/api/containers/{name}/quarantine", headers=XHR)).status_code == 200
    await assert_not_healed(ah, name)

    assert (await client.post(f"/api/containers/{name}/unquarantine", headers=XHR)).status_code == 200
    await ah.wait_record(name, "restart")


# --- configuration ------------------------------------------------------------------------------


async def test_get_config_returns_the_running_settings(ah, client):
    response = await client.get("/api/config")

    assert response.status_code == 200
    assert response.json() == ah.service.settings.model_dump(mode="json")


async def test_put_config_with_a_full_document_applies_the_change(ah, client):
    document = (await client.get("/api/config")).json()
    document["restart"]["max_restarts"] = 7

    response = await client.put("/api/config", json=document)

    assert response.status_code == 200
    assert ah.service.settings.restart.max_restarts == 7
    assert ah.service.settings.model_dump(mode="json") == document
    assert response.json() == document


async def test_put_config_monitor_updates_only_the_fields_given(ah, client):
    label_key = ah.service.settings.monitor.label_key

    response = await client.put("/api/config/monitor", json={"interval_seconds": 5})

    assert response.status_code == 200
    assert ah.service.settings.monitor.interval_seconds == 5
    assert ah.service.settings.monitor.label_key == label_key


async def test_put_config_restart_updates_nested_fields_and_keeps_the_rest(ah, client):
    before = ah.service.settings.restart

    response = await client.put("/api/config/restart", json={"max_restarts": 9, "backoff": {"multiplier": 3}})

    assert response.status_code == 200
    after = ah.service.settings.restart
    assert (after.max_restarts, after.backoff.multiplier) == (9, 3)
    assert after.backoff.initial_seconds == before.backoff.initial_seconds
    assert after.verify_seconds == before.verify_seconds
    assert response.json()["restart"]["max_restarts"] == 9


MALFORMED = b'{"interval_seconds": '


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/config", {"monitor": {"interval_seconds": "30"}}, "monitor.interval_seconds"),
        ("/api/config", {"restart": {"max_restarts": -1}}, "restart.max_restarts"),
        ("/api/config", {"monitor": {}, "everything": {}}, "everything"),
        ("/api/config", [{"monitor": {}}], "(body)"),
        ("/api/config", MALFORMED, "(body)"),
        ("/api/config/monitor", {"interval_seconds": "30"}, "monitor.interval_seconds"),
        ("/api/config/monitor", {"interval_seconds": -1}, "monitor.interval_seconds"),
        ("/api/config/monitor", {"interval_seconds": 5, "everything": 1}, "monitor.everything"),
        ("/api/config/monitor", "interval_seconds=5", "(body)"),
        ("/api/config/monitor", MALFORMED, "(body)"),
        ("/api/config/restart", {"cooldown_seconds": "30"}, "restart.cooldown_seconds"),
        ("/api/config/restart", {"backoff": {"initial_seconds": -1}}, "restart.backoff.initial_seconds"),
        ("/api/config/restart", {"max_restarts": 2, "everything": 1}, "restart.everything"),
        ("/api/config/restart", 30, "(body)"),
        ("/api/config/restart", MALFORMED, "(body)"),
    ],
)
async def test_invalid_config_is_422_naming_the_field_and_changes_nothing(ah, client, path, body, field):
    before = ah.service.settings
    if isinstance(body, bytes):
        response = await client.put(path, content=body, headers={"Content-Type": "application/json"})
    else:
        response = await client.put(path, json=body)

    assert response.status_code == 422
    assert field in fields(response)
    assert ah.service.settings == before
    assert ah.records(kind="config_changed") == []


DEEP = b"[" * 100000 + b"]" * 100000


def nested_in_a_field(depth: int) -> bytes:
    """Valid JSON with an array nested `depth` deep inside a settings field."""
    return b'{"monitor": {"label_key": ' + b"[" * depth + b"]" * depth + b"}}"


# Around the interpreter's recursion limit a document may parse, then fail to be re-encoded for
# validation a few frames deeper; scan the whole band rather than guess where it lies.
NEAR_THE_LIMIT = range(sys.getrecursionlimit() - 150, sys.getrecursionlimit() + 10)


@pytest.mark.parametrize("path", ["/api/config", "/api/config/monitor", "/api/config/restart"])
async def test_deeply_nested_json_in_a_config_put_is_4xx_not_500(ah, client, path):
    before = ah.service.settings

    for body in [DEEP, *(nested_in_a_field(depth) for depth in NEAR_THE_LIMIT)]:
        response = await client.put(path, content=body, headers={"Content-Type": "application/json"})

        assert 400 <= response.status_code < 500, (body[:40], response.text)
        assert response.json()["detail"]
    assert ah.service.settings == before
    assert ah.records(kind="config_changed") == []


async def test_concurrent_section_updates_lose_neither(ah, client):
    for round in range(10):
        include_all, cooldown = round % 2 == 0, 5 + round

        monitor, restart = await asyncio.gather(
            client.put("/api/config/monitor", json={"include_all": include_all}),
            client.put("/api/config/restart", json={"cooldown_seconds": cooldown}),
        )

        assert (monitor.status_code, restart.status_code) == (200, 200)
        settings = ah.service.settings
        assert (settings.monitor.include_all, settings.restart.cooldown_seconds) == (include_all, cooldown), round


async def test_concurrent_whole_and_section_updates_apply_in_some_order(ah, client):
    document = (await client.get("/api/config")).json()
    document["restart"]["max_restarts"] = 8

    whole, section = await asyncio.gather(
        client.put("/api/config", json=document),
        client.put("/api/config/monitor", json={"interval_seconds": 7}),
    )

    assert (whole.status_code, section.status_code) == (200, 200)
    settings = ah.service.settings
    assert settings.restart.max_restarts == 8
    # Serialised: either the section went last (and kept the whole document's restart section),
    # or the whole document went last (and reset the monitor section to what it said).
    assert settings.monitor.interval_seconds in (7, document["monitor"]["interval_seconds"])


# --- export and import ------------------------------------------------------------------------------


async def test_export_is_a_versioned_attachment(ah, client):
    await ah.service.set_choices(["some-container"], False)

    response = await client.get("/api/config/export")

    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    document = response.json()
    assert document["schema_version"] == 1
    assert document["containers"] == {"some-container": {"enabled": False}}
    assert document["monitor"] == ah.service.settings.monitor.model_dump(mode="json")


async def test_importing_an_export_as_json_is_an_identity(ah, client):
    await ah.service.set_choices(["some-container"], False)
    exported = (await client.get("/api/config/export")).json()
    settings = ah.service.settings

    response = await client.post("/api/config/import", json=exported)

    assert response.status_code == 200
    assert (await client.get("/api/config/export")).json() == exported
    assert ah.service.settings == settings
    assert ah.healer.choices == {"some-container": False}


async def test_import_as_a_multipart_upload_applies_the_document(ah, client):
    document = (await client.get("/api/config/export")).json()
    document["monitor"]["interval_seconds"] = 4
    document["containers"] = {"some-container": {"enabled": True}}

    response = await client.post(
        "/api/config/import",
        files={"file": ("c.json", json.dumps(document).encode(), "application/json")},
        headers=XHR,
    )

    assert response.status_code == 200
    assert "monitor.interval_seconds" in response.json()["changed"]
    assert ah.service.settings.monitor.interval_seconds == 4
    assert ah.healer.choices == {"some-container": True}
    assert (await client.get("/api/config/export")).json() == document


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    node[last] = value
    return document


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("monitor.everything", 1, "monitor.everything"),
        ("everything", {}, "everything"),
        ("monitor.interval_seconds", "30", "monitor.interval_seconds"),
        ("restart.backoff.enabled", "yes", "restart.backoff.enabled"),
        ("schema_version", 2, "schema_version"),
        ("containers", {"some-container": {"enabled": "no"}}, "containers.some-container"),
    ],
    ids=["unknown field", "unknown section", "wrong type", "wrong nested type", "newer schema", "bad choice"],
)
@pytest.mark.parametrize("as_upload", [False, True], ids=["json", "upload"])
async def test_an_invalid_import_is_422_naming_the_field_and_changes_nothing(
    ah, client, path, value, field, as_upload
):
    await ah.service.set_choices(["keep-me"], True)
    before = (await client.get("/api/config/export")).json()
    document = _set(json.loads(json.dumps(before)), path, value)
    document["restart"]["max_restarts"] = 7  # a valid change that must not be applied either

    if as_upload:
        response = await client.post(
            "/api/config/import",
            files={"file": ("c.json", json.dumps(document).encode(), "application/json")},
            headers=XHR,
        )
    else:
        response = await client.post("/api/config/import", json=document)

    assert response.status_code == 422
    assert fields(response) == [field]
    assert (await client.get("/api/config/export")).json() == before
    assert ah.healer.choices == {"keep-me": True}


async def test_import_refuses_malformed_json_and_an_upload_without_a_file(ah, client):
    before = ah.service.settings

    malformed = await client.post(
        "/api/config/import", content=b'{"monitor": ', headers={"Content-Type": "application/json"}
    )
    no_file = await client.post(
        "/api/config/import", files={"other": ("c.json", b"{}", "application/json")}, headers=XHR
    )

    assert malformed.status_code == 422
    assert fields(malformed) == ["(document)"]
    assert no_file.status_code == 422
    assert fields(no_file) == ["file"]
    assert ah.service.settings == before


@pytest.mark.parametrize("as_upload", [False, True], ids=["json", "upload"])
async def test_import_of_deeply_nested_json_is_422_not_500(ah, client, as_upload):
    before = ah.service.settings

    async def post(body: bytes) -> httpx.Response:
        if as_upload:
            return await client.post("/api/config/import", files={"file": ("c.json", body, "application/json")}, headers=XHR)
        return await client.post("/api/config/import", content=body, headers={"Content-Type": "application/json"})

    deep = await post(DEEP)
    assert deep.status_code == 422, deep.text
    assert fields(deep) == ["(document)"]
    assert deep.json()["detail"] == "(document): JSON nested too deeply"
    for depth in NEAR_THE_LIMIT:
        response = await post(nested_in_a_field(depth))
        assert response.status_code == 422, (depth, response.text)
    assert ah.service.settings == before


# --- health checks ---------------------------------------------------------------------------------


async def test_a_health_check_can_be_added_listed_read_and_deleted(ah, client, containers):
    name = containers.run(RUNNING)
    await seen(ah, name)
    assert (await client.get("/api/healthchecks")).json() == {"healthchecks": []}

    created = await client.post(
        "/api/healthchecks",
        json={"container_id": containers.id(name), "check_type": "http", "http_endpoint": "/health"},
    )

    assert created.status_code == 201
    assert (created.json()["container_name"], created.json()["http_endpoint"]) == (name, "/health")
    listed = (await client.get("/api/healthchecks")).json()["healthchecks"]
    assert [c["container_name"] for c in listed] == [name]
    for ref in (name, containers.id(name)):
        got = await client.get(f"/api/healthchecks/{ref}")
        assert got.status_code == 200, ref
        assert got.json()["check_type"] == "http"
    assert (await client.get(f"/api/containers/{name}")).json()["custom_check"] is True

    deleted = await client.delete(f"/api/healthchecks/{name}", headers=XHR)

    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": name}
    assert (await client.get(f"/api/healthchecks/{name}")).status_code == 404
    assert (await client.delete(f"/api/healthchecks/{name}", headers=XHR)).status_code == 404
    assert ah.service.healthchecks == {}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"check_type": "tcp", "tcp_port": 70000}, "tcp_port"),
        pytest.param(
            {"check_type": "http"},
            "http_endpoint",
        ),
        ({"check_type": "http", "http_endpoint": "/", "interval_seconds": -5}, "interval_seconds"),
        ({"check_type": "http", "http_endpoint": "/", "retries": "3"}, "retries"),
        ({"check_type": "smoke-signals"}, "check_type"),
        ({"check_type": "http", "http_endpoint": "/", "everything": 1}, "everything"),
    ],
    ids=["port out of range", "http without endpoint", "negative interval", "wrong type", "unknown kind", "unknown field"],
)
async def test_an_invalid_health_check_is_422_naming_the_field(ah, client, containers, change, field):
    name = containers.run(RUNNING)
    await seen(ah, name)

    response = await client.post("/api/healthchecks", json={"container_id": name, **change})

    assert response.status_code == 422
    assert field in fields(response)
    assert ah.service.healthchecks == {}


async def test_a_health_check_for_an_unknown_container_is_404(ah, client):
    response = await client.post(
        "/api/healthchecks",
        json={"container_id": "no-such-container-here", "check_type": "tcp", "tcp_port": 80},
    )

    assert response.status_code == 404
    assert (await client.get("/api/healthchecks/no-such-container-here")).status_code == 404
    assert ah.service.healthchecks == {}


# --- events -----------------------------------------------------------------------------------------


async def test_events_filter_by_limit_container_and_kinds(ah, client, containers):
    name = containers.run(RUNNING)
    other = containers.run(RUNNING)
    await seen(ah, name)
    await seen(ah, other)
    for _ in range(2):
        await client.post(f"/api/containers/{name}/quarantine", headers=XHR)
        await client.post(f"/api/containers/{name}/unquarantine", headers=XHR)
    await client.post(f"/api/containers/{other}/quarantine", headers=XHR)
    await client.post("/api/maintenance", json={"paused": True})
    await store_caught_up(ah)

    limited = await client.get("/api/events", params={"limit": 2})
    mine = (await client.get("/api/events", params={"container": name})).json()["events"]
    by_prefix = (await client.get("/api/events", params={"container": containers.id(name)[:10]})).json()["events"]
    quarantines = (await client.get("/api/events", params={"kind": "quarantine,maintenance"})).json()["events"]

    assert limited.status_code == 200
    assert len(limited.json()["events"]) == 2
    assert limited.json()["next_cursor"] is not None
    assert [e["kind"] for e in mine] == ["unquarantine", "quarantine", "unquarantine", "quarantine"]
    assert {e["container_name"] for e in mine} == {name}
    assert by_prefix == mine
    assert [(e["kind"], e["container_name"]) for e in quarantines] == [
        ("maintenance", ""),
        ("quarantine", other),
        ("quarantine", name),
        ("quarantine", name),
    ]
    assert (await client.get("/api/events", params={"container": "no-such-container-here"})).json() == {
        "events": [],
        "next_cursor": None,
    }


async def test_event_pages_follow_the_cursor_without_duplicates(ah, client, containers):
    name = containers.run(RUNNING)
    await seen(ah, name)
    for _ in range(3):
        await client.post(f"/api/containers/{name}/quarantine", headers=XHR)
        await client.post(f"/api/containers/{name}/unquarantine", headers=XHR)
    await store_caught_up(ah)
    everything = (await client.get("/api/events", params={"limit": 1000})).json()
    assert everything["next_cursor"] is None and len(everything["events"]) >= 6

    visited, cursor, pages = [], None, 0
    while True:
        params = {"limit": 4} | ({"before": cursor} if cursor else {})
        page = (await client.get("/api/events", params=params)).json()
        visited += [e["id"] for e in page["events"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages >= 2
    assert len(visited) == len(set(visited))
    assert visited == [e["id"] for e in everything["events"]]
    assert visited == sorted(visited, reverse=True)


async def test_a_flush_waits_for_the_batch_the_writer_is_already_writing(ah):
    """Every API read (status, container detail, events) flushes the writer, then queries the store."""
    writer = ah.service.writer
    await store_caught_up(ah)  # the writer loop is idle, waiting for work
    ah.service.events.add(Record(time.time(), "maintenance", "just now"))
    await asyncio.sleep(0)  # the writer loop wakes and takes the batch

    await writer.flush()
    page = await ah.service.store.query_events(limit=1)

    assert [record.reason for _, record in page.records] == ["just now"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 5000}, "limit"),
        ({"limit": 10**20}, "limit"),
        ({"before": 0}, "before"),
        ({"before": "x"}, "before"),
        ({"before": "99999999999999999999"}, "before"),  # past SQLite's 64-bit integers
        ({"before": str(2**63)}, "before"),
        ({"since": "inf"}, "since"),
        ({"since": "nan"}, "since"),
        ({"since": "-inf"}, "since"),
        ({"until": "inf"}, "until"),
        ({"until": "Infinity"}, "until"),
        ({"until": "NaN"}, "until"),
    ],
)
async def test_events_refuse_bad_query_parameters_with_422(client, params, field):
    response = await client.get("/api/events", params=params)

    assert response.status_code == 422
    assert fields(response) == [field]


async def test_events_accept_the_largest_cursor_and_huge_finite_times(client):
    response = await client.get("/api/events", params={"before": str(2**63 - 1), "since": 0, "until": "1e300"})

    assert response.status_code == 200
    assert response.json()["next_cursor"] is None


class EventStream:
    """GET /api/events/stream driven as raw ASGI: ASGITransport would wait for the endless body."""

    def __init__(self, app, headers: list[tuple[bytes, bytes]]) -> None:
        self.status: int | None = None
        self.chunks: list[str] = []
        self._asked = False
        self._left = asyncio.Event()
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": "/api/events/stream", "raw_path": b"/api/events/stream",
            "query_string": b"", "root_path": "", "headers": [(b"host", b"test"), *headers],
            "client": ("127.0.0.1", 1), "server": ("test", 80),
        }  # fmt: skip
        self.task = asyncio.create_task(app(scope, self._receive, self._send))

    async def _receive(self) -> dict:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._left.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b"").decode())

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    async def close(self) -> None:
        self._left.set()
        await wait_for(self.task.done, "the stream ended after the client left")


async def test_the_event_stream_pushes_new_records_and_container_changes(ah, containers):
    app = create_app(ah.service, token=TOKEN, manage_service=False, allowed_hosts=["test"])
    stream = EventStream(app, [(b"authorization", f"Bearer {TOKEN}".encode())])
    try:
        await wait_for(lambda: "autoheal event stream" in stream.text, "the stream opened")
        assert stream.status == 200
        name = containers.run(RUNNING)
        await seen(ah, name)
        ah.service.healer.set_maintenance(True)

        await wait_for(lambda: '"kind":"maintenance"' in stream.text, "the maintenance record streamed")
        await wait_for(lambda: f'"name":"{name}"' in stream.text, "the new container streamed")
        assert "event: record" in stream.text and "event: container" in stream.text
    finally:
        await stream.close()


# --- maintenance ----------------------------------------------------------------------------------------


async def test_maintenance_pauses_healing_until_it_is_resumed(ah, client, containers):
    paused = await client.post("/api/maintenance", json={"paused": True})
    assert paused.status_code == 200
    assert paused.json()["maintenance"] is True
    assert (await client.get("/api/status")).json()["maintenance"] is True

    name = containers.run(CRASH_ONCE)
    skipped = (await ah.wait_record(name, "skipped"))[0]
    assert "maintenance" in skipped.reason
    await assert_not_healed(ah, name)

    resumed = await client.post("/api/maintenance", json={"paused": False})
    assert resumed.status_code == 200
    assert resumed.json()["maintenance"] is False
    await ah.wait_record(name, "restart")


@pytest.mark.parametrize(
    ("body", "field"), [({"paused": "yes"}, "paused"), ({}, "paused"), ({"paused": True, "why": "x"}, "why")]
)
async def test_maintenance_refuses_bad_input_with_422(ah, client, body, field):
    response = await client.post("/api/maintenance", json=body)

    assert response.status_code == 422
    assert fields(response) == [field]
    assert ah.healer.maintenance is False


# --- security -----------------------------------------------------------------------------------------------


def api_routes(app) -> list[tuple[str, str]]:
    """Every (method, path) under /api that the OpenAPI document declares, parameters filled in."""
    return [
        (method.upper(), path.replace("{ref}", "no-such-container-here"))
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api")
        for method in operations
    ]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}],
    ids=["no header", "wrong token", "wrong scheme", "no scheme"],
)
async def test_with_a_token_every_api_endpoint_refuses_requests_without_it(ah, headers):
    app = create_app(ah.service, token=TOKEN, manage_service=False, allowed_hosts=["test"])
    routes = api_routes(app)
    assert len(routes) >= 20 and ("GET", "/api/events/stream") in routes
    async with api_client(ah, token=TOKEN) as client:
        for method, path in routes:
            response = await client.request(method, path, headers={**headers, **XHR}, json={})
            assert response.status_code == 401, (method, path)
            assert response.headers["www-authenticate"] == "Bearer"
        assert (await client.get("/health")).status_code == 200
        good = await client.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200
    assert ah.healer.maintenance is False
    assert ah.records(kind="config_changed") == []


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/api/config"), ("PUT", "/api/config/monitor"), ("POST", "/api/config/import")],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["declared", "streamed"])
async def test_a_body_over_one_mebibyte_is_413_and_changes_nothing(ah, client, method, path, streamed):
    before = ah.service.settings
    document: dict[str, Any] = {"interval_seconds": 9}  # valid: it would apply if it got through
    if path == "/api/config":
        document = {"monitor": {**before.monitor.model_dump(mode="json"), **document}}
    elif path == "/api/config/import":
        document = ah.service.export_config()
        document["monitor"]["interval_seconds"] = 9
    body = json.dumps(document).encode() + b" " * MAX_BODY_BYTES

    async def chunks():  # no Content-Length: the limit must hold while reading
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = await client.request(
        method, path, content=chunks() if streamed else body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert ah.service.settings == before


# --- Host and Origin (DNS rebinding) -------------------------------------------------------------------------


@asynccontextmanager
async def raw_client(ah: Autoheal, allowed_hosts: list[str] | None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ah.service, manage_service=False, allowed_hosts=allowed_hosts)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        yield client


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8080", "test.evil.example", "127.0.0.1.evil.example", ""])
async def test_a_request_for_another_host_is_400_everywhere(ah, host):
    async with raw_client(ah, ["autoheal.lan"]) as client:
        for path in ["/health", "/api/status", "/api/config", "/metrics/", "/docs", "/openapi.json"]:
            response = await client.get(path, headers={"Host": host})

            assert response.status_code == 400, path
            assert response.json() == {"detail": "host not allowed", "errors": []}
        change = await client.post("/api/maintenance", json={"paused": True}, headers={"Host": host})
        assert change.status_code == 400
    assert ah.healer.maintenance is False


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:8080", "127.0.0.1", "127.0.0.1:8080", "[::1]", "[::1]:8080", "autoheal.lan:80"]
)
async def test_loopback_names_and_the_allowed_hosts_are_answered(ah, host):
    async with raw_client(ah, ["autoheal.lan"]) as client:
        assert (await client.get("/health", headers={"Host": host})).status_code == 200
        assert (await client.get("/api/status", headers={"Host": host})).status_code == 200


@pytest.mark.parametrize("allowed", [None, ["*"], ["autoheal.lan", "*"]], ids=["none", "star", "star-in-list"])
async def test_without_a_list_or_with_a_star_any_host_and_origin_is_answered(ah, allowed):
    async with raw_client(ah, allowed) as client:
        status = await client.get("/api/status", headers={"Host": "anything.example"})
        change = await client.post(
            "/api/maintenance", json={"paused": True}, headers={"Host": "anything.example", "Origin": "http://x.example"}
        )

    assert status.status_code == 200
    assert change.status_code == 200
    assert ah.healer.maintenance is True


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://evil.example:8080", "https://localhost.evil.example", "null", "file://"]
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/maintenance", {"paused": True}),
        ("PUT", "/api/config/monitor", {"include_all": True}),
        ("POST", "/api/containers/select", {"container_ids": [], "enabled": False}),
    ],
)
async def test_a_state_change_from_a_foreign_origin_is_403_and_changes_nothing(ah, origin, method, path, body):
    before = ah.service.settings
    async with raw_client(ah, ["autoheal.lan"]) as client:
        response = await client.request(method, path, json=body, headers={"Origin": origin})
        read = await client.get("/api/status", headers={"Origin": origin})  # reading is not a change

    assert response.status_code == 403
    assert response.json() == {"detail": "origin not allowed", "errors": []}
    assert read.status_code == 200
    assert ah.healer.maintenance is False
    assert ah.service.settings == before


@pytest.mark.parametrize(
    "origin", [None, "http://localhost:8080", "http://127.0.0.1:3000", "http://[::1]:8080", "https://autoheal.lan"]
)
async def test_a_state_change_from_an_allowed_origin_or_without_one_is_answered(ah, origin):
    headers = {} if origin is None else {"Origin": origin}
    async with raw_client(ah, ["autoheal.lan"]) as client:
        response = await client.post("/api/maintenance", json={"paused": True}, headers=headers)

    assert response.status_code == 200
    assert ah.healer.maintenance is True
