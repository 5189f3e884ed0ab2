"""The dependency graph: parsing network modes and labels, ties, order, cycles, and recreate refusals."""

from __future__ import annotations

import hashlib

import pytest

from autoheal.domain.dependencies import (
    Tie,
    TieKind,
    build_graph,
    compose_depends_on,
    network_parent,
    parse_depends_on,
    recreate_refusal,
    restarts_project,
)
from autoheal.domain.models import Blueprint, Container


def cid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def c(name: str, *, net: str = "", depends: str | None = None, project: str = "", service: str = "", **labels: str) -> Container:
    all_labels = dict(labels)
    if depends is not None:
        all_labels["autoheal.depends_on"] = depends
    mode = f"container:{cid(net)}" if net else "bridge"
    return Container(id=cid(name), name=name, network_mode=mode, labels=all_labels,
                     compose_project=project, compose_service=service or (name if project else ""))


def names(graph, ids) -> list[str]:
    return [graph.names[i] for i in ids]


# --- parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("container:abc123", "abc123"),
        ("container:vpn", "vpn"),
        ("container:", None),
        ("bridge", None),
        ("host", None),
        ("", None),
        ("service:vpn", None),  # compose writes container:<id>; service: never reaches the engine
    ],
)
def test_network_parent_is_read_from_a_container_network_mode(mode, expected):
    assert network_parent(mode) == expected


@pytest.mark.parametrize(
    ("raw", "expected", "problems"),
    [
        (None, (), 0),
        ("db", ("db",), 0),
        ("db, cache ,db", ("db", "cache"), 0),
        ("/db,,", ("db",), 0),
        ("db,not a name", ("db",), 1),
        (",".join(f"c{i}" for i in range(40)), tuple(f"c{i}" for i in range(32)), 1),
    ],
    ids=["absent", "one", "dedupe-and-trim", "slash-and-empty", "bad-name", "too-many"],
)
def test_depends_on_is_a_comma_list_of_names(raw, expected, problems):
    got, bad = parse_depends_on(raw)
    assert got == expected
    assert len(bad) == problems


def test_compose_depends_on_gives_service_names():
    assert compose_depends_on("db:service_started:false,cache:service_healthy:true") == ("db", "cache")
    assert compose_depends_on("") == ()


@pytest.mark.parametrize(
    ("value", "project", "expected"),
    [("true", "shop", True), ("YES", "shop", True), ("false", "shop", False), ("true", "", False), (None, "shop", False)],
)
def test_restart_project_needs_the_label_and_a_compose_project(value, project, expected):
    labels = {} if value is None else {"autoheal.restart_project": value}
    assert restarts_project(Container(id="x", name="x", labels=labels, compose_project=project)) is expected


# --- ties -----------------------------------------------------------------------------


def test_a_network_child_and_a_labelled_child_are_children_of_their_parent():
    graph = build_graph([c("vpn"), c("app", net="vpn"), c("client", depends="vpn")])
    assert names(graph, graph.children(cid("vpn"))) == ["app", "client"]
    assert names(graph, graph.parents(cid("app"))) == ["vpn"]
    assert set(graph.ties) == {Tie(cid("vpn"), cid("app"), TieKind.NETWORK), Tie(cid("vpn"), cid("client"), TieKind.LABEL)}
    assert graph.cycles == ()


def test_a_network_mode_naming_the_parent_by_name_is_resolved():
    parent, child = c("vpn"), Container(id=cid("app"), name="app", network_mode="container:vpn")
    assert build_graph([parent, child]).parents(child.id) == (parent.id,)


def test_depends_on_may_name_a_service_of_the_same_compose_project():
    graph = build_graph([c("shop-db-1", project="shop", service="db"), c("web", project="shop", depends="db")])
    assert names(graph, graph.parents(cid("web"))) == ["shop-db-1"]


