"""The README documents every setting, and every variable it documents is read by the code."""

from __future__ import annotations

import re
from pathlib import Path

from autoheal.config import env_variable_names
from autoheal.domain.labels import OVERRIDE_LABELS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SOURCES = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py"))


def test_every_setting_and_its_variable_is_in_the_readme():
    for name, path in env_variable_names().items():
        assert name in README, name
        assert f"`{'.'.join(path)}`" in README, path


def test_every_autoheal_variable_the_readme_names_is_read_by_the_code():
    settings_vars = set(env_variable_names())
    for name in set(re.findall(r"\bAUTOHEAL_[A-Z_]+\b", README)):
        if name.startswith("AUTOHEAL_TEST_") or name in settings_vars:
            continue
        assert f'"{name}"' in SOURCES, f"{name} is documented but nothing reads it"


def test_every_override_label_is_documented():
    for label in OVERRIDE_LABELS:
        assert f"`{label}`" in README, label


def test_the_quick_start_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    command = "PIP_CONSTRAINT=build-constraints.txt python3 -m pip install -e '.[test]' && python3 -m pytest"
    assert command in README
    assert command.replace("pip install -e", "pip install -q -e") in ci


def test_every_notification_variable_and_event_is_documented():
    from autoheal.notify.settings import ENVIRONMENT, EVENTS

    notifications = (ROOT / "docs" / "notifications.md").read_text(encoding="utf-8")
    for name in ENVIRONMENT:
        assert f"`{name}`" in README, name
    for event in EVENTS:
        assert f"`{event}`" in README and f"`{event}`" in notifications, event
