"""Periodic export and CSV exports (ragperf.exporting)."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import pytest

from ragperf import PerformanceMonitor
from ragperf.export.exporting import (
    OPERATION_COLUMNS,
    STATS_COLUMNS,
    PeriodicExporter,
    export_metrics_csv,
    export_operations_csv,
    operation_rows,
    start_periodic_export,
    stats_rows,
)



def _record(monitor: PerformanceMonitor, op: str = "llm_inference", n: int = 1, **extra: Any) -> None:
    for _ in range(n):
        monitor.record(op, 0.01, **extra)


def _wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _total_ops(path: Path) -> int:
    return int(json.loads(path.read_text())["total_operations"])


# ------------------------------------------------------------ periodic


def test_periodic_export_writes_within_interval(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    _record(monitor, n=3)
    target = tmp_path / "metrics.json"
    exporter = start_periodic_export(monitor, target, interval_s=0.05)
    try:
        assert exporter.running
        assert _wait_for(target.exists)
        assert _total_ops(target) == 3
        assert _wait_for(lambda: exporter.exports >= 2)
    finally:
        exporter.stop()
    assert not exporter.running
    assert exporter.errors == 0
    assert exporter.path == str(target)
    assert exporter.interval_s == 0.05
    assert exporter.fmt == "json"


def test_stop_flushes_final_counts_and_is_idempotent(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    exporter = start_periodic_export(monitor, target, interval_s=3600)
    _record(monitor, n=5)
    assert not target.exists()
    exporter.stop()
    assert _total_ops(target) == 5
    assert exporter.exports == 1
    _record(monitor, n=2)
    exporter.stop()
    exporter.stop(flush=True)
    assert exporter.exports == 1
    assert _total_ops(target) == 5  # no write after the first stop


def test_stop_without_flush(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    exporter = start_periodic_export(monitor, target, interval_s=3600)
    exporter.stop(flush=False)
    assert not target.exists()
    assert exporter.exports == 0


def test_context_manager_and_restart(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    with PeriodicExporter(monitor, target, interval_s=3600) as exporter:
        assert exporter.running
        assert exporter.start() is exporter  # already running: no second thread
        _record(monitor)
    assert not exporter.running
    assert _total_ops(target) == 1
    exporter.start()
    _record(monitor)
    exporter.stop()
    assert _total_ops(target) == 2
    assert "stopped" in repr(exporter)


def test_periodic_csv(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    _record(monitor, "retrieval", n=2)
    target = tmp_path / "stats.csv"
    exporter = start_periodic_export(monitor, target, interval_s=0.05, fmt="csv")
    try:
        assert _wait_for(target.exists)
    finally:
        exporter.stop()
    rows = _read_csv(target)
    assert [r["operation"] for r in rows] == ["retrieval"]
    assert rows[0]["total_operations"] == "2"


@pytest.mark.parametrize(
    "kwargs, exc, text",
    [
        ({"interval_s": 0.01}, ValueError, "0.01"),
        ({"interval_s": 86401}, ValueError, "86401"),
        ({"interval_s": float("nan")}, ValueError, "nan"),
        ({"interval_s": -1}, ValueError, "-1"),
        ({"interval_s": "5"}, TypeError, "'5'"),
        ({"interval_s": True}, TypeError, "True"),
        ({"fmt": "xml"}, ValueError, "'xml'"),
        ({"fmt": None}, TypeError, "None"),
    ],
)
def test_bad_arguments(
    monitor: PerformanceMonitor, tmp_path: Path, kwargs: dict[str, Any], exc: type[Exception], text: str
) -> None:
    with pytest.raises(exc, match=text.replace("(", r"\(")):
        PeriodicExporter(monitor, tmp_path / "m.json", **kwargs)


def test_bad_path_and_monitor(monitor: PerformanceMonitor) -> None:
    with pytest.raises(TypeError, match="42"):
        start_periodic_export(monitor, 42)
    with pytest.raises(ValueError, match="path"):
        start_periodic_export(monitor, "")
    with pytest.raises(TypeError, match="monitor"):
        start_periodic_export(object(), "m.json")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="42"):
        export_metrics_csv(monitor, 42)
    with pytest.raises(ValueError, match="limit"):
        export_operations_csv(monitor, "x.csv", limit=0)


def test_write_error_is_logged_counted_and_thread_survives(
    monitor: PerformanceMonitor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "missing-dir" / "metrics.json"
    caplog.set_level(logging.WARNING, logger="ragperf")
    exporter = start_periodic_export(monitor, target, interval_s=0.05)
    try:
        assert _wait_for(lambda: exporter.errors >= 2)
        assert exporter.running
        assert exporter._thread is not None and exporter._thread.is_alive()
        assert isinstance(exporter.last_error, OSError)
        assert exporter.exports == 0
    finally:
        exporter.stop()
    assert not exporter.running
    assert any(str(target) in r.getMessage() for r in caplog.records if r.name == "ragperf")
    # Once the directory exists the next write succeeds.
    target.parent.mkdir()
    exporter.start()
    exporter.stop()
    assert target.exists()
    assert exporter.exports == 1


def test_atexit_flush(tmp_path: Path) -> None:
    target = tmp_path / "exit.json"
    code = textwrap.dedent(
        f"""
        from ragperf import PerformanceMonitor
        from ragperf.exporting import start_periodic_export
        m = PerformanceMonitor(enable_memory_tracking=False)
        start_periodic_export(m, {str(target)!r}, interval_s=3600)  # handle dropped, never stopped
        for _ in range(7):
            m.record("reranking", 0.02)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(target.read_text())
    assert report["total_operations"] == 7
    assert "reranking" in report["operations"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_exporter_not_running(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    target = tmp_path / "parent.json"
    exporter = start_periodic_export(monitor, target, interval_s=3600)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
            pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                if not exporter.running:
                    exporter.stop()  # no-op: must not write the parent's file
                    code = 0 if not target.exists() else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert exporter.running
        assert not target.exists()
    finally:
        exporter.stop()
    assert target.exists()


# ----------------------------------------------------------------- CSV


def _float(cell: str) -> float | None:
    return None if cell == "" else float(cell)


def test_metrics_csv_header_and_values(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    for i in range(10):
        monitor.record("llm_inference", 0.1 + i * 0.01, tokens=50, success=i != 0)
    monitor.record("retrieval", 0.02)
    path = export_metrics_csv(monitor, tmp_path / "stats.csv")
    assert path == str(tmp_path / "stats.csv")
    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert tuple(header) == STATS_COLUMNS
    rows = {r["operation"]: r for r in _read_csv(Path(path))}
    assert set(rows) == {"llm_inference", "retrieval"}
    s = monitor.get_operation_stats("llm_inference")
    row = rows["llm_inference"]
    assert int(row["total_operations"]) == s.total_operations == 10
    assert int(row["failed_operations"]) == s.failed_operations == 1
    assert int(row["successful_operations"]) == 9
    assert float(row["error_rate"]) == pytest.approx(s.error_rate)
    for q in ("min", "avg", "p50", "p90", "p95", "p99", "max"):
        assert float(row[f"{q}_duration_ms"]) == pytest.approx(getattr(s, f"{q}_duration") * 1e3)
    assert int(row["total_tokens"]) == s.total_tokens == 500
    assert float(row["tokens_per_second"]) == pytest.approx(s.tokens_per_second)
    assert float(row["requests_per_second"]) == pytest.approx(s.requests_per_second)
    assert int(row["latency_good"]) == s.latency_good
    # Unknown values are empty cells, not "None".
    assert row["cost_usd"] == ""
    assert row["time_to_first_token_p50_ms"] == ""
    assert row["time_to_first_token_p95_ms"] == ""
    assert "None" not in Path(path).read_text()
    # stats_rows holds the same numbers unformatted.
    by_op = {r["operation"]: r for r in stats_rows(monitor)}
    assert by_op["llm_inference"]["cost_usd"] is None
    assert by_op["llm_inference"]["p95_duration_ms"] == pytest.approx(s.p95_duration * 1e3)


def test_metrics_csv_cost_and_ttft(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    monitor.set_model_prices({"m1": {"input": 1.0, "output": 2.0}})
    with monitor.track_operation("llm_inference", {"model": "m1"}) as op:
        op.prompt_tokens = 1000
        op.completion_tokens = 500
        op.mark_first_token()
    s = monitor.get_operation_stats("llm_inference")
    row = _read_csv(Path(export_metrics_csv(monitor, tmp_path / "s.csv")))[0]
    assert s.cost_usd is not None
    assert float(row["cost_usd"]) == pytest.approx(s.cost_usd)
    assert s.time_to_first_token_p50_s is not None
    assert float(row["time_to_first_token_p50_ms"]) == pytest.approx(s.time_to_first_token_p50_s * 1e3)
    assert int(row["streams"]) == 1
    assert int(row["prompt_tokens"]) == 1000


def test_empty_monitor_csv_has_header_only(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    export_metrics_csv(monitor, tmp_path / "s.csv")
    export_operations_csv(monitor, tmp_path / "o.csv")
    assert (tmp_path / "s.csv").read_text().splitlines() == [",".join(STATS_COLUMNS)]
    assert (tmp_path / "o.csv").read_text().splitlines() == [",".join(OPERATION_COLUMNS)]


def test_operations_csv(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    with monitor.track_operation("retrieval", {"k": 5}):
        with monitor.track_operation("llm_inference", {"model": "qwen"}) as op:
            op.tokens = 42
    with pytest.raises(KeyError):
        with monitor.track_operation("llm_inference"):
            raise KeyError("boom")
    path = export_operations_csv(monitor, tmp_path / "ops.csv")
    with open(path, newline="", encoding="utf-8") as f:
        assert tuple(next(csv.reader(f))) == OPERATION_COLUMNS
    rows = _read_csv(Path(path))
    recent = monitor.get_recent_operations(limit=1000)
    assert len(rows) == len(recent) == 3
    for row, rec in zip(rows, recent):
        assert row["operation"] == rec["operation"]
        assert float(row["timestamp_s"]) == pytest.approx(rec["timestamp_s"])
        ts = datetime.fromisoformat(row["timestamp"])
        assert ts.utcoffset() is not None and ts.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
        assert ts.timestamp() == pytest.approx(rec["timestamp_s"], abs=1e-5)
        assert float(row["duration_ms"]) == pytest.approx(rec["duration_s"] * 1e3)
        assert json.loads(row["metadata"]) == rec["metadata"]
    inner = next(r for r in rows if r["model"] == "qwen")
    outer = next(r for r in rows if r["operation"] == "retrieval")
    failed = next(r for r in rows if r["success"] == "False")
    assert inner["tokens"] == "42"
    assert inner["parent_id"] == outer["span_id"] != ""
    assert inner["trace_id"] == outer["trace_id"]
    assert outer["parent_id"] == ""  # None -> empty cell
    assert int(inner["depth"]) == 1
    assert failed["error_type"] == "KeyError"
    assert "boom" in failed["error_message"]
    assert inner["error_type"] == "" and inner["cost_usd"] == ""
    assert inner["success"] == "True"
    # operation / limit select like get_recent_operations.
    only = operation_rows(monitor, "llm_inference", limit=1)
    assert len(only) == 1 and only[0]["success"] is False


def test_unicode_and_special_characters_round_trip(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    name = "réranking_日本語_🚀"
    meta = {"query": 'a, "quoted"\nsecond line\r\nthird', "emoji": "🙂", "n": 3}
    with monitor.track_operation(name, meta) as op:
        op.model = 'model,"x"'
    stats_path = tmp_path / "stats.csv"
    ops_path = tmp_path / "ops.csv"
    export_metrics_csv(monitor, stats_path)
    export_operations_csv(monitor, ops_path)
    assert [r["operation"] for r in _read_csv(stats_path)] == [name]
    (row,) = _read_csv(ops_path)
    assert row["operation"] == name
    assert row["model"] == 'model,"x"'
    assert json.loads(row["metadata"]) == monitor.get_recent_operations(name)[0]["metadata"]
    assert json.loads(row["metadata"])["query"] == meta["query"]
    assert "🙂" in ops_path.read_text(encoding="utf-8")  # UTF-8, not \u escapes


def test_csv_atomic_no_temp_files(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    _record(monitor, n=3)
    target = tmp_path / "stats.csv"
    target.write_text("old\n")
    for _ in range(5):
        export_metrics_csv(monitor, target)
        export_operations_csv(monitor, tmp_path / "ops.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ops.csv", "stats.csv"]
    assert _read_csv(target)[0]["total_operations"] == "3"
    with pytest.raises(OSError):
        export_metrics_csv(monitor, tmp_path / "nope" / "stats.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ops.csv", "stats.csv"]


def test_non_finite_floats_are_empty_cells(tmp_path: Path) -> None:
    from ragperf.export.exporting import _csv_text

    text = _csv_text(("a", "b", "c"), [{"a": math.inf, "b": None, "c": 1.5}])
    assert text.splitlines() == ["a,b,c", ",,1.5"]
