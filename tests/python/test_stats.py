"""Statistics: PerformanceStats, percentiles, windows, get_all_stats keys,
record(), and the seed's ResponseTimeTracker."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import time
from collections.abc import Iterator

import numpy as np
import pytest

from ragperf import OperationName, OperationType, PerformanceMonitor, PerformanceStats, ResponseTimeTracker
from ragperf import _core

QS = (0.5, 0.95, 0.99)


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    yield m
    m.clear_metrics()


def exact_quantile(sorted_values: list[float], q: float) -> float:
    """The rank floor(q * (n - 1)) value, the convention the sketch documents."""
    return sorted_values[int(math.floor(q * (len(sorted_values) - 1)))]


def lognormal(n: int, seed: int = 2024) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(v) for v in rng.lognormal(mean=-2.5, sigma=1.0, size=n)]


# --------------------------------------------------------------- percentiles


def test_percentiles_within_one_percent_of_exact(monitor: PerformanceMonitor) -> None:
    values = lognormal(10_000)
    for v in values:
        monitor.record(OperationType.LLM_INFERENCE, v)
    s = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    ordered = sorted(values)
    arr = np.array(values)
    assert s.total_operations == 10_000
    assert s.min_duration == min(values)
    assert s.max_duration == max(values)
    assert s.avg_duration == pytest.approx(float(np.mean(arr)), rel=1e-9)
    assert s.total_duration == pytest.approx(float(np.sum(arr)), rel=1e-9)
    for q, got in zip(QS, (s.p50_duration, s.p95_duration, s.p99_duration)):
        assert got == pytest.approx(exact_quantile(ordered, q), rel=0.01), q
        assert got == pytest.approx(float(np.percentile(arr, q * 100)), rel=0.01), q
    assert s.p90_duration == pytest.approx(exact_quantile(ordered, 0.90), rel=0.01)
    assert s.min_duration <= s.p50_duration <= s.p90_duration <= s.p95_duration <= s.p99_duration <= s.max_duration


def test_percentiles_cover_all_records_not_only_max_history() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False, max_history=10)
    values = [0.001] * 900 + [1.0] * 100  # the last 10 records are all 1.0
    for v in values:
        m.record("x", v)
    s = m.get_operation_stats("x")
    assert s.total_operations == 1000
    assert s.p50_duration == pytest.approx(0.001, rel=0.01)
    assert s.p95_duration == pytest.approx(1.0, rel=0.01)


def test_percentiles_of_tracked_blocks_match_their_durations(monitor: PerformanceMonitor) -> None:
    durations: list[float] = []
    for i in range(2000):
        with monitor.track_operation("block") as op:
            if i % 10 == 0:
                sum(range(200))
        assert op.duration_s is not None
        durations.append(op.duration_s)
    s = monitor.get_operation_stats("block")
    ordered = sorted(durations)
    assert s.total_operations == 2000
    assert s.min_duration == pytest.approx(ordered[0], rel=1e-9)
    assert s.max_duration == pytest.approx(ordered[-1], rel=1e-9)
    assert s.total_duration == pytest.approx(sum(durations), rel=1e-6)
    for q, got in zip(QS, (s.p50_duration, s.p95_duration, s.p99_duration)):
        assert got == pytest.approx(exact_quantile(ordered, q), rel=0.01)


def test_single_record_statistics(monitor: PerformanceMonitor) -> None:
    monitor.record("one", 0.25, tokens=10)
    s = monitor.get_operation_stats("one")
    for v in (s.min_duration, s.max_duration, s.avg_duration, s.p50_duration, s.p95_duration, s.p99_duration):
        assert v == pytest.approx(0.25, rel=0.005)
    assert s.min_duration == 0.25 and s.max_duration == 0.25
    assert s.tokens_per_second == pytest.approx(40.0)


def test_zero_durations(monitor: PerformanceMonitor) -> None:
    monitor.record("instant", 0.0)
    monitor.record("instant", 0.0)
    s = monitor.get_operation_stats("instant")
    assert s.total_operations == 2
    assert (s.min_duration, s.max_duration, s.p50_duration, s.p99_duration) == (0.0, 0.0, 0.0, 0.0)
    assert s.tokens_per_second == 0.0


# ------------------------------------------------------------ record() values


def test_record_values_appear_in_stats(monitor: PerformanceMonitor) -> None:
    monitor.record("reranking", duration_s=0.012, tokens=0, success=True)  # DESIGN example
    monitor.record("reranking", 0.5, 100, True, memory_delta_mb=2.0)
    monitor.record(OperationType.RERANKING, 1.488, tokens=50, memory_delta_mb=-1.0)
    s = monitor.get_operation_stats(OperationType.RERANKING)
    assert s.operation_type == "reranking"
    assert s.total_operations == 3
    assert s.successful_operations == 3
    assert s.failed_operations == 0
    assert s.min_duration == 0.012
    assert s.max_duration == 1.488
    assert s.total_duration == pytest.approx(2.0)
    assert s.avg_duration == pytest.approx(2.0 / 3)
    assert s.total_tokens == 150
    assert s.avg_tokens == pytest.approx(50.0)
    assert s.tokens_per_second == pytest.approx(75.0)
    assert s.total_memory_delta_mb == pytest.approx(1.0)
    assert s.avg_memory_delta_mb == pytest.approx(0.5)  # over the 2 records that carried one
    assert s.error_rate == 0.0
    assert s.errors_by_type == {}


def test_record_tokens_default_to_prompt_plus_completion(monitor: PerformanceMonitor) -> None:
    monitor.record("llm", 0.1, prompt_tokens=30, completion_tokens=12)
    monitor.record("llm", 0.1, tokens=5, prompt_tokens=3, completion_tokens=4)
    monitor.record("llm", 0.1)
    s = monitor.get_operation_stats("llm")
    assert s.total_tokens == 42 + 5
    assert s.prompt_tokens == 33
    assert s.completion_tokens == 16


def test_record_failure(monitor: PerformanceMonitor) -> None:
    monitor.record("llm", 0.1, success=False, error_type="TimeoutError")
    monitor.record("llm", 0.1, success=False, error_type="TimeoutError")
    monitor.record("llm", 0.1, success=False)  # default type
    monitor.record("llm", 0.1, success=True)
    s = monitor.get_operation_stats("llm")
    assert s.total_operations == 4
    assert s.failed_operations == 3
    assert s.successful_operations == 1
    assert dict(s.errors_by_type) == {"TimeoutError": 2, "Error": 1}
    assert s.error_rate == pytest.approx(0.75)
    assert s.success_rate == pytest.approx(0.25)
    assert monitor.generate_report()["operations"]["llm"]["errors_by_type"] == {"TimeoutError": 2, "Error": 1}


def test_record_and_blocks_share_statistics(monitor: PerformanceMonitor) -> None:
    monitor.record(OperationType.PDF_LOADING, 0.3, tokens=3)
    with monitor.track_operation("pdf_loading") as op:
        op.tokens = 4
    s = monitor.get_operation_stats("pdf_loading")
    assert s.total_operations == 2
    assert s.total_tokens == 7


def test_token_totals_never_wrap_negative(monitor: PerformanceMonitor) -> None:
    # Each value is accepted (< 2**63); their sum must not overflow into a
    # negative total (signed 64-bit overflow in the C++ aggregate).
    monitor.record("big", 0.1, tokens=2**62)
    monitor.record("big", 0.1, tokens=2**62)
    s = monitor.get_operation_stats("big")
    assert s.total_tokens >= 0
    assert s.avg_tokens >= 0


def test_huge_accepted_duration_is_reflected_in_percentiles(monitor: PerformanceMonitor) -> None:
    # record() accepts any finite duration >= 0. A duration it accepts must be
    # reflected in the percentiles (the quantile sketch silently drops values
    # above 1e300, leaving NaN / stale percentiles), or be rejected up front.
    try:
        monitor.record("huge", 1e301)
    except ValueError:
        return
    s = monitor.get_operation_stats("huge")
    assert s.total_operations == 1
    assert s.p50_duration == pytest.approx(1e301, rel=0.01)
    assert s.p99_duration == pytest.approx(1e301, rel=0.01)


# ------------------------------------------------------------ unknown / zeros


@pytest.mark.parametrize("op", ["never_seen", OperationType.SEMANTIC_CHUNKING])
def test_unknown_operation_gives_zeros(monitor: PerformanceMonitor, op: OperationType | str) -> None:
    s = monitor.get_operation_stats(op)
    assert isinstance(s, PerformanceStats)
    assert s.operation_type == str(op)
    assert s.total_operations == s.successful_operations == s.failed_operations == 0
    for v in (s.min_duration, s.max_duration, s.avg_duration, s.p50_duration, s.p95_duration, s.p99_duration):
        assert v == 0.0
    assert s.total_tokens == 0 and s.avg_tokens == 0.0
    assert s.tokens_per_second == 0.0
    assert s.total_memory_delta_mb == 0.0 and s.avg_memory_delta_mb == 0.0
    assert s.success_rate == 0.0
    assert monitor.get_operation_count(op) == 0
    w = monitor.get_operation_stats(op, window_minutes=5)
    assert w.total_operations == 0
    assert w.p99_duration == 0.0


# --------------------------------------------------------- PerformanceStats


def test_performance_stats_aliases_and_to_dict(monitor: PerformanceMonitor) -> None:
    for v in (0.1, 0.2, 0.3, 0.4):
        monitor.record("x", v, tokens=10)
    s = monitor.get_operation_stats("x")
    for name in ("min", "max", "avg", "p50", "p95", "p99"):
        base = getattr(s, f"{name}_duration")
        assert getattr(s, f"{name}_duration_seconds") == base
        assert getattr(s, f"{name}_duration_ms") == pytest.approx(base * 1000)
    d = s.to_dict()
    json.dumps(d)
    for f in dataclasses.fields(PerformanceStats):
        assert f.name in d
    assert d["total_operations"] == 4
    assert d["total_tokens"] == 40
    assert d["operation_type"] == "x"


def test_performance_stats_is_immutable(monitor: PerformanceMonitor) -> None:
    s = monitor.get_operation_stats("x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.total_operations = 5  # type: ignore[misc]


def test_performance_stats_default_constructible() -> None:
    s = PerformanceStats("manual")
    assert s.total_operations == 0
    assert s.to_dict()["operation_type"] == "manual"
    assert s.success_rate == 0.0


def test_to_dict_errors_by_type_is_a_copy(monitor: PerformanceMonitor) -> None:
    monitor.record("x", 0.1, success=False, error_type="E")
    s = monitor.get_operation_stats("x")
    d = s.to_dict()
    d["errors_by_type"]["E"] = 99
    assert s.errors_by_type == {"E": 1}


# ---------------------------------------------------------------- time window


def test_window_includes_just_recorded_ops(monitor: PerformanceMonitor) -> None:
    for i in range(20):
        monitor.record("w", 0.01 * (i + 1), tokens=1, success=i % 4 != 0)
    with monitor.track_operation("w"):
        pass
    all_time = monitor.get_operation_stats("w")
    for minutes in (1, 5, 60):
        w = monitor.get_operation_stats("w", window_minutes=minutes)
        assert w.window_minutes == minutes
        assert w.total_operations == all_time.total_operations == 21
        assert w.failed_operations == all_time.failed_operations == 5
        assert w.total_tokens == all_time.total_tokens == 20
        assert w.max_duration == all_time.max_duration
        assert w.p95_duration == pytest.approx(all_time.p95_duration)
        assert dict(w.errors_by_type) == dict(all_time.errors_by_type)
    assert monitor.get_operation_stats("w").window_minutes is None
    assert monitor.get_operation_stats("w", window_minutes=None).total_operations == 21


def test_window_by_plain_string_and_member(monitor: PerformanceMonitor) -> None:
    monitor.record(OperationType.LLM_INFERENCE, 0.1)
    assert monitor.get_operation_stats("llm_inference", window_minutes=5).total_operations == 1
    assert monitor.get_operation_stats(OperationType.LLM_INFERENCE, window_minutes=5).total_operations == 1


def test_window_excludes_old_records() -> None:
    # The facade always stamps "now"; the C++ monitor takes a timestamp, which
    # lets this test place records in the past.
    core = _core.Monitor(enable_memory_tracking=False)
    op_id, _ = core._hot_path().resolve("aged")
    now = time.time()
    core.record(op_id, 1.0, timestamp_s=now - 20 * 60)  # 20 minutes ago
    core.record(op_id, 2.0, timestamp_s=now - 3 * 60)  # 3 minutes ago
    core.record(op_id, 3.0, timestamp_s=now)
    assert core.get_stats("aged")["total"] == 3
    assert core.get_window_stats("aged", 1)["total"] == 1
    assert core.get_window_stats("aged", 5)["total"] == 2
    assert core.get_window_stats("aged", 5)["min_s"] == 2.0
    assert core.get_window_stats("aged", 30)["total"] == 3


# ------------------------------------------------------------ get_all_stats


def test_get_all_stats_keys(monitor: PerformanceMonitor) -> None:
    monitor.record(OperationType.LLM_INFERENCE, 0.1)
    monitor.record("document_retrieval", 0.1)  # known name given as str
    monitor.record("my_custom_step", 0.1)
    all_stats = monitor.get_all_stats()
    assert set(all_stats) == {"llm_inference", "document_retrieval", "my_custom_step"}
    keys = list(all_stats)
    assert OperationType.LLM_INFERENCE in keys
    for k in keys:
        if k in ("llm_inference", "document_retrieval"):
            assert type(k) is OperationType
        else:
            # a str that also has .value, so the seed's `op_type.value` loop works
            assert type(k) is OperationName
            assert isinstance(k, str) and k.value == "my_custom_step"
    # lookup by member and by plain string both work
    assert all_stats[OperationType.DOCUMENT_RETRIEVAL].total_operations == 1
    assert all_stats["document_retrieval"].total_operations == 1
    assert all_stats["llm_inference"] is all_stats[OperationType.LLM_INFERENCE]
    assert all_stats["my_custom_step"].operation_type == "my_custom_step"


def test_get_all_stats_values_match_get_operation_stats(monitor: PerformanceMonitor) -> None:
    for i, name in enumerate(["a", "b", OperationType.RERANKING]):
        for j in range(i + 1):
            monitor.record(name, 0.1 * (j + 1), tokens=j)
    for key, s in monitor.get_all_stats().items():
        assert s == monitor.get_operation_stats(key)


def test_get_all_stats_only_operations_with_records(monitor: PerformanceMonitor) -> None:
    assert monitor.get_all_stats() == {}
    monitor.track_operation("created_only")
    monitor.get_operation_stats("queried_only")
    assert monitor.get_all_stats() == {}


# ---------------------------------------------------------------- counts


def test_get_operation_count(monitor: PerformanceMonitor) -> None:
    assert monitor.get_operation_count() == 0
    for _ in range(3):
        with monitor.track_operation(OperationType.LLM_INFERENCE):
            pass
    monitor.record("other", 0.1, success=False)
    assert monitor.get_operation_count() == 4
    assert monitor.get_operation_count(None) == 4
    assert monitor.get_operation_count(OperationType.LLM_INFERENCE) == 3
    assert monitor.get_operation_count("llm_inference") == 3
    assert monitor.get_operation_count("other") == 1
    assert monitor.get_operation_count("nothing") == 0


# ------------------------------------------------------- ResponseTimeTracker


def test_response_time_tracker_seed_example() -> None:
    tracker = ResponseTimeTracker(max_history=1000)
    tracker.record_duration(OperationType.LLM_INFERENCE, 1.5)
    stats = tracker.get_stats(OperationType.LLM_INFERENCE)
    assert set(stats) == {"count", "min", "max", "avg", "p50", "p95", "p99", "total"}
    assert stats["count"] == 1
    assert stats["min"] == stats["max"] == 1.5
    assert stats["total"] == 1.5
    assert stats["p50"] == pytest.approx(1.5, rel=0.005)


def test_response_time_tracker_percentiles_and_types() -> None:
    tracker = ResponseTimeTracker()
    values = lognormal(5000, seed=7)
    for v in values:
        tracker.record_duration("llm_inference", v)
    for v in (0.5, 0.25):
        tracker.record_duration(OperationType.RERANKING, v)
    s = tracker.get_stats(OperationType.LLM_INFERENCE)
    ordered = sorted(values)
    assert s["count"] == 5000
    assert s["avg"] == pytest.approx(sum(values) / 5000, rel=1e-9)
    assert s["total"] == pytest.approx(sum(values), rel=1e-9)
    for q in QS:
        assert s[f"p{int(q * 100)}"] == pytest.approx(exact_quantile(ordered, q), rel=0.01)
    r = tracker.get_stats("reranking")
    assert r["count"] == 2 and r["min"] == 0.25 and r["max"] == 0.5
    assert tracker.get_count() == 5002
    assert tracker.get_count("reranking") == 2
    unknown = tracker.get_stats("unknown")
    assert unknown["count"] == 0 and unknown["p99"] == 0.0
    assert tracker.max_history == 1000
    tracker.clear()
    assert tracker.get_count() == 0
    assert tracker.get_stats("llm_inference")["count"] == 0


def test_response_time_tracker_max_history_property() -> None:
    assert ResponseTimeTracker(max_history=7).max_history == 7
    assert ResponseTimeTracker().max_history == 1000


def test_stats_from_core_equal_the_dataclass_built_the_usual_way() -> None:
    """PerformanceStats._from_core skips the frozen dataclass __init__ for
    speed: the object must be the one __init__ would build, defaults and
    fresh default containers included."""
    from ragperf.model.stats_fields import values_from_core

    monitor = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(20):
        with pytest.raises(ValueError) if i % 7 == 0 else contextlib.nullcontext():
            with monitor.track_operation("llm", model="qwen") as op:
                op.prompt_tokens, op.completion_tokens = 10, i
                op.cache_hit = i % 2 == 0
                if i % 7 == 0:
                    raise ValueError("x")
    with monitor.track_operation("plain"):
        pass
    for d in monitor._core.get_all_stats():
        fast = PerformanceStats._from_core(d, d["name"], window_minutes=5, exclude_cold_start=True)
        usual = PerformanceStats(
            operation_type=d["name"], window_minutes=5, exclude_cold_start=True, **values_from_core(d)
        )
        assert fast == usual and fast.to_dict() == usual.to_dict()
        assert vars(fast) == vars(usual)
    empty = PerformanceStats._from_values({"operation_type": "a"})
    other = PerformanceStats._from_values({"operation_type": "b"})
    assert empty == PerformanceStats("a") and empty.errors_by_type is not other.errors_by_type
