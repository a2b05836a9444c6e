"""monitoring/: the alert rules pass their promtool tests, and every metric
name that the rules and the Grafana dashboard read is one the code exports.

The exported names come from a real exposition: a ``ConsumerMetrics`` that
tracked a consumer over a real stream (one entry handled, one dead-lettered),
so a renamed metric in ``streamlib.metrics`` breaks this test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from streamlib import (
    BatchResult,
    Envelope,
    Message,
    PartitionedConsumer,
    StreamProducer,
    StreamSettings,
)
from streamlib.connection import client_from_url
from streamlib.metrics import ConsumerMetrics
from tests.monitoring.promql import metric_names

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
RULES = MONITORING / "alerts.yml"
RULE_TESTS = MONITORING / "alerts.test.yml"
PROMETHEUS = MONITORING / "prometheus.yml"
DASHBOARD = MONITORING / "grafana" / "quotestream-consumers.json"
IN_CI = bool(os.environ.get("CI"))
#: Series Prometheus makes itself: the scrape's health and the alerts' state.
PROMETHEUS_SERIES = frozenset({"up", "ALERTS"})


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        if IN_CI:
            pytest.fail("CI needs promtool (Debian package prometheus) to test the alert rules")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return binary


def run_promtool(*args: str) -> str:
    done = subprocess.run(
        [promtool(), *args], cwd=MONITORING, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    """Every PromQL text of the dashboard: panel targets, variables, annotations."""
    doc = json.loads(DASHBOARD.read_text())
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "query", "definition") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    return [q for q in found if q != "prometheus"]  # the datasource variable's type


@pytest.fixture(scope="module")
def exported(redis_server: Any) -> Iterator[set[str]]:
    """Sample names of a real exposition after handling and dead-lettering entries."""
    client = client_from_url(redis_server.url)
    settings = StreamSettings(
        redis_url=redis_server.url, stream="monitoring-names", group="g", consumer="c1"
    )
    client.delete(settings.stream, settings.dead_letter_stream)
    ids = StreamProducer(client, settings.stream).send_many(
        [Envelope(type="t", key=f"k{i}", data={}) for i in range(3)]
    )

    def handler(batch: Sequence[Message]) -> BatchResult:
        return BatchResult(failed={ids[0]: "later"}, rejected={ids[1]: "bad"})

    settings = settings.replace(min_idle_ms=3_600_000)
    metrics = ConsumerMetrics(settings)
    consumer = PartitionedConsumer(settings, handler, client_factory=lambda: client)
    metrics.track(consumer)
    consumer.run(burst=True)
    metrics.refresh_group(client)
    names = {
        sample.name
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }
    consumer.close()
    yield names
    client.delete(settings.stream, settings.dead_letter_stream)
    client.close()


def test_rules_pass_their_promtool_tests() -> None:
    assert "SUCCESS" in run_promtool("check", "rules", RULES.name)
    run_promtool("test", "rules", RULE_TESTS.name)


def test_prometheus_config_is_valid_and_names_the_job_the_rules_expect() -> None:
    run_promtool("check", "config", PROMETHEUS.name)
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert config["rule_files"] == [RULES.name]
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    expected = set().union(*(re.findall(r'job="([^"]+)"', rule["expr"]) for rule in rules()))
    assert expected and expected <= jobs


def test_every_alert_has_a_test_case() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = {rule["alert"] for rule in rules()}
    assert alerts and alerts <= tested, f"alerts never seen firing in a test: {alerts - tested}"


def test_the_exposition_has_the_names_the_checks_need(exported: set[str]) -> None:
    # The fixture really exercised the code: counters, histograms, group gauges.
    for name in (
        "streamlib_consumer_acked_total",
        "streamlib_consumer_dead_lettered_total",
        "streamlib_consumer_handle_seconds_bucket",
        "streamlib_group_lag",
        "streamlib_group_oldest_pending_age_seconds",
        "streamlib_stream_entries_added_total",
    ):
        assert name in exported


def test_rules_read_only_exported_metrics(exported: set[str]) -> None:
    used = set().union(*(metric_names(rule["expr"]) for rule in rules()))
    assert {"streamlib_group_lag", "up"} <= used
    unknown = used - exported - PROMETHEUS_SERIES
    assert not unknown, f"{RULES.name} reads metrics the code does not export: {sorted(unknown)}"


def test_dashboard_reads_only_exported_metrics(exported: set[str]) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 20
    used = set().union(*(metric_names(q) for q in queries))
    unknown = used - exported - PROMETHEUS_SERIES
    assert not unknown, (
        f"{DASHBOARD.name} reads metrics the code does not export: {sorted(unknown)}"
    )


def test_dashboard_shows_every_exported_family(exported: set[str]) -> None:
    """A metric added to the code and forgotten on the dashboard shows up here."""
    used = set().union(*(metric_names(q) for q in dashboard_queries()))
    families = {n for n in exported if not n.endswith(("_created", "_sum", "_count", "_bucket"))}
    histograms = {n[: -len("_bucket")] for n in exported if n.endswith("_bucket")}
    shown = {n for n in used if n in families} | {
        n[: -len("_bucket")] for n in used if n.endswith("_bucket")
    }
    missing = (families | histograms) - shown
    assert not missing, f"exported but not on the dashboard: {sorted(missing)}"
