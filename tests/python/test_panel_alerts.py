"""The panel's section for active alerts, regressions and monitoring cost:
rows from a report, and the Streamlit page drawing them."""

from __future__ import annotations

import pytest

from ragperf import PerformanceMonitor
from ragperf.panel import _panel_data as data
from _clock_helpers import T0, record_at


def watched_monitor() -> PerformanceMonitor:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    monitor.set_evaluation_clock(lambda: T0 + 1)
    record_at(monitor, "llm", 0.1, T0 - 1800, times=30)
    monitor.set_regression_baseline()
    record_at(monitor, "llm", 0.5, T0, times=30)
    monitor.add_alert_rule("slow", "p95_latency_s", 0.3, operation="llm", severity="critical")
    return monitor


def test_watch_rows_from_a_report() -> None:
    report = watched_monitor().generate_report()
    rows = data.watch_rows(report)
    assert [(r["kind"], r["name"], r["operation"], r["severity"]) for r in rows] == [
        ("alert", "slow", "llm", "critical"),
        ("regression", "p95 x5.00", "llm", "warning"),
    ]
    assert rows[0]["value"] == pytest.approx(0.5, rel=0.01)
    assert rows[0]["limit"] == "> 0.3"
    assert rows[1]["message"] == report["regressions"][0]["message"]
    assert data.watch_rows(PerformanceMonitor().generate_report()) == []
    assert data.watch_rows({}) == []  # a report from an older ragperf


def test_monitoring_caption() -> None:
    report = watched_monitor().generate_report()
    caption = data.monitoring_caption(report)
    ns = report["monitoring"]["ns_per_block"]
    assert caption is not None and f"~{ns:,.0f} ns per tracked block, 60 records" in caption
    assert data.monitoring_caption({"monitoring": {"internal_errors": 0}}) is None


def test_panel_draws_alerts_and_regressions() -> None:
    pytest.importorskip("streamlit", reason="streamlit is in the test extra")
    from streamlit.testing.v1 import AppTest

    monitor = watched_monitor()

    def app(monitor: "object") -> None:
        from ragperf.panel.streamlit import show_metrics

        show_metrics(monitor)

    at = AppTest.from_function(app, args=(monitor,), default_timeout=60).run()
    assert not at.exception
    assert "critical" in at.markdown[0].value
    tables = [d.value for d in at.dataframe]
    watched = [t for t in tables if "kind" in t.columns]
    assert len(watched) == 1
    assert list(watched[0]["kind"]) == ["alert", "regression"]
    assert any(c.value.startswith("Monitoring cost: ~") for c in at.caption)
    assert [w.value for w in at.warning] == monitor.get_health_status()["issues"]
