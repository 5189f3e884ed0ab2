"""Notices built from event records: which records count, and what every message carries."""

from __future__ import annotations

import pytest

from autoheal.domain.records import Record
from autoheal.notify.notice import Notice, notice_for

RESTART = Record(1_700_000_000.0, "restart", "restarted (unhealthy)", "a" * 64, "web-1", "unhealthy", None, 2)


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        ("restart", "restarted"),
        ("restart_failed", "restart_failed"),
        ("quarantine", "quarantined"),
        ("unquarantine", "unquarantined"),
        ("health_check_failed", "health_check_failed"),
    ],
)
def test_records_operators_care_about_become_notices(kind, event):
    notice = notice_for(Record(1.0, kind, "why", "c" * 64, "db"), "host-a")
    assert notice is not None and notice.event == event


@pytest.mark.parametrize("kind", ["scheduled", "skipped", "cancelled", "manual_stop", "config_changed", "engine"])
def test_other_records_are_not_notified(kind):
    assert notice_for(Record(1.0, kind, "why", "c" * 64, "db"), "host-a") is None


def test_every_message_names_the_host_and_the_container():
    notice = notice_for(RESTART, "docker-host-1")
    assert notice is not None
    for text in (notice.title, notice.text):
        assert "docker-host-1" in text and "web-1" in text
    assert "restarted (unhealthy)" in notice.text
    assert "2023-11-14 22:13:20 UTC" in notice.text


def test_fields_round_trip_through_the_outbox_form():
    notice = notice_for(RESTART, "h")
    assert notice is not None
    fields = notice.fields()
    assert fields["container"] == "web-1" and fields["event"] == "restarted" and fields["attempt"] == 2
    assert Notice.from_fields(fields) == notice


def test_a_notice_about_autoheal_itself_has_no_container():
    notice = Notice("degraded", "h", 0.0, "engine not connected")
    assert notice.title == "[h] autoheal is degraded"
    assert notice.notify_type == "failure"
