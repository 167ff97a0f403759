"""Dimensions (#12): statistics per value of declared metadata keys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from ragperf import PerformanceMonitor


@pytest.fixture()
def monitor() -> PerformanceMonitor:
    return PerformanceMonitor(enable_memory_tracking=False, dimensions=["model", "tenant"])


def _blocks(monitor: PerformanceMonitor, n: int, fail: bool = False, **metadata: Any) -> None:
    for _ in range(n):
        try:
            with monitor.track_operation("llm_inference", **metadata) as op:
                op.prompt_tokens, op.completion_tokens = 100, 20
                if fail:
                    raise TimeoutError("slow")
        except TimeoutError:
            pass


def test_breakdown_counts_tokens_errors_and_cost(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"qwen": (1.0, 2.0)})
    _blocks(monitor, 6, model="qwen", tenant="acme")
    _blocks(monitor, 3, model="llama", tenant="acme")
    _blocks(monitor, 1, fail=True, model="llama", tenant="beta")
    by_model = monitor.get_breakdown("llm_inference", by="model")
    assert list(by_model) == ["llama", "qwen"]
    qwen, llama = by_model["qwen"], by_model["llama"]
    assert (qwen.total_operations, qwen.failed_operations, qwen.total_tokens) == (6, 0, 720)
    assert (llama.total_operations, llama.failed_operations) == (4, 1)
    assert llama.error_rate == pytest.approx(0.25)
    assert llama.errors_by_type == {"TimeoutError": 1}
    assert qwen.cost_usd == pytest.approx(6 * (100 * 1.0 + 20 * 2.0) / 1e6)
    assert llama.cost_usd is None  # no price: unknown, not zero
    by_tenant = monitor.get_breakdown("llm_inference", by="tenant")
    assert {k: v.total_operations for k, v in by_tenant.items()} == {"acme": 9, "beta": 1}
    # The operation's own statistics are unchanged by the split.
    total = monitor.get_operation_stats("llm_inference")
    assert total.total_operations == 10 and total.total_tokens == 1200


def test_percentiles_per_value_come_from_their_own_sketch() -> None:
    fast = PerformanceMonitor(enable_memory_tracking=False, dimensions=["model"])

    for model, sleep_s in (("fast", 0.0), ("slow", 0.02)):
        for _ in range(5):
            with fast.track_operation("llm_inference", model=model):
                if sleep_s:
                    time.sleep(sleep_s)
    slow = fast.get_operation_stats("llm_inference", model="slow")
    quick = fast.get_operation_stats("llm_inference", model="fast")
    assert slow.p50_duration >= 0.02 * 0.99
    assert quick.p95_duration < slow.p50_duration
    assert slow.min_duration >= 0.02 * 0.99


def test_model_dimension_reads_op_model_and_set_usage(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference") as op:
        op.model = "gpt-4o-mini"
    with monitor.track_operation("llm_inference") as op:
        op.set_usage({"model": "qwen", "usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    with monitor.track_operation("llm_inference"):
        pass  # no model: not in the breakdown
    counts = {k: v.total_operations for k, v in monitor.get_breakdown("llm_inference", by="model").items()}
    assert counts == {"gpt-4o-mini": 1, "qwen": 1}
    assert monitor.get_operation_stats("llm_inference", model="qwen").total_tokens == 7


def test_non_str_values_count_as_str(monitor: PerformanceMonitor) -> None:
    for tenant in (7, 7, "7", None):
        with monitor.track_operation("retrieval", tenant=tenant):
            pass
    assert {k: v.total_operations for k, v in monitor.get_breakdown("retrieval", by="tenant").items()} == {"7": 3}
    assert monitor.get_operation_stats("retrieval", tenant=7).total_operations == 3


def test_cardinality_is_capped_with_other() -> None:
    monitor = PerformanceMonitor(enable_memory_tracking=False, dimensions=["user"], max_dimension_values=10)
    for i in range(1000):
        with monitor.track_operation("query_processing", user=f"u{i}"):
            pass
    breakdown = monitor.get_breakdown("query_processing", by="user")
    assert len(breakdown) == 11
    assert breakdown["__other__"].total_operations == 990
    assert sum(s.total_operations for s in breakdown.values()) == 1000


def test_windowed_breakdown(monitor: PerformanceMonitor) -> None:
    _blocks(monitor, 2, model="qwen")
    w = monitor.get_breakdown("llm_inference", by="model", window_minutes=5)
    assert w["qwen"].total_operations == 2 and w["qwen"].window_minutes == 5
    assert monitor.get_operation_stats("llm_inference", window_minutes=1, model="qwen").total_operations == 2


def test_undeclared_and_bad_arguments(monitor: PerformanceMonitor) -> None:
    with pytest.raises(ValueError, match="'region' is not a declared dimension"):
        monitor.get_operation_stats("llm_inference", region="eu")
    with pytest.raises(ValueError, match="'region' is not a declared dimension"):
        monitor.get_breakdown("llm_inference", by="region")
    with pytest.raises(ValueError, match="one dimension filter"):
        monitor.get_operation_stats("llm_inference", model="a", tenant="b")
    with pytest.raises(ValueError, match="window_minutes must be between 1 and 60"):
        monitor.get_breakdown("llm_inference", by="model", window_minutes=61)
    with pytest.raises(TypeError, match="dimension name must be a str, got 3"):
        PerformanceMonitor(dimensions=[3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="dimensions must be a list of str, got 'model'"):
        PerformanceMonitor(dimensions="model")
    with pytest.raises(ValueError, match="distinct"):
        PerformanceMonitor(dimensions=["a", "a"])
    with pytest.raises(ValueError, match="max_dimension_values must be >= 1"):
        PerformanceMonitor(max_dimension_values=0)


def test_set_dimensions_later_and_off() -> None:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    assert monitor.get_dimensions() == []
    with monitor.track_operation("embedding_generation", model="minilm"):
        pass
    monitor.set_dimensions(["model"])
    assert monitor.get_dimensions() == ["model"]
    with monitor.track_operation("embedding_generation", model="minilm"):
        pass
    assert monitor.get_breakdown("embedding_generation", by="model")["minilm"].total_operations == 1
    monitor.set_dimensions(None)
    with monitor.track_operation("embedding_generation", model="minilm"):
        pass
    monitor.set_dimensions(["model"])
    assert monitor.get_breakdown("embedding_generation", by="model")["minilm"].total_operations == 1


def test_report_export_and_reset(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    _blocks(monitor, 2, model="qwen", tenant="acme")
    path = tmp_path / "m.json"
    monitor.export_metrics_json(str(path))
    data = json.loads(path.read_text())
    qwen = data["operations"]["llm_inference"]["dimensions"]["model"]["qwen"]
    assert qwen["total"] == 2 and qwen["tokens"]["total"] == 240
    assert set(qwen["duration"]) == {"avg", "p50", "p95", "p99", "max"}
    monitor.clear_metrics()
    assert monitor.get_breakdown("llm_inference", by="model")["qwen"].total_operations == 0


def test_concurrent_threads_exact(monitor: PerformanceMonitor) -> None:
    import threading

    def work(model: str) -> None:
        for _ in range(2000):
            with monitor.track_operation("reranking", model=model):
                pass

    threads = [threading.Thread(target=work, args=(m,)) for m in ("a", "b", "a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = {k: v.total_operations for k, v in monitor.get_breakdown("reranking", by="model").items()}
    assert counts == {"a": 4000, "b": 4000}


def test_breakdown_csv(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    import csv

    _blocks(monitor, 3, model="qwen", tenant="acme")
    _blocks(monitor, 1, fail=True, model="llama")
    path = monitor.export_breakdown_csv(str(tmp_path / "b.csv"))
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    got = {(r["dimension"], r["value"]): (r["total_operations"], r["failed_operations"]) for r in rows}
    assert got == {("model", "llama"): ("1", "1"), ("model", "qwen"): ("3", "0"), ("tenant", "acme"): ("3", "0")}
    assert all(r["operation"] == "llm_inference" for r in rows)


def test_prometheus_dimension_labels(monitor: PerformanceMonitor) -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    from ragperf.export.prometheus import RagperfCollector

    _blocks(monitor, 4, model="qwen", tenant="acme")
    registry = prometheus_client.CollectorRegistry()
    registry.register(RagperfCollector(monitor))
    labels = {"operation": "llm_inference", "dimension": "model", "value": "qwen"}
    assert registry.get_sample_value("ragperf_dimension_duration_seconds_count", labels) == 4
    assert registry.get_sample_value("ragperf_dimension_tokens_total", labels) == 480
    p95 = registry.get_sample_value("ragperf_dimension_duration_seconds", dict(labels, quantile="0.95"))
    assert p95 == pytest.approx(monitor.get_operation_stats("llm_inference", model="qwen").p95_duration)
    text = prometheus_client.generate_latest(registry).decode()
    assert 'ragperf_dimension_failed_total{dimension="tenant",operation="llm_inference",value="acme"} 0.0' in text
