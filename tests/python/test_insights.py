"""Insights (issue #21): where the time goes (bottlenecks by exclusive
time), suggestions (each rule fires on planted data and stays silent on
healthy data) and latency prediction — on planted data with known answers."""

from __future__ import annotations

import asyncio
import doctest
import importlib
import json
import random
import statistics
import time
from typing import Any

import pytest

from ragperf import PerformanceMonitor
from ragperf.model.report import format_report
from ragperf.watch.bottlenecks import bottlenecks, exclusive_times
from _clock_helpers import T0, record_at

MODULES = (
    "ragperf.watch.bottlenecks",
    "ragperf.watch.insights",
    "ragperf.watch.prediction",
    "ragperf.watch.significance",
    "ragperf.watch.slo",
    "ragperf.watch.suggestions",
)



def node(op: str, start: float, duration: float, *children: dict[str, Any]) -> dict[str, Any]:
    return {"operation": op, "start_time_s": start, "duration_s": duration, "children": list(children)}


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, extraglobs={"monitor": PerformanceMonitor()}, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0 and result.failed == 0


# ------------------------------------------------------------ bottlenecks


def test_exclusive_time_of_sequential_children() -> None:
    tree = node("query", 0.0, 1.0, node("retrieval", 0.0, 0.2), node("llm", 0.25, 0.7))
    times = {op: t for op, t, _ in exclusive_times(tree)}
    assert times == pytest.approx({"query": 0.1, "retrieval": 0.2, "llm": 0.7})
    rows = bottlenecks([tree, tree])
    assert [r["operation"] for r in rows] == ["llm", "retrieval", "query"]
    llm = rows[0]
    assert llm["share"] == pytest.approx(0.7)
    assert llm["self_time_s"] == pytest.approx(1.4)
    assert llm["avg_self_time_s"] == pytest.approx(0.7)
    assert (llm["count"], llm["roots"], llm["calls_per_root"], llm["is_root"]) == (2, 2, 1.0, False)
    assert rows[2]["is_root"] is True
    json.dumps(rows)


def test_concurrent_children_split_the_time_they_share() -> None:
    # three parallel 1 s retrievals in a 1.2 s query: 1/3 s each + 0.2 s self
    tree = node("query", 0.0, 1.2, *(node("retrieval", 0.1, 1.0) for _ in range(3)))
    rows = {r["operation"]: r for r in bottlenecks([tree])}
    assert rows["retrieval"]["share"] == pytest.approx(1.0 / 1.2)
    assert rows["retrieval"]["self_time_s"] == pytest.approx(1.0)
    assert rows["query"]["share"] == pytest.approx(0.2 / 1.2)
    assert sum(r["share"] for r in rows.values()) == pytest.approx(1.0)


def test_overlapping_children_and_grandchildren_add_up_to_the_root() -> None:
    # a: 0-0.6 with grandchild g 0.1-0.3; b: 0.4-1.0 overlapping a by 0.2
    tree = node("q", 0.0, 1.0, node("a", 0.0, 0.6, node("g", 0.1, 0.2)), node("b", 0.4, 0.6))
    times = {op: t for op, t, _ in exclusive_times(tree)}
    # 0-0.1 a, 0.1-0.3 g, 0.3-0.4 a, 0.4-0.6 a|b halves, 0.6-1.0 b
    assert times == pytest.approx({"q": 0.0, "a": 0.3, "g": 0.2, "b": 0.5})
    assert sum(times.values()) == pytest.approx(1.0)


def test_a_child_outliving_its_parent_is_clipped() -> None:
    tree = node("q", 0.0, 1.0, node("background", 0.5, 5.0))
    times = {op: t for op, t, _ in exclusive_times(tree)}
    assert times == pytest.approx({"q": 0.5, "background": 0.5})


