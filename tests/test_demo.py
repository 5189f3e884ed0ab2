"""The guided demo against a scripted API: it finds its samples, narrates, judges and restores."""

from __future__ import annotations

import io

import httpx
import pytest

from autoheal.demo import SCENARIOS, Api, Demo, DemoError, automated, interactive

PROJECT = "demo-project"


def container(role: str | None, *, name: str | None = None, project: str = PROJECT, **over) -> dict:
    labels = {"com.docker.compose.project": project}
    if role:
        labels["autoheal-demo.role"] = role
    base = {
        "id": f"{project}-{role or name}-id", "name": name or f"{project}-{role}-1", "status": "running",
        "health": "healthy", "monitored": role != "optout", "monitored_rule": "opt_in_label",
        "monitored_reason": "label autoheal=true opts in", "quarantined": False, "labels": labels,
    }
    if role == "optout":
        base["monitored_rule"], base["monitored_reason"] = "opt_out_label", "label autoheal=false opts out"
    return {**base, **over}


class Engine:
    """A scripted autoheal: containers, and the records each break leads to."""

    def __init__(self, heal: bool = True) -> None:
        self.now = 1000.0
        self.heal = heal
        self.containers = {c["id"]: c for c in [container(s.role) for s in SCENARIOS]}
        self.containers["self"] = container(None, name="autoheal", monitored_rule="self")
        self.containers["other"] = container("crash", project="someone-else")
        self.records: list[dict] = []
        self.executed: list[tuple[str, tuple[str, ...]]] = []
        crashloop = f"{PROJECT}-crashloop-id"
        self.containers[crashloop].update(status="exited", quarantined=True)
        self.record(crashloop, "quarantine", "3 restarts within 600s", at=900.0)

    def record(self, cid: str, kind: str, reason: str, at: float | None = None) -> None:
        self.records.append({"id": len(self.records) + 1, "time": self.now if at is None else at, "kind": kind,
                             "reason": reason, "container_id": cid})

    def execute(self, cid: str, command) -> None:
        self.executed.append((cid, tuple(command)))
        role = self.containers[cid]["labels"]["autoheal-demo.role"]
        breaking = command[0] == "rm" or command == ("touch", "/tmp/crash")
        if breaking and role == "optout":
            self.containers[cid]["health"] = "unhealthy"
        elif breaking and self.heal:
            self.record(cid, "restart", "restart done")

    def handler(self, request: httpx.Request) -> httpx.Response:
        path, params = request.url.path, request.url.params
        if path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if path == "/api/status":
            return httpx.Response(200, json={"version": "0", "host": "h", "engine": {"version": "20"},
                                             "monitored_containers": 5, "total_containers": 8, "quarantined_containers": 1})
        if path == "/api/containers":
            return httpx.Response(200, json={"containers": list(self.containers.values())})
        if path.startswith("/api/containers/"):
            return httpx.Response(200, json=self.containers[path.rsplit("/", 1)[1]])
        if path == "/api/events":
            since = float(params["since"]) if "since" in params else None
            events = [r for r in self.records if r["container_id"] == params["container"]
                      and (since is None or r["time"] >= since)]
            return httpx.Response(200, json={"events": list(reversed(events))})
        return httpx.Response(404, json={"detail": "no"})

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def make_demo(engine: Engine, **kwargs) -> tuple[Demo, io.StringIO]:
    out = io.StringIO()
    api = Api("http://autoheal", None, transport=httpx.MockTransport(engine.handler))
    demo = Demo(api, engine.execute, out=out, clock=engine.clock, sleep=engine.sleep, step_timeout=30, **kwargs)
    return demo, out


def test_it_finds_the_samples_of_its_own_project():
    demo, _ = make_demo(Engine())
    samples = demo.samples()
    assert demo.project == PROJECT
    assert {c["labels"]["com.docker.compose.project"] for c in samples.values()} == {PROJECT}
    assert set(samples) == {s.role for s in SCENARIOS}


def test_it_says_which_samples_are_missing():
    engine = Engine()
    del engine.containers[f"{PROJECT}-http-id"]
    demo, _ = make_demo(engine)
    with pytest.raises(DemoError, match="no sample container for http"):
        demo.samples()


def test_the_automated_demo_runs_every_scenario_to_the_end():
    engine = Engine()
    demo, out = make_demo(engine)
    assert automated(demo) == 0
    text = out.getvalue()
    assert text.count("=> healed") == 3
    assert "=> left alone: label autoheal=false opts out" in text
    assert "=> quarantined" in text and "3 restarts within 600s" in text
    assert "demo finished: every sample behaved as expected" in text


def test_it_restores_what_it_broke():
    engine = Engine()
    demo, _ = make_demo(engine)
    automated(demo)
    optout = f"{PROJECT}-optout-id"
    assert (optout, ("rm", "-f", "/tmp/ok")) in engine.executed
    assert (optout, ("touch", "/tmp/ok")) in engine.executed
    assert demo.broken == {}


def test_it_reports_a_scenario_autoheal_did_not_heal_and_restores_it():
    engine = Engine(heal=False)
    demo, out = make_demo(engine)
    assert automated(demo) == 1
    assert "not as expected: unhealthy, crash, http" in out.getvalue()
    unhealthy = f"{PROJECT}-unhealthy-id"
    assert (unhealthy, ("touch", "/tmp/ok")) in engine.executed


def test_interactive_runs_the_chosen_scenario_and_quits():
    engine = Engine()
    demo, out = make_demo(engine)
    answers = iter(["2", "x", "q"])
    assert interactive(demo, read=lambda prompt: next(answers)) == 0
    text = out.getvalue()
    assert "A container crashes" in text and "=> healed" in text
    assert "no such choice: 'x'" in text
    assert [cid for cid, _ in engine.executed] == [f"{PROJECT}-crash-id"] * 2


def test_a_token_is_sent_and_a_missing_one_is_named():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(401, json={"detail": "token"})

    api = Api("http://autoheal", "s3cret", transport=httpx.MockTransport(handler))
    with pytest.raises(DemoError, match="AUTOHEAL_API_TOKEN"):
        api.get("/api/status")
    assert seen == ["Bearer s3cret"]
