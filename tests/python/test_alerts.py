"""Alert rules: fire once, resolve once, callbacks, logging, health and
report, the background evaluator — all on a fake clock (records carry chosen
timestamps; checks pass ``now``)."""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from typing import Any

import pytest

from ragperf import AlertEvent, AlertRule, PerformanceMonitor
from ragperf.watch.alert_evaluator import AlertEvaluator
from _clock_helpers import T0, record_at



def warnings_of(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ragperf" and r.levelno == level]


def test_fires_once_and_resolves_once(
    monitor: PerformanceMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[AlertEvent] = []
    monitor.add_alert_rule(
        "slow_llm", "p95_latency_s", 1.0, operation="llm_inference", window_minutes=5,
        callback=events.append,
    )
    record_at(monitor, "llm_inference", 2.0, T0, times=10)
    caplog.set_level(logging.INFO, logger="ragperf")

    fired = monitor.check_alerts(now=T0 + 1)
    assert [(e.rule, e.state, e.operation, e.count) for e in fired] == [
        ("slow_llm", "firing", "llm_inference", 10)
    ]
    assert fired[0].value == pytest.approx(2.0, rel=0.01)
    # Checked again and again while still breaking: no new event (no storm).
    for dt in (2, 3, 60):
        assert monitor.check_alerts(now=T0 + dt) == []
    assert [a.rule for a in monitor.get_active_alerts()] == ["slow_llm"]
    assert len(warnings_of(caplog, logging.WARNING)) == 1
    assert "slow_llm" in warnings_of(caplog, logging.WARNING)[0]

    # Ten minutes later the window holds no record: resolved, once.
    resolved = monitor.check_alerts(now=T0 + 600)
    assert [(e.state, e.since_s, e.value) for e in resolved] == [("resolved", T0 + 1, None)]
    assert monitor.check_alerts(now=T0 + 601) == []
    assert monitor.get_active_alerts() == []
    assert [e.state for e in events] == ["firing", "resolved"]
    assert len(warnings_of(caplog, logging.WARNING)) == 1
    assert len([m for m in warnings_of(caplog, logging.INFO) if "resolved" in m]) == 1


def test_value_back_under_threshold_resolves(monitor: PerformanceMonitor) -> None:
    monitor.add_alert_rule("errors", "error_rate", 0.10, operation="retrieval")
    record_at(monitor, "retrieval", 0.01, T0, success=False, times=3)
    record_at(monitor, "retrieval", 0.01, T0, times=7)
    fired = monitor.check_alerts(now=T0 + 1)
    assert [e.value for e in fired] == [pytest.approx(0.3)]
    record_at(monitor, "retrieval", 0.01, T0 + 2, times=40)  # 3 failures in 50 = 6%
    resolved = monitor.check_alerts(now=T0 + 3)
    assert [(e.state, e.value, e.count) for e in resolved] == [("resolved", pytest.approx(0.06), 50)]


def test_all_operations_rule_alerts_per_operation(monitor: PerformanceMonitor) -> None:
    monitor.add_alert_rule("errors", "error_rate", 0.10)  # operation "*"
    record_at(monitor, "retrieval", 0.01, T0, times=10)
    record_at(monitor, "llm_inference", 0.5, T0, success=False, times=2)
    record_at(monitor, "llm_inference", 0.5, T0, times=2)
    fired = monitor.check_alerts(now=T0 + 1)
    assert [(e.operation, e.value) for e in fired] == [("llm_inference", 0.5)]
    record_at(monitor, "retrieval", 0.01, T0 + 2, success=False, times=10)
    fired = monitor.check_alerts(now=T0 + 3)
    assert [(e.operation, e.value) for e in fired] == [("retrieval", 0.5)]
    assert sorted(a.operation for a in monitor.get_active_alerts()) == ["llm_inference", "retrieval"]
    # clear_metrics() empties every window: both resolve at the next check.
    monitor.clear_metrics()
    resolved = monitor.check_alerts(now=T0 + 4)
    assert sorted((e.operation, e.state) for e in resolved) == [
        ("llm_inference", "resolved"), ("retrieval", "resolved"),
    ]


def test_min_count_keeps_few_records_from_firing(monitor: PerformanceMonitor) -> None:
    monitor.add_alert_rule("errors", "error_rate", 0.5, operation="llm", min_count=5)
    record_at(monitor, "llm", 0.1, T0, success=False, times=4)
    assert monitor.check_alerts(now=T0 + 1) == []
    record_at(monitor, "llm", 0.1, T0 + 1, success=False)
    assert [e.count for e in monitor.check_alerts(now=T0 + 2)] == [5]


def test_for_s_needs_the_condition_to_hold(monitor: PerformanceMonitor) -> None:
    monitor.add_alert_rule("slow", "avg_latency_s", 1.0, operation="llm", for_s=30)
    record_at(monitor, "llm", 3.0, T0)
    assert monitor.check_alerts(now=T0 + 1) == []  # pending
    assert monitor.check_alerts(now=T0 + 20) == []
    fired = monitor.check_alerts(now=T0 + 31)
    assert [(e.state, e.since_s) for e in fired] == [("firing", T0 + 31)]
    # A dip under the threshold restarts the wait.
    monitor.check_alerts(now=T0 + 600)  # resolved: window empty
    record_at(monitor, "llm", 3.0, T0 + 600)
    assert monitor.check_alerts(now=T0 + 601) == []
    record_at(monitor, "llm", 0.01, T0 + 602, times=100)
    assert monitor.check_alerts(now=T0 + 603) == []  # avg now < 1 s
    record_at(monitor, "llm", 30.0, T0 + 604, times=10)
    assert monitor.check_alerts(now=T0 + 605) == []  # pending again since 605
    assert [e.state for e in monitor.check_alerts(now=T0 + 636)] == ["firing"]


def test_token_rate_rules(monitor: PerformanceMonitor) -> None:
    monitor.add_alert_rule("slow_output", "output_tokens_per_second", 50, comparison="<")
    monitor.add_alert_rule("fine_output", "output_tokens_per_second", 5, comparison="<")
    monitor.add_alert_rule("slow_tokens", "tokens_per_second", 100, comparison="<")
    record_at(monitor, "llm", 1.0, T0, tokens=30, completion_tokens=10, times=4)
    record_at(monitor, "retrieval", 0.1, T0, times=4)  # no tokens: not judged
    fired = monitor.check_alerts(now=T0 + 1)
    assert sorted((e.rule, e.operation, round(e.value or 0, 6)) for e in fired) == [
        ("slow_output", "llm", 10.0),
        ("slow_tokens", "llm", 30.0),
    ]


def test_requests_per_second_over_the_window(monitor: PerformanceMonitor) -> None:
    monitor.add_alert_rule("quiet", "requests_per_second", 0.5, operation="llm",
                           window_minutes=1, comparison="<")
    record_at(monitor, "llm", 0.1, T0, times=9)
    # The window is the current partial minute (30 s) plus one whole minute.
    fired = monitor.check_alerts(now=T0 + 30)
    assert [e.value for e in fired] == [pytest.approx(9 / 90)]


def test_process_rss_rule(monitor: PerformanceMonitor) -> None:
    monitor.add_alert_rule("rss_high", "process_rss_mb", 1.0)
    monitor.add_alert_rule("rss_huge", "process_rss_mb", 1e9, severity="critical")
    fired = monitor.check_alerts()
    assert [(e.rule, e.operation, e.window_minutes) for e in fired] == [("rss_high", "*", None)]
    assert fired[0].value == pytest.approx(monitor.get_memory_stats()["current_rss_mb"], rel=0.2)


def test_health_and_report_show_active_alerts(monitor: PerformanceMonitor) -> None:
    monitor.set_evaluation_clock(lambda: T0 + 1)
    record_at(monitor, "llm", 2.0, T0, times=5)
    health = monitor.get_health_status()
    assert health["status"] == "healthy" and health["issues"] == []

    monitor.add_alert_rule("slow", "p95_latency_s", 1.0, operation="llm")
    health = monitor.get_health_status()
    assert health["status"] == "warning"
    assert len(health["issues"]) == 1 and health["issues"][0].startswith("alert slow: p95_latency_s of llm")
    assert set(health) == {"status", "memory_mb", "total_operations", "issues"}

    monitor.add_alert_rule("very_slow", "p99_latency_s", 1.5, operation="llm", severity="critical")
    report = monitor.generate_report()
    assert report["health"]["status"] == "critical"
    assert [a["rule"] for a in report["alerts"]["active"]] == ["slow", "very_slow"]
    assert [r["name"] for r in report["alerts"]["rules"]] == ["slow", "very_slow"]
    assert report["alerts"]["active"][1]["severity"] == "critical"
    json.dumps(report, allow_nan=False)

    assert monitor.remove_alert_rule("very_slow") is True
    assert monitor.get_health_status()["status"] == "warning"
    monitor.set_evaluation_clock(lambda: T0 + 900)
    assert monitor.get_health_status()["status"] == "healthy"


def test_failing_callback_is_logged_once_and_never_raises(
    monitor: PerformanceMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken(event: AlertEvent) -> None:
        calls.append(event.state)
        raise RuntimeError("pager down")

    monitor.add_alert_rule("slow", "p50_latency_s", 1.0, operation="llm", callback=broken)
    record_at(monitor, "llm", 2.0, T0)
    assert [e.state for e in monitor.check_alerts(now=T0 + 1)] == ["firing"]
    assert [e.state for e in monitor.check_alerts(now=T0 + 900)] == ["resolved"]
    assert calls == ["firing", "resolved"]
    errors = [r for r in caplog.records if r.name == "ragperf" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "slow" in errors[0].getMessage()
    monitor.set_evaluation_clock(lambda: T0 + 901)
    assert monitor.generate_report()["alerts"]["callback_errors"] == 2


def test_rule_object_and_listing(monitor: PerformanceMonitor) -> None:
    rule = AlertRule("errors", "error_rate", 0.2, operation="llm", min_count=3)
    assert monitor.add_alert_rule(rule) is rule
    made = monitor.add_alert_rule("slow", "p95_latency_s", 2)
    assert made.threshold == 2.0 and made.operation == "*"
    assert [r.name for r in monitor.get_alert_rules()] == ["errors", "slow"]
    assert monitor.remove_alert_rule("errors") is True
    assert monitor.remove_alert_rule("errors") is False
    assert rule.to_dict()["min_count"] == 3


@pytest.mark.parametrize(
    ("kwargs", "exc", "needle"),
    [
        ({"metric": "p97_latency_s"}, ValueError, "'p97_latency_s'"),
        ({"threshold": math.nan}, ValueError, "nan"),
        ({"threshold": math.inf}, ValueError, "inf"),
        ({"threshold": "5"}, TypeError, "'5'"),
        ({"window_minutes": 0}, ValueError, "0"),
        ({"window_minutes": 61}, ValueError, "61"),
        ({"window_minutes": 2.5}, TypeError, "2.5"),
        ({"comparison": "!="}, ValueError, "'!='"),
        ({"severity": "page"}, ValueError, "'page'"),
        ({"for_s": -1}, ValueError, "-1"),
        ({"min_count": 0}, ValueError, "0"),
        ({"callback": 42}, TypeError, "42"),
        ({"operation": 7}, TypeError, "7"),
        ({"metric": "process_rss_mb", "operation": "llm"}, ValueError, "'llm'"),
    ],
)
def test_bad_rules_raise_naming_the_value(
    monitor: PerformanceMonitor, kwargs: dict[str, Any], exc: type[Exception], needle: str
) -> None:
    args: dict[str, Any] = {"metric": "p95_latency_s", "threshold": 1.0, **kwargs}
    with pytest.raises(exc, match=None) as info:
        monitor.add_alert_rule("r", **args)
    assert needle in str(info.value)
    assert monitor.get_alert_rules() == []


def test_other_bad_calls(monitor: PerformanceMonitor) -> None:
    monitor.add_alert_rule("r", "error_rate", 0.1)
    with pytest.raises(ValueError, match="'r'"):
        monitor.add_alert_rule("r", "error_rate", 0.2)
    with pytest.raises(TypeError, match="metric and a threshold"):
        monitor.add_alert_rule("s", "error_rate")
    with pytest.raises(TypeError, match="not both"):
        monitor.add_alert_rule(AlertRule("s", "error_rate", 0.1), "error_rate", 0.1)
    with pytest.raises(ValueError, match="nan"):
        monitor.check_alerts(now=math.nan)
    with pytest.raises(TypeError, match="clock"):
        monitor.set_evaluation_clock(5)  # type: ignore[arg-type]


def test_track_operation_stays_the_c_fast_path(monitor: PerformanceMonitor) -> None:
    monitor.add_alert_rule("r", "error_rate", 0.1)
    monitor.set_regression_baseline()
    assert type(monitor.track_operation).__name__ == "builtin_function_or_method"
    assert type(monitor.record).__name__ == "builtin_function_or_method"


def test_background_evaluator_fires_and_stops(monitor: PerformanceMonitor) -> None:
    fired = threading.Event()
    monitor.add_alert_rule("rss", "process_rss_mb", 1.0, callback=lambda e: fired.set())
    with pytest.raises(ValueError, match="0.001"):
        monitor.start_alert_evaluator(interval_s=0.001)
    evaluator = monitor.start_alert_evaluator(interval_s=0.05)
    try:
        assert evaluator.running
        assert fired.wait(10), "the evaluator thread never checked the rules"
    finally:
        evaluator.stop()
    assert not evaluator.running and evaluator.checks >= 1 and evaluator.errors == 0
    evaluator.stop()  # idempotent


def test_evaluator_survives_a_failing_check(caplog: pytest.LogCaptureFixture) -> None:
    failed = threading.Event()

    class Broken:
        calls = 0

        def check_alerts(self, now: float | None = None) -> Any:
            Broken.calls += 1
            if Broken.calls >= 3:
                failed.set()
            raise RuntimeError("boom")

    with AlertEvaluator(Broken(), interval_s=0.05) as evaluator:
        assert failed.wait(10)
    assert evaluator.errors >= 3 and evaluator.checks == 0 and not evaluator.running
    logged = [r for r in caplog.records if r.name == "ragperf" and "alert check failed" in r.getMessage()]
    assert len(logged) == 1 and "boom" in logged[0].getMessage()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded, use of fork:DeprecationWarning")
def test_forked_child_has_no_evaluator(monitor: PerformanceMonitor) -> None:
    evaluator = monitor.start_alert_evaluator(interval_s=60)
    try:
        pid = os.fork()
        if pid == 0:  # child: the thread is gone, stop() must not hang
            ok = not evaluator.running
            evaluator.stop()
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert evaluator.running
    finally:
        evaluator.stop()
