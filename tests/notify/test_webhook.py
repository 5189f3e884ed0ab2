"""The generic webhook: payload shapes, and which answers are retried and which are permanent."""

from __future__ import annotations

import json

import httpx
import pytest

from autoheal.notify.notice import Notice
from autoheal.notify.webhook import Webhook, mask

NOTICE = Notice("restarted", "host-a", 0.0, "restarted (crash, exit 3)", "f" * 64, "api", "crash", 3, 1)


def hook(handler, **kwargs) -> Webhook:
    return Webhook("https://hooks.example.com/secret/path", transport=httpx.MockTransport(handler), **kwargs)


async def test_it_posts_the_text_under_the_json_key_with_the_structured_fields():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(204)

    result = await hook(handler, json_key="text").send(NOTICE)
    assert result.ok and result.status_code == 204
    body = seen[0]
    assert body["text"] == NOTICE.text
    assert body["container"] == "api" and body["host"] == "host-a" and body["event"] == "restarted"
    assert body["exit_code"] == 3


async def test_text_format_sends_only_the_key_like_the_classic_tool():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200)

    await hook(handler, fmt="text").send(NOTICE)
    assert seen == [{"content": NOTICE.text}]


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (503, False), (429, False), (408, False), (400, True), (401, True), (404, True), (301, True)],
)
async def test_failures_are_permanent_only_when_trying_again_cannot_help(status, permanent):
    result = await hook(lambda request: httpx.Response(status, text="nope")).send(NOTICE)
    assert not result.ok
    assert result.permanent is permanent
    assert result.status_code == status
    assert f"HTTP {status}" in result.error and "nope" in result.error


async def test_a_connection_error_is_retryable():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = await hook(handler).send(NOTICE)
    assert not result.ok and not result.permanent and "connection refused" in result.error


async def test_a_timeout_is_retryable():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    result = await hook(handler).send(NOTICE)
    assert not result.ok and not result.permanent and result.error == "timed out"


def test_the_target_shown_hides_the_secret_path():
    assert mask("https://hooks.example.com:8443/services/T000/B000/XXXX?token=1") == "https://hooks.example.com:8443/…"
