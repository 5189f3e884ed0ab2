"""Container churn: removed, renamed or recreated mid-restart or mid-check, and a burst of 500 that leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import tracemalloc
import uuid
from pathlib import Path

import aiodocker
import pytest

from autoheal.checks.definition import CheckDefinition
from tests.integration.results import record_result
from tests.integration.support import HEALTH_CMD, HEALTHY_WHILE_OK, TEST_LABEL, docker, inspect, wait_for

pytestmark = pytest.mark.integration

# A health check that a busy 2-core machine does not fail by itself (the quick default would start
# restarts before the test means them to).
FORGIVING = ("--health-timeout", "20s", "--health-retries", "2")

BURST = 500


def problems_logged(caplog) -> list[str]:
    """What autoheal logged at ERROR or above, or with a traceback."""
    return [
        r.getMessage() for r in caplog.records
        if r.name.startswith("autoheal") and (r.levelno >= logging.ERROR or r.exc_info)
    ]


def per_container_state(ah, ids: set[str] | None = None) -> dict[str, int]:
    """Every table autoheal keeps per container: its entries (of these containers only, if given:
    the engine is shared, other containers come and go meanwhile)."""
    healer, service = ah.healer, ah.service
    tables = {
        name: getattr(healer, name)
        for name in ("containers", "policy", "memory", "exits", "acting", "detected_at", "starts", "down_for",
                     "timers", "busy", "check_failing")
    }
    tables["checker.states"] = service.checker.states
    tables["checker.label_problems"] = service.checker.label_problems
    tables["notifier._last"] = service.notifier._last  # noqa: SLF001
    tables["writer._states"] = service.writer._states  # noqa: SLF001
    return {name: sum(1 for key in list(table) if ids is None or key in ids) for name, table in tables.items()}


async def test_containers_removed_renamed_or_recreated_mid_restart_leave_a_record_and_no_exception(
    containers, start_autoheal, caplog
):
    caplog.set_level(logging.INFO, logger="autoheal")
    # sleep as PID 1 ignores SIGTERM: each restart stays in flight for its 6 s stop timeout.
    slow = {"autoheal.stop.timeout": "6"}
    removed, renamed, recreated = (containers.run(HEALTHY_WHILE_OK, health=HEALTH_CMD, labels=slow, options=FORGIVING) for _ in range(3))
    ah = await start_autoheal({"restart": {"verify_seconds": 300}})  # slow health under load is no new failure
    ids = {name: containers.id(name) for name in (removed, renamed, recreated)}
    await wait_for(lambda: all((c := ah.container(n)) and c.health == "healthy" for n in ids), "healthy")

    for name in ids:
        docker("exec", name, "rm", "/tmp/ok")
    await wait_for(lambda: all(cid in ah.healer.busy for cid in ids.values()), "three restarts in flight")

    docker("rm", "-f", removed)
    new_name = renamed + "-renamed"
    docker("rename", renamed, new_name)
    containers.names.append(new_name)
    docker("rm", "-f", recreated)
    containers.run(HEALTHY_WHILE_OK, health=HEALTH_CMD, labels=slow, name=recreated)
    new_id = containers.id(recreated)

    await wait_for(lambda: not ah.healer.busy and not ah.healer.actions, "every restart over", timeout=120)
    await ah.settle()

    def outcome(cid: str) -> list[tuple[str, str]]:
        return [(r.kind, r.reason) for r in ah.records() if r.container_id == cid and r.kind != "scheduled"]

    # Removed mid-restart: forgotten, and the record says the restart failed because it is gone.
    gone = outcome(ids[removed])
    assert gone and gone[-1][0] == "restart_failed", gone
    for cid in (ids[removed], ids[recreated]):
        assert cid not in ah.healer.containers and cid not in ah.healer.policy and cid not in ah.healer.timers
    # Recreated under the same name: the old id is forgotten, the new one starts fresh.
    assert outcome(ids[recreated])[-1][0] == "restart_failed"
    await wait_for(lambda: (c := ah.container(recreated)) is not None and c.id == new_id, "the new container known")
    assert ah.healer.state(new_id).restarts == () and ah.healer.state(new_id).failures == 0
    # Renamed mid-restart: the restart finished, and autoheal knows it by its new name.
    assert outcome(ids[renamed])[-1][0] == "restart", outcome(ids[renamed])
    await wait_for(lambda: (c := ah.container(new_name)) is not None and c.id == ids[renamed], "known by its new name")
    assert inspect(new_name)["State"]["Running"]

    assert problems_logged(caplog) == []
    assert all(loop.crashes == 0 for loop in ah.service.loops)


async def test_a_container_removed_while_its_check_runs_leaves_no_exception_and_no_failure(
    containers, start_autoheal, caplog
):
    caplog.set_level(logging.INFO, logger="autoheal")
    name = containers.run("exec sleep 100000")
    ah = await start_autoheal()
    cid = containers.id(name)
    await ah.service.put_healthcheck(
        name, CheckDefinition(check_type="exec", exec_command=["sleep", "3"], interval_seconds=1, timeout_seconds=10, retries=1)
    )
    runs = ah.service.checker.runs
    await wait_for(lambda: ah.service.checker.runs > runs, "the check running")
    docker("rm", "-f", name)
    await wait_for(lambda: cid not in ah.healer.containers and cid not in ah.service.checker.states, "forgotten")
    await asyncio.sleep(4)  # the exec the check had started has ended by now
    assert ah.records(name, "health_check_failed") == []  # an inconclusive run is not a failure
    assert problems_logged(caplog) == []


async def test_a_burst_of_500_containers_created_and_removed_leaves_no_state_behind(image, label_key, start_autoheal):
    ah = await start_autoheal()
    await ah.settle()
    total_before = per_container_state(ah)
    gc.collect()
    tracemalloc.start()
    base_traced, _ = tracemalloc.get_traced_memory()
    rss_before = _rss_kib()
    run = uuid.uuid4().hex[:8]
    labels = {TEST_LABEL: "1", label_key: "true", "autoheal.check.type": "bogus", "autoheal.cooldown": "x" * 100}
    created: list[str] = []
    started = time.monotonic()
    async with aiodocker.Docker() as client:
        slots = asyncio.Semaphore(16)

        async def create(i: int) -> None:
            async with slots:
                made = await client.containers.create(
                    {"Image": image, "Cmd": ["true"], "Labels": labels, "HostConfig": {"NetworkMode": "none"}},
                    name=f"ahburst-{run}-{i}",
                )
                created.append(made.id)

        async def remove(cid: str) -> None:
            async with slots:
                await client.containers.container(cid).delete(force=True)

        try:
            await asyncio.gather(*(create(i) for i in range(BURST)))
            await wait_for(
                lambda: sum(1 for cid in created if cid in ah.healer.containers) == BURST,
                "autoheal saw the whole burst", timeout=300,
            )
            peak = per_container_state(ah, set(created))
            peak_traced, _ = tracemalloc.get_traced_memory()
            rss_peak = _rss_kib()
            await asyncio.gather(*(remove(cid) for cid in created))
            created_removed = time.monotonic() - started
            await wait_for(lambda: not any(cid in ah.healer.containers for cid in created), "all forgotten", timeout=300)
            await ah.settle()
            await ah.service.writer.flush()
        finally:
            left = [cid for cid in created if cid]
            await asyncio.gather(*(client.containers.container(c).delete(force=True) for c in left), return_exceptions=True)
    gc.collect()
    after_traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = per_container_state(ah, set(created))

    assert peak["containers"] == BURST and peak["checker.label_problems"] == BURST
    assert not any(after.values()), after  # nothing of the 500 is left anywhere
    grew, kept = peak_traced - base_traced, after_traced - base_traced
    assert kept < grew / 2, (grew, kept)  # most of what the burst allocated was given back
    record_result(
        "burst_500",
        {
            "containers": BURST,
            "create_and_remove_seconds": round(created_removed, 1),
            "all_tables_before_burst": total_before,
            "all_tables_after_burst": per_container_state(ah),
            "burst_entries_at_peak": peak,
            "burst_entries_after": after,
            "traced_python_memory_kib": {
                "growth_at_peak": round(grew / 1024, 1), "kept_after": round(kept / 1024, 1),
            },
            "rss_kib": {"before": rss_before, "peak": rss_peak, "after": _rss_kib()},
        },
    )


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
