"""The dependency graph between containers: shared network namespaces, depends_on labels, order and cycles."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from autoheal.domain.labels import truthy
from autoheal.domain.models import Blueprint, Container

NETWORK_PREFIX = "container:"
DEPENDS_ON_LABEL = "autoheal.depends_on"
RESTART_PROJECT_LABEL = "autoheal.restart_project"
COMPOSE_DEPENDS_ON_LABEL = "com.docker.compose.depends_on"
SWARM_LABEL = "com.docker.swarm.service.id"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_MAX_NAMES = 32


class TieKind(StrEnum):
    """Why one container depends on another."""

    NETWORK = "network"  # HostConfig.NetworkMode container:<parent> (compose network_mode: service:X)
    LABEL = "label"  # autoheal.depends_on=<parent>
    COMPOSE = "compose"  # com.docker.compose.depends_on: used only to order a project restart


# Ties along which a parent's restart restarts its children.
ACTING = frozenset({TieKind.NETWORK, TieKind.LABEL})


@dataclass(frozen=True)
class Tie:
    parent: str  # container id
    child: str  # container id
    kind: TieKind


def network_parent(network_mode: str) -> str | None:
    """The container (id or name) whose network namespace this one joined, else None."""
    if not network_mode.startswith(NETWORK_PREFIX):
        return None
    return network_mode[len(NETWORK_PREFIX):].strip() or None


def parse_depends_on(raw: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Names from `autoheal.depends_on=<name>[,<name>…]`, and a sentence for each unusable part."""
    if raw is None:
        return (), ()
    names: list[str] = []
    problems: list[str] = []
    for part in raw.split(","):
        name = part.strip().lstrip("/")
        if not name:
            continue
        if not _NAME.match(name):
            problems.append(f"{DEPENDS_ON_LABEL}: {name[:64]!r} is not a container name, ignored")
        elif name not in names:
            names.append(name)
    if len(names) > _MAX_NAMES:
        problems.append(f"{DEPENDS_ON_LABEL}: more than {_MAX_NAMES} names, the rest ignored")
        names = names[:_MAX_NAMES]
    return tuple(names), tuple(problems)


def compose_depends_on(raw: str | None) -> tuple[str, ...]:
    """Service names from compose's `service:condition:restart,…` label."""
    if not raw:
        return ()
    return tuple(dict.fromkeys(p.split(":", 1)[0].strip() for p in raw.split(",") if p.split(":", 1)[0].strip()))


def restarts_project(container: Container) -> bool:
    """`autoheal.restart_project=true`: healing this container restarts its whole compose project."""
    return bool(container.compose_project) and truthy(container.labels.get(RESTART_PROJECT_LABEL)) is True


def recreate_refusal(blueprint: Blueprint) -> str | None:
    """Why this container cannot be recreated faithfully, or None when it can."""
    if blueprint.auto_remove:
        return "it was created with --rm (AutoRemove): stopping it would delete it"
    if blueprint.swarm_service:
        return "it belongs to a swarm service, which recreates its own tasks"
    if network_parent(blueprint.network_mode) is None:
        return f"its network mode is {blueprint.network_mode or 'default'}, not container:<parent>"
    if blueprint.image_missing:
        return "its image no longer exists on this engine"
    return None


def _mapping(data: dict) -> Mapping:
    return MappingProxyType(data)


@dataclass(frozen=True)
class Graph:
    """Who depends on whom among the containers that exist now; ties inside a cycle are refused."""

    ties: tuple[Tie, ...] = ()
    names: Mapping[str, str] = field(default_factory=lambda: _mapping({}))  # id -> name
    cycles: tuple[tuple[str, ...], ...] = ()  # each as ids a -> b -> … -> a (first repeated at the end)
    problems: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _mapping({}))  # id -> sentences
    refused: frozenset[Tie] = frozenset()

    def parents(self, cid: str, kinds: frozenset[TieKind] = ACTING) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.parent for t in self.ties if t.child == cid and t.kind in kinds and t not in self.refused))

    def children(self, cid: str, kinds: frozenset[TieKind] = ACTING) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.child for t in self.ties if t.parent == cid and t.kind in kinds and t not in self.refused))

    def in_cycle(self, cid: str) -> bool:
        return any(cid in cycle for cycle in self.cycles)

    def describe(self, cycle: tuple[str, ...]) -> str:
        return " -> ".join(self.names.get(c, c[:12]) for c in cycle)

    def descendants(self, root: str) -> tuple[str, ...]:
        """Everything that depends on root through acting ties, parents before children (root excluded)."""
        seen: set[str] = set()
        todo = [root]
        while todo:
            for child in self.children(todo.pop()):
                if child not in seen and child != root:
                    seen.add(child)
                    todo.append(child)
        return self.order(seen | {root}, ACTING)[1:] if seen else ()

    def order(self, ids: Iterable[str], kinds: frozenset[TieKind] = frozenset(TieKind)) -> tuple[str, ...]:
        """ids with parents before children (ties of these kinds among them); ties broken by name."""
        members = set(ids)
        ties = {(t.parent, t.child) for t in self.ties if t.kind in kinds and t not in self.refused
                and t.parent in members and t.child in members and t.parent != t.child}
        waiting = {cid: sum(1 for _, c in ties if c == cid) for cid in members}
        out: list[str] = []
        while waiting:
            ready = sorted((c for c, n in waiting.items() if n == 0), key=lambda c: (self.names.get(c, ""), c))
            if not ready:  # a cycle of compose ties: the rest by name
                ready = sorted(waiting, key=lambda c: (self.names.get(c, ""), c))[:1]
            cid = ready[0]
            out.append(cid)
            del waiting[cid]
            for parent, child in ties:
                if parent == cid and child in waiting:
                    waiting[child] -= 1
        return tuple(out)

    def project_plan(self, root: str, members: Iterable[str]) -> tuple[str, ...]:
        """The order a project is restarted in after root was healed: every other member, and root
        again only when something it depends on is restarted before it."""
        ordered = self.order(set(members) | {root})
        plan = [c for c in ordered if c != root]
        ancestors = self._ancestors(root, set(ordered))
        if ancestors:
            plan.insert(max(plan.index(a) for a in ancestors) + 1, root)
        return tuple(plan)

    def _ancestors(self, cid: str, within: set[str]) -> set[str]:
        found: set[str] = set()
        todo = [cid]
        while todo:
            for parent in self.parents(todo.pop(), frozenset(TieKind)):
                if parent in within and parent not in found and parent != cid:
                    found.add(parent)
                    todo.append(parent)
        return found


