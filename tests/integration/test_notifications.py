"""Notifications for real restarts, to a local receiver: webhook and Apprise, retries, permanent errors, hangs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from autoheal.api.app import create_app
from autoheal.config import parse_settings
from autoheal.engine.service import Service
from tests.integration.receiver import Receiver
from tests.integration.support import CRASH_ONCE, Autoheal, wait_for

pytestmark = pytest.mark.integration
HOST = "test-docker-host"
XHR = {"X-Requested-With": "XMLHttpRequest"}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = await Receiver().start()
    yield made
    await made.close()


def notify_env(**values: str) -> dict[str, str]:
    return {"AUTOHEAL_HOSTNAME": HOST, "AUTOHEAL_NOTIFY_RETRY_SECONDS": "0.2", **values}


async def api(ah: Autoheal, method: str, path: str, **kwargs: Any) -> httpx.Response:
    app = create_app(ah.service, manage_service=False, allowed_hosts=["test"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.request(method, path, **kwargs)


async def entries(ah: Autoheal, **params: Any) -> list[dict[str, Any]]:
    response = await api(ah, "GET", "/api/notifications", params=params)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


async def test_a_real_restart_reaches_the_webhook_and_apprise(containers, start_autoheal, receiver):
    ah = await start_autoheal(
        environ=notify_env(
            WEBHOOK_URL=receiver.url("/ok/hook"),
            WEBHOOK_JSON_KEY="text",
            APPRISE_URL=f"json://127.0.0.1:{receiver.port}/ok/apprise-json form://127.0.0.1:{receiver.port}/ok/apprise-form",
        )
    )
    name = containers.run(CRASH_ONCE)
    await ah.wait_record(name, "restart")
    await wait_for(lambda: len(receiver.at("/ok/")) >= 3, "webhook and both Apprise URLs called")

    [hook] = receiver.at("/ok/hook")
    body = hook.json()
    assert body["event"] == "restarted" and body["container"] == name and body["host"] == HOST
    assert body["cause"] == "crash" and body["exit_code"] == 3
    assert HOST in body["text"] and name in body["text"]
    assert hook.headers["content-type"] == "application/json"

    [as_json] = receiver.at("/ok/apprise-json")
    message = as_json.json()
    assert HOST in message["title"] and name in message["title"]
    assert name in message["message"] and message["type"] == "success"

    [as_form] = receiver.at("/ok/apprise-form")
    form = as_form.form()
    assert name in form["title"] and HOST in form["message"]

    listed = await entries(ah)
    assert {e["channel"]: e["status"] for e in listed} == {"webhook": "sent", "apprise-1": "sent", "apprise-2": "sent"}
    assert all(len(e["history"]) == 1 and e["history"][0]["ok"] for e in listed)


async def test_a_receiver_failing_with_500_is_retried_and_each_attempt_shows(containers, start_autoheal, receiver):
    ah = await start_autoheal(
        environ=notify_env(WEBHOOK_URL=receiver.url("/fail500"), AUTOHEAL_NOTIFY_MAX_ATTEMPTS="3")
    )
    name = containers.run(CRASH_ONCE)
    await ah.wait_record(name, "restart")
    await wait_for(lambda: len(receiver.at("/fail500")) >= 3, "three attempts")

    async def given_up():
        listed = await entries(ah, status="failed")
        return listed[0] if listed else None

    entry = None
    for _ in range(100):
        entry = await given_up()
        if entry:
            break
        await asyncio.sleep(0.1)
    assert entry is not None, "the entry was never given up"
    assert entry["attempts"] == 3 and [a["status_code"] for a in entry["history"]] == [500, 500, 500]
    assert not any(a["permanent"] for a in entry["history"])
    assert "HTTP 500" in entry["last_error"]
    await asyncio.sleep(1.0)  # several retry intervals: no fourth attempt
    assert len(receiver.at("/fail500")) == 3


async def test_a_receiver_answering_400_is_not_retried(containers, start_autoheal, receiver):
    ah = await start_autoheal(environ=notify_env(WEBHOOK_URL=receiver.url("/bad400")))
    name = containers.run(CRASH_ONCE)
    await ah.wait_record(name, "restart")
    await wait_for(lambda: receiver.at("/bad400"), "the webhook called")
    await asyncio.sleep(1.0)  # five retry intervals
    assert len(receiver.at("/bad400")) == 1
    [entry] = await entries(ah)
    assert entry["status"] == "failed" and entry["attempts"] == 1
    assert entry["history"][0]["permanent"] and entry["history"][0]["status_code"] == 400
    assert "bad payload" in entry["last_error"]


async def test_healing_goes_on_while_the_receiver_hangs(containers, start_autoheal, receiver):
    ah = await start_autoheal(
        environ=notify_env(WEBHOOK_URL=receiver.url("/hang"), AUTOHEAL_NOTIFY_TIMEOUT_SECONDS="120")
    )
    first = containers.run(CRASH_ONCE)
    await ah.wait_record(first, "restart")
    await wait_for(lambda: receiver.hanging == 1, "the first notification held by the receiver")
    second = containers.run(CRASH_ONCE)
    third = containers.run(CRASH_ONCE)
    await ah.wait_record(second, "restart")
    await ah.wait_record(third, "restart")
    # Both healed while the first delivery still waits for its answer.
    assert receiver.hanging >= 1 and not receiver.release.is_set()
    receiver.release.set()
    await wait_for(lambda: len(receiver.at("/hang")) == 3, "all three notifications delivered")


async def test_a_muted_container_is_healed_without_a_message(containers, start_autoheal, receiver):
    ah = await start_autoheal(environ=notify_env(WEBHOOK_URL=receiver.url("/ok")))
    muted = containers.run(CRASH_ONCE, labels={"autoheal.notify": "false"})
    await ah.wait_record(muted, "restart")
    loud = containers.run(CRASH_ONCE)
    await ah.wait_record(loud, "restart")
    await wait_for(lambda: receiver.at("/ok"), "the unmuted container's notice")
    await asyncio.sleep(0.5)
    assert [r.json()["container"] for r in receiver.at("/ok")] == [loud]


async def test_the_test_endpoint_reports_each_delivery(start_autoheal, receiver):
    ah = await start_autoheal(
        environ=notify_env(WEBHOOK_URL=receiver.url("/ok"), APPRISE_URL=f"json://127.0.0.1:{receiver.port}/bad400")
    )
    response = await api(ah, "POST", "/api/notifications/test", headers=XHR)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False
    by_channel = {r["channel"]: r for r in body["results"]}
    assert by_channel["webhook"]["ok"] and by_channel["webhook"]["status_code"] == 200
    assert not by_channel["apprise-1"]["ok"] and by_channel["apprise-1"]["error"]
    assert by_channel["apprise-1"]["target"].startswith("json://127.0.0.1")
    assert receiver.at("/ok")[0].json()["event"] == "test"
    assert HOST in receiver.at("/ok")[0].json()["text"]


async def test_the_test_endpoint_says_when_nothing_is_configured(start_autoheal):
    ah = await start_autoheal()
    response = await api(ah, "POST", "/api/notifications/test", headers=XHR)
    assert response.status_code == 409
    assert "WEBHOOK_URL" in response.json()["detail"]
    listing = (await api(ah, "GET", "/api/notifications")).json()
    assert listing["configured"] is False and listing["channels"] == []


async def test_an_unreachable_engine_is_told_as_degraded(receiver, tmp_path, monkeypatch):
    monkeypatch.setattr("autoheal.notify.notifier.DEGRADED_HOLD_SECONDS", 0.0)
    environ = notify_env(WEBHOOK_URL=receiver.url("/ok"), DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock")
    service = Service(parse_settings({}), environ=environ)
    await service.start()
    try:
        await wait_for(lambda: receiver.at("/ok"), "the degraded notice")
        body = receiver.at("/ok")[0].json()
        assert body["event"] == "degraded" and body["host"] == HOST
        assert "engine not connected" in body["reason"]
        scraped = (await api(Autoheal(service), "GET", "/metrics")).text
        assert "\nautoheal_healthy 0.0\n" in scraped
    finally:
        await service.stop()
