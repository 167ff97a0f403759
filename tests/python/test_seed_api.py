"""The usage examples documented in seed 004 (the seed's performance_monitor
module), run verbatim where possible against ragperf. Only the import line
changes (``performance_monitor`` -> ``ragperf``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ragperf import (
    MemoryMonitor,
    OperationType,
    PerformanceMonitor,
    ResponseTimeTracker,
    TokenCounter,
    get_performance_monitor,
)


@pytest.fixture
def monitor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PerformanceMonitor]:
    """The process-wide monitor, emptied before and after; cwd is a temp dir
    because the seed examples write ``metrics.json`` relative to it."""
    monkeypatch.chdir(tmp_path)
    m = get_performance_monitor()
    m.clear_metrics()
    yield m
    m.clear_metrics()


def test_command_reference_basic_operations(monitor: PerformanceMonitor, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ragperf import OperationType, get_performance_monitor

    monitor = get_performance_monitor()

    # Track an operation
    with monitor.track_operation(OperationType.LLM_INFERENCE) as op:
        # do work
        op.tokens = 150

    # Get statistics
    stats = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    print(f"Avg duration: {stats.avg_duration_seconds}s")

    # Generate report
    report = monitor.generate_report()
    print(f"Total operations: {report['total_operations']}")

    # Print formatted report
    monitor.print_report()

    # Export metrics
    monitor.export_metrics_json("metrics.json")

    # Check health
    health = monitor.get_health_status()
    print(f"Status: {health['status']}")

    out = capsys.readouterr().out
    assert f"Avg duration: {stats.avg_duration_seconds}s" in out
    assert stats.avg_duration_seconds == stats.avg_duration > 0
    assert "Total operations: 1" in out
    assert "llm_inference" in out
    assert health["status"] in ("healthy", "warning")
    assert f"Status: {health['status']}" in out
    exported = json.loads((tmp_path / "metrics.json").read_text())
    assert exported["total_operations"] == 1
    assert exported["operations"]["llm_inference"]["tokens"]["total"] == 150

    # Clear metrics
    monitor.clear_metrics()
    assert monitor.get_operation_count() == 0


def test_advanced_usage(monitor: PerformanceMonitor, capsys: pytest.CaptureFixture[str]) -> None:
    for kind, n_ok, n_fail in [
        (OperationType.LLM_INFERENCE, 24, 1),
        (OperationType.DOCUMENT_RETRIEVAL, 10, 0),
        (OperationType.EMBEDDING_GENERATION, 3, 2),
    ]:
        for _ in range(n_ok):
            with monitor.track_operation(kind):
                pass
        for _ in range(n_fail):
            with pytest.raises(RuntimeError):
                with monitor.track_operation(kind):
                    raise RuntimeError("model unavailable")

    # Get all statistics
    all_stats = monitor.get_all_stats()
    for op_type, stats in all_stats.items():
        if stats.total_operations > 0:
            print(f"{op_type.value}: {stats.successful_operations}/{stats.total_operations}")

    # Get memory stats
    memory_stats = monitor.get_memory_stats()
    print(f"Current memory: {memory_stats['current_rss_mb']} MB")

    # Get operation count
    total_ops = monitor.get_operation_count()
    llm_ops = monitor.get_operation_count(OperationType.LLM_INFERENCE)

    out = capsys.readouterr().out
    assert "llm_inference: 24/25" in out
    assert "document_retrieval: 10/10" in out
    assert "embedding_generation: 3/5" in out
    assert "Current memory: " in out
    assert memory_stats["current_rss_mb"] > 0
    assert total_ops == 40
    assert llm_ops == 25


def test_context_manager_example(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
        # Automatic start time capture
        # Do work
        op.tokens = 150  # Set token count
        # Automatic end time, memory delta, error tracking
    assert monitor.get_operation_stats(OperationType.LLM_INFERENCE).total_tokens == 150
    assert op.metadata == {"model": "qwen"}


def test_statistics_example_fields(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation(OperationType.LLM_INFERENCE) as op:
        op.tokens = 10
    stats = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    # "Returns PerformanceStats with: total_operations, successful_operations,
    # failed_operations, min/max/avg/p50/p95/p99 duration, total/avg tokens,
    # total/avg memory delta"
    for field in (
        "total_operations",
        "successful_operations",
        "failed_operations",
        "min_duration",
        "max_duration",
        "avg_duration",
        "p50_duration",
        "p95_duration",
        "p99_duration",
        "total_tokens",
        "avg_tokens",
        "total_memory_delta_mb",
        "avg_memory_delta_mb",
    ):
        assert hasattr(stats, field), field
    assert stats.total_operations == 1 and stats.successful_operations == 1 and stats.failed_operations == 0


def test_graph_builder_integration_example(monitor: PerformanceMonitor) -> None:
    class Retriever:
        def get_relevant_documents(self, query: str) -> list[str]:
            return [query] * 3

    class LLM:
        def invoke(self, docs: list[str]) -> str:
            return " ".join(docs)

    def token_count(text: str) -> int:
        return TokenCounter.count_tokens(text)

    retriever, llm, query = Retriever(), LLM(), "what is rag"

    # In retrieve_documents()
    with monitor.track_operation(OperationType.DOCUMENT_RETRIEVAL, {"query_len": len(query)}) as op:
        docs = retriever.get_relevant_documents(query)
        op.tokens = len(docs) * 50  # Estimate

    # In generate_response()
    with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
        response = llm.invoke(docs)
        op.tokens = token_count(response)

    assert monitor.get_operation_stats(OperationType.DOCUMENT_RETRIEVAL).total_tokens == 150
    assert monitor.get_operation_stats(OperationType.LLM_INFERENCE).total_tokens == token_count(response)


def test_rag_core_integration_example(monitor: PerformanceMonitor, capsys: pytest.CaptureFixture[str]) -> None:
    with monitor.track_operation(OperationType.QUERY_PROCESSING) as op:
        # ... full RAG pipeline
        pass

    # Get report
    report = monitor.generate_report()
    print(f"Processed {report['total_operations']} operations")
    assert "Processed 1 operations" in capsys.readouterr().out


def test_ui_integration_example(monitor: PerformanceMonitor) -> None:
    for _ in range(3):
        with monitor.track_operation(OperationType.RERANKING):
            pass
    lines: list[str] = []
    report = monitor.generate_report()
    memory = report["memory"]
    lines.append(f"{memory['current_rss_mb']:.1f}")
    lines.append(str(report["total_operations"]))
    lines.append(monitor.get_health_status()["status"])
    # Show operation stats
    for op_type, op_stats in report["operations"].items():
        lines.append(f"**{op_type}**")
        lines.append(f"- Count: {op_stats['total']}")
        lines.append(f"- Avg Duration: {op_stats['duration']['avg']:.3f}s")
    assert "**reranking**" in lines
    assert "- Count: 3" in lines
    assert lines[1] == "3"


def test_production_deployment_steps(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    # Step 1: Initialize Monitor
    monitor = get_performance_monitor()
    monitor.clear_metrics()  # Start fresh

    # Step 2: Instrument Code
    token_count = 42
    with monitor.track_operation(OperationType.LLM_INFERENCE) as op:
        op.tokens = token_count

    # Step 3: Generate Reports (the seed's background exporter, one iteration)
    (tmp_path / "logs").mkdir()

    def export_once() -> None:
        monitor.export_metrics_json("logs/metrics.json")

    export_thread = threading.Thread(target=export_once, daemon=True)
    export_thread.start()
    export_thread.join()
    assert json.loads((tmp_path / "logs" / "metrics.json").read_text())["total_operations"] == 1


def test_best_practices_examples(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    response = "the answer is forty two"
    text = "x" * 400
    with monitor.track_operation(OperationType.LLM_INFERENCE) as op:
        op.tokens = len(response.split())
    with monitor.track_operation(OperationType.LLM_INFERENCE) as op:
        op.tokens = len(text) // 4  # Rough estimate
    with monitor.track_operation(OperationType.DOCUMENT_RETRIEVAL, {"num_docs": 10, "retriever": "faiss", "top_k": 5}) as op:
        pass
    date = "2026-01-21"
    monitor.export_metrics_json(f"metrics_{date}.json")
    assert (tmp_path / f"metrics_{date}.json").exists()
    assert monitor.get_operation_stats(OperationType.LLM_INFERENCE).total_tokens == 5 + 100


def test_troubleshooting_examples(monitor: PerformanceMonitor, capsys: pytest.CaptureFixture[str]) -> None:
    with monitor.track_operation(OperationType.LLM_INFERENCE):
        pass
    # Check current stats
    stats = monitor.get_memory_stats()
    print(f"Current RSS: {stats['current_rss_mb']} MB")
    # Clear old metrics
    monitor.clear_metrics()
    # Verify operations are being recorded
    with monitor.track_operation(OperationType.LLM_INFERENCE):
        pass
    count = monitor.get_operation_count()
    print(f"Total operations: {count}")
    count_llm = monitor.get_operation_count(OperationType.LLM_INFERENCE)
    print(f"LLM operations: {count_llm}")
    out = capsys.readouterr().out
    assert "Total operations: 1" in out
    assert "LLM operations: 1" in out


def test_thread_pool_example(monitor: PerformanceMonitor) -> None:
    monitor = PerformanceMonitor(enable_memory_tracking=True)

    def work(i: int) -> None:
        with monitor.track_operation(OperationType.QUERY_PROCESSING) as op:
            op.tokens = i

    with ThreadPoolExecutor(max_workers=10) as executor:
        for i in range(100):
            executor.submit(work, i)
    assert monitor.get_operation_count(OperationType.QUERY_PROCESSING) == 100
    assert monitor.get_operation_stats(OperationType.QUERY_PROCESSING).total_tokens == sum(range(100))


def test_core_component_examples() -> None:
    # ResponseTimeTracker
    tracker = ResponseTimeTracker(max_history=1000)
    tracker.record_duration(OperationType.LLM_INFERENCE, 1.5)
    stats = tracker.get_stats(OperationType.LLM_INFERENCE)
    assert {"count", "min", "max", "avg", "p50", "p95", "p99", "total"} <= set(stats)

    # MemoryMonitor
    monitor = MemoryMonitor(max_history=1000)
    memory = monitor.get_current_usage()
    assert {"rss_mb", "vms_mb"} <= set(memory)
    start, end = memory, monitor.get_current_usage()
    delta = monitor.get_memory_delta(start, end)
    assert isinstance(delta, float)
    mstats = monitor.get_stats()
    assert mstats["current_rss_mb"] > 0

    # TokenCounter
    tokens = TokenCounter.count_tokens("Your text here")
    total = TokenCounter.count_tokens_in_list(["Your text here", "more"])
    assert tokens == 4
    assert total == 5


def test_seed_report_layout_readable_as_documented(monitor: PerformanceMonitor) -> None:
    for _ in range(24):
        monitor.record(OperationType.LLM_INFERENCE, 1.0, tokens=150)
    monitor.record(OperationType.LLM_INFERENCE, 2.0, tokens=150, success=False)
    report = monitor.generate_report()
    llm = report["operations"]["llm_inference"]
    assert (llm["total"], llm["successful"], llm["failed"]) == (25, 24, 1)
    assert llm["tokens"] == {**llm["tokens"], "total": 3750, "avg": 150.0}
    assert llm["duration"]["min"] == 1.0
    assert llm["duration"]["max"] == 2.0
    assert llm["duration"]["avg"] == pytest.approx(1.04)
