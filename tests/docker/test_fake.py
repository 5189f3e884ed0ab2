"""The fake engine behaves like the real one where the engine tests rely on it."""

from __future__ import annotations

import asyncio

import pytest

from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable
from autoheal.docker.fake import FakeDocker
from autoheal.domain.models import Container, DockerEvent

WEB = "a" * 64


def web(**fields) -> Container:
    fields.setdefault("labels", {"autoheal": "true"})
    return Container(id=WEB, name="web", image="example/app:1", **fields)


async def collect(fake: FakeDocker, count: int, since: float | None = None) -> list[DockerEvent]:
    out: list[DockerEvent] = []
    async with asyncio.timeout(2):
        async for event in fake.events(since=since):
            out.append(event)
            if len(out) == count:
                break
    return out


def actions(fake: FakeDocker) -> list[tuple[str, int | None, int | None]]:
    return [(e.action, e.exit_code, e.signal) for e in fake.history]


async def test_restart_emits_kill_die_stop_start_restart_and_runs_again():
    fake = FakeDocker()
    fake.add(web(has_healthcheck=True, health="unhealthy", stop_timeout_seconds=20))

    await fake.restart(WEB, 20)

    assert actions(fake) == [("kill", None, 15), ("die", 143, None), ("stop", None, None), ("start", None, None), ("restart", None, None)]
    assert fake.actions == [("restart", WEB, 20)]
    after = await fake.inspect(WEB)
    assert (after.status, after.health, after.exit_code) == ("running", "starting", 0)


async def test_start_emits_start_and_is_a_noop_on_a_running_container():
    fake = FakeDocker()
    fake.add(web(status="exited", exit_code=1))

    await fake.start(WEB)
    await fake.start(WEB)

    assert [e.action for e in fake.history] == ["start"]
    assert fake.actions == [("start", WEB, None), ("start", WEB, None)]


@pytest.mark.parametrize(
    ("how", "expected", "exit_code"),
    [
        ("user_stop", [("kill", None, 15), ("die", 143, None), ("stop", None, None)], 143),
        ("user_kill", [("kill", None, 9), ("die", 137, None)], 137),
        ("oom", [("oom", None, None), ("die", 137, None)], 137),
    ],
)
async def test_user_actions_emit_what_the_engine_emits(how, expected, exit_code):
    fake = FakeDocker()
    fake.add(web())

    getattr(fake, how)(WEB)

    assert actions(fake) == expected
    after = await fake.inspect(WEB)
    assert (after.status, after.exit_code, after.oom_killed) == ("exited", exit_code, how == "oom")


async def test_crash_emits_die_with_its_exit_code_and_name():
    fake = FakeDocker()
    fake.add(web())

    fake.crash(WEB, exit_code=3)

    [die] = fake.history
    assert (die.action, die.exit_code, die.attributes["exitCode"], die.name) == ("die", 3, "3", "web")
    assert die.attributes["autoheal"] == "true"


async def test_health_status_is_emitted_only_on_change():
    fake = FakeDocker()
    fake.add(web(has_healthcheck=True, health="healthy"))

    fake.set_health(WEB, "healthy")
    fake.set_health(WEB, "unhealthy")
    fake.set_health(WEB, "unhealthy")

    assert [(e.action, e.health) for e in fake.history] == [("health_status", "unhealthy")]


async def test_pause_unpause_and_remove():
    fake = FakeDocker()
    fake.add(web())

    fake.pause(WEB)
    assert (await fake.inspect(WEB)).status == "paused"
    with pytest.raises(ActionFailed, match="paused"):
        await fake.start(WEB)
    fake.unpause(WEB)
    fake.remove(WEB)

    assert [e.action for e in fake.history] == ["pause", "unpause", "kill", "die", "destroy"]
    with pytest.raises(ContainerGone):
        await fake.inspect(WEB)


@pytest.mark.parametrize("call", ["inspect", "start", "restart"])
async def test_an_unknown_container_is_gone(call):
    fake = FakeDocker()
    args = ("nope", 10) if call == "restart" else ("nope",)
    with pytest.raises(ContainerGone):
        await getattr(fake, call)(*args)


async def test_the_listing_has_no_exit_detail_like_the_engines():
    fake = FakeDocker()
    fake.add(web(has_healthcheck=True, health="unhealthy", restart_policy="always", stop_timeout_seconds=5))
    fake.add(Container(id="b" * 64, name="db", status="exited", exit_code=137, oom_killed=True))

    running, exited = await fake.list_containers()

    assert (running.health, running.exit_code, running.restart_policy, running.detailed) == ("unhealthy", None, "no", False)
    assert (exited.exit_code, exited.oom_killed, exited.health) == (137, False, None)
    assert (await fake.inspect("db")).oom_killed


async def test_a_scripted_failure_fails_the_next_call_only():
    fake = FakeDocker()
    fake.add(web(status="exited", exit_code=1))
    fake.fail("start", "port is already allocated")

    with pytest.raises(ActionFailed, match="^port is already allocated$"):
        await fake.start(WEB)
    await fake.start(WEB)

    assert len(fake.actions) == 2
    assert (await fake.inspect(WEB)).running


