"""The guided demo: breaks the sample containers of docker-compose.test.yml and shows, through autoheal's API, what autoheal does."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from autoheal.docker.adapter import DockerAdapter
from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable

ROLE_LABEL = "autoheal-demo.role"
PROJECT_LABEL = "com.docker.compose.project"
POLL_SECONDS = 0.5


class DemoError(Exception):
    """The demo cannot go on; the message says why."""


@dataclass(frozen=True)
class Scenario:
    """One thing to break in one sample container, how to undo it, and what autoheal should do."""

    key: str
    role: str
    title: str
    explain: str
    break_command: tuple[str, ...] | None
    restore_command: tuple[str, ...] | None
    expect: str  # "restart": a restart record; "nothing": no action while it stays broken; "quarantine"


SCENARIOS = (
    Scenario("unhealthy", "unhealthy", "A container turns unhealthy",
             "The sample's Docker health check (test -f /tmp/ok) starts failing; autoheal restarts it.",
             ("rm", "-f", "/tmp/ok"), ("touch", "/tmp/ok"), "restart"),
    Scenario("crash", "crash", "A container crashes",
             "The sample exits with code 3; autoheal starts it again.",
             ("touch", "/tmp/crash"), ("rm", "-f", "/tmp/crash"), "restart"),
    Scenario("http", "http", "A label-defined HTTP check fails",
             "The sample stops serving /health (404); its labels autoheal.check.* make autoheal check it and restart it.",
             ("rm", "-f", "/www/health"), ("sh", "-c", "echo ok > /www/health"), "restart"),
    Scenario("optout", "optout", "A container with autoheal=false turns unhealthy",
             "The sample opts out with its label; autoheal leaves it alone.",
             ("rm", "-f", "/tmp/ok"), ("touch", "/tmp/ok"), "nothing"),
    Scenario("crashloop", "crashloop", "A container crash-loops",
             "The sample exits 2 s after every start; after autoheal.max_restarts=3 restarts it is quarantined.",
             None, None, "quarantine"),
)


class Api:
    """autoheal's REST API, read with a bearer token when one is set."""

    def __init__(self, base_url: str, token: str | None, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=10, transport=transport)

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params={k: v for k, v in params.items() if v is not None})
        if response.status_code == 401:
            raise DemoError("autoheal wants a token: set AUTOHEAL_API_TOKEN or pass --token")
        response.raise_for_status()
        return response.json()

    def post(self, path: str) -> Any:
        response = self.client.post(path, json={})
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self.client.close()


def run_in_container(container_id: str, command: Sequence[str], environ: Mapping[str, str]) -> None:
    """Run a command inside a container through the Docker engine (as `docker exec` would)."""

    async def run() -> tuple[int, str]:
        adapter = DockerAdapter(environ)
        try:
            return await adapter.exec(container_id, list(command), 15)
        finally:
            await adapter.close()

    try:
        code, output = asyncio.run(run())
    except (ActionFailed, ContainerGone, EngineUnavailable) as exc:
        raise DemoError(f"could not run {' '.join(command)} in {container_id[:12]}: {exc}") from None
    if code != 0:
        raise DemoError(f"{' '.join(command)} exited with {code} in {container_id[:12]}: {output.strip()[:200]}")


