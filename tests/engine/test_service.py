"""The service's state: live settings, choices, export/import and what a restart restores."""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from autoheal.config import ConfigError, Mode, parse_settings
from autoheal.domain.policy import PolicyState
from autoheal.engine.service import Service
from autoheal.store.db import StoreError
from autoheal.store.state import Store

ENVIRON = {"DOCKER_HOST": "unix:///nonexistent.sock"}
A = "a" * 64
B = "b" * 64

MakeService = Callable[..., Awaitable[Service]]


@pytest.fixture
async def make_service(tmp_path: Path) -> AsyncIterator[MakeService]:
    """Factory for a Service whose store is open and restored; no loops, no Docker engine."""
    made: list[Service] = []

    async def make(*, explicit: dict[str, Any] | None = None, data_dir: Path | None = tmp_path) -> Service:
        service = Service(parse_settings(explicit or {}), environ=ENVIRON, data_dir=data_dir, explicit=explicit)
        made.append(service)
        await service.store.db.open()
        await service._restore()
        return service

    yield make
    for service in made:
        await service.store.db.close()
        await service.adapter.close()


async def restart(service: Service, make_service: MakeService, **kwargs: Any) -> Service:
    """Stop this autoheal (its store closed) and start another on the same data directory."""
    await service.store.db.close()
    return await make_service(**kwargs)


async def stored_settings(service: Service) -> dict[str, Any] | None:
    return await service.store.load_settings_document()


def config_changes(service: Service) -> list[str]:
    return [r.reason for r in reversed(service.events.recent(100, kind="config_changed"))]


# --- apply_settings -------------------------------------------------------------------------


async def test_apply_settings_swaps_the_running_settings_and_names_the_changed_fields(make_service: MakeService):
    service = await make_service()
    new = parse_settings({"monitor": {"interval_seconds": 5}, "restart": {"backoff": {"jitter": False}}})
    changed = await service.apply_settings(new)
    assert changed == ["monitor.interval_seconds", "restart.backoff.jitter"]
    assert service.settings is new and service.healer.settings is new


async def test_apply_settings_records_a_config_changed_event_naming_the_fields(make_service: MakeService):
    service = await make_service()
    await service.apply_settings(parse_settings({"restart": {"cooldown_seconds": 5}}), why="api")
    assert config_changes(service) == ["api: restart.cooldown_seconds"]
    assert service.writer.pending == 1  # queued for the store as well


async def test_apply_settings_without_a_change_records_nothing(make_service: MakeService):
    service = await make_service()
    assert await service.apply_settings(parse_settings({})) == []
    assert config_changes(service) == []


async def test_applied_settings_survive_a_restart(make_service: MakeService):
    service = await make_service()
    new = parse_settings({"restart": {"mode": "health", "max_restarts": 9}, "filters": {"whitelist_names": ["web*"]}})
    await service.apply_settings(new)
    assert await stored_settings(service) == new.model_dump(mode="json")

    again = await restart(service, make_service)
    assert again.settings == new


async def test_explicit_settings_win_over_stored_ones_at_start(make_service: MakeService):
    service = await make_service()
    await service.apply_settings(parse_settings({"monitor": {"interval_seconds": 99}, "restart": {"cooldown_seconds": 7}}))

    # As from a file or the environment (the latter as strings).
    explicit = {"monitor": {"interval_seconds": "5"}}
    again = await restart(service, make_service, explicit=explicit)
    assert again.settings.monitor.interval_seconds == 5
    assert again.settings.restart.cooldown_seconds == 7  # not given explicitly: the stored value stays
    assert (await stored_settings(again))["monitor"]["interval_seconds"] == 5


async def test_a_stored_document_that_no_longer_validates_falls_back_to_the_explicit_settings(
    make_service: MakeService,
):
    service = await make_service()
    await service.store.save_settings_document({"monitor": {"interval_seconds": -1}}, now=1.0)
    again = await restart(service, make_service, explicit={"restart": {"cooldown_seconds": 3}})
    assert again.settings == parse_settings({"restart": {"cooldown_seconds": 3}})


# --- export / import ------------------------------------------------------------------------


async def test_export_then_import_is_an_identity(make_service: MakeService):
    service = await make_service()
    await service.apply_settings(parse_settings({"restart": {"mode": "on-failure"}}), choices={"web": False})
    before = service.export_config()
    await service.import_config(copy.deepcopy(before))
    assert service.export_config() == before


async def test_import_replaces_the_choices(make_service: MakeService):
    service = await make_service()
    await service.set_choices(["web", "db"], True)
    document = service.export_config() | {"containers": {"cache": {"enabled": False}}}
    changed = await service.import_config(document)
    assert "containers" in changed
    assert service.healer.choices == {"cache": False}
    assert await service.store.load_choices() == {"cache": False}


