"""monitor.record(..., timestamp_s=...): a record that ended at a given
wall-clock time lands in that time's one-minute window; times outside the
window range count all-time only; bad values raise clear errors."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import pytest

from ragperf import PerformanceMonitor


def _window_total(monitor: PerformanceMonitor, op: str, minutes: int) -> int:
    return monitor.get_operation_stats(op, window_minutes=minutes).total_operations


def test_past_timestamp_lands_in_its_minute() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    now = time.time()
    m.record("replay", 0.10, timestamp_s=now - 10 * 60)  # ten minutes ago
    m.record("replay", 0.20, timestamp_s=now - 30)  # this or the last minute
    assert _window_total(m, "replay", 2) == 1
    assert _window_total(m, "replay", 5) == 1
    assert _window_total(m, "replay", 11) == 2
    assert _window_total(m, "replay", 60) == 2
    stats = m.get_operation_stats("replay")
    assert stats.total_operations == 2
    assert stats.max_duration == pytest.approx(0.20)


def test_window_percentiles_follow_the_planted_minutes() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    now = time.time()
    for _ in range(50):
        m.record("llm", 2.0, timestamp_s=now - 20 * 60)  # slow, 20 min ago
    for _ in range(50):
        m.record("llm", 0.5, timestamp_s=now)
    recent = m.get_operation_stats("llm", window_minutes=5)
    assert recent.total_operations == 50
    assert recent.p99_duration == pytest.approx(0.5, rel=0.01)
    hour = m.get_operation_stats("llm", window_minutes=60)
    assert hour.total_operations == 100
    assert hour.p99_duration == pytest.approx(2.0, rel=0.01)


def test_too_old_counts_all_time_only_and_never_erases_newer_windows() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    now = time.time()
    m.record("op", 0.1, timestamp_s=now)
    m.record("op", 0.1, timestamp_s=now - 5 * 60)
    # 61 slots: a record 61 minutes older than "now" maps to now's slot and
    # 66 minutes older to the slot of 5 minutes ago; both must stay intact.
    m.record("op", 9.0, timestamp_s=now - 61 * 60)
    m.record("op", 9.0, timestamp_s=now - 66 * 60)
    m.record("op", 9.0, timestamp_s=now - 3 * 3600)
    assert _window_total(m, "op", 1) == 1
    assert _window_total(m, "op", 60) == 2
    assert m.get_operation_stats("op", window_minutes=60).max_duration == pytest.approx(0.1)
    all_time = m.get_operation_stats("op")
    assert all_time.total_operations == 5
    assert all_time.max_duration == pytest.approx(9.0)
    # First/last timestamps are the earliest and latest, whatever the order.
    report = m.generate_report()["operations"]["op"]
    assert report["first_timestamp_unix_s"] == pytest.approx(now - 3 * 3600, abs=1e-3)
    assert report["last_timestamp_unix_s"] == pytest.approx(now, abs=1e-3)


def test_future_minute_counts_all_time_only() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    now = time.time()
    m.record("op", 0.3, timestamp_s=now - 59 * 60)  # oldest minute of the range
    m.record("op", 0.3, timestamp_s=now + 2 * 60)  # two minutes ahead
    m.record("op", 0.3, timestamp_s=now + 2 * 86400)
    assert _window_total(m, "op", 60) == 1
    assert m.get_operation_stats("op").total_operations == 3


def test_failed_and_token_records_keep_their_time() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    now = time.time()
    m.record("llm", 1.0, success=False, error_type="TimeoutError", timestamp_s=now - 15 * 60)
    m.record("llm", 1.0, prompt_tokens=10, completion_tokens=5, timestamp_s=now - 15 * 60)
    assert _window_total(m, "llm", 5) == 0
    window = m.get_operation_stats("llm", window_minutes=20)
    assert window.total_operations == 2
    assert window.failed_operations == 1
    assert window.total_tokens == 15
    errors = m.get_recent_errors()
    assert errors[-1]["timestamp_s"] == pytest.approx(now - 15 * 60, abs=1e-3)


def test_none_means_now_and_numbers_of_any_real_type_work() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    now = time.time()
    m.record("op", 0.1, timestamp_s=None)
    m.record("op", 0.1, timestamp_s=int(now))
    m.record("op", 0.1, timestamp_s=Fraction(int(now)))
    assert _window_total(m, "op", 2) == 3


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1.0])
def test_non_finite_or_negative_is_a_value_error(bad: float) -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    with pytest.raises(ValueError, match="timestamp_s must be finite"):
        m.record("op", 0.1, timestamp_s=bad)
    assert m.get_operation_stats("op").total_operations == 0


@pytest.mark.parametrize("bad", ["2026-01-01", True, [1.0], b"1"])
def test_non_numeric_is_a_type_error_naming_the_value(bad: object) -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    with pytest.raises(TypeError, match="timestamp_s must be a number"):
        m.record("op", 0.1, timestamp_s=bad)  # type: ignore[arg-type]
    assert m.get_operation_stats("op").total_operations == 0
