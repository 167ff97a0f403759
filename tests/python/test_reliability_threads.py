"""Issue #8 item 1: 8 threads x 10^5 blocks, with and without threads on the
GIL-released paths (stats, reports, exports merge shards with the GIL
released) running alongside: counts exact, no deadlock (every join has a
deadline)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ragperf import PerformanceMonitor

THREADS = 8
BLOCKS = 100_000
DEADLINE_S = 300.0  # generous: a deadlock, not slowness, is what it catches


def run_with_deadline(targets: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                barrier.wait()
                fn()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)

        return run

    threads = [threading.Thread(target=wrap(fn), daemon=True) for fn in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S)
        assert not t.is_alive(), "a thread did not finish: deadlock"
    if errors:
        raise errors[0]


def writers(m: PerformanceMonitor) -> list[Callable[[], None]]:
    def block_writer(i: int) -> Callable[[], None]:
        def run() -> None:
            track = m.track_operation
            own = f"own_{i}"
            for k in range(BLOCKS // 2):
                with track("shared") as op:
                    op.tokens = 1
                with track(own):
                    pass

        return run

    def record_writer(i: int) -> Callable[[], None]:
        def run() -> None:
            record = m.record
            own = f"own_{i}"
            for k in range(BLOCKS // 2):
                record("shared", 0.001, tokens=1)
                record(own, 0.002)

        return run

    # Half the threads time blocks, half call record(): both hot paths.
    return [block_writer(i) if i % 2 == 0 else record_writer(i) for i in range(THREADS)]


def check_exact(m: PerformanceMonitor) -> None:
    shared = m.get_operation_stats("shared")
    assert shared.total_operations == THREADS * BLOCKS // 2
    assert shared.total_tokens == THREADS * BLOCKS // 2
    for i in range(THREADS):
        assert m.get_operation_stats(f"own_{i}").total_operations == BLOCKS // 2
    assert m.get_operation_count() == THREADS * BLOCKS


@pytest.mark.slow
def test_eight_threads_hot_paths_only() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    run_with_deadline(writers(m))
    check_exact(m)


@pytest.mark.slow
def test_eight_threads_with_gil_released_readers(tmp_path: Path) -> None:
    m = PerformanceMonitor(enable_memory_tracking=True)
    done = threading.Event()
    seen: list[int] = []

    def reader() -> None:
        while not done.is_set():
            report = m.generate_report()
            seen.append(int(report["total_operations"]))
            m.get_all_stats()
            m.get_health_status()

    def exporter() -> None:
        while not done.is_set():
            m.export_metrics_json(tmp_path / "m.json")

    work = writers(m)

    def writers_then_done() -> None:
        # Runs the writers in this thread group and signals the readers.
        run_with_deadline(work)
        done.set()

    run_with_deadline([writers_then_done, reader, exporter])
    check_exact(m)
    assert seen, "the reader never completed a report"
    assert all(a <= b for a, b in zip(seen, seen[1:])), "counts went backwards"
    assert max(seen) <= THREADS * BLOCKS