def _index(containers: list[Container]) -> tuple[dict[str, Container], dict[str, str], dict[tuple[str, str], list[str]]]:
    by_id = {c.id: c for c in containers}
    by_name = {c.name: c.id for c in containers}
    by_service: dict[tuple[str, str], list[str]] = {}
    for c in containers:
        if c.compose_project and c.compose_service:
            by_service.setdefault((c.compose_project, c.compose_service), []).append(c.id)
    return by_id, by_name, by_service


def build_graph(containers: Iterable[Container]) -> Graph:
    """Ties from network modes and labels; depends_on cycles found, reported and refused."""
    listed = list(containers)
    by_id, by_name, by_service = _index(listed)
    ties: list[Tie] = []
    problems: dict[str, list[str]] = {}
    for c in listed:
        ref = network_parent(c.network_mode)
        if ref is not None:
            parent = by_id.get(ref) or by_id.get(by_name.get(ref, ""))
            if parent is not None:
                ties.append(Tie(parent.id, c.id, TieKind.NETWORK))
            else:
                problems.setdefault(c.id, []).append(
                    f"network parent {ref[:12]} no longer exists: a restart cannot fix this container"
                )
        names, bad = parse_depends_on(c.labels.get(DEPENDS_ON_LABEL))
        problems.setdefault(c.id, []).extend(bad)
        for name in names:
            found = [by_name[name]] if name in by_name else by_service.get((c.compose_project, name), [])
            if not found:
                problems.setdefault(c.id, []).append(f"{DEPENDS_ON_LABEL}: no container named {name!r}")
            ties.extend(Tie(p, c.id, TieKind.LABEL) for p in found)
        if c.compose_project:
            for service in compose_depends_on(c.labels.get(COMPOSE_DEPENDS_ON_LABEL)):
                ties.extend(Tie(p, c.id, TieKind.COMPOSE) for p in by_service.get((c.compose_project, service), []))
    names = {c.id: c.name for c in listed}
    graph = Graph(tuple(dict.fromkeys(ties)), _mapping(names))
    cycles = _cycles(graph)
    refused = frozenset(t for t in graph.ties if t.kind in ACTING and any(_on_cycle(t, cycle) for cycle in cycles))
    for cycle in cycles:
        text = graph.describe(cycle)
        for cid in set(cycle):
            problems.setdefault(cid, []).append(f"dependency cycle {text}: restarts along it are refused")
    return Graph(
        graph.ties,
        graph.names,
        cycles,
        _mapping({cid: tuple(p) for cid, p in problems.items() if p}),
        refused,
    )


def _on_cycle(tie: Tie, cycle: tuple[str, ...]) -> bool:
    return any(cycle[i] == tie.parent and cycle[i + 1] == tie.child for i in range(len(cycle) - 1))


def _cycles(graph: Graph) -> tuple[tuple[str, ...], ...]:
    """One cycle per strongly connected group of acting ties (Tarjan), as a closed path of ids."""
    edges: dict[str, list[str]] = {}
    for t in graph.ties:
        if t.kind in ACTING:
            edges.setdefault(t.parent, []).append(t.child)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the number of containers
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            groups.append(group)

    for v in sorted(edges, key=lambda c: (graph.names.get(c, ""), c)):
        if v not in index:
            visit(v)
    out = []
    for group in groups:
        if len(group) == 1 and group[0] not in edges.get(group[0], ()):
            continue
        members = set(group)
        start = min(group, key=lambda c: (graph.names.get(c, ""), c))
        out.append(_path_back(start, members, edges))
    return tuple(sorted(out, key=lambda cyc: graph.describe(cyc)))


def _path_back(start: str, members: set[str], edges: dict[str, list[str]]) -> tuple[str, ...]:
    """The shortest path start -> … -> start inside one strongly connected group."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in edges.get(v, ()):
                if w not in members:
                    continue
                if w == start:
                    path = [start, v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return tuple(reversed(path))
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    return (start, start)