def test_a_missing_network_parent_and_an_unknown_name_are_problems():
    graph = build_graph([c("app", net="gone"), c("client", depends="nobody")])
    assert "no longer exists" in graph.problems[cid("app")][0]
    assert graph.problems[cid("client")] == ("autoheal.depends_on: no container named 'nobody'",)
    assert graph.ties == ()


def test_compose_depends_on_orders_a_project_but_restarts_nothing():
    graph = build_graph([
        c("db", project="shop"),
        c("web", project="shop", **{"com.docker.compose.depends_on": "db:service_started:false"}),
    ])
    assert graph.children(cid("db")) == ()
    assert names(graph, graph.order([cid("web"), cid("db")])) == ["db", "web"]


# --- order ----------------------------------------------------------------------------


def test_descendants_come_parents_first_and_exclude_the_root():
    graph = build_graph([
        c("vpn"),
        c("app", net="vpn"),
        c("worker", depends="app"),
        c("alpha", depends="vpn,worker"),  # after worker, although its name sorts first
        c("other"),
    ])
    assert names(graph, graph.descendants(cid("vpn"))) == ["app", "worker", "alpha"]
    assert graph.descendants(cid("other")) == ()


def test_a_project_plan_restarts_the_others_in_order_and_the_healed_one_again_after_its_parents():
    graph = build_graph([c("db", project="s"), c("app", project="s", depends="db"), c("worker", project="s")])
    members = [cid("db"), cid("app"), cid("worker")]
    assert names(graph, graph.project_plan(cid("app"), members)) == ["db", "app", "worker"]
    assert names(graph, graph.project_plan(cid("worker"), members)) == ["db", "app"]
    assert names(graph, graph.project_plan(cid("db"), members)) == ["app", "worker"]


# --- cycles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("containers", "cycle"),
    [
        ([c("a", depends="b"), c("b", depends="a")], "a -> b -> a"),
        ([c("a", depends="a")], "a -> a"),
        ([c("a", depends="c"), c("b", depends="a"), c("c", depends="b")], "a -> b -> c -> a"),
        ([c("vpn", depends="app"), c("app", net="vpn")], "app -> vpn -> app"),  # network and label mixed
    ],
    ids=["two", "self", "three", "network-and-label"],
)
def test_a_cycle_is_found_reported_and_refused(containers, cycle):
    graph = build_graph(containers)
    assert [graph.describe(cyc) for cyc in graph.cycles] == [cycle]
    for member in containers:
        assert graph.in_cycle(member.id)
        assert graph.children(member.id) == ()  # nothing is restarted along a refused tie
        assert any(f"dependency cycle {cycle}" in text for text in graph.problems[member.id])


def test_ties_outside_a_cycle_still_act():
    graph = build_graph([c("a", depends="b"), c("b", depends="a"), c("c", depends="a"), c("d")])
    assert [graph.describe(cyc) for cyc in graph.cycles] == ["a -> b -> a"]
    assert names(graph, graph.children(cid("a"))) == ["c"]
    assert not graph.in_cycle(cid("c"))
    assert cid("d") not in graph.problems


# --- recreation -----------------------------------------------------------------------


def bp(**fields) -> Blueprint:
    base = {"container_id": "x", "name": "app", "network_mode": "container:abc", "create_body": "{}"}
    return Blueprint(**{**base, **fields})


@pytest.mark.parametrize(
    ("blueprint", "refusal"),
    [
        (bp(), None),
        (bp(kept_volumes=("abc:/data",)), None),  # carried over by name: the data is kept
        (bp(auto_remove=True), "--rm"),
        (bp(swarm_service=True), "swarm"),
        (bp(network_mode="bridge"), "not container:<parent>"),
        (bp(image_missing=True), "image no longer exists"),
    ],
    ids=["plain", "anonymous-volume", "auto-remove", "swarm", "not-a-network-child", "no-image"],
)
def test_recreation_is_refused_where_it_cannot_be_faithful(blueprint, refusal):
    got = recreate_refusal(blueprint)
    assert (got is None) if refusal is None else (refusal in got)
