"""Issue #8 item 3: fork while other threads record, read and export.

The child must never inherit a held lock: every child below uses the
monitor (record, stats, report, export) and must exit 0 before a deadline.
Statistics policy: a plain monitor's child inherits the parent's statistics
(a copy, as fork copies all memory); multi-process mode starts the child
empty (tests/python/test_multiproc.py). The resource sampler restarts in the
child at the parent's interval; a PeriodicExporter does not (its file is the
parent's; see docs/reliability.md)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ragperf import PerformanceMonitor
from ragperf.export.exporting import start_periodic_export

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

CHILD_DEADLINE_S = 30.0


def fork() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        return os.fork()


def wait_child(pid: int, deadline_s: float = CHILD_DEADLINE_S) -> int:
    """The child's exit code; kills it and fails when it hangs."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"forked child {pid} did not finish within {deadline_s} s (deadlock)")


def in_child(body: Callable[[], int]) -> None:
    """Runs ``body`` in the child and leaves with its code (no exit hooks)."""
    code = 99
    try:
        code = body()
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


@pytest.fixture
def busy_monitor(tmp_path: Path) -> Iterator[PerformanceMonitor]:
    """A monitor with 4 recording threads, a thread on the GIL-released read
    paths, a periodic exporter and the resource sampler all running."""
    m = PerformanceMonitor(enable_memory_tracking=True)
    stop = threading.Event()

    def recorder(i: int) -> None:
        while not stop.is_set():
            with m.track_operation(f"op_{i % 2}", {"thread": i}) as op:
                op.tokens = 3
            m.record("recorded", 0.001)

    def reader() -> None:
        while not stop.is_set():
            m.generate_report()
            m.export_metrics_json(tmp_path / "reader.json")

    threads = [threading.Thread(target=recorder, args=(i,), daemon=True) for i in range(4)]
    threads.append(threading.Thread(target=reader, daemon=True))
    for t in threads:
        t.start()
    exporter = start_periodic_export(m, tmp_path / "periodic.json", interval_s=0.05)
    m.start_sampler(interval_s=0.05)
    try:
        yield m
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        exporter.stop()
        m.stop_sampler()


def test_many_forks_while_four_threads_record(busy_monitor: PerformanceMonitor, tmp_path: Path) -> None:
    m = busy_monitor
    forks = 40
    for i in range(forks):
        time.sleep(0.005)  # let the threads get back inside ragperf
        inherited = m.get_operation_count()
        pid = fork()
        if pid == 0:

            def child() -> int:
                # Inherited policy: the parent's records are all here.
                if m.get_operation_count() < inherited:
                    return 2
                for _ in range(100):
                    with m.track_operation("child_op"):
                        pass
                if m.get_operation_stats("child_op").total_operations != 100:
                    return 3
                m.generate_report()
                m.export_metrics_json(tmp_path / f"child-{os.getpid()}.json")
                # The sampler was running in the parent: restarted here.
                if not m.get_system_stats()["sampler_running"]:
                    return 4
                m.stop_sampler()
                return 0

            in_child(child)
        assert wait_child(pid) == 0, f"fork {i}"
    assert m.get_operation_stats("child_op").total_operations == 0
    assert len(list(tmp_path.glob("child-*.json"))) == forks


def test_child_can_start_from_fresh_statistics(tmp_path: Path) -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.record("parent", 0.01)
    pid = fork()
    if pid == 0:

        def child() -> int:
            if m.get_operation_stats("parent").total_operations != 1:
                return 2  # inherited by default
            m.clear_metrics()  # the documented way to start fresh
            m.record("child", 0.02)
            return 0 if m.get_operation_count() == 1 else 3

        in_child(child)
    assert wait_child(pid) == 0
    assert m.get_operation_count() == 1
    assert m.get_operation_stats("child").total_operations == 0