def test_roots_filter_and_window() -> None:
    old = node("query", 0.0, 1.0, node("llm", 0.0, 0.5))
    new = node("query", 100.0, 1.0, node("retrieval", 100.0, 0.9))
    other = node("ingest", 0.0, 1.0, node("embed", 0.0, 1.0))
    lone = node("lonely", 0.0, 1.0)
    assert {r["root"] for r in bottlenecks([old, other, lone])} == {"query", "ingest"}
    assert {r["operation"] for r in bottlenecks([old, new, other], "query")} == {"query", "llm", "retrieval"}
    recent = bottlenecks([old, new], "query", since_s=50.0)
    assert {r["operation"] for r in recent} == {"query", "retrieval"}
    assert bottlenecks([lone], "lonely")[0]["share"] == 1.0


def test_bottlenecks_of_real_nested_blocks(monitor: PerformanceMonitor) -> None:
    for _ in range(3):
        with monitor.track_operation("query_processing"):
            with monitor.track_operation("document_retrieval"):
                time.sleep(0.005)
            with monitor.track_operation("llm_inference"):
                time.sleep(0.040)
    rows = monitor.get_bottlenecks("query_processing")
    assert rows[0]["operation"] == "llm_inference"
    assert 0.7 < rows[0]["share"] < 0.95
    assert rows[0]["count"] == 3 and rows[0]["p95_s"] >= 0.040
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert monitor.get_bottlenecks(window_minutes=1) == rows
    assert monitor.get_bottlenecks("no_such_root") == []
    with pytest.raises(ValueError):
        monitor.get_bottlenecks(window_minutes=0)
    report = monitor.generate_report()
    assert report["insights"]["bottlenecks"] == rows
    assert "dominant_stage" in [s["rule"] for s in report["insights"]["suggestions"]]
    text = format_report(report)
    assert "Where the time goes" in text and "llm_inference" in text.split("Where the time goes")[1]


def test_concurrent_tasks_under_one_root(monitor: PerformanceMonitor) -> None:
    async def retrieve() -> None:
        async with monitor.track_operation("document_retrieval"):
            await asyncio.sleep(0.03)

    async def query() -> None:
        async with monitor.track_operation("query_processing"):
            await asyncio.gather(retrieve(), retrieve(), retrieve())

    asyncio.run(query())
    rows = {r["operation"]: r for r in monitor.get_bottlenecks("query_processing")}
    assert rows["document_retrieval"]["count"] == 3
    # wall-clock share, not the sum of three durations (which is ~3x the root)
    assert 0.6 < rows["document_retrieval"]["share"] <= 1.0
    assert sum(r["share"] for r in rows.values()) == pytest.approx(1.0)


# ------------------------------------------------------------ suggestions


def rules_of(monitor: PerformanceMonitor) -> dict[str, dict[str, Any]]:
    found = monitor.get_suggestions()
    json.dumps(found)
    return {s["rule"]: s for s in found}


def healthy(monitor: PerformanceMonitor) -> None:
    rng = random.Random(1)
    now = time.time()
    for op in ("document_retrieval", "reranking", "llm_inference"):
        for i in range(200):
            monitor.record(
                op,
                rng.lognormvariate(-2, 0.3),
                completion_tokens=100 if op == "llm_inference" else 0,
                success=i % 100 != 50,
                memory_delta_mb=1.0 if i % 2 else -1.0,
                timestamp_s=now - 1200 + 6 * i,
            )
    monitor.record_cache("embeddings", hit=True, count=45)
    monitor.record_cache("embeddings", hit=False, count=5)
    for _ in range(3):
        with monitor.track_operation("query_processing"):
            for stage in ("document_retrieval", "reranking", "llm_inference"):
                with monitor.track_operation(stage):
                    time.sleep(0.01)


def test_healthy_data_gives_no_suggestion(monitor: PerformanceMonitor) -> None:
    healthy(monitor)
    assert monitor.get_suggestions() == []
    assert monitor.generate_report()["insights"]["suggestions"] == []


def test_dominant_stage(monitor: PerformanceMonitor) -> None:
    for _ in range(3):
        with monitor.track_operation("query_processing"):
            with monitor.track_operation("document_retrieval"):
                time.sleep(0.003)
            with monitor.track_operation("llm_inference"):
                time.sleep(0.03)
    s = rules_of(monitor)["dominant_stage"]
    assert s["operation"] == "llm_inference"
    assert s["evidence"]["root"] == "query_processing" and s["evidence"]["share"] > 0.5


