"""The name extractor the dashboard and rule checks rely on."""

from __future__ import annotations

import pytest

from tests.monitoring.promql import metric_names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('up{job="consumer"} == 0', {"up"}),
        (
            'sum by (stream, group) (rate(streamlib_consumer_acked_total{group=~"$group"}'
            "[$__rate_interval]))",
            {"streamlib_consumer_acked_total"},
        ),
        (
            "(max by (stream, group) (a_lag) > 0 or max by (stream, group) (b_pending) > 0)\n"
            "unless on (stream, group) (sum by (stream, group) (increase(c_total[10m])) > 0)",
            {"a_lag", "b_pending", "c_total"},
        ),
        (
            "histogram_quantile(0.95, sum by (instance, le) (rate(h_bucket[5m])))",
            {"h_bucket"},
        ),
        ('absent(up{job="consumer"} == 1)', {"up"}),
        ("x offset 5m / ignoring(kind) group_left y", {"x", "y"}),
        ('ALERTS{alertname=~"Streamlib.*", note="by (x) and y"}', {"ALERTS"}),
        ('label_values(streamlib_group_lag{stream=~"$stream"}, group)', {"streamlib_group_lag"}),
        ("stremlib_group_lag > 1e3", {"stremlib_group_lag"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
