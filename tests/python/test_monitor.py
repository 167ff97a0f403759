"""PerformanceMonitor as a whole: construction, settings, every method, the
process-wide default and the package's public names."""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import ragperf
from ragperf import (
    MemoryMonitor,
    OperationTracker,
    OperationType,
    PerformanceMonitor,
    PerformanceStats,
    QuantileSketch,
    ResponseTimeTracker,
    TokenCounter,
    format_report,
    get_performance_monitor,
    get_system_memory,
)

PUBLIC_NAMES = {
    "AlertEvent",
    "AlertRule",
    "MemoryMonitor",
    "OperationName",
    "OperationTracker",
    "OperationType",
    "PerformanceMonitor",
    "PerformanceStats",
    "QuantileSketch",
    "QueueMonitor",
    "QueueRegistry",
    "QueueTicket",
    "RegressionFinding",
    "ResponseTimeTracker",
    "SamplerHandle",
    "TokenCounter",
    "Usage",
    "__version__",
    "extract_usage",
    "format_report",
    "get_gpu_status",
    "get_performance_monitor",
    "get_system_memory",
    "merge_snapshots",
}

MONITOR_METHODS = [
    "track_operation",
    "timed",
    "record",
    "get_operation_stats",
    "get_all_stats",
    "get_operation_count",
    "get_memory_stats",
    "generate_report",
    "print_report",
    "export_metrics_json",
    "get_health_status",
    "clear_metrics",
    # RAG tracing and export (docs/tracing.md, docs/export.md)
    "get_recent_traces",
    "get_recent_operations",
    "get_recent_errors",
    "get_in_flight_operations",
    "track_stream",
    "set_model_prices",
    "get_model_prices",
    "get_model_stats",
    "record_cache",
    "get_cache_stats",
    "track_initialization",
    "get_initializations",
    "set_latency_target",
    "get_latency_target",
    "queue",
    "snapshot_memory",
    "get_memory_snapshots",
    "enable_logging",
    "disable_logging",
    "start_periodic_export",
    "export_metrics_csv",
    "export_operations_csv",
    "merge_from",
    "load",
    # alerts, regressions, overhead (docs/alerts.md)
    "add_alert_rule",
    "remove_alert_rule",
    "get_alert_rules",
    "get_active_alerts",
    "check_alerts",
    "start_alert_evaluator",
    "set_evaluation_clock",
    "set_regression_baseline",
    "get_regression_baseline",
    "clear_regression_baseline",
    "detect_regressions",
    "get_monitoring_overhead",
]


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    yield m
    m.clear_metrics()


# ---------------------------------------------------------------- package


def test_all_names_are_exported() -> None:
    assert set(ragperf.__all__) == PUBLIC_NAMES
    for name in ragperf.__all__:
        assert hasattr(ragperf, name), name


def test_public_objects_are_documented() -> None:
    for name in ragperf.__all__:
        obj = getattr(ragperf, name)
        if name == "__version__":
            continue
        assert inspect.getdoc(obj), f"{name} has no docstring"
    for name in MONITOR_METHODS:
        assert inspect.getdoc(getattr(PerformanceMonitor, name)), name


def test_version() -> None:
    assert isinstance(ragperf.__version__, str)
    assert ragperf.__version__
    assert ragperf.__version__[0].isdigit()


def test_operation_type_members() -> None:
    assert {m.value for m in OperationType} == {
        "document_retrieval",
        "embedding_generation",
        "reranking",
        "llm_inference",
        "query_processing",
        "pdf_loading",
        "semantic_chunking",
    }
    assert OperationType.LLM_INFERENCE == "llm_inference"
    assert str(OperationType.LLM_INFERENCE) == "llm_inference"
    assert hash(OperationType.RERANKING) == hash("reranking")
    assert {OperationType.RERANKING: 1}["reranking"] == 1
    assert OperationType("pdf_loading") is OperationType.PDF_LOADING
    assert f"{OperationType.PDF_LOADING}" == "pdf_loading"


# ------------------------------------------------------------ construction


def test_defaults() -> None:
    m = PerformanceMonitor()
    assert m.enable_memory_tracking is True
    assert m.max_history == 1000
    assert m.memory_threshold_mb == 1000.0
    assert m.error_rate_threshold == pytest.approx(0.10)
    assert m.get_operation_count() == 0


def test_seed_constructor_arguments() -> None:
    m = PerformanceMonitor(enable_memory_tracking=True, max_history=1000)
    assert m.enable_memory_tracking is True
    m2 = PerformanceMonitor(False, 50)
    assert m2.enable_memory_tracking is False
    assert m2.max_history == 50


def test_all_keyword_options() -> None:
    m = PerformanceMonitor(
        enable_memory_tracking=False,
        max_history=10,
        memory_threshold_mb=2048,
        error_rate_threshold=0.25,
        relative_accuracy=0.01,
    )
    assert m.max_history == 10
    assert m.memory_threshold_mb == 2048.0
    assert m.error_rate_threshold == 0.25


def test_monitors_are_independent() -> None:
    a = PerformanceMonitor(enable_memory_tracking=False)
    b = PerformanceMonitor(enable_memory_tracking=False)
    with a.track_operation("shared_name"):
        pass
    assert a.get_operation_count("shared_name") == 1
    assert b.get_operation_count("shared_name") == 0
    assert b.get_all_stats() == {}


