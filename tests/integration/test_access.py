"""Access: every /api route of the OpenAPI document, walked without the token, with forged requests, and for CORS."""

from __future__ import annotations

import copy

import httpx
import pytest

from autoheal.api.app import create_app
from tests.integration.support import HEALTHY_WHILE_OK

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token-for-access-tests"
UNSAFE = ("post", "put", "patch", "delete")


def routes(schema: dict) -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, item in schema["paths"].items()
        if path.startswith("/api")
        for method in item
        if method in ("get", *UNSAFE)
    ]


def body_for(method: str, path: str, name: str, config: dict) -> dict | None:
    """A body that would change something real if the request got through."""
    changed = copy.deepcopy(config)
    changed["restart"]["cooldown_seconds"] = 123
    bodies = {
        "/api/maintenance": {"paused": True},
        "/api/containers/select": {"container_ids": [name], "enabled": False},
        "/api/config": {k: v for k, v in changed.items() if k not in ("schema_version", "containers")},
        "/api/config/monitor": {"interval_seconds": 77},
        "/api/config/restart": {"cooldown_seconds": 77},
        "/api/config/import": changed,
        "/api/healthchecks": {"container_id": name, "check_type": "tcp", "tcp_port": 1},
    }
    return bodies.get(path, {}) if method in UNSAFE else None


async def snapshot(client: httpx.AsyncClient, ah, name: str) -> dict:
    """Everything a request could change, read behind the API's back."""
    service = ah.service
    await service.writer.flush()
    cid = ah.container(name).id
    return {
        "config": service.export_config(),
        "maintenance": service.healer.maintenance,
        "choices": dict(service.healer.choices),
        "healthchecks": sorted(service.healthchecks),
        "quarantined": service.healer.state(cid).quarantined,
        "records": len(ah.records()),
        "stored": await service.store.load_settings_document(),
    }


@pytest.fixture
async def setup(containers, start_autoheal):
    name = containers.run(HEALTHY_WHILE_OK)
    ah = await start_autoheal()
    app = create_app(ah.service, token=TOKEN, manage_service=False, allowed_hosts=["test"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        schema = (await client.get("/openapi.json")).json()
        yield ah, client, schema, name


async def test_without_the_token_no_api_route_changes_or_reveals_anything(setup):
    ah, client, schema, name = setup
    walked = routes(schema)
    assert len(walked) >= 20  # the whole document, not a sample
    before = await snapshot(client, ah, name)
    config = ah.service.export_config()
    secret_bits = {name, ah.container(name).id[:12], str(config["monitor"]["label_key"])}
    for credentials in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": "Bearer"}, {"Authorization": f"Bearer {TOKEN}x"}, {"X-Api-Key": TOKEN}):
        for method, path in walked:
            url = path.replace("{ref}", name)
            headers = {**credentials, "X-Requested-With": "test"}
            response = await client.request(method, url, json=body_for(method, path, name, config), headers=headers)
            assert response.status_code == 401, (method, path, credentials, response.status_code, response.text)
            assert response.headers.get("www-authenticate") == "Bearer"
            assert not any(bit in response.text for bit in secret_bits), (method, path, response.text)
            assert "access-control-allow-origin" not in response.headers
    assert await snapshot(client, ah, name) == before

    # The walk used real routes: with the token every read answers (and no 401).
    for method, path in walked:
        if method == "get" and path != "/api/events/stream":
            response = await client.get(path.replace("{ref}", name), headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code in (200, 404), (path, response.text)


async def test_no_route_grants_cross_origin_access(setup):
    ah, client, schema, name = setup
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for method, path in routes(schema) + [("get", "/health"), ("get", "/metrics"), ("get", "/openapi.json")]:
        url = path.replace("{ref}", name)
        preflight = await client.options(url, headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": method.upper(),
            "Access-Control-Request-Headers": "authorization, content-type",
        })
        assert not any(h.startswith("access-control-") for h in preflight.headers), (path, dict(preflight.headers))
        if method == "get" and path != "/api/events/stream":
            read = await client.get(url, headers={**auth, "Origin": "http://evil.example"})
            assert "access-control-allow-origin" not in read.headers, path


async def test_a_foreign_page_cannot_forge_a_state_change_on_any_route(setup, start_autoheal):
    ah, client, schema, name = setup
    # Open (no token, the loopback default): only the CSRF rule and the Origin check stand in the way.
    app = create_app(ah.service, token=None, manage_service=False, allowed_hosts=["test"])
    config = ah.service.export_config()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as open_client:
        before = await snapshot(open_client, ah, name)
        unsafe = [(m, p) for m, p in routes(schema) if m in UNSAFE]
        assert unsafe
        for method, path in unsafe:
            url = path.replace("{ref}", name)
            # What a cross-site <form> can send without a preflight: form fields, multipart, text/plain.
            for kwargs in (
                {"data": {"paused": "true"}},
                {"files": {"file": ("c.json", b"{}", "application/json")}},
                {"content": b'{"paused": true}', "headers": {"Content-Type": "text/plain"}},
            ):
                response = await open_client.request(method, url, **kwargs)
                assert response.status_code == 415, (method, path, kwargs, response.text)
            # JSON from another site's page (sent after a preflight that is never granted).
            response = await open_client.request(
                method, url, json=body_for(method, path, name, config), headers={"Origin": "http://evil.example"}
            )
            assert response.status_code == 403, (method, path, response.text)
        assert await snapshot(open_client, ah, name) == before
