"""Live regression detection: latest-window p95 against a baseline captured
from the monitor (all-time or a window) or read from JSON exports, on a fake
clock (records carry chosen timestamps; checks pass ``now``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ragperf import PerformanceMonitor, QuantileSketch, RegressionFinding
from ragperf.export.persistence import StateError
from _clock_helpers import T0, record_at



def test_all_time_baseline_flags_a_threefold_slowdown(monitor: PerformanceMonitor) -> None:
    record_at(monitor, "llm", 0.1, T0 - 1800, times=50)
    record_at(monitor, "retrieval", 0.02, T0 - 1800, times=50)
    baseline = monitor.set_regression_baseline(now=T0 - 1799)
    assert baseline.source == "all-time" and baseline.factor == 1.5 and baseline.min_count == 20
    assert baseline.operations["llm"].count == 50
    record_at(monitor, "llm", 0.3, T0, times=50)
    record_at(monitor, "retrieval", 0.021, T0, times=50)  # 5% slower: fine

    findings = monitor.detect_regressions(now=T0 + 1)
    assert [f.operation for f in findings] == ["llm"]
    f = findings[0]
    assert isinstance(f, RegressionFinding)
    assert f.baseline_p95_s == pytest.approx(0.1, rel=0.01)
    assert f.current_p95_s == pytest.approx(0.3, rel=0.01)
    assert f.factor == pytest.approx(3.0, rel=0.02)
    assert (f.baseline_count, f.current_count, f.window_minutes, f.max_factor) == (50, 50, 5, 1.5)
    # Ten minutes later nothing is in the window: nothing to flag.
    assert monitor.detect_regressions(now=T0 + 600) == []


def test_factor_min_count_and_operation_arguments(monitor: PerformanceMonitor) -> None:
    record_at(monitor, "llm", 0.1, T0 - 1800, times=30)
    record_at(monitor, "rerank", 0.1, T0 - 1800, times=30)
    monitor.set_regression_baseline(now=T0 - 1799)
    record_at(monitor, "llm", 0.14, T0, times=30)
    record_at(monitor, "rerank", 0.5, T0, times=10)
    assert monitor.detect_regressions(now=T0 + 1) == []  # 1.4x; rerank has 10 < 20 records
    assert [f.operation for f in monitor.detect_regressions(now=T0 + 1, factor=1.3)] == ["llm"]
    found = monitor.detect_regressions(now=T0 + 1, factor=1.3, min_count=10)
    assert [(f.operation, round(f.factor, 1)) for f in found] == [("rerank", 5.0), ("llm", 1.4)]
    assert [f.operation for f in monitor.detect_regressions("rerank", now=T0 + 1, min_count=10)] == [
        "rerank"
    ]


def test_faster_is_not_a_regression(monitor: PerformanceMonitor) -> None:
    record_at(monitor, "llm", 1.0, T0 - 1800, times=30)
    monitor.set_regression_baseline(now=T0 - 1799)
    record_at(monitor, "llm", 0.1, T0, times=30)
    assert monitor.detect_regressions(now=T0 + 1) == []


def test_baseline_from_an_earlier_window(monitor: PerformanceMonitor) -> None:
    record_at(monitor, "llm", 5.0, T0 - 3000, times=30)  # old outliers, outside the window
    record_at(monitor, "llm", 0.1, T0, times=30)
    baseline = monitor.set_regression_baseline(baseline_window_minutes=5, window_minutes=2, now=T0 + 1)
    assert baseline.source == "last 5 min"
    assert baseline.operations["llm"].count == 30
    assert baseline.operations["llm"].p95_s == pytest.approx(0.1, rel=0.01)
    record_at(monitor, "llm", 0.5, T0 + 1200, times=30)
    [f] = monitor.detect_regressions(now=T0 + 1201)
    assert (f.factor, f.window_minutes, f.current_count) == (pytest.approx(5.0, rel=0.02), 2, 30)


def test_baseline_from_merged_exports(tmp_path: Path) -> None:
    paths = []
    for i, duration in enumerate((0.1, 0.3)):
        worker = PerformanceMonitor(enable_memory_tracking=False)
        for _ in range(40):
            worker.record("llm", duration)
        paths.append(worker.export_metrics_json(tmp_path / f"w{i}.json"))
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    baseline = monitor.set_regression_baseline(paths, factor=2.0)
    expected = QuantileSketch()
    expected.add_many([0.1] * 40 + [0.3] * 40)
    assert baseline.operations["llm"].count == 80
    assert baseline.operations["llm"].p95_s == expected.quantile(0.95)
    assert str(tmp_path / "w1.json") in baseline.source
    for _ in range(40):
        monitor.record("llm", 0.9)  # now, on the real clock
    [f] = monitor.detect_regressions()
    assert f.factor == pytest.approx(3.0, rel=0.02) and f.baseline_count == 80

    single = PerformanceMonitor(enable_memory_tracking=False)
    single.set_regression_baseline(paths[0])
    for _ in range(25):
        single.record("llm", 0.2)
    assert [round(f.factor, 1) for f in single.detect_regressions()] == [2.0]


def test_exact_to_the_sketch_error(monitor: PerformanceMonitor) -> None:
    rng = np.random.default_rng(7)
    old = rng.lognormal(-2.0, 0.5, 2000)
    new = rng.lognormal(-1.0, 0.5, 2000)
    for d in old:
        record_at(monitor, "llm", float(d), T0 - 1800)
    monitor.set_regression_baseline(now=T0 - 1799)
    for d in new:
        record_at(monitor, "llm", float(d), T0)
    [f] = monitor.detect_regressions(now=T0 + 1)
    exact_old, exact_new = np.quantile(old, 0.95), np.quantile(new, 0.95)
    assert f.baseline_p95_s == pytest.approx(exact_old, rel=0.01)
    assert f.current_p95_s == pytest.approx(exact_new, rel=0.01)
    assert f.factor == pytest.approx(exact_new / exact_old, rel=0.02)


def test_health_report_and_json(monitor: PerformanceMonitor) -> None:
    monitor.set_evaluation_clock(lambda: T0 + 1)
    record_at(monitor, "llm", 0.1, T0 - 1800, times=30)
    assert monitor.generate_report()["regressions"] == []
    monitor.set_regression_baseline()
    record_at(monitor, "llm", 0.4, T0, times=30)
    health = monitor.get_health_status()
    assert health["status"] == "warning"
    assert len(health["issues"]) == 1 and health["issues"][0].startswith("regression: llm p95 0.4")
    report = monitor.generate_report()
    assert [r["operation"] for r in report["regressions"]] == ["llm"]
    assert report["regressions"][0]["factor"] == pytest.approx(4.0, rel=0.02)
    assert report["regression_baseline"]["operations"]["llm"]["count"] == 30
    assert report["health"]["issues"] == health["issues"]
    json.dumps(report, allow_nan=False)
    monitor.clear_regression_baseline()
    assert monitor.get_health_status()["status"] == "healthy"
    assert monitor.generate_report()["regression_baseline"] is None


def test_zero_baseline_is_skipped(monitor: PerformanceMonitor) -> None:
    record_at(monitor, "cache", 0.0, T0 - 1800, times=30)
    monitor.set_regression_baseline(now=T0 - 1799)
    record_at(monitor, "cache", 0.5, T0, times=30)
    assert monitor.detect_regressions(now=T0 + 1) == []


def test_bad_input(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="set_regression_baseline"):
        monitor.detect_regressions()
    for factor in (1.0, 0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="factor"):
            monitor.set_regression_baseline(factor=factor)
    with pytest.raises(TypeError, match="'2'"):
        monitor.set_regression_baseline(factor="2")
    with pytest.raises(ValueError, match="61"):
        monitor.set_regression_baseline(window_minutes=61)
    with pytest.raises(ValueError, match="min_count"):
        monitor.set_regression_baseline(min_count=0)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(StateError, match="bad.json"):
        monitor.set_regression_baseline(bad)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        monitor.set_regression_baseline(tmp_path / "missing.json")
    corrupt = PerformanceMonitor(enable_memory_tracking=False)
    corrupt.record("llm", 0.1)
    report = corrupt.generate_report()
    report["state"]["operations"]["llm"]["sketch"] = "!!!"
    with pytest.raises(StateError, match="'llm'"):
        monitor.set_regression_baseline(report)
    with pytest.raises(ValueError, match="baseline_window_minutes"):
        monitor.set_regression_baseline(corrupt.generate_report(), baseline_window_minutes=5)
    assert monitor.get_regression_baseline() is None
    monitor.set_regression_baseline()
    with pytest.raises(ValueError, match="factor"):
        monitor.detect_regressions(factor=0.9)
