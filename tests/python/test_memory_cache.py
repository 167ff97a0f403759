"""memory_max_age_us: blocks reuse a recent RSS reading; 0 = exact mode."""

from __future__ import annotations

import pytest

from ragperf import PerformanceMonitor, _core

MB = 1024 * 1024


def _touch(n_bytes: int) -> bytearray:
    data = bytearray(n_bytes)
    for i in range(0, n_bytes, 4096):  # fault every page in
        data[i] = 1
    return data


def test_default_is_100_us_and_settable() -> None:
    m = PerformanceMonitor()
    assert m.memory_max_age_us == 100.0
    m.memory_max_age_us = 0
    assert m.memory_max_age_us == 0.0
    assert PerformanceMonitor(memory_max_age_us=250).memory_max_age_us == 250.0


@pytest.mark.parametrize("bad", [-1, 2e6, float("nan")])
def test_bad_max_age_names_the_value(bad: float) -> None:
    with pytest.raises(ValueError, match="memory_max_age_us"):
        PerformanceMonitor(memory_max_age_us=bad)
    m = PerformanceMonitor()
    with pytest.raises(ValueError, match="memory_max_age_us"):
        m.memory_max_age_us = bad


def test_max_age_type_error() -> None:
    with pytest.raises(TypeError, match="'fast'"):
        PerformanceMonitor(memory_max_age_us="fast")  # type: ignore[arg-type]


def test_exact_mode_reads_twice_per_block() -> None:
    m = PerformanceMonitor(memory_max_age_us=0)
    before = _core.Monitor.rss_reads()
    for _ in range(50):
        with m.track_operation("x"):
            pass
    assert _core.Monitor.rss_reads() - before == 100
    assert m.get_operation_stats("x").total_operations == 50


def test_cached_mode_reads_far_less_for_short_blocks() -> None:
    m = PerformanceMonitor(memory_max_age_us=100_000)  # 100 ms
    before = _core.Monitor.rss_reads()
    for _ in range(1000):
        with m.track_operation("x"):
            pass
    reads = _core.Monitor.rss_reads() - before
    assert reads < 100, reads  # 1000 blocks in far less than 10 s
    assert m.get_operation_stats("x").total_operations == 1000


@pytest.mark.parametrize("max_age_us", [0.0, 100.0])
def test_long_block_measures_its_own_allocation(max_age_us: float) -> None:
    m = PerformanceMonitor(memory_max_age_us=max_age_us)
    with m.track_operation("warm"):
        pass  # leaves a fresh reading right before the measured block
    with m.track_operation("alloc") as op:
        data = _touch(64 * MB)
    assert op.memory_delta_mb is not None
    assert 48 < op.memory_delta_mb < 96, op.memory_delta_mb
    assert len(data) == 64 * MB


def test_memory_off_reads_nothing() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    before = _core.Monitor.rss_reads()
    with m.track_operation("x") as op:
        pass
    assert _core.Monitor.rss_reads() == before
    assert op.memory_delta_mb is None
