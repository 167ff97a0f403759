"""ragperf.multiproc: worker processes write snapshots to a shared directory;
merge_snapshots (and the Prometheus collector in multi-process mode) merges
them exactly -- counts add, and the merged p50/p95/p99 stay within the
sketch's error bound of the exact quantiles of all workers' samples.

Tests that merge need ``PerformanceMonitor.merge_from`` and are skipped
while the installed package lacks it."""

from __future__ import annotations

import inspect
import json
import math
import multiprocessing
import os
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

import ragperf.monitor
from ragperf import PerformanceMonitor
from ragperf.export import multiproc
from ragperf.export.multiproc import (
    cleanup_dead_snapshots,
    disable_multiprocess,
    enable_multiprocess,
    get_multiprocess_exporter,
    list_snapshots,
    maybe_enable_from_env,
    merge_snapshots,
    snapshot_path,
)

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python >= 3.12 warns when a process with threads forks; these tests fork on purpose.
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

needs_merge = pytest.mark.skipif(
    not hasattr(PerformanceMonitor, "merge_from"),
    reason="the installed ragperf lacks PerformanceMonitor.merge_from",
)

OP = "llm_inference"
QUANTILES = (0.5, 0.95, 0.99)


def samples(seed: int, n: int) -> list[float]:
    """Durations in seconds; a different lognormal per seed."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(mean=-3.0 + 0.4 * (seed % 5), sigma=0.4 + 0.15 * (seed % 4), size=n)
    return [float(x) for x in values]


def exact_quantile(values: Sequence[float], q: float) -> float:
    """Nearest-rank quantile: the ceil(q * n)-th smallest value."""
    ordered = np.sort(np.asarray(values))
    return float(ordered[max(1, math.ceil(q * len(ordered))) - 1])


def assert_quantiles(monitor: PerformanceMonitor, values: Sequence[float]) -> None:
    stats = monitor.get_operation_stats(OP)
    assert stats.total_operations == len(values)
    got = {0.5: stats.p50_duration, 0.95: stats.p95_duration, 0.99: stats.p99_duration}
    for q in QUANTILES:
        assert got[q] == pytest.approx(exact_quantile(values, q), rel=0.01), q
    assert stats.total_duration == pytest.approx(sum(values), rel=1e-9)


@pytest.fixture(autouse=True)
def _no_leftover_mode() -> Iterator[None]:
    before = set(multiproc._states)
    yield
    for key in set(multiproc._states) - before:
        state = multiproc._states.get(key)
        if state is not None:
            disable_multiprocess(state.monitor, flush=False)


# ------------------------------------------------------ worker entry points
# Module level so that the "spawn" start method can import them.


def _process_worker(directory: str, seed: int, n: int) -> None:
    monitor = PerformanceMonitor()
    enable_multiprocess(directory, monitor=monitor, interval_s=60)
    for x in samples(seed, n):
        monitor.record(OP, duration_s=x)
    # No explicit flush: the process's exit hooks write the snapshot.


_POOL_MONITOR: PerformanceMonitor | None = None


def _pool_task(args: tuple[int, int]) -> int:
    seed, n = args
    assert _POOL_MONITOR is not None
    for x in samples(seed, n):
        _POOL_MONITOR.record(OP, duration_s=x)
    return os.getpid()


# ------------------------------------------------------------ four workers


@needs_merge
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_four_processes_merge_exactly(tmp_path: Path, method: str) -> None:
    n = 1500
    ctx = multiprocessing.get_context("fork") if method == "fork" else multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_process_worker, args=(str(tmp_path), seed, n)) for seed in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert {s.pid for s in list_snapshots(tmp_path)} == {p.pid for p in procs}
    merged = merge_snapshots(tmp_path)
    assert_quantiles(merged, [x for seed in range(4) for x in samples(seed, n)])


@needs_merge
def test_pool_forked_from_a_process_in_multiprocess_mode(tmp_path: Path) -> None:
    global _POOL_MONITOR
    monitor = PerformanceMonitor()
    parent = samples(100, 300)
    for x in parent:
        monitor.record(OP, duration_s=x)
    monitor.record("parent_only", duration_s=0.5)
    exporter = enable_multiprocess(tmp_path, monitor=monitor, interval_s=60)
    _POOL_MONITOR = monitor
    tasks = [(seed, 800) for seed in range(8)]
    try:
        pool = multiprocessing.get_context("fork").Pool(4)
        try:
            pids = set(pool.map(_pool_task, tasks, chunksize=1))
            pool.close()
            pool.join()  # workers leave through multiprocessing's exit hook: snapshots flushed
        finally:
            pool.terminate()
    finally:
        _POOL_MONITOR = None
    exporter.stop()
    # Every worker writes a file (an empty one if it got no task), the parent its own.
    files = {s.pid for s in list_snapshots(tmp_path)}
    assert len(files) == 4 + 1 and pids | {os.getpid()} <= files
    merged = merge_snapshots(tmp_path)
    assert_quantiles(merged, parent + [x for seed, n in tasks for x in samples(seed, n)])
    # The children started empty: the parent's records are counted once.
    assert merged.get_operation_stats("parent_only").total_operations == 1
    assert monitor.get_operation_stats(OP).total_operations == len(parent)


@needs_merge
def test_prefork_server_loop_with_os_fork(tmp_path: Path) -> None:
    monitor = PerformanceMonitor()
    before = samples(50, 200)
    for x in before:
        monitor.record(OP, duration_s=x)
    enable_multiprocess(tmp_path, monitor=monitor, interval_s=60)
    n = 500
    children = []
    for worker in range(4):
        pid = os.fork()
        if pid == 0:  # child: serve n "requests", flush, leave without exit hooks
            code = 1
            try:
                assert monitor.get_all_stats() == {}, "a forked child starts empty"
                exporter = get_multiprocess_exporter(monitor)
                assert exporter is not None and exporter.running
                assert exporter.path == snapshot_path(tmp_path)
                assert exporter.path.endswith(f"-{os.getpid()}.json")
                for x in samples(10 + worker, n):
                    monitor.record(OP, duration_s=x)
                exporter.stop()  # os._exit skips atexit: flush explicitly
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        children.append(pid)
    for pid in children:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    after = samples(60, 100)  # the parent keeps recording
    for x in after:
        monitor.record(OP, duration_s=x)
    parent_exporter = get_multiprocess_exporter(monitor)
    assert parent_exporter is not None
    parent_exporter.stop()
    assert {s.pid for s in list_snapshots(tmp_path)} == set(children) | {os.getpid()}
    merged = merge_snapshots(tmp_path)
    all_values = before + after + [x for w in range(4) for x in samples(10 + w, n)]
    assert_quantiles(merged, all_values)
    assert monitor.get_operation_stats(OP).total_operations == len(before) + len(after)


# ------------------------------------------------------------ stale policy


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_snapshot(path: Path, count: int, duration_s: float = 0.01) -> None:
    monitor = PerformanceMonitor()
    for _ in range(count):
        monitor.record(OP, duration_s=duration_s)
    monitor.export_metrics_json(str(path))


def _stale_dir(tmp_path: Path) -> tuple[Path, Path, Path]:
    live = Path(snapshot_path(tmp_path))
    dead = Path(snapshot_path(tmp_path, _dead_pid()))
    other_host = tmp_path / "ragperf-other.host.invalid-1.json"
    _write_snapshot(live, 3)
    _write_snapshot(dead, 5)
    _write_snapshot(other_host, 7)
    return live, dead, other_host


def test_list_snapshots_reports_liveness(tmp_path: Path) -> None:
    live, dead, other = _stale_dir(tmp_path)
    (tmp_path / "ragperf-x-1.json.tmp.abc123").write_text("{")  # a write in progress
    (tmp_path / "unrelated.json").write_text("{}")
    got = {Path(s.path).name: (s.pid, s.alive) for s in list_snapshots(tmp_path)}
    assert got == {
        live.name: (os.getpid(), True),
        dead.name: (int(dead.stem.rsplit("-", 1)[1]), False),
        other.name: (1, None),
    }


@needs_merge
def test_dead_snapshots_are_merged_by_default_and_can_be_excluded(tmp_path: Path) -> None:
    live, dead, other = _stale_dir(tmp_path)
    assert merge_snapshots(tmp_path).get_operation_stats(OP).total_operations == 3 + 5 + 7
    # Other hosts cannot be checked: kept.
    assert merge_snapshots(tmp_path, include_dead=False).get_operation_stats(OP).total_operations == 3 + 7
    hour_ago = time.time() - 3600
    os.utime(dead, (hour_ago, hour_ago))
    assert merge_snapshots(tmp_path, max_age_s=600).get_operation_stats(OP).total_operations == 3 + 7
    os.utime(other, (hour_ago, hour_ago))
    assert merge_snapshots(tmp_path, max_age_s=600).get_operation_stats(OP).total_operations == 3


def test_cleanup_dead_snapshots(tmp_path: Path) -> None:
    live, dead, other = _stale_dir(tmp_path)
    leftover = tmp_path / (dead.name + ".tmp.Ab12Cd")
    leftover.write_text("{")
    removed = cleanup_dead_snapshots(tmp_path)
    assert removed == sorted([str(dead), str(leftover)])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])
    assert cleanup_dead_snapshots(tmp_path) == []


# ------------------------------------------------------------ bad files


@needs_merge
@pytest.mark.parametrize("content", ["{\"operations\": {", "[]", "", "{\"operations\": {}}"])
def test_corrupt_snapshot_raises_naming_it_or_is_skipped(tmp_path: Path, content: str) -> None:
    _write_snapshot(tmp_path / "ragperf-a-1.json", 2)
    bad = tmp_path / "ragperf-b-2.json"
    bad.write_text(content)
    with pytest.raises(ValueError, match="ragperf-b-2.json"):
        merge_snapshots(tmp_path)
    merged = merge_snapshots(tmp_path, on_error="skip")
    assert merged.get_operation_stats(OP).total_operations == 2


@needs_merge
def test_snapshot_vanishing_between_listing_and_reading_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_snapshot(tmp_path / "ragperf-a-1.json", 2)
    real = multiproc.list_snapshots

    def with_ghost(directory: object) -> list[multiproc.SnapshotFile]:
        ghost = multiproc.SnapshotFile(str(tmp_path / "ragperf-a-9.json"), "a", 9, time.time(), None)
        return real(directory) + [ghost]

    monkeypatch.setattr(multiproc, "list_snapshots", with_ghost)
    assert merge_snapshots(tmp_path).get_operation_stats(OP).total_operations == 2


def test_merge_snapshots_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_error"):
        merge_snapshots(tmp_path, on_error="ignore")
    with pytest.raises(ValueError, match="max_age_s"):
        merge_snapshots(tmp_path, max_age_s=-1)
    with pytest.raises(FileNotFoundError):
        merge_snapshots(tmp_path / "missing")


# ------------------------------------------------------------ enabling


def test_enable_multiprocess_writes_the_pid_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(multiproc.ENV_DIR, raising=False)
    monitor = PerformanceMonitor()
    with pytest.raises(ValueError, match="RAGPERF_MULTIPROC_DIR"):
        enable_multiprocess(monitor=monitor)
    target = tmp_path / "new" / "dir"
    exporter = enable_multiprocess(target, monitor=monitor, interval_s=60)
    assert target.is_dir() and exporter.running
    expected = target / f"ragperf-{multiproc._hostname()}-{os.getpid()}.json"
    assert exporter.path == snapshot_path(target) == str(expected)
    assert enable_multiprocess(target, monitor=monitor) is exporter  # idempotent
    assert get_multiprocess_exporter(monitor) is exporter
    with pytest.raises(ValueError, match="already writes"):
        enable_multiprocess(tmp_path / "other", monitor=monitor)
    with pytest.raises(ValueError, match="another monitor"):
        enable_multiprocess(target, monitor=PerformanceMonitor())
    monitor.record(OP, duration_s=0.25)
    exporter.stop()
    report = json.loads(Path(exporter.path).read_text())
    assert report["operations"][OP]["total"] == 1
    disable_multiprocess(monitor, remove_file=True)
    assert get_multiprocess_exporter(monitor) is None and not Path(exporter.path).exists()


def test_enable_multiprocess_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(multiproc.ENV_DIR, str(tmp_path))
    monkeypatch.setenv(multiproc.ENV_INTERVAL, "30")
    monitor = PerformanceMonitor()
    exporter = maybe_enable_from_env(monitor)
    assert exporter is not None and exporter.interval_s == 30
    assert Path(exporter.path).parent == tmp_path
    monkeypatch.delenv(multiproc.ENV_DIR)
    assert maybe_enable_from_env(PerformanceMonitor()) is None


def test_maybe_enable_from_env_logs_bad_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(multiproc.ENV_DIR, str(tmp_path))
    monkeypatch.setenv(multiproc.ENV_INTERVAL, "soon")
    assert maybe_enable_from_env(PerformanceMonitor()) is None
    assert "not enabled" in caplog.text


def _run_child(code: str, directory: Path, *, explicit: bool) -> None:
    env = dict(os.environ, RAGPERF_MULTIPROC_DIR=str(directory))
    prefix = "from ragperf.multiproc import maybe_enable_from_env\n" if explicit else ""
    subprocess.run([sys.executable, "-c", prefix + textwrap.dedent(code)], env=env, check=True, timeout=60)


def test_environment_variable_in_a_subprocess_flushes_at_exit(tmp_path: Path) -> None:
    _run_child(
        """
        import ragperf
        monitor = ragperf.PerformanceMonitor()
        assert maybe_enable_from_env(monitor) is not None
        for _ in range(4):
            monitor.record("llm_inference", duration_s=0.2)
        """,
        tmp_path,
        explicit=True,
    )
    [snap] = list_snapshots(tmp_path)
    assert snap.alive is False
    assert json.loads(Path(snap.path).read_text())["operations"][OP]["total"] == 4


@pytest.mark.skipif(
    "maybe_enable_from_env" not in inspect.getsource(ragperf.monitor.get_performance_monitor),
    reason="get_performance_monitor does not call multiproc.maybe_enable_from_env yet",
)
def test_environment_variable_enables_the_default_monitor(tmp_path: Path) -> None:
    _run_child(
        """
        import ragperf
        for _ in range(3):
            ragperf.get_performance_monitor().record("llm_inference", duration_s=0.2)
        """,
        tmp_path,
        explicit=False,
    )
    [snap] = list_snapshots(tmp_path)
    assert json.loads(Path(snap.path).read_text())["operations"][OP]["total"] == 3


# ------------------------------------------------------------ Prometheus


@needs_merge
def test_prometheus_collector_in_multiprocess_mode(tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")
    import urllib.request

    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from ragperf.export.prometheus import RagperfCollector, start_http_server

    a, b = samples(1, 400), samples(2, 600)
    for name, values in (("ragperf-hostA-11.json", a), ("ragperf-hostB-12.json", b)):
        m = PerformanceMonitor()
        for x in values:
            m.record(OP, duration_s=x)
        m.record("retrieval", duration_s=0.01, success=False, error_type="Timeout")
        m.export_metrics_json(str(tmp_path / name))
    # This process writes there too; its latest records count without a flush.
    local = PerformanceMonitor()
    enable_multiprocess(tmp_path, monitor=local, interval_s=60)
    local.record(OP, duration_s=0.05)
    values = a + b + [0.05]

    with pytest.raises(ValueError, match="either"):
        RagperfCollector(local, multiprocess_dir=tmp_path)
    collector = RagperfCollector(multiprocess_dir=tmp_path)
    assert collector.multiprocess_dir == str(tmp_path)
    registry = CollectorRegistry()
    registry.register(collector)

    def samples_of(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    got = samples_of(generate_latest(registry).decode())
    key = ("ragperf_operation_duration_seconds_count", (("operation", OP),))
    assert got[key] == len(values)
    assert got[("ragperf_operation_failed_total", (("operation", "retrieval"),))] == 2
    for q in (0.5, 0.95, 0.99):
        label = (("operation", OP), ("quantile", str(q)))
        assert got[("ragperf_operation_duration_seconds", label)] == pytest.approx(
            exact_quantile(values, q), rel=0.01
        )
    local.record(OP, duration_s=0.05)  # the next scrape sees it
    assert samples_of(generate_latest(registry).decode())[key] == len(values) + 1

    with start_http_server(0, multiprocess_dir=tmp_path) as server:
        with urllib.request.urlopen(server.url, timeout=10) as response:
            served = samples_of(response.read().decode())
    assert served[key] == len(values) + 1
