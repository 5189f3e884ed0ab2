"""Notification settings from the environment: classic variables, lists, and errors naming the variable."""

from __future__ import annotations

import pytest

from autoheal.config import ConfigError
from autoheal.notify.settings import EVENTS, notify_settings


def test_nothing_set_means_no_channel_and_every_event():
    settings = notify_settings({})
    assert not settings.configured
    assert settings.events == EVENTS
    assert settings.webhook_json_key == "content"  # the classic tool's default


def test_the_classic_variables_configure_the_channels():
    settings = notify_settings(
        {
            "WEBHOOK_URL": " https://hooks.example.com/abc ",
            "WEBHOOK_JSON_KEY": "text",
            "APPRISE_URL": "json://127.0.0.1:8000/x, ntfy://topic  form://h/y",
        }
    )
    assert settings.configured
    assert settings.webhook_url == "https://hooks.example.com/abc"
    assert settings.webhook_json_key == "text"
    assert settings.apprise_urls == ("json://127.0.0.1:8000/x", "ntfy://topic", "form://h/y")


def test_events_and_delivery_policy_are_read():
    settings = notify_settings(
        {
            "AUTOHEAL_NOTIFY_EVENTS": "quarantined,restart_failed",
            "AUTOHEAL_NOTIFY_MAX_ATTEMPTS": "3",
            "AUTOHEAL_NOTIFY_RETRY_SECONDS": "0.5",
            "AUTOHEAL_NOTIFY_REPEAT_SECONDS": "0",
            "AUTOHEAL_HOSTNAME": "docker-host-1",
        }
    )
    assert settings.events == ("quarantined", "restart_failed")
    assert (settings.max_attempts, settings.retry_seconds, settings.repeat_seconds) == (3, 0.5, 0)
    assert settings.hostname == "docker-host-1"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"WEBHOOK_URL": "file:///etc/passwd"}, "WEBHOOK_URL"),
        ({"WEBHOOK_URL": "https://"}, "WEBHOOK_URL"),
        ({"APPRISE_URL": "not-a-url"}, "APPRISE_URL"),
        ({"AUTOHEAL_NOTIFY_EVENTS": "restarted,exploded"}, "AUTOHEAL_NOTIFY_EVENTS"),
        ({"AUTOHEAL_NOTIFY_MAX_ATTEMPTS": "0"}, "AUTOHEAL_NOTIFY_MAX_ATTEMPTS"),
        ({"AUTOHEAL_NOTIFY_TIMEOUT_SECONDS": "soon"}, "AUTOHEAL_NOTIFY_TIMEOUT_SECONDS"),
        ({"AUTOHEAL_NOTIFY_WEBHOOK_FORMAT": "xml"}, "AUTOHEAL_NOTIFY_WEBHOOK_FORMAT"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(environ, named):
    with pytest.raises(ConfigError, match=named):
        notify_settings(environ)
