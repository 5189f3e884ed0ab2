"""Custom check scheduling: one loop per checked container, bounded in flight, feeding the healer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from autoheal.checks.base import Check, Outcome
from autoheal.checks.definition import CheckDefinition, from_labels
from autoheal.checks.exec import ExecCheck, ExecPort
from autoheal.checks.http import HttpCheck
from autoheal.checks.target import resolve
from autoheal.checks.tcp import TcpCheck
from autoheal.docker.errors import ActionFailed, ContainerGone, EngineUnavailable
from autoheal.domain.models import Container
from autoheal.engine.healer import Healer

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 16


def next_due(due: float, interval_seconds: float, now: float) -> float:
    """When a check runs next: one interval after it was due, so that the time a run takes does not
    push the schedule later and later; a loop that fell behind runs now, never several in a burst."""
    return max(due + interval_seconds, now)


@dataclass
class CheckState:
    """What the API shows about one container's custom check."""

    kind: str
    source: str  # api or labels
    definition: CheckDefinition
    generation: int  # the container's start count when the loop began: a new start, a fresh loop
    target: str = ""
    last_ok: bool | None = None
    last_detail: str = ""
    last_latency_seconds: float | None = None
    last_run_at: float | None = None
    consecutive_failures: int = 0
    failing: bool = False  # reached `retries`: the container counts as unhealthy
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Checker:
    """Starts and stops check loops as containers appear, start, stop, or are quarantined."""

    def __init__(
        self,
        healer: Healer,
        docker: ExecPort,
        api_definitions: Callable[[], Mapping[str, CheckDefinition]],
        *,
        own: Callable[[], Container | None] = lambda: None,
        on_result: Callable[[str, bool], None] = lambda kind, ok: None,
        clock: Callable[[], float] = time.time,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.healer = healer
        self._api = api_definitions
        self._own = own
        self._on_result = on_result
        self._clock = clock
        self._slots = asyncio.Semaphore(max_in_flight)
        self._http = HttpCheck()
        self._runners: dict[str, Check] = {
            "http": self._http,
            "tcp": TcpCheck(),
            "exec": ExecCheck(docker),
        }
        self.states: dict[str, CheckState] = {}
        self.label_problems: dict[str, str] = {}
        self.runs = 0

    def definition_for(self, container: Container) -> tuple[CheckDefinition | None, str]:
        """The check in force: one defined through the API wins over the labels."""
        api = self._api().get(container.name)
        if api is not None:
            return api, "api"
        definition, problem = from_labels(container.labels)
        if problem:
            self.label_problems[container.id] = problem
        else:
            self.label_problems.pop(container.id, None)
        return definition, "labels"

    def sync_all(self) -> None:
        for cid in set(self.states) | set(self.healer.containers):
            self.sync(cid)

    def sync(self, cid: str) -> None:
        """Start, restart or stop the loop of one container to match what it is now."""
        container = self.healer.containers.get(cid)
        definition, source = (None, "")
        if container is not None:
            definition, source = self.definition_for(container)
        else:
            self.label_problems.pop(cid, None)  # removed: nothing of it may stay behind
        wanted = (
            container is not None
            and definition is not None
            and definition.check_type != "docker"
            and container.running
            and self.healer.selection(container).monitored
            and not self.healer.state(cid).quarantined
        )
        current = self.states.get(cid)
        if wanted and current is not None and current.task is not None and not current.task.done():
            if current.definition == definition and current.generation == self.healer.starts.get(cid, 0):
                return
        if current is not None:
            # A quarantined container stays unhealthy in autoheal's eyes (as Docker keeps its last
            # health status), so a probation release can still restart it.
            quarantined = container is not None and self.healer.state(cid).quarantined
            self._stop(cid, keep_failing=quarantined and current.failing)
        if wanted:
            state = CheckState(definition.check_type, source, definition, self.healer.starts.get(cid, 0))
            state.task = asyncio.get_running_loop().create_task(
                self._loop(cid, state), name=f"autoheal-check-{cid[:12]}"
            )
            self.states[cid] = state

    def _stop(self, cid: str, keep_failing: bool = False) -> None:
        state = self.states.pop(cid, None)
        if state is not None and state.task is not None:
            state.task.cancel()
        if not keep_failing:
            self.healer.check_failing.discard(cid)

    async def _loop(self, cid: str, state: CheckState) -> None:
        definition = state.definition
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due = next_due(due, definition.interval_seconds, loop.time())
            await asyncio.sleep(due - loop.time())
            container = self.healer.containers.get(cid)
            if container is None or not container.running or self.healer._acting_now(cid):
                continue  # not while autoheal itself is restarting it
            try:
                outcome = await self._run_once(container, definition, state)
            except Exception as exc:  # noqa: BLE001 - a broken check must not end its loop silently
                log.exception("check of %s failed to run", container.name)
                outcome = Outcome(False, f"check error: {exc}"[:300])
            if self.states.get(cid) is not state or self.healer._acting_now(cid) or cid in self.healer.busy:
                continue  # autoheal began restarting it meanwhile: this result says nothing
            if outcome is not None:
                self._judge(container, state, outcome)

    async def _run_once(self, container: Container, definition: CheckDefinition, state: CheckState) -> Outcome | None:
        host = None
        if definition.check_type in ("http", "tcp"):
            address = resolve(container, self.healer.containers, self._own())
            if address.host is None:
                # Never dial a wrong address; say why, and restart nothing.
                state.last_ok, state.last_detail, state.target = (
                    None,
                    f"no address: {address.why}",
                    "",
                )
                state.last_run_at = self._clock()
                return None
            host = address.host
        async with self._slots:
            self.runs += 1
            try:
                async with asyncio.timeout(definition.timeout_seconds + 1.0):
                    return await self._runners[definition.check_type].run(container, host, definition)
            except TimeoutError:
                return Outcome(False, f"timed out after {definition.timeout_seconds:g}s", definition.timeout_seconds)
            except (EngineUnavailable, ContainerGone) as exc:
                # autoheal lost the engine (or the container): inconclusive, not the container's fault
                state.last_ok, state.last_detail, state.last_run_at = None, f"not run: {exc}"[:300], self._clock()
                return None
            except ActionFailed as exc:
                return Outcome(False, f"exec refused by the engine: {exc}"[:300])

    def _judge(self, container: Container, state: CheckState, outcome: Outcome) -> None:
        definition = state.definition
        now = self._clock()
        self._on_result(definition.check_type, outcome.ok)
        state.last_ok, state.last_detail = outcome.ok, outcome.detail
        state.last_latency_seconds, state.last_run_at = (
            round(outcome.latency_seconds, 4),
            now,
        )
        state.target = outcome.target or state.target
        if outcome.ok:
            state.consecutive_failures = 0
            if state.failing:
                state.failing = False
                self.healer.check_recovered(container)
            return
        started = container.started_at
        if started is not None and now < started + definition.start_period_seconds:
            return  # failures in the start period do not count
        state.consecutive_failures += 1
        if state.consecutive_failures >= definition.retries and not state.failing:
            state.failing = True
            reason = f"{definition.check_type} check failed {state.consecutive_failures} times: {outcome.detail}"
            self.healer.check_failed(container, reason)

    async def close(self) -> None:
        await self._http.close()
        tasks = [s.task for s in self.states.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.states.clear()
