"""Custom checks on real containers: http (busybox httpd), tcp (nc), exec; labels and the API."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from autoheal.api.app import create_app
from autoheal.checks.definition import CheckDefinition
from tests.integration.support import docker, inspect, wait_for

pytestmark = pytest.mark.integration

# Serves /www/health (recreated on every start) on port 8080.
HTTPD = "mkdir -p /www && echo ok > /www/health && exec httpd -f -p 8080 -h /www"
# A persistent TCP listener on 9000 whose pid is in /tmp/nc.pid.
NC = "nc -ll -p 9000 -e true & echo $! > /tmp/nc.pid; exec sleep 100000"
FAST = {"interval_seconds": 1, "timeout_seconds": 1}


def labels(**values: str) -> dict[str, str]:
    return {f"autoheal.check.{key}": value for key, value in values.items()}


async def check_state(ah, name: str):
    return await wait_for(lambda: (c := ah.container(name)) and ah.service.checker.states.get(c.id), f"check of {name} running")


async def test_an_http_check_returning_404_restarts_after_exactly_retries_failures(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run(HTTPD)
    cid = containers.id(name)
    await wait_for(lambda: ah.container(name) is not None, "seen")
    definition = CheckDefinition(check_type="http", http_endpoint="http://localhost:8080/health", retries=2, **FAST)
    await ah.service.put_healthcheck(name, definition)
    state = await check_state(ah, name)
    await wait_for(lambda: state.last_ok is True, "check passing")
    assert state.target.endswith(":8080/health") and "localhost" not in state.target

    docker("exec", name, "rm", "/www/health")

    [failed] = await ah.wait_record(name, "health_check_failed")
    assert "failed 2 times" in failed.reason and "status 404" in failed.reason
    [restart] = await ah.wait_record(name, "restart")
    assert restart.cause == "unhealthy"
    new_state = await wait_for(lambda: (s := ah.service.checker.states.get(cid)) is not state and s, "check restarted")
    await wait_for(lambda: new_state.last_ok is True, "passing again after the restart")


async def test_a_tcp_check_from_labels_restarts_when_the_listener_dies(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run(NC, labels=labels(type="tcp", port="9000", retries="2", interval="1", timeout="1"))
    state = await check_state(ah, name)
    assert state.source == "labels"
    await wait_for(lambda: state.last_ok is True, "listener reachable")

    docker("exec", name, "sh", "-c", "kill $(cat /tmp/nc.pid)")

    [failed] = await ah.wait_record(name, "health_check_failed")
    assert "tcp check failed 2 times" in failed.reason
    await ah.wait_record(name, "restart")


async def test_a_failing_exec_check_restarts_the_container(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run(
        "touch /tmp/ok; exec sleep 100000", labels=labels(type="exec", command="test -f /tmp/ok", retries="1", interval="1", timeout="1")
    )
    state = await check_state(ah, name)
    await wait_for(lambda: state.last_ok is True, "exec check passing")

    docker("exec", name, "rm", "/tmp/ok")

    [failed] = await ah.wait_record(name, "health_check_failed")
    assert "exit code 1" in failed.reason
    await ah.wait_record(name, "restart")
    metrics = ah.service.metrics
    assert metrics.checks.labels("exec")._value.get() >= 2
    assert metrics.checks_failed.labels("exec")._value.get() >= 1


async def test_failures_in_the_start_period_do_not_count(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run("exec sleep 100000", labels=labels(type="exec", command="false", retries="1", interval="1", timeout="1"))
    await wait_for(lambda: ah.container(name) is not None, "seen")
    definition = CheckDefinition(check_type="exec", exec_command=["false"], retries=1, start_period_seconds=3600, **FAST)
    await ah.service.put_healthcheck(name, definition)  # the API one overrides the labels
    state = await check_state(ah, name)
    assert state.source == "api"

    await wait_for(lambda: state.last_ok is False and state.last_run_at is not None, "a failing run")
    runs = ah.service.checker.runs
    await wait_for(lambda: ah.service.checker.runs >= runs + 2, "two more runs")
    assert state.consecutive_failures == 0
    assert ah.records(name, "health_check_failed") == []
    assert ah.records(name, "restart") == []


async def test_a_container_without_an_address_is_reported_and_never_restarted(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run(
        "exec sleep 100000", options=("--network", "none"), labels=labels(type="http", port="80", retries="1", interval="1", timeout="1")
    )
    state = await check_state(ah, name)
    await wait_for(lambda: state.last_detail.startswith("no address"), "no address reported")
    assert "network_mode none" in state.last_detail
    await ah.settle()
    assert ah.records(name, "restart") == [] and ah.records(name, "health_check_failed") == []


async def test_a_hanging_check_times_out_and_holds_up_nothing_else(containers, start_autoheal):
    ah = await start_autoheal()
    # Accepts one connection and never answers (stdin never ends, nothing is written).
    hanging = containers.run(
        "sleep 100000 | nc -l -p 8080; exec sleep 100000",
        labels=labels(type="http", port="8080", retries="1", interval="1", timeout="3"),
    )
    other = containers.run(HTTPD, labels=labels(type="http", port="8080", path="/health", retries="1", interval="1", timeout="1"))
    other_state = await check_state(ah, other)
    seen_runs: set[float] = set()

    async def sample() -> None:
        while True:
            if other_state.last_run_at is not None:
                seen_runs.add(other_state.last_run_at)
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(sample())
    try:
        [failed] = await ah.wait_record(hanging, "health_check_failed")
    finally:
        sampler.cancel()
    assert "timed out" in failed.reason
    # The hanging run took at least its 3 s timeout; the other check ran on meanwhile.
    assert len([t for t in seen_runs if failed.time - 3 < t < failed.time]) >= 2
    await ah.wait_record(hanging, "restart")
    assert ah.records(other, "restart") == []


async def test_the_api_shows_the_check_in_force_and_its_state(containers, start_autoheal):
    ah = await start_autoheal()
    name = containers.run(HTTPD, labels=labels(type="tcp", port="8080", interval="1", timeout="1"))
    await check_state(ah, name)
    app = create_app(ah.service, manage_service=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        listed = (await client.get("/api/healthchecks")).json()["healthchecks"]
        mine = next(c for c in listed if c["container_name"] == name)
        assert (mine["source"], mine["check_type"], mine["running"]) == ("labels", "tcp", True)
        response = await client.post(
            "/api/healthchecks",
            json={"container_id": name, "check_type": "http", "http_endpoint": "/health", "http_port": 8080, **FAST},
        )
        assert response.status_code == 201, response.text
        await wait_for(lambda: ah.service.checker.states[containers.id(name)].kind == "http", "API check in force")
        detail = (await client.get(f"/api/healthchecks/{name}")).json()
        assert detail["source"] == "api"
        await wait_for(lambda: ah.service.checker.states[containers.id(name)].last_ok is True, "http check passing")
        container = (await client.get(f"/api/containers/{name}")).json()
        assert container["check"]["kind"] == "http" and container["check"]["last_ok"] is True
        assert container["check"]["last_latency_seconds"] is not None
        assert (await client.delete(f"/api/healthchecks/{name}", headers={"X-Requested-With": "t"})).status_code == 200
        await wait_for(lambda: ah.service.checker.states[containers.id(name)].kind == "tcp", "labels back in force")
        assert (await client.delete(f"/api/healthchecks/{name}", headers={"X-Requested-With": "t"})).status_code == 409
    assert inspect(name)["State"]["Running"]
