#!/usr/bin/env python3
"""Python threads recording into one ragperf monitor: throughput and lost records.

1, 2 and 4 Python threads each run a fixed number of EMPTY blocks
``with monitor.track_operation(op): pass`` (memory tracking off) into one
``PerformanceMonitor``, either all into the SAME operation or each into its
own operation (DIFFERENT operations, ``op_0`` .. ``op_{n-1}``). The threads
are created first and released together by a ``threading.Barrier``; each
notes ``perf_counter_ns`` just after the barrier and after its last block.
The wall time of a run is last finish minus first start, and its aggregate
throughput is total blocks / wall time. Every run uses a fresh monitor and
is checked afterwards: the count of every operation must be exactly the
number of blocks run into it (``lost`` = expected - counted must be 0), or
the benchmark fails (exit status 2).

Each repetition visits every case once (round-robin, start rotated per
repetition); the figure reported is the median over the repetitions (min and
max too). One untimed, checked run of every case comes first (warm-up).

The GIL serialises Python threads: only one runs Python bytecode at a time,
so aggregate Python throughput does not grow with threads. What this shows
is that it does not collapse under contention (no lock convoy in the
recording path) and that counts stay exact. There are no targets for it
(informational). The scaling of the C++ core without the GIL is measured by
``build/bench/tracker_bench`` (google-benchmark, ``make bench``), whose JSON
``benchmarks/results/cpp_tracker.json`` ``render_docs.py`` reads.

Usage:
    .venv/bin/python benchmarks/bench_concurrency.py [--blocks 200000]
        [--repetitions 11] [--threads 1,2,4] [--json benchmarks/results/concurrency.json]
        [--quick]

Exit status: 0 after a completed measurement; 2 when a record was lost (a
count did not match the blocks run).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
from common import MIN_REPETITIONS, SanityError, log  # noqa: E402

from ragperf import PerformanceMonitor  # noqa: E402

DEFAULT_JSON = common.RESULTS_DIR / "concurrency.json"
DEFAULT_BLOCKS = 200_000
QUICK_BLOCKS = 2_000
DEFAULT_REPETITIONS = 11
DEFAULT_THREADS = (1, 2, 4)
MODES = ("same_operation", "distinct_operations")

GIL_NOTE = (
    "The GIL serialises Python threads: one thread runs Python bytecode at a time, so "
    "aggregate Python throughput does not scale with threads. The point of these rows is "
    "that it does not collapse under contention and that no record is lost (lost = 0). "
    "No targets (informational). C++ core scaling without the GIL: build/bench/tracker_bench "
    "(make bench) -> benchmarks/results/cpp_tracker.json."
)


def _worker(
    monitor: Any, op: str, blocks: int, barrier: threading.Barrier, out: List[Any], idx: int
) -> None:
    try:
        barrier.wait()
        t0 = perf_counter_ns()
        for _ in repeat(None, blocks):
            with monitor.track_operation(op):
                pass
        out[idx] = (t0, perf_counter_ns())
    except BaseException as exc:  # reported by the main thread
        out[idx] = exc


def run_once(mode: str, threads: int, blocks: int) -> Tuple[int, List[int], Dict[str, Any]]:
    """One run on a fresh monitor. Returns (wall ns, per-thread ns, count check)."""
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    ops = ["shared"] * threads if mode == "same_operation" else [f"op_{i}" for i in range(threads)]
    barrier = threading.Barrier(threads)
    out: List[Any] = [None] * threads
    pool = [
        threading.Thread(target=_worker, args=(monitor, ops[i], blocks, barrier, out, i), daemon=True)
        for i in range(threads)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for r in out:
        if not isinstance(r, tuple):
            raise SanityError(f"{mode}/threads:{threads}: a thread failed: {r!r}")
    wall = max(t1 for _, t1 in out) - min(t0 for t0, _ in out)
    per_thread = [t1 - t0 for t0, t1 in out]

    expected = {op: ops.count(op) * blocks for op in sorted(set(ops))}
    counted = {op: monitor.get_operation_count(op) for op in expected}
    total = monitor.get_operation_count()
    lost = sum(expected.values()) - sum(counted.values())
    check = {
        "expected_total": threads * blocks,
        "counted_total": total,
        "expected_per_operation": expected,
        "counted_per_operation": counted,
        "lost": lost,
    }
    if counted != expected or total != threads * blocks:
        raise SanityError(
            f"{mode}/threads:{threads}: expected {expected} (total {threads * blocks}), "
            f"counted {counted} (total {total}): {lost} record(s) lost"
        )
    return wall, per_thread, check


@dataclass
class Case:
    mode: str
    threads: int
    walls_ns: List[int] = field(default_factory=list)
    per_thread_ns: List[List[int]] = field(default_factory=list)
    checks: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"python_threads/{self.mode}/threads:{self.threads}"


def run_cases(cases: List[Case], blocks: int, repetitions: int) -> None:
    for case in cases:  # warm-up + sanity
        _, _, check = run_once(case.mode, case.threads, blocks)
        check["when"] = "warm-up"
        case.checks.append(check)
    log(f"warm-up: all {len(cases)} cases counted every block")
    for rep in range(repetitions):
        shift = rep % len(cases)
        for case in cases[shift:] + cases[:shift]:
            wall, per_thread, check = run_once(case.mode, case.threads, blocks)
            check["when"] = f"repetition {rep + 1}"
            case.walls_ns.append(wall)
            case.per_thread_ns.append(per_thread)
            case.checks.append(check)
        log(f"repetition {rep + 1}/{repetitions} done")


def summarize(cases: List[Case], blocks: int) -> List[Dict[str, Any]]:
    rows = []
    base: Dict[str, float] = {}
    for case in cases:
        total = case.threads * blocks
        rates = [total / (w / 1e9) for w in case.walls_ns]
        st = common.summarize(rates)
        med = st["median"]
        if case.threads == 1:
            base[case.mode] = med
        rows.append(
            {
                "name": case.name,
                "mode": case.mode,
                "threads": case.threads,
                "blocks_per_thread": blocks,
                "total_blocks": total,
                "repetitions": st["repetitions"],
                "blocks_per_second": med,
                "min_blocks_per_second": st["min"],
                "max_blocks_per_second": st["max"],
                "ns_per_block": 1e9 / med,
                "repetitions_blocks_per_second": rates,
                "repetitions_wall_ns": case.walls_ns,
                "repetitions_per_thread_ns": case.per_thread_ns,
                "lost": max(c["lost"] for c in case.checks),
                "count_checks": case.checks,
            }
        )
    for row in rows:
        b = base.get(row["mode"])
        row["ratio_to_1_thread"] = row["blocks_per_second"] / b if b else None
    return rows


def render(env: Dict[str, Any], rows: List[Dict[str, Any]]) -> str:
    out = [
        f"{env['started']} .. {env['date']}  Python {env['python_version']} "
        f"(GIL {'enabled' if env['gil_enabled'] else 'disabled'})  ragperf {env['ragperf_version']}  "
        f"({env['num_cpus']} X {env['cpu_model']})",
        f"load average (1/5/15 min) before {env['loadavg_before']}, after {env['loadavg_after']}",
        f"{env['blocks_per_thread']:,} blocks per thread, {env['repetitions']} repetitions, memory tracking off, "
        "`with monitor.track_operation(op): pass`; aggregate blocks/s = total blocks / "
        "(last thread's end - first thread's start)",
    ]
    w = max(len(r["name"]) for r in rows) + 2
    header = (
        f"{'Benchmark':<{w}}{'median blocks/s':>16}{'min':>12}{'max':>12}"
        f"{'ns/block':>10}{'x 1 thread':>12}{'lost':>6}"
    )
    rule = "-" * len(header)
    out += [rule, header, rule]
    for r in rows:
        ratio = r["ratio_to_1_thread"]
        out.append(
            f"{r['name']:<{w}}{r['blocks_per_second']:>16,.0f}{r['min_blocks_per_second']:>12,.0f}"
            f"{r['max_blocks_per_second']:>12,.0f}{r['ns_per_block']:>10,.0f}"
            f"{(f'{ratio:.2f}' if ratio is not None else 'n/a'):>12}{r['lost']:>6}"
        )
    out.append(rule)
    runs = sum(len(r["count_checks"]) for r in rows)
    out.append(f"Counts: exact in all {runs} runs (lost = 0 everywhere, warm-up runs included).")
    out.append(f"Note: {GIL_NOTE}")
    return "\n".join(out)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--blocks", type=int, default=None,
                   help=f"blocks per thread per run (default {DEFAULT_BLOCKS:,}; --quick: {QUICK_BLOCKS:,})")
    p.add_argument("--repetitions", type=int, default=None,
                   help=f"timed repetitions per case (>= {MIN_REPETITIONS}, default {DEFAULT_REPETITIONS})")
    p.add_argument("--threads", default=",".join(map(str, DEFAULT_THREADS)),
                   help="comma-separated thread counts (default 1,2,4)")
    common.add_output_args(p, DEFAULT_JSON, "few blocks, minimum repetitions: a smoke run, not a measurement")
    args = p.parse_args(argv)
    common.resolve_repetitions(p, args, DEFAULT_REPETITIONS)
    common.resolve_size(p, args, "blocks", DEFAULT_BLOCKS, QUICK_BLOCKS)
    try:
        args.threads = sorted({int(t) for t in str(args.threads).split(",") if t.strip()})
    except ValueError:
        p.error("--threads must be comma-separated integers")
    if not args.threads or min(args.threads) < 1:
        p.error("--threads must be positive")
    if 1 not in args.threads:
        args.threads = [1, *args.threads]  # the x-1-thread column needs it
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    command = common.command_line(None if argv is None else [sys.argv[0], *argv])
    start = common.run_start()
    t_run = time.perf_counter()
    cases = [Case(mode, n) for mode in MODES for n in args.threads]
    try:
        run_cases(cases, args.blocks, args.repetitions)
    except SanityError as exc:
        print(f"bench_concurrency: sanity check failed: {exc}", file=sys.stderr)
        return 2

    env = common.environment(
        **start,
        command=command,
        quick=args.quick,
        blocks_per_thread=args.blocks,
        repetitions=args.repetitions,
        threads=args.threads,
        switch_interval_s=sys.getswitchinterval(),
        memory_tracking=False,
        block="with monitor.track_operation(op): pass",
        order="round-robin over cases per repetition, start rotated each repetition; fresh monitor per run",
        runtime_seconds=time.perf_counter() - t_run,
    )
    notes = [GIL_NOTE]
    if common.core_replaced(env):
        notes.append(common.CORE_REPLACED_NOTE)
    rows = summarize(cases, args.blocks)
    print(render(env, rows))
    result = {
        "context": env,
        "benchmarks": rows,
        "targets": [],
        "targets_note": "none for Python threads: informational (the GIL serialises them); "
        "lost records are a hard failure (exit status 2), not a target",
        "notes": notes,
    }
    return common.finish(args.json, result)  # no targets: 0


if __name__ == "__main__":
    sys.exit(main())
