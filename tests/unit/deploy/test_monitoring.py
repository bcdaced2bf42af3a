"""deploy/: the Prometheus alert rules and the Grafana dashboard parse, have the shape their
tools load, and query only metrics the daemon exports (`tests/support/metric_names.py`, which
the running-daemon test compares with `/metrics`). PromQL is parsed by `promql-parser` (the
Rust parser of GreptimeDB, offline); the rule file's structure is checked here, after
Prometheus's own rule-file rules (groups with unique names, each rule an alert or a record)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.support.metric_names import series_names

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
RULES = DEPLOY / "prometheus" / "superparty-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "superparty-fleet.json"
PROMETHEUS_OWN = {"up"}  # scrape health, Prometheus's own series
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
ALERT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Grafana's variables, as Grafana substitutes them before the query reaches Prometheus
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$account": ".*"}


def selected_metrics(expr: str) -> set[str]:
    """The metric names an expression selects; ValueError when it is not valid PromQL."""
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            names.add(node.name or "")
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def check_expr(expr: str, where: str) -> None:
    try:
        names = selected_metrics(expr)
    except ValueError as exc:
        raise AssertionError(f"{where}: not valid PromQL ({exc}): {expr}") from None
    unknown = names - series_names() - PROMETHEUS_OWN
    assert not unknown, f"{where}: metrics the daemon does not export: {sorted(unknown)}"
    assert names, f"{where}: selects no metric"


def test_the_checker_catches_bad_queries() -> None:
    with pytest.raises(AssertionError, match="not valid PromQL"):
        check_expr("sum(rate(superparty_account_up[5m])", "x")
    with pytest.raises(AssertionError, match="does not export"):
        check_expr("whatsapp_sessions > 0", "x")  # an old name (renamed)
    check_expr("histogram_quantile(0.9, rate(superparty_inbound_lag_seconds_bucket[5m]))", "x")


def test_alert_rules_load_and_use_exported_metrics() -> None:
    doc = yaml.safe_load(RULES.read_text())
    assert set(doc) == {"groups"}
    group_names = [g["name"] for g in doc["groups"]]
    assert len(group_names) == len(set(group_names)), "group names must be unique"
    alerts = {}
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "limit", "rules"}, group["name"]
        for rule in group["rules"]:
            assert ("alert" in rule) != ("record" in rule), rule
            assert set(rule) <= {"alert", "record", "expr", "for", "keep_firing_for", "labels",
                                 "annotations"}, rule  # fmt: skip
            name = rule.get("alert") or rule["record"]
            assert ALERT_NAME.match(name), name
            assert "for" not in rule or DURATION.match(str(rule["for"])), rule
            assert isinstance(rule["expr"], str)
            check_expr(rule["expr"], name)
            for key, value in {**rule.get("labels", {}), **rule.get("annotations", {})}.items():
                assert isinstance(value, str), (name, key)
            alerts[name] = rule
    # the three: a number down for 10 minutes, a queue growing, a phone offline for days
    assert alerts["SuperpartyNumberDown"]["for"] == "10m"
    assert "superparty_account_up" in alerts["SuperpartyNumberDown"]["expr"]
    assert "superparty_outbox_queue_depth" in alerts["SuperpartyOutboxQueueGrowing"]["expr"]
    assert "86400" in alerts["SuperpartyPhoneOffline"]["expr"]


def test_grafana_dashboard_queries_exported_metrics() -> None:
    doc = json.loads(DASHBOARD.read_text())
    assert doc["uid"] and doc["title"] and isinstance(doc["panels"], list)
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    exprs = 0
    for panel in doc["panels"]:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        for target in panel["targets"]:
            expr = target["expr"]
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            assert "$" not in expr, f"{panel['title']}: unknown variable in {expr}"
            check_expr(expr, panel["title"])
            exprs += 1
    assert exprs >= 10
    for var in doc["templating"]["list"]:
        found = re.fullmatch(r"label_values\((\w+), (\w+)\)", var["query"])
        assert found, var["query"]
        check_expr(found.group(1), f"variable {var['name']}")
