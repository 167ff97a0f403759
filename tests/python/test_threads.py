"""Thread safety: exact counts and totals under concurrent recording, and
readers running alongside writers."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from ragperf import OperationType, PerformanceMonitor, QuantileSketch, ResponseTimeTracker

THREADS = 10
BLOCKS = 10_000


def run_threads(target: Callable[[int], None], n: int = THREADS) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def wrapper(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)

    threads = [threading.Thread(target=wrapper, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("memory_tracking", [False, True])
def test_same_operation_from_threads(memory_tracking: bool) -> None:
    m = PerformanceMonitor(enable_memory_tracking=memory_tracking)

    def work(i: int) -> None:
        track = m.track_operation
        for _ in range(BLOCKS):
            with track(OperationType.LLM_INFERENCE) as op:
                op.tokens = 2

    run_threads(work)
    s = m.get_operation_stats(OperationType.LLM_INFERENCE)
    assert s.total_operations == THREADS * BLOCKS
    assert s.successful_operations == THREADS * BLOCKS
    assert s.total_tokens == 2 * THREADS * BLOCKS
    assert m.get_operation_count() == THREADS * BLOCKS
    assert m.generate_report()["operations"]["llm_inference"]["total"] == THREADS * BLOCKS


def test_distinct_operations_from_threads() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)

    def work(i: int) -> None:
        name = f"thread_op_{i}"
        for j in range(BLOCKS):
            with m.track_operation(name) as op:
                op.prompt_tokens = 1
                op.completion_tokens = i

    run_threads(work)
    assert m.get_operation_count() == THREADS * BLOCKS
    all_stats = m.get_all_stats()
    assert len(all_stats) == THREADS
    for i in range(THREADS):
        s = all_stats[f"thread_op_{i}"]
        assert s.total_operations == BLOCKS
        assert s.total_tokens == BLOCKS * (1 + i)
        assert s.prompt_tokens == BLOCKS
        assert s.completion_tokens == BLOCKS * i


def test_failures_from_threads_are_counted_exactly() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    per_thread = 2000

    def work(i: int) -> None:
        for j in range(per_thread):
            try:
                with m.track_operation("mixed"):
                    if j % 4 == 0:
                        raise ValueError
                    if j % 4 == 1:
                        raise KeyError
            except (ValueError, KeyError):
                pass

    run_threads(work)
    s = m.get_operation_stats("mixed")
    assert s.total_operations == THREADS * per_thread
    assert s.failed_operations == THREADS * per_thread // 2
    assert dict(s.errors_by_type) == {"ValueError": THREADS * per_thread // 4, "KeyError": THREADS * per_thread // 4}


def test_record_from_threads() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    per_thread = 5000

    def work(i: int) -> None:
        for j in range(per_thread):
            m.record("recorded", 0.001 * (1 + j % 10), tokens=3, success=j % 10 != 0, memory_delta_mb=0.5)
            m.record(f"recorded_{i % 2}", 0.01)

    run_threads(work)
    s = m.get_operation_stats("recorded")
    assert s.total_operations == THREADS * per_thread
    assert s.failed_operations == THREADS * per_thread // 10
    assert s.total_tokens == 3 * THREADS * per_thread
    assert s.total_memory_delta_mb == pytest.approx(0.5 * THREADS * per_thread)
    assert s.total_duration == pytest.approx(THREADS * per_thread // 10 * sum(0.001 * k for k in range(1, 11)))
    assert s.min_duration == pytest.approx(0.001)
    assert s.max_duration == pytest.approx(0.010)
    # Percentiles merge exactly across per-thread shards.
    assert s.p50_duration == pytest.approx(0.005, rel=0.01)
    assert s.p99_duration == pytest.approx(0.010, rel=0.01)
    assert m.get_operation_count("recorded_0") + m.get_operation_count("recorded_1") == THREADS * per_thread


def test_mixed_blocks_and_records_and_timed() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)

    @m.timed("shared")
    def step() -> None:
        pass

    def work(i: int) -> None:
        for j in range(1000):
            if j % 3 == 0:
                with m.track_operation("shared"):
                    pass
            elif j % 3 == 1:
                m.record("shared", 0.001)
            else:
                step()

    run_threads(work)
    assert m.get_operation_count("shared") == THREADS * 1000


def test_readers_alongside_writers() -> None:
    m = PerformanceMonitor(enable_memory_tracking=True)
    stop = threading.Event()
    per_writer = 5000
    n_writers = 4
    observed: list[int] = []

    def writer() -> None:
        for j in range(per_writer):
            with m.track_operation(OperationType.RERANKING) as op:
                op.tokens = 1
            if j % 100 == 0:
                m.record("side", 0.001)

    def reader() -> None:
        last = 0
        while not stop.is_set():
            s = m.get_operation_stats(OperationType.RERANKING)
            assert s.total_operations >= last  # counts never go backwards
            assert s.successful_operations + s.failed_operations == s.total_operations
            last = s.total_operations
            m.get_operation_stats("reranking", window_minutes=1)
            m.get_all_stats()
            report = m.generate_report()
            assert report["total_operations"] >= 0
            m.get_health_status()
            m.get_memory_stats()
            observed.append(last)

    errors: list[BaseException] = []

    def guard(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - re-raised below
                errors.append(e)
                stop.set()

        return run

    readers = [threading.Thread(target=guard(reader)) for _ in range(2)]
    writers = [threading.Thread(target=guard(writer)) for _ in range(n_writers)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    if errors:
        raise errors[0]
    assert m.get_operation_count(OperationType.RERANKING) == n_writers * per_writer
    assert m.get_operation_stats(OperationType.RERANKING).total_tokens == n_writers * per_writer
    assert m.get_operation_count("side") == n_writers * per_writer // 100
    assert observed


def test_clear_while_recording_does_not_crash() -> None:
    m = PerformanceMonitor(enable_memory_tracking=True)
    stop = threading.Event()

    def writer(i: int) -> None:
        for _ in range(3000):
            with m.track_operation(f"c{i % 3}"):
                pass

    def clearer() -> None:
        while not stop.is_set():
            m.clear_metrics()

    t = threading.Thread(target=clearer)
    t.start()
    try:
        run_threads(writer, n=4)
    finally:
        stop.set()
        t.join()
    m.clear_metrics()
    with m.track_operation("c0"):
        pass
    assert m.get_operation_count() == 1
    mem = m.get_memory_stats()
    assert mem["min_rss_mb"] <= mem["avg_rss_mb"] <= mem["max_rss_mb"]


def test_tracker_entered_in_one_thread_exited_in_another() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    tracker = m.track_operation("handoff")
    tracker.__enter__()
    t = threading.Thread(target=lambda: tracker.__exit__(None, None, None))
    t.start()
    t.join()
    assert tracker.success is True
    assert m.get_operation_count("handoff") == 1


def test_response_time_tracker_from_threads() -> None:
    tracker = ResponseTimeTracker()

    def work(i: int) -> None:
        for j in range(2000):
            tracker.record_duration(OperationType.PDF_LOADING, 0.1)

    run_threads(work)
    assert tracker.get_count(OperationType.PDF_LOADING) == THREADS * 2000
    assert tracker.get_stats("pdf_loading")["p99"] == pytest.approx(0.1, rel=0.01)


def test_per_thread_sketches_merge_to_the_single_stream() -> None:
    # Per-thread sketches, merged, equal one sketch that saw every value.
    sketches = [QuantileSketch() for _ in range(THREADS)]

    def work(i: int) -> None:
        for j in range(1000):
            sketches[i].add(0.0001 * (1 + (i * 1000 + j) % 997))

    run_threads(work)
    merged = QuantileSketch()
    for s in sketches:
        merged.merge(s)
    single = QuantileSketch()
    for i in range(THREADS):
        for j in range(1000):
            single.add(0.0001 * (1 + (i * 1000 + j) % 997))
    assert merged.same_contents(single)
