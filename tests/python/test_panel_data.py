"""The panel's data (ragperf._panel_data): every number the Streamlit panel
shows, computed from a report, checked against the monitor's own figures."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime
from pathlib import Path

import pytest
from _panel_helpers import OPERATIONS, known_monitor

from ragperf import PerformanceMonitor
from ragperf.panel import _panel_data as data
from ragperf.export.exporting import export_metrics_csv, stats_rows


@pytest.fixture(scope="module")
def monitor() -> PerformanceMonitor:
    return known_monitor()


def test_headline_equals_the_monitor(monitor: PerformanceMonitor) -> None:
    report = monitor.generate_report()
    h = data.headline(report)
    health = monitor.get_health_status()
    assert h.status == health["status"] == "warning"
    assert h.issues == health["issues"] and "reranking" in h.issues[0]
    assert h.total_operations == monitor.get_operation_count() == 11
    assert h.total_failed == 2
    assert h.error_rate == pytest.approx(2 / 11)
    assert h.memory_mb == report["memory"]["current_rss_mb"]
    stats = monitor.get_all_stats()
    # Tokens: 3 recorded llm calls (150+250+350) and the tracked one (1500).
    tokens = sum(s.total_tokens for s in stats.values())
    seconds = sum(s.total_tokens and s.avg_duration * s.total_operations for s in stats.values())
    assert tokens == 2250
    assert h.tokens_per_second == pytest.approx(tokens / seconds)
    # qwen at $1 / $2 per 1M tokens: 1000 prompt + 500 completion.
    assert h.cost_usd == pytest.approx(1000 * 1e-6 + 500 * 2e-6)
    assert h.timestamp == report["timestamp"]


def test_headline_of_an_empty_report() -> None:
    h = data.headline(PerformanceMonitor().generate_report())
    assert (h.status, h.total_operations, h.error_rate, h.tokens_per_second, h.cost_usd) == (
        "healthy",
        0,
        0.0,
        None,
        None,
    )


def test_operation_rows_equal_the_stats(monitor: PerformanceMonitor) -> None:
    rows = data.operation_rows(monitor.generate_report())
    assert [r["operation"] for r in rows] == OPERATIONS
    assert all(list(r) == list(data.OPERATION_TABLE_COLUMNS) for r in rows)
    stats = {str(k): v for k, v in monitor.get_all_stats().items()}
    for row in rows:
        s = stats[row["operation"]]
        assert row["count"] == s.total_operations
        assert row["p50 ms"] == pytest.approx(s.p50_duration * 1e3)
        assert row["p95 ms"] == pytest.approx(s.p95_duration * 1e3)
        assert row["p99 ms"] == pytest.approx(s.p99_duration * 1e3)
        assert row["tokens/s"] == pytest.approx(s.tokens_per_second)
        assert row["errors"] == s.failed_operations
        assert row["error %"] == pytest.approx(s.error_rate * 100)
    retrieval = rows[0]
    # Nearest rank over 0.1, 0.2, 0.3, 0.4 s: p50 = 0.2 s, p95 = p99 = 0.4 s (sketch: 0.5%).
    assert retrieval["p50 ms"] == pytest.approx(200, rel=0.005)
    assert retrieval["p99 ms"] == pytest.approx(400, rel=0.005)
    assert rows[3]["errors"] == 2 and rows[3]["error %"] == 100.0


def test_percentile_rows_are_the_table_in_long_form(monitor: PerformanceMonitor) -> None:
    report = monitor.generate_report()
    long = data.percentile_rows(report)
    assert len(long) == 3 * len(OPERATIONS)
    table = {r["operation"]: r for r in data.operation_rows(report)}
    for point in long:
        assert point["ms"] == table[point["operation"]][f"{point['percentile']} ms"]


def test_report_stats_rows_equal_stats_rows_and_the_csv_file(
    monitor: PerformanceMonitor, tmp_path: Path
) -> None:
    report = monitor.generate_report()
    assert data.report_stats_rows(report) == stats_rows(monitor)
    path = export_metrics_csv(monitor, tmp_path / "stats.csv")
    with open(path, newline="", encoding="utf-8") as f:
        assert data.stats_csv_text(report) == f.read()


def test_report_stats_rows_for_a_stream(tmp_path: Path) -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    assert list(m.track_stream(iter(["a", "b", "c"]), "llm_inference")) == ["a", "b", "c"]
    rows = data.report_stats_rows(m.generate_report())
    assert rows == stats_rows(m)
    assert rows[0]["streams"] == 1 and rows[0]["time_to_first_token_p50_ms"] is not None


def test_csv_text_from_a_saved_file_parses(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    path = monitor.export_metrics_json(tmp_path / "m.json")
    saved = json.loads(Path(path).read_text())
    parsed = list(csv.DictReader(io.StringIO(data.stats_csv_text(saved))))
    assert [r["operation"] for r in parsed] == OPERATIONS
    assert [int(r["failed_operations"]) for r in parsed] == [0, 0, 0, 2]


def test_report_json_text_round_trips(monitor: PerformanceMonitor) -> None:
    report = monitor.generate_report()
    assert json.loads(data.report_json_text(report)) == json.loads(json.dumps(report))


def test_recent_operations_and_errors_from_the_monitor(monitor: PerformanceMonitor) -> None:
    records = monitor.get_recent_operations(None, 100)
    rows = data.recent_operation_rows(records)
    assert len(rows) == 11
    assert [r["time"] for r in rows] == sorted((r["time"] for r in rows), reverse=True)
    assert sorted(r["duration ms"] for r in rows) == pytest.approx(sorted(r["duration_ms"] for r in records))
    assert [r["model"] for r in rows if r["model"]] == ["qwen"]

    errors = data.error_rows(monitor.get_recent_errors())
    assert [(e["operation"], e["error"]) for e in errors] == [
        ("reranking", "ConnectionError"),
        ("reranking", "TimeoutError"),
    ]
    assert errors[1]["message"] == "reranker timed out"
    assert errors[0]["duration ms"] == pytest.approx(2000.0)


def test_a_saved_report_keeps_traces_and_errors(monitor: PerformanceMonitor) -> None:
    saved = json.loads(json.dumps(monitor.generate_report()))
    source = data.PanelSource.from_report(saved)
    assert not source.live
    # Tracked blocks only: query_processing > llm_inference, and the failed reranking.
    assert sorted(r["operation"] for r in source.recent_operations) == [
        "llm_inference",
        "query_processing",
        "reranking",
    ]
    assert [e["error_type"] for e in source.recent_errors] == [
        e["error_type"] for e in monitor.get_recent_errors()
    ]
    assert [s["label"] for s in source.memory_snapshots] == ["after_setup"]
    assert data.error_rows(source.recent_errors) == data.error_rows(monitor.get_recent_errors())


def test_live_source_reads_everything(monitor: PerformanceMonitor) -> None:
    source = data.PanelSource.from_monitor(monitor)
    assert source.live and source.monitor is monitor
    assert len(source.recent_operations) == 11 and len(source.recent_errors) == 2
    assert source.report["total_operations"] == 11


def test_bad_sources_name_the_problem() -> None:
    with pytest.raises(TypeError, match="PerformanceMonitor or a report dict.*42"):
        data.PanelSource.from_monitor(42)
    with pytest.raises(ValueError, match="operation 'x': expected an object, got list"):
        data.PanelSource.from_report({"operations": {"x": []}, "total_operations": 0})
    with pytest.raises(ValueError, match="must be an object, got NoneType"):
        data.PanelSource.from_report({"total_operations": 0})


def test_latency_points_skip_records_without_time() -> None:
    points = data.latency_points(
        [
            {"operation": "b", "timestamp_s": 20.0, "duration_s": 0.5},
            {"operation": "a", "timestamp_s": 10.0, "duration_s": 0.25},
            {"operation": "c", "timestamp_s": None, "duration_s": 1.0},
            {"operation": "d", "timestamp_s": math.nan, "duration_s": 1.0},
        ]
    )
    assert [(p["operation"], p["ms"]) for p in points] == [("a", 250.0), ("b", 500.0)]
    assert points[0]["time"] == datetime.fromtimestamp(10.0)


def test_history_is_bounded_and_skips_repeats(monitor: PerformanceMonitor) -> None:
    report = monitor.generate_report()
    history: list[dict[str, object]] = []
    for i in range(5):
        history = data.add_history_point(history, {**report, "timestamp_unix_s": float(i)}, 3)
        history = data.add_history_point(history, {**report, "timestamp_unix_s": float(i)}, 3)
    assert [p["timestamp_s"] for p in history] == [2.0, 3.0, 4.0]
    p95 = data.latency_history_rows(history)
    assert len(p95) == 3 * len(OPERATIONS)
    llm = monitor.get_operation_stats("llm_inference").p95_duration * 1e3
    assert [r["p95 ms"] for r in p95 if r["operation"] == "llm_inference"] == pytest.approx([llm] * 3)
    with pytest.raises(ValueError, match="max_points must be at least 1, got 0"):
        data.add_history_point([], report, 0)


def test_memory_rows_merge_three_sources() -> None:
    rows = data.memory_rows(
        history=[{"timestamp_s": 3.0, "rss_mb": 30.0}],
        snapshots=[{"timestamp_s": 1.0, "rss_mb": 10.0, "label": "start"}],
        resources=[{"timestamp_s": 2.0, "rss_mb": 20.0}, {"timestamp_s": 4.0, "rss_mb": None}],
    )
    assert [(r["source"], r["rss MB"]) for r in rows] == [
        ("snapshot", 10.0),
        ("sampler", 20.0),
        ("panel", 30.0),
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (data.format_mb(1234.56), "1,234.6 MB"),
        (data.format_mb(None), "n/a"),
        (data.format_percent(2 / 11), "18.18%"),
        (data.format_rate(None), "n/a"),
        (data.format_rate(749.99), "750.0"),
        (data.format_cost(0.002), "$0.0020"),
        (data.format_cost(None), "n/a"),
    ],
)
def test_formats(value: str, text: str) -> None:
    assert value == text


def test_bottleneck_rows_are_the_reports_insights(monitor: PerformanceMonitor) -> None:
    report = monitor.generate_report()
    rows = data.bottleneck_rows(report)
    want = report["insights"]["bottlenecks"]
    assert len(rows) == len(want) == 2  # query_processing: llm_inference and its own time
    by_stage = {r["stage"]: r for r in rows}
    for b in want:
        stage = f"{b['operation']} (self)" if b["is_root"] else b["operation"]
        assert by_stage[stage]["root"] == b["root"] == "query_processing"
        assert by_stage[stage]["share %"] == pytest.approx(100 * b["share"])
        assert by_stage[stage]["ms per root"] == pytest.approx(1e3 * b["avg_self_time_s"])
    assert sum(r["share %"] for r in rows) == pytest.approx(100.0)
    assert data.bottleneck_rows({"operations": {}}) == []
