"""generate_report / export_metrics_json / print_report / format_report:
the seed's report schema, consistency with stats, atomic export."""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ragperf import OperationType, PerformanceMonitor, format_report

# The seed's documented JSON export, verbatim.
SEED_REPORT: dict[str, Any] = {
    "timestamp": "2026-01-21T12:22:30",
    "total_operations": 100,
    "memory": {"current_rss_mb": 28.59, "min_rss_mb": 27.50, "max_rss_mb": 30.15, "avg_rss_mb": 28.75},
    "operations": {
        "llm_inference": {
            "total": 25,
            "successful": 24,
            "failed": 1,
            "duration": {"min": 0.5, "max": 2.3, "avg": 1.2, "p50": 1.1, "p95": 2.0, "p99": 2.2},
            "tokens": {"total": 3750, "avg": 150.0},
        }
    },
}


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=True)
    yield m
    m.clear_metrics()


def populate(m: PerformanceMonitor) -> None:
    for i in range(25):
        with m.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
            op.tokens = 150
    with pytest.raises(TimeoutError):
        with m.track_operation(OperationType.LLM_INFERENCE):
            raise TimeoutError
    for i in range(10):
        m.record("document_retrieval", 0.01 * (i + 1), tokens=50)
    m.record("my_step", 0.2, success=False, error_type="CustomError")


def is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_seed_schema(report: dict[str, Any]) -> None:
    """Asserts every key and type of the seed's schema (extra keys allowed)."""
    assert isinstance(report["timestamp"], str)
    datetime.fromisoformat(report["timestamp"])
    assert type(report["total_operations"]) is int
    mem = report["memory"]
    for key in ("current_rss_mb", "min_rss_mb", "max_rss_mb", "avg_rss_mb"):
        assert type(mem[key]) is float, key
    assert isinstance(report["operations"], dict)
    for name, op in report["operations"].items():
        assert isinstance(name, str)
        for key in ("total", "successful", "failed"):
            assert type(op[key]) is int, (name, key)
        assert set(op["duration"]) >= {"min", "max", "avg", "p50", "p95", "p99"}
        for key in ("min", "max", "avg", "p50", "p95", "p99"):
            assert type(op["duration"][key]) is float, (name, key)
        assert type(op["tokens"]["total"]) is int
        assert type(op["tokens"]["avg"]) is float


# ------------------------------------------------------------------ schema


def test_empty_report_schema(monitor: PerformanceMonitor) -> None:
    report = monitor.generate_report()
    check_seed_schema(report)
    assert report["total_operations"] == 0
    assert report["operations"] == {}
    json.dumps(report, allow_nan=False)


def test_report_schema_exact_seed_keys(monitor: PerformanceMonitor) -> None:
    populate(monitor)
    report = monitor.generate_report()
    check_seed_schema(report)
    assert set(SEED_REPORT) <= set(report)
    assert set(SEED_REPORT["memory"]) <= set(report["memory"])
    seed_op = SEED_REPORT["operations"]["llm_inference"]
    for op in report["operations"].values():
        assert set(seed_op) <= set(op)
        assert set(seed_op["duration"]) <= set(op["duration"])
        assert set(seed_op["tokens"]) <= set(op["tokens"])
    assert set(report["operations"]) == {"llm_inference", "document_retrieval", "my_step"}
    json.dumps(report, allow_nan=False)


def test_report_timestamp_is_now(monitor: PerformanceMonitor) -> None:
    report = monitor.generate_report()
    ts = datetime.fromisoformat(report["timestamp"])
    # generous: only checks it is the current date/time in local time, not a fixed or UTC-shifted value
    assert abs(ts - datetime.now(ts.tzinfo)) < timedelta(minutes=10)
    if "timestamp_unix_s" in report:
        assert abs(ts.timestamp() - report["timestamp_unix_s"]) < 2.0


