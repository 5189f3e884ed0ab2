"""Dependent containers against the fake engine: restarted after their parent, recreated when it is replaced."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from autoheal.domain.models import Container

MANAGED = {"autoheal": "true"}


def cid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def vpn(labels: dict | None = None, **fields) -> Container:
    return Container(id=cid("vpn"), name="vpn", image="vpn:1", labels=MANAGED if labels is None else labels,
                     started_at=1.0, **fields)


def child(name: str = "app", parent: str = "vpn", labels: dict | None = None, **fields) -> Container:
    return Container(
        id=cid(name), name=name, image="app:1", labels=MANAGED if labels is None else labels,
        network_mode=f"container:{cid(parent)}", started_at=1.0, **fields,
    )


def verbs(h, container_id: str) -> list[str]:
    return [verb for verb, target, _ in h.fake.actions if target == container_id]


async def settled(h) -> None:
    """Every event handled and every cascade done."""
    await h.idle()
    await h.wait_for(lambda: not h.healer.dependents.cascades and not h.healer.actions, "cascades done")
    await h.idle()


# --- restart with the parent ------------------------------------------------------------


async def test_a_network_child_is_restarted_after_autoheal_heals_its_parent(harness):
    h = await harness()
    parent = h.fake.add(vpn())
    app = h.fake.add(child())
    await h.healer.reconcile()  # autoheal knows every container from its first pass

    h.fake.crash(parent.id)
    await settled(h)

    assert [(v, t) for v, t, _ in h.fake.actions] == [("start", parent.id), ("restart", app.id)]
    [record] = h.records("dependency_restart")
    assert record.container_id == app.id
    assert record.cause == "dependency"
    assert "its parent vpn was healed by autoheal" in record.reason
    assert h.records("manual_stop") == [] and h.records("scheduled", app.id) == []  # its own restart is autoheal's


async def test_a_child_is_restarted_when_someone_else_restarts_its_parent(harness):
    h = await harness()
    parent = h.fake.add(vpn(labels={}))  # the parent need not be managed
    app = h.fake.add(child())
    await h.healer.reconcile()  # autoheal knows every container from its first pass

    await h.fake.restart(parent.id, 10)  # `docker restart vpn`
    await settled(h)

    assert verbs(h, app.id) == ["restart"]
    assert "was started by someone else" in h.records("dependency_restart")[0].reason


async def test_a_child_waits_until_its_parent_is_healthy(harness):
    h = await harness()
    parent = h.fake.add(vpn(has_healthcheck=True, health="healthy"))
    app = h.fake.add(child())
    await h.healer.reconcile()  # autoheal knows every container from its first pass

    await h.fake.restart(parent.id, 10)  # health: starting
    await h.idle()
    await h.wait_for(lambda: parent.id in h.healer.dependents.cascades, "cascade waiting")
    assert verbs(h, app.id) == []

    h.fake.set_health(parent.id, "healthy")
    await settled(h)

    assert verbs(h, app.id) == ["restart"]


async def test_children_are_restarted_in_dependency_order(harness):
    h = await harness()
    parent = h.fake.add(vpn())
    app = h.fake.add(child())
    worker = h.fake.add(Container(id=cid("aaa-worker"), name="aaa-worker", labels={**MANAGED, "autoheal.depends_on": "app"}))
    await h.healer.reconcile()  # autoheal knows every container from its first pass

    await h.fake.restart(parent.id, 10)
    await settled(h)

    assert [t for _, t, _ in h.fake.actions][1:] == [app.id, worker.id]
    assert "its parent app was restarted with vpn" in h.records("dependency_restart", worker.id)[0].reason


async def test_an_unmanaged_child_is_left_alone_and_the_record_says_so(harness):
    h = await harness()
    parent = h.fake.add(vpn())
    app = h.fake.add(child(labels={}))
    await h.healer.reconcile()  # autoheal knows every container from its first pass

    await h.fake.restart(parent.id, 10)
    await settled(h)

    assert verbs(h, app.id) == []
    [record] = h.records("dependency_skipped")
    assert "not managed by autoheal" in record.reason and "vpn" in record.reason


async def test_a_quarantined_child_is_left_alone(harness):
    h = await harness()
    parent = h.fake.add(vpn())
    app = h.fake.add(child())
    await h.healer.reconcile()
    assert h.healer.quarantine(app.id)

    await h.fake.restart(parent.id, 10)
    await settled(h)

    assert verbs(h, app.id) == []
    assert "quarantined: left alone" in h.records("dependency_skipped")[0].reason


async def test_a_child_stopped_by_hand_stays_stopped(harness):
    h = await harness()
    parent = h.fake.add(vpn())
    app = h.fake.add(child())
    h.fake.user_stop(app.id)
    await h.idle()
    await h.healer.reconcile()  # autoheal knows every container from its first pass

    await h.fake.restart(parent.id, 10)
    await settled(h)

    assert verbs(h, app.id) == []
    assert not h.container(app.id).running


async def test_restarts_with_a_flapping_parent_never_quarantine_a_healthy_child(harness):
    h = await harness({"restart": {"max_restarts": 2}})
    parent = h.fake.add(vpn(labels={}))
    app = h.fake.add(child())
    await h.healer.reconcile()  # autoheal knows every container from its first pass

    for _ in range(4):
        await h.fake.restart(parent.id, 10)
        await settled(h)

    assert verbs(h, app.id) == ["restart"] * 4
    state = h.healer.state(app.id)
    assert (state.restarts, state.failures, state.quarantined) == ((), 0, False)


async def test_a_restart_with_the_parent_triggers_nothing_further(harness):
    """The loop guard: the child's restart is autoheal's own, so it restarts no parent and no child twice."""
    h = await harness()
    parent = h.fake.add(vpn())
    app = h.fake.add(child())
    side = h.fake.add(Container(id=cid("side"), name="side", labels={**MANAGED, "autoheal.depends_on": "app"}))
    await h.healer.reconcile()  # autoheal knows every container from its first pass

    h.fake.crash(parent.id)
    await settled(h)

    assert [t for _, t, _ in h.fake.actions] == [parent.id, app.id, side.id]


async def test_a_depends_on_cycle_is_refused_and_reported(harness):
    h = await harness()
    a = h.fake.add(Container(id=cid("a"), name="a", labels={**MANAGED, "autoheal.depends_on": "b"}))
    b = h.fake.add(Container(id=cid("b"), name="b", labels={**MANAGED, "autoheal.depends_on": "a"}))
    await h.healer.reconcile()
    await h.healer.reconcile()  # reported once

    await h.fake.restart(a.id, 10)
    await settled(h)

    records = h.records("dependency_cycle")
    assert sorted(r.container_id for r in records) == sorted([a.id, b.id])
    assert all("dependency cycle a -> b -> a: refused" in r.reason for r in records)
    assert verbs(h, b.id) == []


async def test_a_healed_container_with_restart_project_restarts_its_project_in_order(harness):
    h = await harness()
    compose = {"com.docker.compose.project": "shop"}

    def member(name: str, **labels: str) -> Container:
        return h.fake.add(Container(id=cid(name), name=name, labels={**MANAGED, **compose, **labels},
                                    compose_project="shop", compose_service=name, started_at=1.0))

    db = member("db")
    app = member("app", **{"autoheal.depends_on": "db", "autoheal.restart_project": "true"})
    worker = member("worker")
    h.fake.add(Container(id=cid("elsewhere"), name="elsewhere", labels=MANAGED))
    await h.healer.reconcile()

    h.fake.crash(app.id)
    await settled(h)

    assert [t for _, t, _ in h.fake.actions] == [app.id, db.id, app.id, worker.id]
    assert all("compose project shop restarted after app was healed" in r.reason for r in h.records("dependency_restart"))
    assert h.healer.state(app.id).restarts.__len__() == 1  # only its own heal counts


# --- recreate when the parent was replaced -------------------------------------------------


async def replace_parent(h) -> Container:
    """`docker rm -f vpn && docker run --name vpn …`: same name, new id."""
    h.fake.remove(cid("vpn"))
    return h.fake.run(Container(id=cid("vpn-2"), name="vpn", image="vpn:2"))


async def test_a_child_of_a_replaced_parent_is_recreated_in_the_new_parents_network(harness):
    h = await harness()
    h.fake.add(vpn())
    old = h.fake.add(child(restart_policy="unless-stopped", labels={**MANAGED, "role": "web"}))
    await h.healer.reconcile()

    new_parent = await replace_parent(h)
    await settled(h)

    [new] = [c for c in h.fake.containers.values() if c.name == "app"]
    assert new.id != old.id and old.id not in h.fake.containers
    assert (new.network_mode, new.running) == (f"container:{new_parent.id}", True)
    assert (new.labels, new.restart_policy) == (old.labels, old.restart_policy)
    assert verbs(h, old.id) == ["stop", "rename", "delete"]
    [record] = h.records("recreated")
    assert record.container_id == new.id
    assert "its parent vpn was replaced" in record.reason and old.id[:12] in record.reason
    assert h.records("manual_stop", old.id) == [] and h.records("scheduled", new.id) == []  # its stop was autoheal's own


async def test_a_child_that_cannot_be_recreated_safely_is_left_with_the_reason(harness):
    h = await harness()
    h.fake.add(vpn())
    old = h.fake.add(child())
    h.fake.blueprint_flags[old.id] = {"auto_remove": True}
    await h.healer.reconcile()

    await replace_parent(h)
    await settled(h)

    assert verbs(h, old.id) == []
    [record] = h.records("recreate_failed")
    assert "cannot recreate safely: it was created with --rm" in record.reason


async def test_a_failed_recreation_is_rolled_back(harness):
    h = await harness()
    h.fake.add(vpn())
    old = h.fake.add(child())
    await h.healer.reconcile()
    h.fake.fail("create", "No such image: app:1")

    await replace_parent(h)
    await settled(h)

    assert h.fake.containers[old.id].name == "app"
    assert [c.name for c in h.fake.containers.values()].count("app") == 1
    [record] = h.records("recreate_failed")
    assert "No such image" in record.reason and "rolled back" in record.reason


async def test_a_quarantined_child_of_a_replaced_parent_is_left_alone(harness):
    h = await harness()
    h.fake.add(vpn())
    old = h.fake.add(child())
    await h.healer.reconcile()
    h.healer.quarantine(old.id)

    await replace_parent(h)
    await settled(h)

    assert verbs(h, old.id) == [] and old.id in h.fake.containers
    assert "quarantined" in h.records("dependency_skipped")[0].reason


async def test_a_replacement_missed_while_not_watching_is_found_by_the_reconcile_pass(harness):
    h = await harness(pump=False)
    h.fake.add(vpn())
    old = h.fake.add(child())
    await h.healer.reconcile()

    await replace_parent(h)  # no events reach the healer
    await h.healer.reconcile()
    await h.wait_for(lambda: not h.healer.dependents.cascades and not h.healer.actions, "cascades done")

    assert old.id not in h.fake.containers
    assert len(h.records("recreated")) == 1
    await h.healer.reconcile()  # looked at once: nothing more
    assert len(h.records("recreated")) == 1


@pytest.mark.parametrize("project", [True, False])
async def test_a_compose_recreated_parent_is_found_by_project_and_service(harness, project):
    """Compose renames the old parent aside, starts the new one, then removes the old one."""
    h = await harness()
    labels = {"com.docker.compose.project": "p", "com.docker.compose.service": "vpn"}
    h.fake.add(replace(vpn(), name="p-vpn-1", labels=labels, compose_project="p", compose_service="vpn"))
    old = h.fake.add(child(parent="vpn"))
    await h.healer.reconcile()

    await h.fake.stop(cid("vpn"), 1)
    await h.fake.rename(cid("vpn"), "0123abcd_p-vpn-1")
    name = "p-vpn-1" if project else "other-name"
    new_parent = h.fake.run(Container(id=cid("vpn-2"), name=name, labels=labels, compose_project="p", compose_service="vpn"))
    await h.idle()
    assert verbs(h, old.id) == []  # the old parent still exists
    h.fake.remove(cid("vpn"))
    await settled(h)

    [new] = [c for c in h.fake.containers.values() if c.name == "app"]
    assert new.network_mode == f"container:{new_parent.id}"


async def test_a_rolled_back_child_is_tried_again_when_its_parent_starts_again(harness):
    h = await harness()
    h.fake.add(vpn())
    old = h.fake.add(child())
    await h.healer.reconcile()
    h.fake.fail("create", "No such image: app:1")
    new_parent = await replace_parent(h)
    await settled(h)
    assert len(h.records("recreate_failed")) == 1

    await h.fake.restart(new_parent.id, 10)  # the parent starts again: a new chance
    await settled(h)

    [new] = [c for c in h.fake.containers.values() if c.name == "app"]
    assert new.id != old.id and new.running
    assert len(h.records("recreated")) == 1


async def test_children_are_left_as_they_are_when_the_parent_comes_back_unhealthy(harness):
    h = await harness()
    parent = h.fake.add(vpn(has_healthcheck=True, health="healthy"))
    app = h.fake.add(child())
    await h.healer.reconcile()

    await h.fake.restart(parent.id, 10)
    await h.wait_for(lambda: parent.id in h.healer.dependents.cascades, "cascade waiting")
    h.healer.maintenance = True  # the parent's own heal is not what this test is about
    h.fake.set_health(parent.id, "unhealthy")
    await h.wait_for(lambda: not h.healer.dependents.cascades, "cascade over")

    assert verbs(h, app.id) == []
    [record] = h.records("dependency_skipped")
    assert "its parent vpn did not come back running and healthy (it is unhealthy)" in record.reason


async def test_a_child_restarted_again_waits_for_its_own_cooldown(harness):
    h = await harness({"restart": {"cooldown_seconds": 5}})
    parent = h.fake.add(vpn(labels={}))
    app = h.fake.add(child())
    await h.healer.reconcile()
    await h.fake.restart(parent.id, 10)
    await settled(h)
    h.clock.advance(4)  # 1 s of the child's cooldown is left

    await h.fake.restart(parent.id, 10)
    await settled(h)

    first, second = h.records("dependency_restart")
    assert "cooldown" not in first.reason
    assert "(after its cooldown of 5s)" in second.reason
    assert verbs(h, app.id) == ["restart", "restart"]


async def test_a_pending_restart_of_the_childs_own_is_replaced_by_the_one_with_its_parent(harness):
    h = await harness({"restart": {"backoff": {"initial_seconds": 600}}})
    parent = h.fake.add(vpn(labels={}))
    app = h.fake.add(child())
    await h.healer.reconcile()
    h.fake.crash(app.id)  # attempt 1: started at once
    await settled(h)
    h.fake.crash(app.id)  # attempt 2: scheduled 600 s later
    await h.wait_for(lambda: h.healer.state(app.id).pending_at is not None, "scheduled")

    await h.fake.restart(parent.id, 10)
    await settled(h)

    assert verbs(h, app.id) == ["start", "start"]
    assert h.healer.state(app.id).pending_at is None and app.id not in h.healer.timers
    assert len(h.records("dependency_restart", app.id)) == 1
