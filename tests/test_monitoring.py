"""The Grafana dashboard and the alert rules use only metrics autoheal exposes, and every one of them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from autoheal.metrics import Metrics

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "autoheal.json").read_text(encoding="utf-8"))
ALERTS = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
METRIC = re.compile(r"\bautoheal_[a-z_]+\b")


def exposed() -> tuple[set[str], set[str]]:
    """Sample names as scraped (with _total, _bucket, ...), and the family names."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    samples, families = set(), set()
    for family in Metrics().registry.collect():
        families.add(family.name)
        samples.update(family.name + suffix for suffix in suffixes[family.type])
    return samples, families


def dashboard_exprs() -> list[str]:
    exprs = [t["expr"] for panel in DASHBOARD["panels"] for t in panel["targets"]]
    exprs += [v["definition"] for v in DASHBOARD["templating"]["list"]]
    return exprs


def alert_rules() -> list[dict]:
    return [rule for group in ALERTS["groups"] for rule in group["rules"]]


def test_the_dashboard_queries_only_metrics_that_exist():
    samples, _ = exposed()
    for expr in dashboard_exprs():
        for name in METRIC.findall(expr):
            assert name in samples, f"{name} in {expr!r} is not exposed"


def test_the_dashboard_shows_every_metric_family():
    _, families = exposed()
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    for family in families:
        assert any(name == family or name.startswith(family + "_") for name in used), f"{family} has no panel"


def test_panels_have_unique_ids_and_an_imported_datasource():
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    assert DASHBOARD["__inputs"][0]["name"] == "DS_PROMETHEUS"
    assert all(panel["datasource"]["uid"] == "${DS_PROMETHEUS}" for panel in DASHBOARD["panels"])


def test_alert_rules_are_well_formed_and_use_real_metrics():
    samples, _ = exposed()
    rules = alert_rules()
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["alert"] and rule["expr"] and rule["annotations"]["summary"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        for name in METRIC.findall(rule["expr"]):
            assert name in samples, f"{name} in alert {rule['alert']} is not exposed"


def test_there_are_alerts_for_a_quarantine_and_a_degraded_autoheal():
    by_name = {rule["alert"]: rule["expr"] for rule in alert_rules()}
    assert "autoheal_containers_quarantined" in by_name["AutohealContainerQuarantined"]
    assert "autoheal_healthy == 0" in by_name["AutohealDegraded"]