def test_report_values_match_stats(monitor: PerformanceMonitor) -> None:
    populate(monitor)
    report = monitor.generate_report()
    assert report["total_operations"] == monitor.get_operation_count() == 37
    for key, stats in monitor.get_all_stats().items():
        op = report["operations"][str(key)]
        assert op["total"] == stats.total_operations
        assert op["successful"] == stats.successful_operations
        assert op["failed"] == stats.failed_operations
        d = op["duration"]
        assert d["min"] == pytest.approx(stats.min_duration, rel=1e-12)
        assert d["max"] == pytest.approx(stats.max_duration, rel=1e-12)
        assert d["avg"] == pytest.approx(stats.avg_duration, rel=1e-12)
        assert d["p50"] == pytest.approx(stats.p50_duration, rel=1e-12)
        assert d["p95"] == pytest.approx(stats.p95_duration, rel=1e-12)
        assert d["p99"] == pytest.approx(stats.p99_duration, rel=1e-12)
        assert op["tokens"]["total"] == stats.total_tokens
        assert op["tokens"]["avg"] == pytest.approx(stats.avg_tokens, rel=1e-12)
        assert op["errors_by_type"] == dict(stats.errors_by_type)
    llm = report["operations"]["llm_inference"]
    assert (llm["total"], llm["successful"], llm["failed"]) == (26, 25, 1)
    assert llm["tokens"]["total"] == 3750
    assert llm["errors_by_type"] == {"TimeoutError": 1}
    assert report["operations"]["document_retrieval"]["duration"]["max"] == pytest.approx(0.1)
    assert report["operations"]["my_step"]["errors_by_type"] == {"CustomError": 1}


def test_report_memory_section(monitor: PerformanceMonitor) -> None:
    populate(monitor)
    mem = monitor.generate_report()["memory"]
    assert mem["current_rss_mb"] > 0
    assert 0 < mem["min_rss_mb"] <= mem["avg_rss_mb"] <= mem["max_rss_mb"]
    # the current reading is one of the samples the aggregates cover
    assert mem["min_rss_mb"] <= mem["current_rss_mb"] <= mem["max_rss_mb"]


def test_report_health_section_matches_health(monitor: PerformanceMonitor) -> None:
    populate(monitor)
    report = monitor.generate_report()
    if "health" in report:
        health = monitor.get_health_status()
        assert report["health"]["status"] == health["status"]
        assert report["health"]["issues"] == health["issues"]
        assert report["health"]["total_operations"] == health["total_operations"]


def test_report_is_a_fresh_dict(monitor: PerformanceMonitor) -> None:
    a = monitor.generate_report()
    a["operations"]["injected"] = {}
    assert "injected" not in monitor.generate_report()["operations"]


# ------------------------------------------------------------------ export


def key_structure(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: key_structure(v) for k, v in x.items()}
    if isinstance(x, list):
        return [key_structure(v) for v in x]
    return type(x).__name__


COUNT_KEYS = ("total", "successful", "failed")


