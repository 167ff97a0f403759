"""Memory per operation: RSS growth of a fresh process against ragperf's own
accounting (``monitor.memory_bytes()``), issue #20 item 2.

Every case runs in a fresh interpreter (``python bench_memory.py --case NAME``
prints one JSON object), so the RSS of one case never includes another's.
The RSS baseline is taken after the monitor, the operation names and the
inputs exist and after one warm-up record per operation from every thread
(thread stacks and interned names are not statistics); what the recording
adds after that is divided by the number of operations.

Cases:

* ``threads_T`` / ``threads_T_plain``: 200 operations, each recorded 1,000
  times by each of T threads (T = 1 and 8) through ``track_operation`` with a
  small metadata dict (``_plain``: without metadata); ``max_history=1000``, so
  every recent-record ring is full.
* ``hour``: 50 operations, an hour of one-minute windows (60 minutes x 1,200
  records per operation, ``record(timestamp_s=...)``, log-normal durations
  around 100 ms), ``max_history=100``.

Targets (issue #20): 8 threads <= 1.25x one thread; <= 96 KiB per operation
with metadata and ``max_history=1000``; <= 128 KiB per operation for the hour
of windows; self-accounting within 25% of RSS growth.

Run: python benchmarks/bench_memory.py [--quick] [--json PATH] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

from common import RESULTS_DIR, add_output_args, environment, finish, log, run_start, target

KIB = 1024.0

CASES = ("threads_1", "threads_8", "threads_1_plain", "threads_8_plain", "hour")


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _accounted(monitor: Any) -> int:
    """``monitor.memory_bytes()`` (the core's count on builds without it)."""
    fn = getattr(monitor, "memory_bytes", None) or monitor._core.memory_bytes
    return int(fn())


def _thread_case(threads: int, metadata: bool, ops: int, per_thread: int) -> Dict[str, Any]:
    import threading

    from ragperf import PerformanceMonitor

    m = PerformanceMonitor(enable_memory_tracking=False, max_history=1000)
    names = [f"op_{i:04d}" for i in range(ops)]
    meta = {"user": "alice", "tenant": "acme", "k": 1} if metadata else None
    track = m.track_operation
    barrier = threading.Barrier(threads + 1)

    def work(rounds: int) -> None:
        for _ in range(rounds):
            if meta is None:
                for name in names:
                    with track(name):
                        pass
            else:
                for name in names:
                    with track(name, meta):
                        pass

    def worker() -> None:
        work(1)  # this thread's first record of every operation
        barrier.wait()
        barrier.wait()
        work(per_thread - 1)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()  # every thread has warmed up
    base_rss, base_bytes = _rss_bytes(), _accounted(m)
    barrier.wait()
    for t in pool:
        t.join()
    return {"rss_growth_bytes": _rss_bytes() - base_rss,
            "memory_bytes_growth": _accounted(m) - base_bytes,
            "memory_bytes": _accounted(m), "operations": ops,
            "records": m.get_operation_count()}


def _hour_case(ops: int, per_minute: int) -> Dict[str, Any]:
    import random
    import time

    from ragperf import PerformanceMonitor

    m = PerformanceMonitor(enable_memory_tracking=False, max_history=100)
    names = [f"op_{i:03d}" for i in range(ops)]
    rng = random.Random(20)
    durations = [rng.lognormvariate(-2.3, 0.5) for _ in range(per_minute)]
    now = time.time()
    start_minute = int(now // 60) - 59
    record = m.record
    for name in names:
        record(name, durations[0], timestamp_s=now - 3 * 3600)  # all-time only
    base_rss, base_bytes = _rss_bytes(), _accounted(m)
    for minute in range(60):
        t0 = (start_minute + minute) * 60.0
        step = 59.0 / per_minute
        for name in names:
            for k, d in enumerate(durations):
                record(name, d, timestamp_s=min(t0 + k * step, now))
    stats = m.get_operation_stats(names[0], window_minutes=60)
    return {"rss_growth_bytes": _rss_bytes() - base_rss,
            "memory_bytes_growth": _accounted(m) - base_bytes,
            "memory_bytes": _accounted(m), "operations": ops,
            "records": m.get_operation_count(), "window_60_count": stats.total_operations}


def run_case(case: str, quick: bool) -> Dict[str, Any]:
    if case == "hour":
        return _hour_case(ops=20 if quick else 50, per_minute=600 if quick else 1200)
    parts = case.split("_")
    return _thread_case(int(parts[1]), metadata=not case.endswith("_plain"),
                        ops=50 if quick else 200, per_thread=1000)


def measure(case: str, quick: bool) -> Dict[str, Any]:
    """Runs ``case`` in a fresh interpreter and adds per-operation figures."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--case", case]
    if quick:
        argv.append("--quick")
    proc = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=1800)
    r: Dict[str, Any] = json.loads(proc.stdout)
    r["case"] = case
    r["rss_kib_per_operation"] = r["rss_growth_bytes"] / KIB / r["operations"]
    r["accounted_kib_per_operation"] = r["memory_bytes_growth"] / KIB / r["operations"]
    r["accounted_over_rss"] = r["memory_bytes_growth"] / max(r["rss_growth_bytes"], 1)
    return r


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    add_output_args(p, RESULTS_DIR / "memory.json",
                    "fewer operations (50 / 20) and 600 records a minute",
                    "exit 1 when a target is missed")
    args = p.parse_args(argv)
    if args.case is not None:  # the child: one case, one JSON line
        print(json.dumps(run_case(args.case, args.quick)))
        return 0
    start = run_start()
    rows = []
    for case in CASES:
        log(case)
        rows.append(measure(case, args.quick))
    by = {r["case"]: r for r in rows}
    print(f"{'case':<18} {'RSS KiB/op':>12} {'accounted KiB/op':>17} {'accounted/RSS':>14}")
    for r in rows:
        print(f"{r['case']:<18} {r['rss_kib_per_operation']:>12.1f} "
              f"{r['accounted_kib_per_operation']:>17.1f} {r['accounted_over_rss']:>14.2f}")
    targets = [
        target("8 threads / 1 thread, RSS per operation (metadata)",
               by["threads_8"]["rss_kib_per_operation"] / by["threads_1"]["rss_kib_per_operation"],
               "<=", 1.25, "x"),
        target("8 threads / 1 thread, RSS per operation (no metadata)",
               by["threads_8_plain"]["rss_kib_per_operation"]
               / by["threads_1_plain"]["rss_kib_per_operation"], "<=", 1.25, "x"),
        target("RSS per operation, max_history=1000, small metadata, 8 threads",
               by["threads_8"]["rss_kib_per_operation"], "<=", 96.0, "KiB"),
        target("RSS per operation, an hour of one-minute windows, max_history=100",
               by["hour"]["rss_kib_per_operation"], "<=", 128.0, "KiB"),
    ]
    for r in rows:
        ratio = r["accounted_over_rss"]
        targets.append(target(f"memory_bytes() within 25% of RSS growth ({r['case']})",
                              abs(ratio - 1.0), "<=", 0.25, "x"))
    result = {"context": environment(quick=args.quick, **start), "benchmarks": rows,
              "targets": targets}
    for t in targets:
        print(f"{t['status']:<5} {t['name']}: {t['value']:.3f} {t['op']} {t['threshold']} {t['unit']}")
    return finish(args.json, result, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
