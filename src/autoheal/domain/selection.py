"""Which containers autoheal manages, and the rule that decided it."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Mapping

from autoheal.config import Settings
from autoheal.domain.labels import truthy
from autoheal.domain.models import Container


@dataclass(frozen=True)
class Selection:
    """Whether a container is managed, which rule said so, and a sentence for humans."""

    monitored: bool
    rule: str  # self, choice, opt_out_label, blacklist, whitelist, opt_in_label, include_all, default
    reason: str


def _label_matches(labels: Mapping[str, str], pattern: str) -> bool:
    key, sep, value = pattern.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


def _first_match(container: Container, names: tuple[str, ...], labels: tuple[str, ...]) -> str | None:
    for glob in names:
        if fnmatchcase(container.name, glob):
            return f"name matches {glob!r}"
    for pattern in labels:
        if _label_matches(container.labels, pattern):
            return f"label {pattern!r}"
    return None


def select(
    container: Container,
    settings: Settings,
    choices: Mapping[str, bool],
    self_id: str | None = None,
) -> Selection:
    """Apply the selection rules in contract order; the first that matches decides."""
    if self_id and (container.id == self_id or container.id.startswith(self_id) or self_id.startswith(container.id)):
        return Selection(False, "self", "this is autoheal itself")
    choice = choices.get(container.name)
    if choice is not None:
        state = "enabled" if choice else "disabled"
        return Selection(choice, "choice", f"auto-heal {state} for this container by an operator")
    label_key = settings.monitor.label_key
    opt = truthy(container.labels.get(label_key))
    if opt is False:
        return Selection(False, "opt_out_label", f"label {label_key}={container.labels[label_key]} opts out")
    filters = settings.filters
    hit = _first_match(container, filters.blacklist_names, filters.blacklist_labels)
    if hit:
        return Selection(False, "blacklist", f"blacklisted: {hit}")
    if filters.whitelist_names or filters.whitelist_labels:
        # A non-empty whitelist names exactly the managed containers: a match enrols.
        hit = _first_match(container, filters.whitelist_names, filters.whitelist_labels)
        if not hit:
            return Selection(False, "whitelist", "not on the whitelist")
        return Selection(True, "whitelist", f"whitelisted: {hit}")
    if opt is True:
        return Selection(True, "opt_in_label", f"label {label_key}={container.labels[label_key]} opts in")
    if settings.monitor.include_all:
        return Selection(True, "include_all", "include_all is on")
    if label_key in container.labels:
        value = container.labels[label_key][:40]
        return Selection(False, "default", f"label {label_key}={value!r} is not a recognised true/false value")
    return Selection(False, "default", f"no {label_key}=true label and include_all is off")
