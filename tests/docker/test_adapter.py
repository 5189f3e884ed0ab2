"""The adapter's pure parts: engine JSON into typed objects, and where the engine is."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import datetime, timezone

import pytest

from autoheal.docker import adapter
from autoheal.docker.adapter import (
    api_version,
    check_socket,
    container_from_inspect,
    container_from_listing,
    event_from_raw,
    parse_time,
    resolve_host,
)

CID = "f" * 64


# --- parse_time -------------------------------------------------------------------------


def test_parse_time_reads_nanosecond_rfc3339_as_epoch_seconds():
    expected = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc).timestamp()
    assert parse_time("2024-05-01T12:00:00.123456789Z") == pytest.approx(expected)
    assert parse_time("2024-05-01T12:00:00Z") == datetime(2024, 5, 1, 12, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("value", [None, "", "0001-01-01T00:00:00Z", "yesterday"])
def test_parse_time_gives_none_for_the_zero_time_and_garbage(value):
    assert parse_time(value) is None


# --- container_from_listing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status_text", "health", "exit_code"),
    [
        ("Up 5 minutes (healthy)", "healthy", None),
        ("Up 5 minutes (unhealthy)", "unhealthy", None),
        ("Up 2 seconds (health: starting)", "starting", None),
        ("Up 3 hours", None, None),
        ("Exited (137) 4 seconds ago", None, 137),
        ("Exited (-1) 4 seconds ago", None, -1),
        ("", None, None),
    ],
)
def test_a_listing_entry_reads_health_and_exit_code_from_the_status_text(status_text, health, exit_code):
    c = container_from_listing({"Id": CID, "Names": ["/web"], "State": "running", "Status": status_text})
    assert (c.health, c.exit_code, c.has_healthcheck) == (health, exit_code, health is not None)


def test_a_listing_entry_is_a_summary():
    raw = {
        "Id": CID,
        "Names": ["/web", "/other/alias"],
        "Image": "nginx:1",
        "Labels": {"autoheal": "true"},
        "State": "exited",
        "Status": "Exited (1) 1 minute ago",
        "HostConfig": {"NetworkMode": "bridge"},
    }
    c = container_from_listing(raw)
    assert (c.id, c.name, c.image, dict(c.labels), c.status, c.network_mode) == (
        CID, "web", "nginx:1", {"autoheal": "true"}, "exited", "bridge"
    )
    assert (c.detailed, c.restart_policy, c.oom_killed, c.started_at) == (False, "no", False, None)


def test_a_listing_entry_without_names_labels_or_state_still_parses():
    c = container_from_listing({"Id": CID, "Labels": None})
    assert (c.name, dict(c.labels), c.status, c.image) == (CID[:12], {}, "unknown", "")


# --- container_from_inspect -------------------------------------------------------------


def inspect_doc(**state) -> dict:
    return {
        "Id": CID,
        "Name": "/web",
        "Config": {
            "Image": "nginx:1",
            "Labels": {"autoheal": "true"},
            "StopTimeout": 25,
            "Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"]},
        },
        "State": {
            "Status": "exited",
            "ExitCode": 137,
            "OOMKilled": True,
            "StartedAt": "2024-05-01T12:00:00.5Z",
            "FinishedAt": "2024-05-01T12:10:00Z",
            "Health": {"Status": "unhealthy"},
            **state,
        },
        "HostConfig": {"RestartPolicy": {"Name": "unless-stopped"}, "NetworkMode": "host"},
    }


def test_an_inspect_document_is_read_in_full():
    c = container_from_inspect(inspect_doc())
    assert (c.name, c.image, c.status, c.health, c.exit_code, c.oom_killed) == (
        "web", "nginx:1", "exited", "unhealthy", 137, True
    )
    assert c.started_at == pytest.approx(datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=timezone.utc).timestamp())
    assert c.finished_at == datetime(2024, 5, 1, 12, 10, tzinfo=timezone.utc).timestamp()
    assert (c.restart_policy, c.stop_timeout_seconds, c.has_healthcheck, c.network_mode, c.detailed) == (
        "unless-stopped", 25, True, "host", True
    )
    assert c.docker_owned


def test_a_running_container_has_no_finish_time():
    c = container_from_inspect(inspect_doc(Status="running", ExitCode=0, OOMKilled=False, FinishedAt="0001-01-01T00:00:00Z"))
    assert (c.running, c.finished_at, c.exit_code) == (True, None, 0)


def test_a_disabled_or_missing_healthcheck_is_no_healthcheck():
    doc = inspect_doc(Health=None)
    doc["Config"]["Healthcheck"] = {"Test": ["NONE"]}
    assert not container_from_inspect(doc).has_healthcheck
    assert container_from_inspect(doc).health is None
    del doc["Config"]["Healthcheck"]
    assert not container_from_inspect(doc).has_healthcheck


def test_a_minimal_inspect_document_gets_defaults():
    c = container_from_inspect({"Id": CID})
    assert (c.name, c.status, c.restart_policy, c.stop_timeout_seconds, c.has_healthcheck) == (
        CID[:12], "unknown", "no", None, False
    )


def test_an_unknown_health_status_is_dropped():
    assert container_from_inspect(inspect_doc(Health={"Status": "none"})).health is None


# --- event_from_raw ---------------------------------------------------------------------


def raw_event(action: str, **attributes) -> dict:
    return {
        "Type": "container",
        "Action": action,
        "Actor": {"ID": CID, "Attributes": {"name": "web", "image": "nginx:1", **attributes}},
        "time": 1714564800,
        "timeNano": 1714564800123456789,
    }


def test_a_die_event_carries_its_exit_code_and_nanosecond_time():
    e = event_from_raw(raw_event("die", exitCode="137", execDuration="12"))
    assert (e.action, e.container_id, e.name, e.exit_code, e.signal) == ("die", CID, "web", 137, None)
    assert e.time == pytest.approx(1714564800.123456789)
    assert e.attributes["execDuration"] == "12"


def test_a_kill_event_carries_its_signal():
    e = event_from_raw(raw_event("kill", signal="15"))
    assert (e.action, e.signal, e.exit_code) == ("kill", 15, None)


@pytest.mark.parametrize(("action", "health"), [("health_status: unhealthy", "unhealthy"), ("health_status: healthy", "healthy")])
def test_a_health_status_event_is_split_into_action_and_health(action, health):
    e = event_from_raw(raw_event(action))
    assert (e.action, e.health) == ("health_status", health)


def test_a_non_numeric_exit_code_or_signal_is_dropped():
    e = event_from_raw(raw_event("die", exitCode="x", signal="SIGTERM"))
    assert (e.exit_code, e.signal) == (None, None)
    assert event_from_raw(raw_event("die", exitCode="-1")).exit_code == -1


def test_an_old_style_event_uses_status_id_and_seconds():
    e = event_from_raw({"status": "start", "id": CID, "time": 1714564800})
    assert (e.action, e.container_id, e.time, e.name) == ("start", CID, 1714564800.0, "")


@pytest.mark.parametrize(
    "raw",
    [
        {"Type": "network", "Action": "connect", "Actor": {"ID": "n1"}},
        {"Type": "container", "Action": "start", "Actor": {}},
        {"Type": "container", "Actor": {"ID": CID}},
    ],
    ids=["not-a-container", "no-id", "no-action"],
)
def test_events_that_are_not_usable_container_events_are_none(raw):
    assert event_from_raw(raw) is None


def test_attribute_values_become_strings():
    e = event_from_raw(raw_event("die", exitCode=1))
    assert e.attributes["exitCode"] == "1" and e.exit_code == 1


# --- where the engine is ----------------------------------------------------------------


@pytest.fixture
def no_default_sockets(monkeypatch, tmp_path):
    monkeypatch.setattr(adapter, "_DEFAULT_SOCKETS", (str(tmp_path / "docker.sock"), str(tmp_path / "podman.sock")))
    return tmp_path


def unix_socket(path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    return s


def test_docker_host_wins(no_default_sockets):
    assert resolve_host({"DOCKER_HOST": " tcp://10.0.0.1:2376 ", "DOCKER_SOCK": "/x.sock"}) == "tcp://10.0.0.1:2376"


@pytest.mark.parametrize(("sock", "host"), [("/run/d.sock", "unix:///run/d.sock"), ("tcp://h:2375", "tcp://h:2375")])
def test_docker_sock_is_the_classic_tools_setting(no_default_sockets, sock, host):
    assert resolve_host({"DOCKER_SOCK": sock}) == host


def test_a_rootless_socket_in_the_runtime_dir_is_found(no_default_sockets):
    runtime = no_default_sockets / "run"
    runtime.mkdir()
    s = unix_socket(runtime / "docker.sock")
    try:
        assert resolve_host({"XDG_RUNTIME_DIR": str(runtime)}) == f"unix://{runtime}/docker.sock"
    finally:
        s.close()


def test_without_any_socket_the_standard_path_is_assumed(no_default_sockets):
    assert resolve_host({}) == f"unix://{no_default_sockets}/docker.sock"


def test_check_socket_accepts_non_unix_hosts_and_real_sockets(tmp_path):
    assert check_socket("tcp://10.0.0.1:2376") is None
    s = unix_socket(tmp_path / "d.sock")
    try:
        assert check_socket(f"unix://{tmp_path}/d.sock") is None
    finally:
        s.close()


def test_check_socket_explains_a_missing_socket(tmp_path):
    problem = check_socket(f"unix://{tmp_path}/missing.sock")
    assert "does not exist" in problem and "DOCKER_HOST" in problem


def test_check_socket_explains_a_file_that_is_not_a_socket(tmp_path):
    (tmp_path / "plain").write_text("")
    assert "is not a socket" in check_socket(f"unix://{tmp_path}/plain")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can use any socket")
def test_check_socket_explains_a_permission_problem(tmp_path):
    s = unix_socket(tmp_path / "d.sock")
    try:
        os.chmod(tmp_path / "d.sock", 0)
        assert "permission denied" in check_socket(f"unix://{tmp_path}/d.sock")
    finally:
        s.close()


@pytest.mark.parametrize(("raw", "expected"), [("", "auto"), (" ", "auto"), ("1.41", "v1.41"), ("v1.45", "v1.45")])
def test_api_version_is_pinned_or_negotiated(raw, expected):
    assert api_version({"DOCKER_API_VERSION": raw} if raw else {}) == expected


@pytest.mark.parametrize("raw", ["latest", "1", "1.41.2"])
def test_a_malformed_api_version_is_refused(raw):
    with pytest.raises(ValueError, match="DOCKER_API_VERSION"):
        api_version({"DOCKER_API_VERSION": raw})


# --- dependencies: compose labels, blueprints, whose 404 ----------------------------------


def test_compose_project_and_service_are_read_from_the_labels():
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "db"}
    listed = container_from_listing({"Id": CID, "Names": ["/shop-db-1"], "Labels": labels, "State": "running"})
    inspected = container_from_inspect({"Id": CID, "Config": {"Labels": labels}, "State": {}})
    for c in (listed, inspected):
        assert (c.compose_project, c.compose_service) == ("shop", "db")


PARENT = "a" * 64


def child_inspect(**host_extra) -> dict:
    return {
        "Id": CID,
        "Name": "/app",
        "Image": "sha256:" + "1" * 64,
        "Config": {
            "Hostname": PARENT[:12], "Domainname": "", "ExposedPorts": {"80/tcp": {}},
            "Env": ["FOO=bar"], "Cmd": ["sleep", "1"], "Image": "app:1", "Labels": {"x": "1"},
            "Volumes": {"/data": {}, "/named": {}},
        },
        "HostConfig": {
            "NetworkMode": f"container:{PARENT}", "Binds": ["named:/named", "/srv:/srv:ro"], "PortBindings": {},
            "Dns": [], "ExtraHosts": None, "RestartPolicy": {"Name": "unless-stopped"}, **host_extra,
        },
        "Mounts": [
            {"Type": "volume", "Name": "9" * 64, "Destination": "/data", "RW": True},
            {"Type": "volume", "Name": "named", "Destination": "/named", "RW": True},
            {"Type": "bind", "Source": "/srv", "Destination": "/srv", "RW": False},
        ],
    }


def test_a_blueprint_keeps_the_configuration_and_mounts_an_anonymous_volume_again_by_name():
    import json

    bp = adapter.blueprint_from_inspect(child_inspect(), "sha256:" + "1" * 64)
    body = json.loads(bp.create_body)
    assert (bp.name, bp.network_mode, bp.auto_remove) == ("app", f"container:{PARENT}", False)
    assert (body["Env"], body["Cmd"], body["Labels"], body["Image"]) == (["FOO=bar"], ["sleep", "1"], {"x": "1"}, "app:1")
    assert body["HostConfig"]["RestartPolicy"] == {"Name": "unless-stopped"}
    assert body["HostConfig"]["Binds"] == ["named:/named", "/srv:/srv:ro", f"{'9' * 64}:/data"]
    assert bp.kept_volumes == ("999999999999:/data",)
    # refused by the engine together with container:<parent>; inspect shows the parent's or the image's
    assert not {"Hostname", "Domainname", "ExposedPorts"} & set(body)
    assert not {"PortBindings", "Dns", "ExtraHosts"} & set(body["HostConfig"])


def test_a_blueprint_names_the_image_by_id_when_its_tag_moved():
    import json

    bp = adapter.blueprint_from_inspect(child_inspect(), "sha256:" + "2" * 64)
    assert json.loads(bp.create_body)["Image"] == "sha256:" + "1" * 64


def test_a_blueprint_gives_an_anonymous_mount_its_volume_and_flags_auto_remove():
    import json

    raw = child_inspect(AutoRemove=True, Mounts=[{"Type": "volume", "Target": "/data"}])
    body = json.loads(adapter.blueprint_from_inspect(raw, "sha256:" + "1" * 64).create_body)
    assert body["HostConfig"]["Mounts"] == [{"Type": "volume", "Target": "/data", "Source": "9" * 64}]
    assert f"{'9' * 64}:/data" not in body["HostConfig"]["Binds"]
    assert adapter.blueprint_from_inspect(raw, None).auto_remove


@pytest.mark.parametrize(
    ("message", "gone"),
    [
        (f"No such container: {CID}", True),
        (f"No such container: {CID[:12]}", True),
        ("No such container: web", False),  # the call was made by id: another container is missing
        (f"No such container: {PARENT}", False),  # start of a child whose network parent is gone
        ("page not found", True),
    ],
)
def test_a_404_means_this_container_is_gone_only_when_it_names_this_container(message, gone):
    assert adapter._names_this_container(message, CID) is gone


# --- an engine that accepts and never answers -----------------------------------------


async def test_a_request_to_an_engine_that_never_answers_is_seen_waiting_then_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(adapter, "_REQUEST_TIMEOUT_SECONDS", 1)
    held = []

    async def accept_and_say_nothing(reader, writer):
        held.append(writer)

    server = await asyncio.start_unix_server(accept_and_say_nothing, path=str(tmp_path / "d.sock"))
    engine = adapter.DockerAdapter({"DOCKER_HOST": f"unix://{tmp_path / 'd.sock'}", "DOCKER_API_VERSION": "1.41"})
    try:
        assert engine.waiting_seconds() == 0
        call = asyncio.create_task(engine.list_containers())
        await asyncio.sleep(0.5)
        assert engine.waiting_seconds() >= 0.4  # /health reads this long before the timeout
        with pytest.raises(adapter.EngineUnavailable, match="did not answer"):
            await call
        assert engine.waiting_seconds() == 0
    finally:
        await engine.close()
        for writer in held:
            writer.close()
        server.close()