def test_export_writes_the_report(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    populate(monitor)
    path = tmp_path / "metrics.json"
    returned = monitor.export_metrics_json(str(path))
    assert returned == str(path)
    exported = json.loads(path.read_text(encoding="utf-8"))
    report = monitor.generate_report()
    check_seed_schema(exported)
    assert key_structure(exported) == key_structure(report)
    assert exported["total_operations"] == report["total_operations"]
    assert exported["operations"].keys() == report["operations"].keys()
    for name, op in report["operations"].items():
        for key in COUNT_KEYS:
            assert exported["operations"][name][key] == op[key]
        assert exported["operations"][name]["duration"] == op["duration"]
        assert exported["operations"][name]["tokens"] == op["tokens"]
        assert exported["operations"][name]["errors_by_type"] == op["errors_by_type"]
    assert sorted(os.listdir(tmp_path)) == ["metrics.json"]


def test_export_accepts_pathlib(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    monitor.record("x", 0.1)
    path = tmp_path / "sub" / "m.json"
    path.parent.mkdir()
    assert monitor.export_metrics_json(path) == str(path)
    assert json.loads(path.read_text())["operations"]["x"]["total"] == 1
    assert os.listdir(path.parent) == ["m.json"]


def test_export_relative_path(monitor: PerformanceMonitor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monitor.record("x", 0.1)
    assert monitor.export_metrics_json("metrics.json") == "metrics.json"
    assert json.loads((tmp_path / "metrics.json").read_text())["total_operations"] == 1


def test_export_overwrites_and_leaves_no_temp_files(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text("old contents")
    for i in range(5):
        monitor.record("x", 0.1)
        monitor.export_metrics_json(path)
        assert json.loads(path.read_text())["total_operations"] == i + 1
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_export_file_is_readable_by_others(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    old = os.umask(0o022)
    try:
        monitor.export_metrics_json(path)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_export_to_missing_directory_raises_oserror(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "metrics.json"
    with pytest.raises(OSError) as info:
        monitor.export_metrics_json(target)
    assert isinstance(info.value, FileNotFoundError)
    assert str(target) in str(info.value)
    assert os.listdir(tmp_path) == []


def test_export_onto_a_directory_raises_and_cleans_up(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    target = tmp_path / "adir"
    target.mkdir()
    (target / "keep").write_text("k")
    with pytest.raises(OSError) as info:
        monitor.export_metrics_json(target)
    assert str(target) in str(info.value)
    assert sorted(os.listdir(tmp_path)) == ["adir"]
    assert os.listdir(target) == ["keep"]


def test_failed_export_keeps_previous_file(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    # A name that exists but leaves no room for the temporary-file suffix makes
    # the export fail even for root; the previous file must survive intact.
    target = tmp_path / ("m" * 250)
    target.write_text('{"previous": true}')
    monitor.record("x", 0.1)
    with pytest.raises(OSError):
        monitor.export_metrics_json(target)
    assert target.read_text() == '{"previous": true}'
    assert os.listdir(tmp_path) == [target.name]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_export_to_unwritable_directory(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("previous")
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            monitor.export_metrics_json(target)
        assert str(target) in str(info.value)
    finally:
        tmp_path.chmod(0o755)
    assert target.read_text() == "previous"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_concurrent_readers_never_see_a_partial_file(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    for i in range(200):
        monitor.record(f"op_{i % 40}", 0.001 * (i + 1), tokens=i)
    path = tmp_path / "metrics.json"
    monitor.export_metrics_json(path)
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            try:
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
                assert data["total_operations"] >= 200
                reads[0] += 1
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return

    t = threading.Thread(target=reader)
    t.start()
    try:
        for _ in range(50):
            monitor.export_metrics_json(path)
    finally:
        stop.set()
        t.join()
    assert errors == []
    assert reads[0] > 0
    assert os.listdir(tmp_path) == ["metrics.json"]


# ------------------------------------------------------------ print/format


def test_print_report_to_stdout(monitor: PerformanceMonitor, capsys: pytest.CaptureFixture[str]) -> None:
    populate(monitor)
    monitor.print_report()
    out = capsys.readouterr().out
    report = monitor.generate_report()
    for name, op in report["operations"].items():
        rows = [line for line in out.splitlines() if line.split() and line.split()[0] == name]
        assert rows, f"no row for {name}:\n{out}"
        fields = rows[0].split()
        assert str(op["total"]) in fields
        assert str(op["failed"]) in fields
    assert str(report["total_operations"]) in out


def test_print_report_to_file(monitor: PerformanceMonitor, capsys: pytest.CaptureFixture[str]) -> None:
    monitor.record("only_in_file", 0.1)
    buf = io.StringIO()
    monitor.print_report(file=buf)
    assert "only_in_file" in buf.getvalue()
    assert capsys.readouterr().out == ""


def test_print_report_empty(monitor: PerformanceMonitor, capsys: pytest.CaptureFixture[str]) -> None:
    monitor.print_report()
    out = capsys.readouterr().out
    assert out.strip()
    assert "0" in out


def test_format_report_of_current_report(monitor: PerformanceMonitor) -> None:
    populate(monitor)
    text = format_report(monitor.generate_report())
    assert isinstance(text, str)
    for name in ("llm_inference", "document_retrieval", "my_step"):
        assert name in text


def test_format_report_accepts_a_seed_schema_report() -> None:
    # e.g. a metrics.json written by the seed implementation
    text = format_report(SEED_REPORT)
    assert "llm_inference" in text
    assert "25" in text


SPECIAL_NAMES = [
    'quote"d',
    "back\\slash",
    "new\nline",
    "ctl\x01\x1f\x7f",
    "日本語",
    "emoji😀",
    "\u2028sep\u2029",
    "tab\t",
    "</script>",
    "\x00nul",
]


def test_special_characters_in_names_survive_json(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    for name in SPECIAL_NAMES:
        monitor.record(name, 0.1, success=False, error_type=f'Err"{name}')
    report = monitor.generate_report()
    assert sorted(report["operations"]) == sorted(SPECIAL_NAMES)
    for name in SPECIAL_NAMES:
        assert report["operations"][name]["errors_by_type"] == {f'Err"{name}': 1}
    path = tmp_path / "metrics.json"
    monitor.export_metrics_json(path)
    exported = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(exported["operations"]) == sorted(SPECIAL_NAMES)
    assert set(monitor.get_all_stats()) == set(SPECIAL_NAMES)
    text = format_report(report)
    assert "日本語" in text
