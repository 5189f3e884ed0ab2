"""The web UI's files: served without a token, with strict security headers, and nothing from the internet."""

from __future__ import annotations

import re

import httpx
import pytest

from autoheal.api.app import create_app
from autoheal.api.web import BOOTSTRAP_DIR, WEB_DIR
from autoheal.config import parse_settings
from autoheal.engine.service import Service

TOKEN = "s3cret"


@pytest.fixture
async def client():
    # Never started: the UI's files need no engine, and the guarded /api answers 401 before any handler runs.
    service = Service(parse_settings({}), environ={"DOCKER_HOST": "unix:///nonexistent.sock"})
    app = create_app(service, token=TOKEN, manage_service=False, allowed_hosts=[])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        yield http


def assert_secure(response: httpx.Response) -> None:
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_page_is_served_at_the_root_without_a_token(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>autoheal</title>" in response.text
    assert_secure(response)


async def test_the_api_still_needs_the_token(client):
    assert (await client.get("/api/status")).status_code == 401
    assert (await client.get("/api/events/stream")).status_code == 401


@pytest.mark.parametrize(
    "path, kind",
    [
        ("/ui/main.js", "javascript"),
        ("/ui/theme.js", "javascript"),
        ("/ui/boot.js", "javascript"),
        ("/ui/app.css", "text/css"),
        ("/vendor/bootstrap/css/bootstrap.min.css", "text/css"),
        ("/vendor/bootstrap/js/bootstrap.bundle.min.js", "javascript"),
    ],
)
async def test_the_modules_and_bootstrap_are_served_with_the_headers(client, path, kind):
    response = await client.get(path)
    assert response.status_code == 200, path
    assert kind in response.headers["content-type"]
    assert_secure(response)


async def test_every_file_the_page_references_is_served(client):
    page = (await client.get("/")).text
    modules = {p.name for p in WEB_DIR.glob("*.js")}
    referenced = set(re.findall(r'(?:src|href)="(/[^"#]+)"', page))
    for module in modules:  # imports between modules, and the loader's import()
        text = (WEB_DIR / module).read_text()
        referenced |= {f"/ui/{m}" for m in re.findall(r'from "\./([\w.-]+)"', text)}
        referenced |= set(re.findall(r'import\("(/ui/[\w.-]+)"\)', text))
    assert "/ui/main.js" in referenced and "/ui/containers.js" in referenced
    for path in referenced:
        assert (await client.get(path)).status_code == 200, path


async def test_the_host_check_covers_the_page(client):
    assert (await client.get("/", headers={"Host": "evil.example"})).status_code == 400


async def test_nothing_outside_the_package_directory_is_served(client):
    assert (await client.get("/ui/../api/web.py")).status_code == 404
    assert (await client.get("/ui/%2e%2e/api/web.py")).status_code == 404


def test_no_static_file_loads_anything_from_another_origin():
    # A URL in a comment or an SVG namespace is fine; a fetch, script or style from elsewhere is not.
    for path in WEB_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        for url in re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text):
            assert url == "http://www.w3.org/2000/svg", f"{path.name} refers to {url}"
    assert (BOOTSTRAP_DIR / "css" / "bootstrap.min.css").is_file()

