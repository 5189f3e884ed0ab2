"""Prometheus metrics scraped before and after real heals: every metric moves where the action happens."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from autoheal.api.app import create_app
from tests.integration.receiver import Receiver
from tests.integration.support import CRASH_ONCE, HEALTH_CMD, HEALTHY_WHILE_OK, Autoheal, docker, wait_for

pytestmark = pytest.mark.integration
XHR = {"X-Requested-With": "XMLHttpRequest"}
# Ignores SIGTERM, so that each restart takes the whole stop timeout: restarts overlap for sure.
SLOW_TO_STOP = "trap '' TERM; touch /tmp/ok; while :; do sleep 0.2; done"



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


class Scraper:
    """Reads /metrics of the app and of the separate metrics port; both must agree."""

    def __init__(self, app_client: httpx.AsyncClient, port: int) -> None:
        self.app_client = app_client
        self.port = port

    async def __call__(self) -> dict[tuple[str, frozenset], float]:
        response = await self.app_client.get("/metrics")
        assert response.status_code == 200
        async with httpx.AsyncClient() as client:
            separate = await client.get(f"http://127.0.0.1:{self.port}/metrics")
        assert separate.status_code == 200
        app_values, port_values = parse(response.text), parse(separate.text)
        # Scraped one after the other: a labelled sample first seen in between shows only in the second.
        assert app_values.keys() <= port_values.keys()
        return app_values


@asynccontextmanager
async def scraping(ah: Autoheal) -> AsyncIterator[tuple[Scraper, httpx.AsyncClient]]:
    port = free_port()
    app = create_app(ah.service, manage_service=False, metrics_port=port, allowed_hosts=["test"])
    async with app.router.lifespan_context(app):  # starts the separate metrics server
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            yield Scraper(client, port), client


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_restarts_and_their_timings_move_for_a_crash_and_an_unhealthy_container(containers, start_autoheal):
    ah = await start_autoheal()
    async with scraping(ah) as (scrape, _):
        before = await scrape()
        assert value(before, "autoheal_healthy") == 1
        crashing = containers.run(CRASH_ONCE)
        sick = containers.run(HEALTHY_WHILE_OK, health=HEALTH_CMD)
        await wait_for(lambda: ah.container(sick) and ah.container(sick).health == "healthy", "healthy")
        during = await scrape()
        assert value(during, "autoheal_containers_monitored") == value(before, "autoheal_containers_monitored") + 2
        await ah.wait_record(crashing, "restart")
        docker("exec", sick, "rm", "/tmp/ok")
        await ah.wait_record(sick, "restart")
        after = await scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("autoheal_container_restarts_total", cause="crash", outcome="restarted") == 1
    assert moved("autoheal_container_restarts_total", cause="unhealthy", outcome="restarted") == 1
    assert moved("autoheal_detection_to_restart_seconds_count") == 2
    assert moved("autoheal_restart_duration_seconds_count") == 2
    assert moved("autoheal_restart_duration_seconds_sum") > 0


async def test_the_quarantine_gauge_follows_an_operator_quarantine_and_release(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run("exec sleep 100000")
    await wait_for(lambda: ah.container(name), "seen")
    async with scraping(ah) as (scrape, client):
        assert value(await scrape(), "autoheal_containers_quarantined") == 0
        response = await client.post(f"/api/containers/{name}/quarantine", headers=XHR)
        assert response.status_code == 200, response.text
        assert value(await scrape(), "autoheal_containers_quarantined") == 1
        response = await client.post(f"/api/containers/{name}/unquarantine", headers=XHR)
        assert response.status_code == 200, response.text
        assert value(await scrape(), "autoheal_containers_quarantined") == 0


async def test_restarts_held_back_by_max_parallel_are_counted(containers, start_autoheal):
    ah = await start_autoheal({"restart": {"max_parallel": 1}})
    async with scraping(ah) as (scrape, _):
        before = await scrape()
        names = [
            containers.run(SLOW_TO_STOP, health=HEALTH_CMD, labels={"autoheal.stop.timeout": "2"}) for _ in range(2)
        ]
        for name in names:
            await wait_for(lambda n=name: ah.container(n) and ah.container(n).health == "healthy", "healthy")
        for name in names:
            docker("exec", name, "rm", "/tmp/ok")
        for name in names:
            await ah.wait_record(name, "restart")
        after = await scrape()
    held = value(after, "autoheal_restarts_held_back_total", limit="max_parallel") - value(
        before, "autoheal_restarts_held_back_total", limit="max_parallel"
    )
    assert held >= 1


async def test_custom_check_runs_and_failures_are_counted_by_kind(containers, start_autoheal):
    ah = await start_autoheal()
    async with scraping(ah) as (scrape, _):
        before = await scrape()
        name = containers.run(
            "exec sleep 100000",
            labels={
                "autoheal.check.type": "tcp",
                "autoheal.check.port": "9",
                "autoheal.check.interval": "1",
                "autoheal.check.timeout": "1",
                "autoheal.check.retries": "1",
            },
        )
        await ah.wait_record(name, "health_check_failed")
        after = await scrape()
    assert value(after, "autoheal_health_checks_total", kind="tcp") > value(before, "autoheal_health_checks_total", kind="tcp")
    assert value(after, "autoheal_health_checks_failed_total", kind="tcp") > value(
        before, "autoheal_health_checks_failed_total", kind="tcp"
    )


async def test_notification_outcomes_are_counted(containers, start_autoheal):
    receiver = await Receiver().start()
    try:
        ah = await start_autoheal(
            environ={
                "WEBHOOK_URL": receiver.url("/ok"),
                "APPRISE_URL": f"json://127.0.0.1:{receiver.port}/bad400",
                "AUTOHEAL_NOTIFY_MAX_ATTEMPTS": "1",
            }
        )
        async with scraping(ah) as (scrape, _):
            before = await scrape()
            muted = containers.run(CRASH_ONCE, labels={"autoheal.notify": "off"})
            await ah.wait_record(muted, "restart")
            loud = containers.run(CRASH_ONCE)
            await ah.wait_record(loud, "restart")
            await wait_for(lambda: receiver.at("/ok") and receiver.at("/bad400"), "both channels called")
            after = None
            for _ in range(50):
                after = await scrape()
                if value(after, "autoheal_notifications_total", channel="apprise", outcome="failed") > value(
                    before, "autoheal_notifications_total", channel="apprise", outcome="failed"
                ):
                    break
                await asyncio.sleep(0.1)
    finally:
        await receiver.close()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("autoheal_notifications_total", channel="webhook", outcome="sent") == 1
    assert moved("autoheal_notifications_total", channel="apprise", outcome="failed") == 1
    assert moved("autoheal_notifications_suppressed_total", reason="muted") == 1