async def test_import_swaps_settings_and_records_the_change(make_service: MakeService):
    service = await make_service()
    document = service.export_config()
    document["restart"]["mode"] = "health"
    changed = await service.import_config(document)
    assert changed == ["restart.mode", "containers"]
    assert service.settings.restart.mode is Mode.HEALTH
    assert config_changes(service) == ["imported: restart.mode, containers"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(lambda d: d.__setitem__("colour", "blue"), "colour", id="unknown-field"),
        pytest.param(lambda d: d["monitor"].__setitem__("interval_seconds", "30"), "monitor.interval_seconds", id="wrong-type"),
        pytest.param(lambda d: d["restart"].__setitem__("max_restarts", 0), "restart.max_restarts", id="out-of-range"),
        pytest.param(lambda d: d.__setitem__("containers", {"x": True}), "containers.x", id="bad-choice"),
        pytest.param(lambda d: d.__setitem__("schema_version", 99), "schema_version", id="newer-schema"),
    ],
)
async def test_an_invalid_import_changes_nothing_anywhere(make_service: MakeService, change, field: str):
    service = await make_service()
    settings = parse_settings({"monitor": {"interval_seconds": 12}})
    await service.apply_settings(settings, choices={"web": False})
    stored_before = await stored_settings(service)
    pending_before = service.writer.pending
    events_before = service.events.recent(100)

    document = service.export_config()
    document["restart"]["mode"] = "health"  # a valid change next to the invalid one
    document["containers"] = {"db": {"enabled": True}}
    change(document)
    with pytest.raises(ConfigError, match=rf"^{field}"):
        await service.import_config(document)

    assert service.settings is settings
    assert service.healer.choices == {"web": False}
    assert await stored_settings(service) == stored_before
    assert await service.store.load_choices() == {"web": False}
    assert service.writer.pending == pending_before
    assert service.events.recent(100) == events_before


async def test_a_store_failure_during_import_leaves_the_stored_settings_unchanged(
    make_service: MakeService, monkeypatch: pytest.MonkeyPatch
):
    service = await make_service()
    stored_before = await stored_settings(service)

    def failing_choices_write(conn, choices, now):
        raise sqlite3.OperationalError("disk I/O error")  # fails inside the import's transaction

    monkeypatch.setattr(Store, "_write_choices", staticmethod(failing_choices_write))
    document = service.export_config()
    document["restart"]["mode"] = "health"
    with pytest.raises(StoreError):
        await service.import_config(document)
    assert service.settings.restart.mode is Mode.BOTH
    assert await stored_settings(service) == stored_before


# --- choices ----------------------------------------------------------------------------------


async def test_set_choices_applies_at_once_and_survives_a_restart(make_service: MakeService):
    service = await make_service()
    await service.set_choices(["web", "db"], False)
    await service.set_choices(["db"], True)
    assert service.healer.choices == {"web": False, "db": True}

    again = await restart(service, make_service)
    assert again.healer.choices == {"web": False, "db": True}


async def test_set_choices_with_none_forgets_the_choice(make_service: MakeService):
    service = await make_service()
    await service.set_choices(["web", "db"], True)
    await service.set_choices(["web", "never-chosen"], None)
    assert service.healer.choices == {"db": True}

    again = await restart(service, make_service)
    assert again.healer.choices == {"db": True}


# --- restored policy state ------------------------------------------------------------------------


async def test_restored_policy_states_appear_in_the_healer(make_service: MakeService):
    service = await make_service()
    quarantined = PolicyState(failures=5, restarts=(10.0, 20.0, 30.0), quarantined_at=40.0)
    counting = PolicyState(failures=1, restarts=(50.0,), last_restart_at=50.0)
    service.writer.state_changed(A, "web", quarantined)
    service.writer.state_changed(B, "db", counting)
    await service.writer.flush()

    again = await restart(service, make_service)
    assert again.healer.policy == {A: quarantined, B: counting}
    assert again.healer.policy[A].quarantined


async def test_the_memory_mode_restores_nothing_and_writes_nothing(
    make_service: MakeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    service = await make_service(data_dir=None)
    await service.apply_settings(parse_settings({"monitor": {"interval_seconds": 3}}), choices={"web": True})
    service.writer.state_changed(A, "web", PolicyState(failures=1))
    await service.writer.flush()
    assert service.store.db.path is None
    assert list(tmp_path.iterdir()) == []

    other = await make_service(data_dir=None)
    assert other.settings == parse_settings({})
    assert other.healer.choices == {} and other.healer.policy == {}


async def test_the_first_start_stores_the_running_settings(make_service: MakeService, tmp_path: Path):
    service = await make_service(explicit={"restart": {"max_parallel": 2}})
    assert await stored_settings(service) == parse_settings({"restart": {"max_parallel": 2}}).model_dump(mode="json")
    with closing(sqlite3.connect(tmp_path / "autoheal.sqlite3")) as c:
        assert c.execute("SELECT COUNT(*) FROM settings").fetchone()[0] == 1


async def test_a_choice_is_announced_on_the_stream_for_the_chosen_containers(make_service: MakeService, make_container):
    service = await make_service()
    web, db = make_container(name="web"), make_container(name="db")
    service.healer.containers.update({web.id: web, db.id: db})
    async with service.broadcast.subscribe() as queue:
        await service.set_choices(["web"], True)
        change = queue.get_nowait()
        assert change.container_id == web.id
        assert queue.empty()


async def test_health_names_an_engine_that_leaves_a_quick_request_unanswered(make_service: MakeService):
    service = await make_service()
    service.adapter._waiting[1] = service.adapter._clock() - 6  # noqa: SLF001 - a listing sent 6 s ago
    ok, body = service.health()
    assert not ok
    assert "engine not answering: a request has waited 6s" in body["problems"]
    service.adapter._waiting.clear()  # noqa: SLF001
    assert not any("not answering" in p for p in service.health()[1]["problems"])
