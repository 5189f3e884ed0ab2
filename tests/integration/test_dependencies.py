"""Dependent containers on a real engine: restarted with their parent, recreated when it is replaced."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.integration.support import CRASH_ONCE, HEALTH_CMD, docker, inspect, wait_for
from tests.integration.test_api import api_client

pytestmark = pytest.mark.integration

PORT = 8080
# Serves `page` on PORT; healthy while /tmp/ok exists (recreated on every start); leaves at once on SIGTERM.
SERVE = (
    "touch /tmp/ok; mkdir -p /tmp/www; echo {page} > /tmp/www/index.html; "
    f"trap 'exit 0' TERM; httpd -f -p {PORT} -h /tmp/www & wait"
)
# Runs until stopped; leaves at once on SIGTERM.
RUNNING = "trap 'exit 0' TERM; while :; do sleep 0.1; done"
# Containers of their own get only a loopback: a shared namespace is all these tests need, and
# they then depend on no bridge network of the engine.
OWN_NETWORK = ("--network", "none")


def fetch_from(name: str) -> str | None:
    """GET the parent's page from inside `name`: works only in the parent's network namespace."""
    try:  # (this busybox's wget crashes on -T: busybox's `timeout` bounds it)
        proc = subprocess.run(
            ["docker", "exec", name, "timeout", "10", "wget", "-q", "-O-", f"http://127.0.0.1:{PORT}/"],
            capture_output=True, text=True, timeout=30,
        )
    except subprocess.TimeoutExpired:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def started_at(name: str) -> str:
    return inspect(name)["State"]["StartedAt"]


def healthy(name: str) -> bool:
    return inspect(name)["State"].get("Health", {}).get("Status") == "healthy"


async def test_a_child_in_its_parents_network_is_restarted_after_autoheal_heals_the_parent(containers, start_autoheal):
    ah = await start_autoheal()
    parent = containers.run(SERVE.format(page="up"), health=HEALTH_CMD, options=OWN_NETWORK)
    child = containers.run(RUNNING, options=("--network", f"container:{parent}"))
    await wait_for(lambda: healthy(parent), "parent healthy")
    assert fetch_from(child) == "up"
    await ah.settle()
    child_started = started_at(child)

    docker("exec", parent, "rm", "/tmp/ok")  # the parent turns unhealthy: autoheal restarts it

    [healed] = await ah.wait_record(parent, "restart")
    [record] = await ah.wait_record(child, "dependency_restart")
    assert healed.cause == "unhealthy"
    assert record.cause == "dependency"
    assert f"its parent {parent} was healed by autoheal" in record.reason
    assert started_at(child) != child_started
    assert started_at(child) > started_at(parent)  # after the parent, once it was healthy again
    assert fetch_from(child) == "up"  # back in the parent's (new) network namespace
    await ah.settle()
    assert ah.records(child, "restart_failed") == [] and ah.records(child, "manual_stop") == []
    state = ah.healer.state(containers.id(child))
    assert (state.restarts, state.failures) == ((), 0)  # the parent's trouble is not counted against it

    async with api_client(ah) as client:
        parent_view = (await client.get(f"/api/containers/{parent}")).json()
        child_view = (await client.get(f"/api/containers/{child}")).json()
    assert (parent_view["children"], parent_view["parents"]) == ([child], [])
    assert (child_view["parents"], child_view["children"]) == ([parent], [])


async def test_a_child_is_recreated_in_the_network_of_a_parent_recreated_under_the_same_name(containers, start_autoheal):
    ah = await start_autoheal()
    parent = containers.run(SERVE.format(page="v1"), monitored=False, options=OWN_NETWORK)  # the parent need not be managed
    child = containers.run(
        "echo kept > /data/file; " + RUNNING,
        labels={"role": "client"},
        options=("--network", f"container:{parent}", "-e", "GREETING=hello", "-v", "/data", "--restart", "unless-stopped"),
    )
    await wait_for(lambda: fetch_from(child) == "v1", "child reaches its parent")
    await ah.settle()
    old = inspect(child)
    volume = next(m["Name"] for m in old["Mounts"] if m["Destination"] == "/data")
    try:
        docker("rm", "-f", parent)
        docker("run", "-d", "--name", parent, "--label", "autoheal-test=1", *OWN_NETWORK, containers.image, "sh", "-c", SERVE.format(page="v2"))
        new_parent_id = inspect(parent)["Id"]

        [record] = await ah.wait_record(child, "recreated")
        new = inspect(child)
        assert new["Id"] != old["Id"] and record.container_id == new["Id"]
        assert f"its parent {parent} was replaced" in record.reason
        assert new["HostConfig"]["NetworkMode"] == f"container:{new_parent_id}"
        assert new["Config"]["Labels"] == old["Config"]["Labels"]
        assert "GREETING=hello" in new["Config"]["Env"]
        assert new["HostConfig"]["RestartPolicy"] == old["HostConfig"]["RestartPolicy"]
        assert new["Config"]["Cmd"] == old["Config"]["Cmd"]
        assert docker("exec", child, "cat", "/data/file") == "kept"  # its anonymous volume came along
        assert fetch_from(child) == "v2"  # a real request through the new shared namespace
        assert docker("ps", "-aq", "--no-trunc", "--filter", f"id={old['Id']}") == ""  # the old one is gone
        await ah.settle()
        assert ah.records(child, "recreate_failed") == []
        assert ah.healer.state(new["Id"]).manual_stop is False
    finally:
        docker("rm", "-f", child, check=False)
        docker("volume", "rm", volume, check=False)


async def test_a_depends_on_cycle_is_refused_with_a_message(containers, start_autoheal):
    ah = await start_autoheal()
    a, b = (f"ahtest-{uuid.uuid4().hex[:10]}" for _ in range(2))
    containers.run(RUNNING, name=a, labels={"autoheal.depends_on": b}, options=OWN_NETWORK)
    containers.run(RUNNING, name=b, labels={"autoheal.depends_on": a}, options=OWN_NETWORK)
    await ah.settle()

    records = await ah.wait_record(a, "dependency_cycle") + await ah.wait_record(b, "dependency_cycle")
    first, second = sorted([a, b])
    message = f"dependency cycle {first} -> {second} -> {first}: refused"
    assert all(message in r.reason for r in records)
    async with api_client(ah) as client:
        view = (await client.get(f"/api/containers/{a}")).json()
    assert any(f"dependency cycle {first} -> {second} -> {first}" in p for p in view["label_problems"])
    assert view["children"] == [] and view["parents"] == []

    b_started = started_at(b)
    docker("restart", "-t", "1", a)
    await ah.settle()
    await ah.settle()
    assert started_at(b) == b_started  # nothing restarted along the refused cycle
    assert ah.records(b, "dependency_restart") == []
    assert len(ah.records(a, "dependency_cycle")) == 1  # reported once


async def test_a_quarantined_child_is_left_alone_when_its_parent_restarts(containers, start_autoheal):
    ah = await start_autoheal()
    parent = containers.run(SERVE.format(page="up"), monitored=False, options=OWN_NETWORK)
    child = containers.run(RUNNING, options=("--network", f"container:{parent}"))
    await ah.settle()
    assert ah.healer.quarantine(containers.id(child))
    child_started = started_at(child)

    docker("restart", "-t", "1", parent)

    [record] = await ah.wait_record(child, "dependency_skipped")
    assert f"its parent {parent} was started by someone else" in record.reason
    assert "quarantined: left alone" in record.reason
    await ah.settle()
    assert started_at(child) == child_started
    assert ah.records(child, "dependency_restart") == []


async def test_an_unmanaged_child_is_not_restarted_and_the_record_says_why(containers, start_autoheal):
    ah = await start_autoheal()
    parent = containers.run(SERVE.format(page="up"), options=OWN_NETWORK)
    child = containers.run(RUNNING, monitored=False, options=("--network", f"container:{parent}"))
    await ah.settle()
    child_started = started_at(child)

    docker("restart", "-t", "1", parent)

    [record] = await ah.wait_record(child, "dependency_skipped")
    assert "not managed by autoheal" in record.reason
    assert started_at(child) == child_started


async def test_restart_project_restarts_the_whole_compose_project_in_order(containers, start_autoheal):
    ah = await start_autoheal()
    project = f"ahtest{uuid.uuid4().hex[:8]}"

    def member(service: str, script: str, **labels: str) -> str:
        compose = {"com.docker.compose.project": project, "com.docker.compose.service": service}
        return containers.run(script, name=f"{project}-{service}-1", labels={**compose, **labels}, options=OWN_NETWORK)

    db = member("db", RUNNING)
    worker = member("worker", RUNNING)
    app = member("app", CRASH_ONCE, **{"autoheal.depends_on": "db", "autoheal.restart_project": "true"})
    other = containers.run(RUNNING, options=OWN_NETWORK)  # not in the project
    await ah.settle()
    before = {name: started_at(name) for name in (db, worker, other)}

    await ah.wait_record(app, "restart")  # healed: crashed once

    await ah.wait_record(worker, "dependency_restart")
    [db_record] = await ah.wait_record(db, "dependency_restart")
    [app_again] = await ah.wait_record(app, "dependency_restart")  # again, after what it depends on
    assert f"compose project {project} restarted after {app} was healed" in db_record.reason
    assert db_record.time < app_again.time
    assert started_at(app) > started_at(db)
    assert started_at(worker) != before[worker] and started_at(db) != before[db]
    await ah.settle()
    assert started_at(other) == before[other]
    assert len(ah.records(app, "restart")) == 1  # its own heal counts once; the project restart is not a failure