def test_low_cache_hit_rate(monitor: PerformanceMonitor) -> None:
    monitor.record_cache("embeddings", hit=True, count=10)
    monitor.record_cache("embeddings", hit=False, count=40)
    s = rules_of(monitor)["low_cache_hit_rate"]
    assert (s["operation"], s["evidence"]["hit_rate"]) == ("embeddings", 0.2)
    other = PerformanceMonitor()
    other.record_cache("embeddings", hit=False, count=10)  # too few lookups to judge
    assert other.get_suggestions() == []


def test_cold_start(monitor: PerformanceMonitor) -> None:
    now = time.time()
    monitor.record("embedding_generation", 5.0, timestamp_s=now - 100)
    for i in range(30):
        monitor.record("embedding_generation", 0.1, timestamp_s=now - 99 + i)
    s = rules_of(monitor)["cold_start"]
    assert s["operation"] == "embedding_generation"
    assert s["evidence"]["cold_start_s"] == 5.0
    assert s["evidence"]["p99_without_cold_start_s"] == pytest.approx(0.1, rel=0.01)


def test_tail_latency(monitor: PerformanceMonitor) -> None:
    for op in ("document_retrieval", "reranking"):
        for i in range(100):
            monitor.record(op, 0.1 + 0.001 * (i % 10))
    for i in range(100):
        monitor.record("llm_inference", 3.0 if i % 20 == 0 else 0.2)
    found = rules_of(monitor)
    s = found["tail_latency"]
    assert s["operation"] == "llm_inference"
    assert s["evidence"]["p99_over_p50"] == pytest.approx(15.0, rel=0.02)
    assert list(found) == ["tail_latency"]


def test_tail_latency_peers_are_the_median_of_the_others() -> None:
    # The rule's peer median (computed from one sorted list) against its
    # definition: the median of every other operation's p99/p50.
    from ragperf.stats import PerformanceStats
    from ragperf.watch.suggestions import tail_latency

    rng = random.Random(7)
    for n in (2, 3, 4, 5, 40, 41):
        ratios = [rng.choice([1.5, 2.0, 2.0, 30.0, rng.uniform(1, 40)]) for _ in range(n)]
        ops = [PerformanceStats(f"op{i:02d}", total_operations=100, p50_duration=1.0, p99_duration=r)
               for i, r in enumerate(ratios)]
        expected = {}
        for i, r in enumerate(ratios):
            peer = statistics.median(ratios[:i] + ratios[i + 1:])
            if r >= 5 and r >= 3 * peer:
                expected[f"op{i:02d}"] = peer
        got = {s["operation"]: s["evidence"]["peer_median_p99_over_p50"] for s in tail_latency(ops)}
        assert got == expected, (n, ratios)


def test_error_burst_of_one_operation_among_many(monitor: PerformanceMonitor) -> None:
    # The rule reads the last 5 minutes only of operations with enough
    # failures all-time: the others' windows are skipped, this one's is not.
    monitor.set_evaluation_clock(lambda: T0)
    for i in range(30):
        record_at(monitor, f"quiet_{i:02d}", 0.1, T0 - 60, times=20)
    record_at(monitor, "llm_inference", 0.5, T0 - 60, times=20)
    record_at(monitor, "llm_inference", 0.5, T0 - 60, success=False, times=5)
    found = [s for s in monitor.get_suggestions() if s["rule"] == "error_burst"]
    assert [s["operation"] for s in found] == ["llm_inference"]
    assert found[0]["evidence"]["recent_failures"] == 5


def test_error_burst(monitor: PerformanceMonitor) -> None:
    monitor.set_evaluation_clock(lambda: T0)
    record_at(monitor, "llm_inference", 0.5, T0 - 1800, times=99)
    record_at(monitor, "llm_inference", 0.5, T0 - 1800, success=False)
    record_at(monitor, "llm_inference", 0.5, T0 - 60, times=20)
    assert "error_burst" not in rules_of(monitor)
    record_at(monitor, "llm_inference", 0.5, T0 - 60, success=False, times=10)
    s = rules_of(monitor)["error_burst"]
    assert s["evidence"]["recent_failures"] == 10
    assert s["evidence"]["recent_error_rate"] == pytest.approx(10 / 30)
    assert s["evidence"]["earlier_error_rate"] == pytest.approx(0.01)