def _pool_work(n: int) -> tuple[int, int]:
    # Runs in a forked worker: the module-level monitor was copied in.
    for _ in range(n):
        with _POOL_MONITOR.track_operation("pool_op"):
            pass
    return os.getpid(), _POOL_MONITOR.get_operation_stats("pool_op").total_operations


_POOL_MONITOR = PerformanceMonitor(enable_memory_tracking=False)


def test_multiprocessing_fork_pool_while_threads_record() -> None:
    stop = threading.Event()

    def recorder() -> None:
        while not stop.is_set():
            with _POOL_MONITOR.track_operation("parent_op"):
                pass
            _POOL_MONITOR.get_all_stats()  # GIL released while merging

    threads = [threading.Thread(target=recorder, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        ctx = multiprocessing.get_context("fork")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            with ctx.Pool(3) as pool:
                result = pool.map_async(_pool_work, [200] * 12)
                rows = result.get(timeout=120)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    # Each worker's own count grows by exactly 200 per task it ran.
    by_pid: dict[int, list[int]] = {}
    for pid, count in rows:
        by_pid.setdefault(pid, []).append(count)
    for counts in by_pid.values():
        assert sorted(counts) == [200 * (k + 1) for k in range(len(counts))]
    assert sum(len(c) for c in by_pid.values()) == 12
    assert _POOL_MONITOR.get_operation_stats("pool_op").total_operations == 0


def test_prefork_server_loop(tmp_path: Path) -> None:
    """A pre-forking TCP server: the parent (with recording threads) forks
    workers that accept on a shared socket, track each request, and report
    their counts when they exit; dead workers are replaced."""
    m = PerformanceMonitor(enable_memory_tracking=False)
    stop = threading.Event()

    def parent_recorder() -> None:
        while not stop.is_set():
            with m.track_operation("parent_tick"):
                pass
            m.get_all_stats()

    ticker = threading.Thread(target=parent_recorder, daemon=True)
    ticker.start()
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    per_worker = 10

    def serve() -> int:
        for _ in range(per_worker):
            conn, _ = server.accept()
            with conn, m.track_operation("request") as op:
                data = conn.recv(64)
                op.tokens = len(data)
                conn.sendall(b"ok")
        s = m.get_operation_stats("request")
        (tmp_path / f"worker-{os.getpid()}.txt").write_text(f"{s.total_operations} {s.total_tokens}")
        return 0

    total_requests = 60
    needed = total_requests // per_worker
    exit_codes: list[int] = []

    def spawn() -> int:
        pid = fork()
        if pid == 0:
            in_child(serve)
        return pid

    def supervisor() -> None:
        # The prefork loop: keep 3 workers alive, replace each one that
        # served its quota, until enough have been started.
        workers = {spawn() for _ in range(3)}
        spawned = 3
        while workers:
            for pid in list(workers):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done == pid:
                    exit_codes.append(os.waitstatus_to_exitcode(status))
                    workers.discard(pid)
                    if spawned < needed:
                        workers.add(spawn())
                        spawned += 1
            time.sleep(0.002)

    sup = threading.Thread(target=supervisor, daemon=True)
    sup.start()
    try:
        for k in range(total_requests):
            with socket.create_connection(("127.0.0.1", port), timeout=CHILD_DEADLINE_S) as c:
                c.sendall(b"x" * (1 + k % 5))
                assert c.recv(2) == b"ok"
        sup.join(CHILD_DEADLINE_S)
        assert not sup.is_alive(), "a worker did not exit (deadlock)"
    finally:
        stop.set()
        ticker.join(60)
        server.close()
    assert exit_codes == [0] * needed
    counts = [tuple(map(int, p.read_text().split())) for p in tmp_path.glob("worker-*.txt")]
    assert len(counts) == total_requests // per_worker
    assert all(c == per_worker for c, _ in counts)
    assert sum(t for _, t in counts) == sum(1 + k % 5 for k in range(total_requests))
    assert m.get_operation_stats("request").total_operations == 0
