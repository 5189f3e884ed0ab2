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


DOCS = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in [*(ROOT / "docs").glob("*.md"), ROOT / "SECURITY.md"]}
# The image's entrypoint and the compose files read variables too.
DEPLOY_SOURCES = "\n".join(
    (ROOT / name).read_text(encoding="utf-8")
    for name in ("deploy/docker-entrypoint.sh", "docker-compose.yml", "docker-compose.socket-proxy.yml", "docker-compose.test.yml")
)


def test_every_autoheal_variable_the_docs_name_is_read_by_the_code_or_the_image():
    settings_vars = set(env_variable_names())
    for page, text in DOCS.items():
        # The migration guide names classic variables autoheal does not take, on lines that say so.
        said_unsupported = "\n".join(line for line in text.splitlines() if "no equivalent" in line or "not needed" in line)
        for name in set(re.findall(r"\bAUTOHEAL_[A-Z_]+\b", text)):
            if name.startswith("AUTOHEAL_TEST_") or name in settings_vars or name in said_unsupported:
                continue
            assert f'"{name}"' in SOURCES or name in DEPLOY_SOURCES, f"{page} documents {name} but nothing reads it"


def test_every_variable_the_compose_files_set_for_autoheal_is_one_it_reads():
    settings_vars = set(env_variable_names())
    for name in set(re.findall(r"^\s+#?\s*(AUTOHEAL_[A-Z_]+):", DEPLOY_SOURCES, re.M)):
        assert name in settings_vars or f'"{name}"' in SOURCES, f"a compose file sets {name}, which autoheal does not read"


def test_the_docs_link_to_pages_that_exist():
    for page, text in {**DOCS, "README.md": README}.items():
        base = (ROOT / page).parent
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (base / target).exists(), f"{page} links to {target}, which does not exist"


def test_every_notification_variable_and_event_is_documented():
    from autoheal.notify.settings import ENVIRONMENT, EVENTS

    notifications = (ROOT / "docs" / "notifications.md").read_text(encoding="utf-8")
    for name in ENVIRONMENT:
        assert f"`{name}`" in README, name
    for event in EVENTS:
        assert f"`{event}`" in README and f"`{event}`" in notifications, event
