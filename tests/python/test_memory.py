"""MemoryMonitor, get_system_memory, and memory deltas of tracked blocks.

Allocations are ~50 MB and touched page by page so RSS really grows. 50 MB is
above glibc's largest dynamic mmap threshold (32 MB), so every buffer is a
fresh mapping (not recycled, already-resident heap) and is returned to the OS
when freed. The tolerances are wide because GC and other pages move RSS too."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Iterator

import pytest

from ragperf import MemoryMonitor, OperationType, PerformanceMonitor, get_system_memory

MB = 1024 * 1024
ALLOC_MB = 50
LOW, HIGH = 35.0, 80.0  # accepted range for a ~50 MB delta


def allocate_touched(mb: int = ALLOC_MB) -> bytearray:
    buf = bytearray(mb * MB)
    for i in range(0, len(buf), 4096):
        buf[i] = 1
    return buf


@pytest.fixture(autouse=True)
def _settle() -> Iterator[None]:
    gc.collect()
    yield
    gc.collect()


# ------------------------------------------------------------- MemoryMonitor


def test_get_current_usage_keys() -> None:
    mm = MemoryMonitor()
    usage = mm.get_current_usage()
    assert {"rss_mb", "vms_mb"} <= set(usage)
    assert isinstance(usage["rss_mb"], float) and isinstance(usage["vms_mb"], float)
    assert 0 < usage["rss_mb"] <= usage["vms_mb"]


def test_delta_after_allocating_50mb() -> None:
    mm = MemoryMonitor()
    start = mm.get_current_usage()
    buf = allocate_touched()
    end = mm.get_current_usage()
    delta = mm.get_memory_delta(start, end)
    assert LOW <= delta <= HIGH, delta
    # end defaults to "now"
    assert LOW <= mm.get_memory_delta(start) <= HIGH
    assert MemoryMonitor.get_memory_delta(start, end) == delta
    del buf


def test_memory_delta_arithmetic() -> None:
    assert MemoryMonitor.get_memory_delta({"rss_mb": 10.0}, {"rss_mb": 12.5}) == 2.5
    assert MemoryMonitor.get_memory_delta({"rss_mb": 12.5, "vms_mb": 1.0}, {"rss_mb": 10.0}) == -2.5


def test_get_stats_min_avg_max() -> None:
    mm = MemoryMonitor()
    first = mm.get_current_usage()["rss_mb"]
    buf = allocate_touched()
    second = mm.get_current_usage()["rss_mb"]
    stats = mm.get_stats()
    for key in ("current_rss_mb", "current_vms_mb", "min_rss_mb", "max_rss_mb", "avg_rss_mb"):
        assert isinstance(stats[key], float), key
    assert stats["samples"] == 3  # two explicit samples plus the one get_stats takes
    assert stats["min_rss_mb"] <= stats["avg_rss_mb"] <= stats["max_rss_mb"]
    assert stats["min_rss_mb"] <= first
    assert stats["max_rss_mb"] >= second
    assert stats["max_rss_mb"] - stats["min_rss_mb"] >= LOW
    del buf


def test_history_is_bounded_by_max_history() -> None:
    mm = MemoryMonitor(max_history=5)
    assert mm.max_history == 5
    assert mm.get_history() == []
    for _ in range(12):
        mm.get_current_usage()
    history = mm.get_history()
    assert len(history) == 5
    for sample in history:
        assert {"timestamp_s", "rss_mb", "vms_mb"} <= set(sample)
        assert sample["rss_mb"] > 0
        assert abs(sample["timestamp_s"] - time.time()) < 3600
    stamps = [s["timestamp_s"] for s in history]
    assert stamps == sorted(stamps)  # oldest first
    # aggregates cover every sample, not only the kept ones
    assert mm.get_stats()["samples"] == 13


def test_history_order_after_wrap() -> None:
    mm = MemoryMonitor(max_history=3)
    for _ in range(7):
        mm.get_current_usage()
    stamps = [s["timestamp_s"] for s in mm.get_history()]
    assert len(stamps) == 3
    assert stamps == sorted(stamps)


def test_clear() -> None:
    mm = MemoryMonitor(max_history=10)
    for _ in range(4):
        mm.get_current_usage()
    mm.clear()
    assert mm.get_history() == []
    stats = mm.get_stats()
    assert stats["samples"] == 1
    assert stats["min_rss_mb"] == stats["max_rss_mb"] == stats["avg_rss_mb"] == stats["current_rss_mb"]


def test_default_max_history() -> None:
    assert MemoryMonitor().max_history == 1000


# -------------------------------------------------------- get_system_memory


def test_system_memory_keys_and_ranges() -> None:
    mem = get_system_memory()
    assert {"total_mb", "available_mb", "used_mb", "free_mb", "used_percent"} <= set(mem)
    for v in mem.values():
        assert isinstance(v, float) and math.isfinite(v)
    assert mem["total_mb"] > 0
    assert 0 <= mem["available_mb"] <= mem["total_mb"]
    assert 0 <= mem["free_mb"] <= mem["total_mb"]
    assert 0 <= mem["used_mb"] <= mem["total_mb"]
    assert 0 <= mem["used_percent"] <= 100
    assert mem["used_mb"] == pytest.approx(mem["total_mb"] - mem["available_mb"], rel=1e-6, abs=1e-6)
    assert mem["used_percent"] == pytest.approx(100 * mem["used_mb"] / mem["total_mb"], rel=1e-6, abs=1e-6)
    # this process is part of the used memory
    rss = MemoryMonitor().get_current_usage()["rss_mb"]
    assert rss < mem["total_mb"]


def test_system_memory_in_report() -> None:
    report = PerformanceMonitor().generate_report()
    if "system_memory" in report:
        sm = report["system_memory"]
        assert sm["total_mb"] > 0
        assert 0 <= sm["used_percent"] <= 100


# ------------------------------------------------- tracked blocks' deltas


def test_block_memory_delta_about_50mb() -> None:
    m = PerformanceMonitor(enable_memory_tracking=True)
    with m.track_operation(OperationType.PDF_LOADING) as op:
        buf = allocate_touched()
    assert op.memory_delta_mb is not None
    assert LOW <= op.memory_delta_mb <= HIGH, op.memory_delta_mb
    s = m.get_operation_stats(OperationType.PDF_LOADING)
    assert s.total_memory_delta_mb == pytest.approx(op.memory_delta_mb)
    assert s.avg_memory_delta_mb == pytest.approx(op.memory_delta_mb)
    report_mem = m.generate_report()["operations"]["pdf_loading"].get("memory")
    if report_mem is not None:
        assert report_mem["total_delta_mb"] == pytest.approx(op.memory_delta_mb)
    del buf


def test_block_freeing_memory_has_negative_delta() -> None:
    m = PerformanceMonitor(enable_memory_tracking=True)
    buf = allocate_touched()
    with m.track_operation("free") as op:
        del buf
        gc.collect()
    assert op.memory_delta_mb is not None
    assert -HIGH <= op.memory_delta_mb <= -LOW, op.memory_delta_mb


def test_memory_deltas_sum_over_blocks() -> None:
    m = PerformanceMonitor(enable_memory_tracking=True)
    kept: list[bytearray] = []
    deltas: list[float] = []
    for _ in range(2):
        with m.track_operation("grow") as op:
            kept.append(allocate_touched())
        assert op.memory_delta_mb is not None
        deltas.append(op.memory_delta_mb)
    s = m.get_operation_stats("grow")
    assert s.total_memory_delta_mb == pytest.approx(sum(deltas))
    assert s.avg_memory_delta_mb == pytest.approx(sum(deltas) / 2)
    assert 2 * LOW <= s.total_memory_delta_mb <= 2 * HIGH
    kept.clear()


def test_no_memory_delta_when_tracking_off() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    with m.track_operation("x") as op:
        buf = allocate_touched(10)
    assert op.memory_delta_mb is None
    s = m.get_operation_stats("x")
    assert s.total_memory_delta_mb == 0.0
    assert s.avg_memory_delta_mb == 0.0
    del buf


def test_avg_memory_delta_over_blocks_that_measured_it() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    with m.track_operation("mixed"):
        pass  # no delta measured
    m.enable_memory_tracking = True
    with m.track_operation("mixed") as op:
        buf = allocate_touched()
    assert op.memory_delta_mb is not None
    s = m.get_operation_stats("mixed")
    assert s.total_operations == 2
    assert s.avg_memory_delta_mb == pytest.approx(op.memory_delta_mb)
    del buf


def test_memory_stats_see_the_peak() -> None:
    m = PerformanceMonitor(enable_memory_tracking=True)
    before = m.get_memory_stats()["current_rss_mb"]
    with m.track_operation("peak"):
        buf = allocate_touched()
    del buf
    gc.collect()
    stats = m.get_memory_stats()
    assert stats["max_rss_mb"] - before >= LOW


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_memory_tracking_works_in_a_forked_child() -> None:
    import os
    import warnings

    m = PerformanceMonitor(enable_memory_tracking=True)
    with m.track_operation("parent"):
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            with m.track_operation("child") as op:
                buf = allocate_touched()
            code = 0 if op.memory_delta_mb is not None and LOW <= op.memory_delta_mb <= HIGH else 2
            del buf
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert m.get_operation_count("child") == 0  # the child's records stay in the child