class Demo:
    """Runs scenarios against one test deployment and narrates them."""

    def __init__(
        self,
        api: Api,
        execute: Callable[[str, Sequence[str]], None],
        out: TextIO = sys.stdout,
        project: str | None = None,
        step_timeout: float = 90.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api, self.execute, self.out = api, execute, out
        self.project, self.step_timeout = project, step_timeout
        self.clock, self.sleep = clock, sleep
        self.broken: dict[str, Scenario] = {}  # container id -> what is broken in it now

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def wait_ready(self) -> None:
        deadline = self.clock() + self.step_timeout
        while True:
            try:
                response = self.api.client.get("/health")
                if response.status_code == 200:
                    return
                problem = "; ".join(response.json().get("problems", [])) or f"status {response.status_code}"
            except httpx.HTTPError as exc:
                problem = str(exc) or type(exc).__name__
            if self.clock() > deadline:
                raise DemoError(f"autoheal at {self.api.client.base_url} is not ready: {problem}")
            self.sleep(1)

    def samples(self) -> dict[str, dict[str, Any]]:
        """role -> container, for the sample containers of this deployment."""
        containers = self.api.get("/api/containers")["containers"]
        if self.project is None:
            own = next((c for c in containers if c["monitored_rule"] == "self"), None)
            self.project = (own or {}).get("labels", {}).get(PROJECT_LABEL)
        found: dict[str, dict[str, Any]] = {}
        for c in containers:
            role = c["labels"].get(ROLE_LABEL)
            if role and (self.project is None or c["labels"].get(PROJECT_LABEL) == self.project):
                if role in found:
                    raise DemoError(f"two containers have the role {role!r}: pass --project")
                found[role] = c
        missing = [s.role for s in SCENARIOS if s.role not in found]
        if missing:
            raise DemoError(
                f"no sample container for {', '.join(missing)}: start the test deployment "
                "(docker compose -f docker-compose.test.yml up -d)"
            )
        return found

    def overview(self) -> None:
        status = self.api.get("/api/status")
        self.say(f"autoheal {status['version']} on {status['host']}: engine {status['engine']['version']}, "
                 f"{status['monitored_containers']} of {status['total_containers']} containers monitored, "
                 f"{status['quarantined_containers']} quarantined")
        for role, c in sorted(self.samples().items()):
            health = f", {c['health']}" if c["health"] else ""
            managed = "monitored" if c["monitored"] else "not monitored"
            self.say(f"  {c['name']:<40} {c['status']}{health}; {managed} ({c['monitored_reason']})")

    def records_since(self, container_id: str, since: float | None) -> list[dict[str, Any]]:
        events = self.api.get("/api/events", container=container_id, since=since, limit=100)["events"]
        return list(reversed(events))  # oldest first

    def run(self, scenario: Scenario) -> bool:
        """Break, watch until autoheal did what it should, and restore. Whether it did."""
        container = self.samples()[scenario.role]
        cid, name = container["id"], container["name"]
        self.say()
        self.say(f"== {scenario.title}: {name}")
        self.say(f"   {scenario.explain}")
        started = self.clock()
        if scenario.break_command:
            self.say(f"   breaking it: docker exec {name} {' '.join(scenario.break_command)}")
            self.broken[cid] = scenario
            self.execute(cid, scenario.break_command)
        try:
            ok = self._watch(scenario, cid, started)
        finally:
            self.restore(cid)
        return ok

    def _watch(self, scenario: Scenario, cid: str, started: float) -> bool:
        seen: set[Any] = set()
        last_state = None
        deadline = started + self.step_timeout
        while self.clock() <= deadline:
            detail = self.api.get(f"/api/containers/{cid}")
            state = (detail["status"], detail["health"], detail["quarantined"])
            if state != last_state:
                health = f", {detail['health']}" if detail["health"] else ""
                quarantine = ", quarantined" if detail["quarantined"] else ""
                self.say(f"   {self._elapsed(started)} docker: {detail['status']}{health}{quarantine}")
                last_state = state
            # A crash loop may have been quarantined before the demo began: show its whole story.
            records = self.records_since(cid, None if scenario.expect == "quarantine" else started)
            for record in records:
                key = record.get("id") or (record["time"], record["kind"])
                if key not in seen:
                    seen.add(key)
                    self.say(f"   {self._at(record['time'] - started)} autoheal: {record['kind']}: {record['reason']}")
            if self._done(scenario, detail, records, started):
                return True
            self.sleep(POLL_SECONDS)
        self.say(f"   !! autoheal did not do what was expected within {self.step_timeout:.0f} s")
        return False

    def _done(self, scenario: Scenario, detail: dict[str, Any], records: list[dict[str, Any]], started: float) -> bool:
        kinds = [r["kind"] for r in records]
        if scenario.expect == "restart":
            if "restart" in kinds and detail["status"] == "running" and detail["health"] in (None, "healthy"):
                self.say(f"   {self._elapsed(started)} => healed: autoheal restarted it and it runs again")
                return True
        elif scenario.expect == "quarantine":
            if detail["quarantined"]:
                self.say(f"   {self._elapsed(started)} => quarantined: autoheal gave up and says so once; "
                         "POST /api/containers/{ref}/unquarantine releases it")
                return True
        elif scenario.expect == "nothing":
            # Unhealthy, not monitored, and nothing done for a while: the opt-out works.
            if detail["health"] == "unhealthy" and not detail["monitored"] and self.clock() - started >= 10:
                if not any(k in ("restart", "scheduled") for k in kinds):
                    self.say(f"   {self._elapsed(started)} => left alone: {detail['monitored_reason']}")
                    return True
        return False

    def release(self, role: str) -> None:
        container = self.samples()[role]
        self.say(f"   releasing {container['name']} from quarantine")
        self.api.post(f"/api/containers/{container['id']}/unquarantine")

    def restore(self, cid: str) -> None:
        """Undo what the demo broke in a container that is still broken (a restart undoes it too)."""
        scenario = self.broken.pop(cid, None)
        if scenario is None or scenario.restore_command is None:
            return
        try:
            self.execute(cid, scenario.restore_command)
        except DemoError:
            pass  # not running any more (a restart undid it), or gone: nothing left to restore

    def restore_all(self) -> None:
        for cid in list(self.broken):
            self.restore(cid)

    def _elapsed(self, started: float) -> str:
        return self._at(self.clock() - started)

    @staticmethod
    def _at(seconds: float) -> str:
        """Seconds since the step began; negative for what happened before it."""
        return f"[{seconds:6.1f}s]"


def automated(demo: Demo) -> int:
    demo.wait_ready()
    demo.overview()
    failed = [s.key for s in SCENARIOS if not demo.run(s)]
    demo.say()
    if failed:
        demo.say(f"demo finished; not as expected: {', '.join(failed)}")
        return 1
    demo.say("demo finished: every sample behaved as expected")
    return 0


def interactive(demo: Demo, read: Callable[[str], str] = input) -> int:
    demo.wait_ready()
    demo.overview()
    choices = {str(i): s for i, s in enumerate(SCENARIOS, 1)}
    while True:
        demo.say()
        for number, scenario in choices.items():
            demo.say(f"  {number}. {scenario.title} ({scenario.role})")
        demo.say("  r. release the crash-looping sample from quarantine\n  s. show the samples\n  q. quit")
        try:
            answer = read("what shall break? ").strip().lower()
        except EOFError:
            answer = "q"
        if answer == "q":
            return 0
        if answer == "s":
            demo.overview()
        elif answer == "r":
            try:
                demo.release("crashloop")
            except httpx.HTTPStatusError as exc:
                demo.say(f"   {exc.response.json().get('detail', exc)}")
        elif answer in choices:
            demo.run(choices[answer])
        else:
            demo.say(f"   no such choice: {answer!r}")


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autoheal demo",
        description="Breaks the sample containers of docker-compose.test.yml and shows what autoheal does.",
    )
    default_url = environ.get("AUTOHEAL_DEMO_URL") or f"http://127.0.0.1:{environ.get('AUTOHEAL_PORT') or 8080}"
    parser.add_argument("--url", default=default_url, help=f"autoheal's address [AUTOHEAL_DEMO_URL, {default_url}]")
    parser.add_argument("--token", default=None, help="API token [AUTOHEAL_API_TOKEN]")
    parser.add_argument("--project", default=None, help="compose project of the samples [autoheal's own]")
    parser.add_argument("--interactive", action="store_true", help="choose what to break from a menu")
    parser.add_argument("--step-timeout", type=float, default=90.0, help="seconds to wait for each step [90]")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    args = build_parser(environ).parse_args(argv)
    api = Api(args.url, args.token or environ.get("AUTOHEAL_API_TOKEN") or None)
    demo = Demo(
        api,
        lambda cid, command: run_in_container(cid, command, environ),
        project=args.project,
        step_timeout=args.step_timeout,
    )
    try:
        return interactive(demo) if args.interactive else automated(demo)
    except DemoError as exc:
        print(f"autoheal demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        demo.restore_all()
        api.close()