def test_enable_memory_tracking_toggle(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x") as off:
        pass
    assert off.memory_delta_mb is None
    monitor.enable_memory_tracking = True
    assert monitor.enable_memory_tracking is True
    with monitor.track_operation("x") as on:
        pass
    assert isinstance(on.memory_delta_mb, float)
    monitor.enable_memory_tracking = False
    with monitor.track_operation("x") as off2:
        pass
    assert off2.memory_delta_mb is None


def test_repr(monitor: PerformanceMonitor) -> None:
    monitor.record("x", 0.1)
    text = repr(monitor)
    assert "PerformanceMonitor" in text
    assert "1" in text


def test_every_method_exists_and_is_callable(monitor: PerformanceMonitor) -> None:
    for name in MONITOR_METHODS:
        assert callable(getattr(monitor, name)), name


# ------------------------------------------------------------ method tour


def test_full_method_tour(monitor: PerformanceMonitor, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
        op.tokens = 150

    @monitor.timed("reranking")
    def rerank(xs: list[int]) -> list[int]:
        return sorted(xs)

    assert rerank([3, 1, 2]) == [1, 2, 3]
    monitor.record("reranking", duration_s=0.012, tokens=0, success=True)

    stats = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    assert isinstance(stats, PerformanceStats)
    assert stats.total_tokens == 150
    assert monitor.get_operation_stats("reranking", window_minutes=5).total_operations == 2
    all_stats = monitor.get_all_stats()
    assert set(all_stats) == {OperationType.LLM_INFERENCE, OperationType.RERANKING}
    assert monitor.get_operation_count() == 3
    assert monitor.get_operation_count(OperationType.RERANKING) == 2

    mem = monitor.get_memory_stats()
    assert {"current_rss_mb", "min_rss_mb", "max_rss_mb", "avg_rss_mb"} <= set(mem)
    assert mem["current_rss_mb"] > 0

    report = monitor.generate_report()
    assert report["total_operations"] == 3
    monitor.print_report()
    assert "llm_inference" in capsys.readouterr().out
    path = tmp_path / "metrics.json"
    monitor.export_metrics_json(path)
    assert json.loads(path.read_text())["total_operations"] == 3

    health = monitor.get_health_status()
    assert health["total_operations"] == 3

    monitor.clear_metrics()
    assert monitor.get_operation_count() == 0


def test_memory_stats_keys_and_order(monitor: PerformanceMonitor) -> None:
    mem = monitor.get_memory_stats()
    for key in ("current_rss_mb", "min_rss_mb", "max_rss_mb", "avg_rss_mb", "current_vms_mb"):
        assert isinstance(mem[key], float), key
    assert mem["current_rss_mb"] > 0
    assert mem["current_vms_mb"] >= mem["current_rss_mb"]
    assert mem["min_rss_mb"] <= mem["avg_rss_mb"] <= mem["max_rss_mb"]
    assert mem["samples"] >= 1


def test_memory_stats_cover_tracked_blocks() -> None:
    m = PerformanceMonitor(enable_memory_tracking=True)
    for _ in range(20):
        with m.track_operation("x"):
            pass
    mem = m.get_memory_stats()
    assert mem["samples"] >= 20
    assert 0 < mem["min_rss_mb"] <= mem["avg_rss_mb"] <= mem["max_rss_mb"]


# ------------------------------------------------------------ clear_metrics


def test_clear_metrics_resets_everything(monitor: PerformanceMonitor) -> None:
    for i in range(5):
        with monitor.track_operation(OperationType.LLM_INFERENCE) as op:
            op.tokens = 10
    monitor.record("custom", 0.5, success=False)
    monitor.clear_metrics()
    assert monitor.get_operation_count() == 0
    assert monitor.get_operation_count(OperationType.LLM_INFERENCE) == 0
    assert monitor.get_all_stats() == {}
    s = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    assert s.total_operations == 0 and s.total_tokens == 0 and s.max_duration == 0.0
    assert monitor.get_operation_stats("custom", window_minutes=5).total_operations == 0
    report = monitor.generate_report()
    assert report["total_operations"] == 0
    assert report["operations"] == {}
    assert monitor.get_health_status()["total_operations"] == 0
    assert monitor.get_memory_stats()["samples"] <= 2


def test_recording_works_after_clear(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x"):
        pass
    monitor.clear_metrics()
    with monitor.track_operation("x") as op:
        op.tokens = 3
    monitor.record("x", 0.1)
    s = monitor.get_operation_stats("x")
    assert s.total_operations == 2
    assert s.total_tokens == 3


def test_block_spanning_a_clear_is_recorded_once(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("spanning"):
        monitor.clear_metrics()
    assert monitor.get_operation_count("spanning") == 1


def test_clear_is_idempotent(monitor: PerformanceMonitor) -> None:
    monitor.clear_metrics()
    monitor.clear_metrics()
    assert monitor.get_operation_count() == 0


# --------------------------------------------------- get_performance_monitor


def test_default_monitor_is_a_singleton() -> None:
    a = get_performance_monitor()
    b = get_performance_monitor()
    assert a is b
    assert isinstance(a, PerformanceMonitor)


def test_default_monitor_singleton_across_threads() -> None:
    seen: list[PerformanceMonitor] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        seen.append(get_performance_monitor())

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 8
    assert all(m is seen[0] for m in seen)
    assert seen[0] is get_performance_monitor()


# ------------------------------------------------------ exported class types


def test_exported_types() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    assert isinstance(m.track_operation("x"), OperationTracker)
    assert isinstance(QuantileSketch(), QuantileSketch)
    assert isinstance(MemoryMonitor(), MemoryMonitor)
    assert isinstance(ResponseTimeTracker(), ResponseTimeTracker)
    assert TokenCounter.count_tokens("abcd") == 1
    assert callable(format_report)
    assert get_system_memory()["total_mb"] > 0