def test_memory_growth(monitor: PerformanceMonitor) -> None:
    for _ in range(50):
        monitor.record("index_update", 0.01, memory_delta_mb=2.0)
    s = rules_of(monitor)["memory_growth"]
    assert s["evidence"]["total_memory_delta_mb"] == pytest.approx(100.0)


def test_output_tokens_drop(monitor: PerformanceMonitor) -> None:
    now = time.time()
    monitor.set_evaluation_clock(lambda: now)
    for i in range(20):
        monitor.record("llm_inference", 1.0, completion_tokens=100, timestamp_s=now - 1200 + 10 * i)
    for i in range(20):
        monitor.record("llm_inference", 1.0, completion_tokens=95, timestamp_s=now - 200 + 5 * i)
    assert "output_tokens_drop" not in rules_of(monitor)
    for i in range(40):
        monitor.record("llm_inference", 2.0, completion_tokens=100, timestamp_s=now - 100 + 2 * i)
    s = rules_of(monitor)["output_tokens_drop"]
    assert s["evidence"]["earlier_tokens_per_s"] == 100.0
    assert s["evidence"]["recent_tokens_per_s"] == pytest.approx((20 * 95 + 40 * 100) / (20 + 40 * 2.0))


# ------------------------------------------------------------ prediction


def test_prediction_recovers_planted_coefficients(monitor: PerformanceMonitor) -> None:
    rng = random.Random(7)
    for _ in range(300):
        prompt, completion = rng.randint(100, 2000), rng.randint(10, 300)
        duration = 0.15 + 0.0004 * prompt + 0.025 * completion + rng.gauss(0, 0.02)
        monitor.record("llm_inference", duration, prompt_tokens=prompt, completion_tokens=completion)
    monitor.record("llm_inference", 99.0, success=False)  # failures are left out
    result = monitor.predict_latency("llm_inference", prompt_tokens=1000, completion_tokens=150)
    truth = 0.15 + 0.4 + 3.75
    assert abs(result["expected_s"] / truth - 1) < 0.05
    assert result["fit"]["r2"] >= 0.95 and result["fit"]["samples"] == 300
    coef = result["fit"]["coefficients"]
    assert coef["per_completion_token_s"] == pytest.approx(0.025, rel=0.02)
    assert coef["per_prompt_token_s"] == pytest.approx(0.0004, rel=0.05)
    assert result["expected_s"] < result["p95_s"] < result["expected_s"] + 0.1
    assert result["time_to_first_token_s"] is None
    json.dumps(result)


def test_prediction_refuses_with_too_few_records(monitor: PerformanceMonitor) -> None:
    for i in range(9):
        monitor.record("llm_inference", 0.5, completion_tokens=i)
    with pytest.raises(ValueError, match="at least 10 successful recent records of 'llm_inference'; it has 9"):
        monitor.predict_latency("llm_inference", completion_tokens=5)
    with pytest.raises(ValueError, match="it has 0"):
        monitor.predict_latency("unknown")
    monitor.record("llm_inference", 0.5, completion_tokens=9)
    with pytest.raises(TypeError):
        monitor.predict_latency("llm_inference", completion_tokens=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        monitor.predict_latency("llm_inference", prompt_tokens=-1)
    # prompt tokens never vary: left out of the fit, coefficient 0
    fit = monitor.predict_latency("llm_inference", completion_tokens=5)["fit"]
    assert fit["coefficients"]["per_prompt_token_s"] == 0.0


def test_prediction_uses_time_to_first_token_of_streams(monitor: PerformanceMonitor) -> None:
    for i in range(12):
        with monitor.track_operation("llm_inference") as op:
            op.prompt_tokens = 100 + i
            op.mark_first_token()
            op.add_tokens(5)
    result = monitor.predict_latency("llm_inference", prompt_tokens=110, completion_tokens=5)
    assert result["time_to_first_token_s"] is not None
    assert 0 <= result["time_to_first_token_s"] < 0.05