async def test_a_restart_can_fail_after_stopping_the_container():
    fake = FakeDocker()
    fake.add(web())
    fake.fail("restart", "port is already allocated", after_stop=True)

    with pytest.raises(ActionFailed):
        await fake.restart(WEB, 10)

    assert [e.action for e in fake.history] == ["kill", "die", "stop"]
    assert (await fake.inspect(WEB)).status == "exited"


async def test_an_unavailable_engine_fails_every_call_and_the_stream():
    fake = FakeDocker()
    fake.add(web())
    got: list[DockerEvent] = []

    async def follow() -> None:
        async for event in fake.events():
            got.append(event)

    stream = asyncio.create_task(follow())
    await asyncio.sleep(0)
    fake.crash(WEB)
    fake.go_down("engine gone")

    with pytest.raises(EngineUnavailable, match="engine gone"):
        await stream
    assert [e.action for e in got] == ["die"]
    for call in (fake.connect(), fake.list_containers(), fake.inspect(WEB), fake.start(WEB), fake.restart(WEB, 1)):
        with pytest.raises(EngineUnavailable):
            await call
    with pytest.raises(EngineUnavailable):
        await anext(fake.events())

    fake.come_back()
    assert (await fake.connect())["ApiVersion"]


async def test_a_stream_opened_with_since_replays_recent_events():
    now = [100.0]
    fake = FakeDocker(clock=lambda: now[0])
    fake.add(web())
    fake.crash(WEB)
    now[0] = 200.0
    fake.user_start(WEB)

    [start] = await collect(fake, 1, since=150.0)

    assert start.action == "start" and start.time == 200.0


async def test_a_held_action_stays_in_flight_until_released():
    fake = FakeDocker()
    fake.add(web())
    fake.hold = asyncio.Event()

    restart = asyncio.create_task(fake.restart(WEB, 10))
    await asyncio.sleep(0.01)
    assert (fake.in_flight, fake.history) == (1, [])

    fake.hold.set()
    await restart
    assert (fake.in_flight, fake.peak_in_flight) == (0, 1)


# --- dependencies: network parents, stop, rename, delete, blueprint, create ---------------------

PARENT = "b" * 64


def parent() -> Container:
    return Container(id=PARENT, name="vpn", image="example/vpn:1")


async def test_a_network_child_starts_only_while_its_parent_runs_like_the_engine():
    fake = FakeDocker()
    fake.add(parent())
    fake.add(web(status="exited", network_mode=f"container:{PARENT}"))
    fake.user_stop(PARENT)

    with pytest.raises(ActionFailed, match="non running container"):
        await fake.start(WEB)
    fake.remove(PARENT)
    with pytest.raises(ActionFailed, match=f"No such container: {PARENT}"):
        await fake.start(WEB)


async def test_stop_rename_and_delete_emit_what_the_engine_emits():
    fake = FakeDocker()
    fake.add(web())

    await fake.stop(WEB, 5)
    await fake.rename(WEB, "web-old")
    await fake.delete(WEB)

    assert [e.action for e in fake.history] == ["kill", "die", "stop", "rename", "destroy"]
    assert fake.actions == [("stop", WEB, 5), ("rename", WEB, None), ("delete", WEB, None)]


async def test_a_running_container_is_deleted_only_by_force_and_names_are_unique():
    fake = FakeDocker()
    fake.add(web())
    fake.add(parent())

    with pytest.raises(ActionFailed, match="cannot remove a running container"):
        await fake.delete(WEB)
    with pytest.raises(ActionFailed, match="already in use"):
        await fake.rename(WEB, "vpn")
    await fake.delete(WEB, force=True)
    assert WEB not in fake.containers


async def test_a_container_created_from_a_blueprint_is_the_same_in_the_new_network():
    fake = FakeDocker()
    fake.add(parent())
    fake.add(web(network_mode="container:" + "c" * 64, restart_policy="unless-stopped", stop_timeout_seconds=7))
    blueprint = await fake.blueprint(WEB)
    await fake.rename(WEB, "web-old")

    new_id = await fake.create(blueprint, name="web", network_mode=f"container:{PARENT}")
    await fake.start(new_id)

    new = fake.containers[new_id]
    old = fake.containers[WEB]
    assert (new.name, new.network_mode, new.running) == ("web", f"container:{PARENT}", True)
    assert (new.labels, new.image, new.restart_policy, new.stop_timeout_seconds) == (
        old.labels, old.image, old.restart_policy, old.stop_timeout_seconds
    )
    assert [e.action for e in fake.history][-2:] == ["create", "start"]


async def test_a_blueprint_carries_the_flags_a_test_sets():
    fake = FakeDocker()
    fake.add(web())
    fake.blueprint_flags[WEB] = {"auto_remove": True}
    assert (await fake.blueprint(WEB)).auto_remove
