#!/usr/bin/env python3
"""Cost of ragperf's reads: report, export, stats, and merging serialized sketches.

Set-up (untimed): one ``PerformanceMonitor(enable_memory_tracking=False)``
holding 100 operation types (``operation_000`` .. ``operation_099``) with
1,000 records each, fed with ``monitor.record(op, duration_s=...)`` (durations
from a seeded lognormal, median about 50 ms, all recorded just now so every
record falls inside a 5-minute window). Timed, each the median of at least
five repetitions (min and max too), after one untimed warm-up call:

* ``generate_report()`` -- the whole report as a dict (ms);
* ``export_metrics_json(path)`` -- the same report written atomically to a
  file in a temporary directory (temporary file, fsync, rename) (ms);
* ``get_operation_stats(op, window_minutes=5)`` -- one operation over the last
  five minutes; each repetition calls it once for each of the 100 operations
  and divides (us per call); the all-time ``get_operation_stats(op)`` is timed
  the same way for comparison;
* ``get_all_stats()`` -- every operation's statistics (ms).

Merging 16 snapshots. A "snapshot" HERE is the set of serialized per-operation
``QuantileSketch`` blobs a monitor's state amounts to for percentiles: 16
snapshots x 100 operations, each sketch (``QuantileSketch()``, the monitor's
default accuracy) fed its own 1,000 seeded lognormal values and serialized.
The timed step deserializes all 16 x 100 blobs and merges them per operation
into 100 sketches. Afterwards every merged sketch must hold 16,000 values
and have the same contents as one sketch fed all 16,000 values of that
operation (merge is exact), or the benchmark fails. Full monitor snapshots
(persistence and resume of a whole monitor) come in a later issue; this
measures the sketch part.

Every read is checked (untimed) to see all the records: 100 operations with
1,000 records each in the report, the exported file, ``get_all_stats()`` and
the window statistics.

Targets: ``generate_report()`` < 10 ms and the 16-snapshot merge < 50 ms (at
the full sizes: 100 operations x 1,000 records, 16 snapshots).

Usage:
    .venv/bin/python benchmarks/bench_reads.py [--repetitions 11] [--operations 100]
        [--records 1000] [--snapshots 16] [--json benchmarks/results/reads.json]
        [--quick] [--check]

Exit status: 0 after a completed measurement, whatever the targets say; with
``--check``, 1 when a target is missed; 2 when a sanity check fails.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
from common import MIN_REPETITIONS, SanityError, log, repeat_ns, summarize, target  # noqa: E402

from ragperf import PerformanceMonitor, QuantileSketch  # noqa: E402

DEFAULT_JSON = common.RESULTS_DIR / "reads.json"
DEFAULT_REPETITIONS = 11
DEFAULT_OPERATIONS = 100
DEFAULT_RECORDS = 1_000
DEFAULT_SNAPSHOTS = 16
QUICK_OPERATIONS = 10
QUICK_RECORDS = 100
QUICK_SNAPSHOTS = 4
SEED = 20240607
WINDOW_MINUTES = 5

MAX_REPORT_MS = 10.0
MAX_MERGE_MS = 50.0

SNAPSHOT_NOTE = (
    'A "snapshot" here is the set of serialized per-operation QuantileSketch blobs '
    "(one per operation) that a monitor's percentile state amounts to; full monitor "
    "snapshots (persistence and resume of a whole monitor) come in a later issue."
)


def _durations(rng: random.Random, n: int) -> List[float]:
    return [rng.lognormvariate(-3.0, 1.0) for _ in range(n)]


def op_names(operations: int) -> List[str]:
    return [f"operation_{i:03d}" for i in range(operations)]


def build_monitor(operations: int, records: int) -> PerformanceMonitor:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    rng = random.Random(SEED)
    for op in op_names(operations):
        for d in _durations(rng, records):
            monitor.record(op, duration_s=d)
    return monitor


def check_reads(monitor: PerformanceMonitor, operations: int, records: int, export_path: Path) -> Dict[str, Any]:
    names = op_names(operations)

    def fail(what: str) -> None:
        raise SanityError(f"{what} (expected {operations} operations x {records} records)")

    report = monitor.generate_report()
    ops = report.get("operations", {})
    if sorted(ops) != names or any(ops[n]["total"] != records for n in names):
        fail("generate_report() does not hold every record")
    if report.get("total_operations") != operations * records:
        fail(f"generate_report() total_operations = {report.get('total_operations')}")
    monitor.export_metrics_json(str(export_path))
    exported = json.loads(export_path.read_text(encoding="utf-8"))
    eops = exported.get("operations", {})
    if sorted(eops) != names or any(eops[n]["total"] != records for n in names):
        fail("export_metrics_json() file does not hold every record")
    all_stats = monitor.get_all_stats()
    if sorted(str(k) for k in all_stats) != names or any(
        s.total_operations != records for s in all_stats.values()
    ):
        fail("get_all_stats() does not hold every record")
    for n in names:
        w = monitor.get_operation_stats(n, window_minutes=WINDOW_MINUTES)
        a = monitor.get_operation_stats(n)
        if w.total_operations != records or a.total_operations != records:
            fail(f"get_operation_stats({n!r}) window {w.total_operations}, all-time {a.total_operations}")
        if not (0 < w.p50_duration <= w.p99_duration):
            fail(f"get_operation_stats({n!r}, window_minutes={WINDOW_MINUTES}) percentiles {w.p50_duration}, {w.p99_duration}")
    return {
        "report_operations": len(ops),
        "report_total_operations": report.get("total_operations"),
        "exported_operations": len(eops),
        "exported_bytes": export_path.stat().st_size,
        "all_stats_operations": len(all_stats),
        "window_total_per_operation": records,
    }


# --------------------------------------------------------------------------
# Sketch merge.
# --------------------------------------------------------------------------


def build_snapshots(snapshots: int, operations: int, records: int) -> Dict[str, Any]:
    """16 x 100 serialized sketches, plus per operation one sketch fed all values."""
    rng = random.Random(SEED + 1)
    blobs: List[List[bytes]] = []
    whole = [QuantileSketch() for _ in range(operations)]
    for _ in range(snapshots):
        row = []
        for i in range(operations):
            values = _durations(rng, records)
            s = QuantileSketch()
            s.add_many(values)
            whole[i].add_many(values)
            row.append(s.serialize())
        blobs.append(row)
    return {"blobs": blobs, "whole": whole}


def merge_snapshots(blobs: List[List[bytes]]) -> List[Any]:
    """Deserialize every blob and merge them per operation (the timed step)."""
    deserialize = QuantileSketch.deserialize
    merged = [deserialize(b) for b in blobs[0]]
    for row in blobs[1:]:
        for m, b in zip(merged, row):
            m.merge(deserialize(b))
    return merged


def measure_merge(snapshots: int, operations: int, records: int, repetitions: int) -> Dict[str, Any]:
    state = build_snapshots(snapshots, operations, records)
    blobs, whole = state["blobs"], state["whole"]
    sizes = [len(b) for row in blobs for b in row]
    result: List[Any] = []
    samples = repeat_ns(lambda: result.append(merge_snapshots(blobs)), repetitions)
    merged = result[-1]
    counts_ok = all(m.count == snapshots * records for m in merged)
    same = all(m.same_contents(w) for m, w in zip(merged, whole))
    q_equal = all(
        m.quantile(q) == w.quantile(q) for m, w in zip(merged, whole) for q in (0.5, 0.95, 0.99)
    )
    if not (counts_ok and same and q_equal):
        raise SanityError(
            f"merged sketches differ from the whole-stream sketches: counts ok={counts_ok}, "
            f"same_contents={same}, quantiles equal={q_equal}"
        )
    return {
        "what": SNAPSHOT_NOTE,
        "snapshots": snapshots,
        "operations": operations,
        "values_per_sketch": records,
        "blobs": snapshots * operations,
        "serialized_bytes_total": sum(sizes),
        "serialized_bytes_per_blob_median": sorted(sizes)[len(sizes) // 2],
        "timed_step": f"deserialize all {snapshots} x {operations} blobs and merge them per operation "
        f"into {operations} sketches",
        "time": summarize(samples, 1e6, "ms"),
        "merged_count_per_operation": snapshots * records,
        "same_contents": same,
        "quantiles_equal": q_equal,
    }


# --------------------------------------------------------------------------
# Output.
# --------------------------------------------------------------------------


def _row(name: str, call: str, unit: str, samples_ns: List[float], scale: float, calls_per_rep: int) -> Dict[str, Any]:
    s = summarize(samples_ns, scale, unit)
    return {"name": name, "call": call, "calls_per_repetition": calls_per_rep, **s}


def render(env: Dict[str, Any], rows: List[Dict[str, Any]], merge: Dict[str, Any],
           targets: List[Dict[str, Any]], checks: Dict[str, Any]) -> str:
    out = [
        f"{env['started']} .. {env['date']}  Python {env['python_version']}  ragperf {env['ragperf_version']}  "
        f"({env['num_cpus']} X {env['cpu_model']})",
        f"load average (1/5/15 min) before {env['loadavg_before']}, after {env['loadavg_after']}",
        f"{env['operations']} operations x {env['records_per_operation']:,} records, memory tracking off; "
        f"{env['repetitions']} repetitions, median (min, max)",
    ]
    w = max(len(r["name"]) for r in rows) + 2
    header = f"{'Read':<{w}}{'median':>12}{'min':>12}{'max':>12}  unit"
    rule = "-" * (len(header) + 4)
    out += [rule, header, rule]
    for r in rows:
        out.append(f"{r['name']:<{w}}{r['median']:>12,.3f}{r['min']:>12,.3f}{r['max']:>12,.3f}  {r['unit']}")
    t = merge["time"]
    out.append(
        f"{'merge_16_snapshots' if merge['snapshots'] == 16 else 'merge_snapshots':<{w}}"
        f"{t['median']:>12,.3f}{t['min']:>12,.3f}{t['max']:>12,.3f}  {t['unit']}"
    )
    out.append(rule)
    out.append(
        f"Report: {checks['report_operations']} operations, {checks['report_total_operations']:,} records; "
        f"exported file {checks['exported_bytes']:,} B."
    )
    out.append(
        f"Merge: {merge['snapshots']} snapshots x {merge['operations']} operations = {merge['blobs']:,} blobs "
        f"({merge['serialized_bytes_total']:,} B in all, median {merge['serialized_bytes_per_blob_median']:,} B "
        f"per blob, {merge['values_per_sketch']:,} values each); merged sketches hold "
        f"{merge['merged_count_per_operation']:,} values each, same_contents with whole-stream sketches: "
        f"{str(merge['same_contents']).lower()}."
    )
    out.append(f"Note: {SNAPSHOT_NOTE}")
    out.append("Targets:")
    for tg in targets:
        out.append(
            f"  [{tg['status']}] {tg['name']}: {tg['value']:.3f} {tg['unit']} {tg['op']} "
            f"{tg['threshold']:g} {tg['unit']}"
        )
    return "\n".join(out)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repetitions", type=int, default=None,
                   help=f"timed repetitions per read (>= {MIN_REPETITIONS}, default {DEFAULT_REPETITIONS})")
    p.add_argument("--operations", type=int, default=None,
                   help=f"operation types (default {DEFAULT_OPERATIONS}; --quick: {QUICK_OPERATIONS})")
    p.add_argument("--records", type=int, default=None,
                   help=f"records per operation, values per sketch (default {DEFAULT_RECORDS:,}; --quick: {QUICK_RECORDS})")
    p.add_argument("--snapshots", type=int, default=None,
                   help=f"serialized snapshots to merge (default {DEFAULT_SNAPSHOTS}; --quick: {QUICK_SNAPSHOTS})")
    common.add_output_args(p, DEFAULT_JSON, "small sizes, minimum repetitions: a smoke run, not a measurement",
                           "exit 1 when a target is missed")
    args = p.parse_args(argv)
    common.resolve_size(p, args, "operations", DEFAULT_OPERATIONS, QUICK_OPERATIONS)
    common.resolve_size(p, args, "records", DEFAULT_RECORDS, QUICK_RECORDS)
    common.resolve_size(p, args, "snapshots", DEFAULT_SNAPSHOTS, QUICK_SNAPSHOTS)
    common.resolve_repetitions(p, args, DEFAULT_REPETITIONS)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    command = common.command_line(None if argv is None else [sys.argv[0], *argv])
    start = common.run_start()
    t_run = time.perf_counter()
    reps, n_ops, n_rec = args.repetitions, args.operations, args.records

    try:
        t0 = time.perf_counter()
        monitor = build_monitor(n_ops, n_rec)
        log(f"set-up: {n_ops} operations x {n_rec:,} records in {time.perf_counter() - t0:.1f} s")
        with tempfile.TemporaryDirectory(prefix="ragperf-bench-reads-") as tmp:
            export_path = Path(tmp) / "metrics.json"
            checks = check_reads(monitor, n_ops, n_rec, export_path)
            log("sanity: every read sees every record")
            names = op_names(n_ops)
            rows = [
                _row("generate_report", "monitor.generate_report()", "ms",
                     repeat_ns(monitor.generate_report, reps), 1e6, 1),
                _row("export_metrics_json", "monitor.export_metrics_json(path)", "ms",
                     repeat_ns(lambda: monitor.export_metrics_json(str(export_path)), reps), 1e6, 1),
                _row(f"get_operation_stats_window_{WINDOW_MINUTES}min",
                     f"monitor.get_operation_stats(op, window_minutes={WINDOW_MINUTES})", "us",
                     repeat_ns(lambda: [monitor.get_operation_stats(n, window_minutes=WINDOW_MINUTES)
                                        for n in names], reps), 1e3 * n_ops, n_ops),
                _row("get_operation_stats_all_time", "monitor.get_operation_stats(op)", "us",
                     repeat_ns(lambda: [monitor.get_operation_stats(n) for n in names], reps),
                     1e3 * n_ops, n_ops),
                _row("get_all_stats", "monitor.get_all_stats()", "ms",
                     repeat_ns(monitor.get_all_stats, reps), 1e6, 1),
            ]
            log("reads timed")
            if monitor.get_operation_count() != n_ops * n_rec:
                raise SanityError(f"monitor count changed to {monitor.get_operation_count()}")
        merge = measure_merge(args.snapshots, n_ops, n_rec, reps)
        log("merge timed")
    except SanityError as exc:
        print(f"bench_reads: sanity check failed: {exc}", file=sys.stderr)
        return 2

    env = common.environment(
        **start,
        command=command,
        quick=args.quick,
        repetitions=reps,
        operations=n_ops,
        records_per_operation=n_rec,
        snapshots=args.snapshots,
        seed=SEED,
        memory_tracking=False,
        durations="random.Random(seed).lognormvariate(-3, 1) seconds",
        runtime_seconds=time.perf_counter() - t_run,
    )
    notes = [SNAPSHOT_NOTE]
    if common.core_replaced(env):
        notes.append(common.CORE_REPLACED_NOTE)
    if args.quick or (n_ops, n_rec, args.snapshots) != (DEFAULT_OPERATIONS, DEFAULT_RECORDS, DEFAULT_SNAPSHOTS):
        notes.append(f"sizes differ from the targets' ({n_ops} operations x {n_rec} records, "
                     f"{args.snapshots} snapshots): the targets are evaluated but not meaningful.")
    by_name = {r["name"]: r for r in rows}
    targets = [
        target(f"generate_report() with {n_ops} operations x {n_rec:,} records < {MAX_REPORT_MS:g} ms",
               by_name["generate_report"]["median"], "<", MAX_REPORT_MS, "ms",
               detail=f"median over {reps} repetitions"),
        target(f"deserialize + merge {args.snapshots} snapshots x {n_ops} serialized sketches "
               f"< {MAX_MERGE_MS:g} ms",
               merge["time"]["median"], "<", MAX_MERGE_MS, "ms",
               detail=f"median over {reps} repetitions"),
    ]
    print(render(env, rows, merge, targets, checks))
    result = {
        "context": env,
        "benchmarks": rows,
        "merge": merge,
        "sanity_checks": checks,
        "targets": targets,
        "notes": notes,
    }
    return common.finish(args.json, result, args.check)


if __name__ == "__main__":
    sys.exit(main())
