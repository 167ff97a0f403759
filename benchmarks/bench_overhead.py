#!/usr/bin/env python3
"""Per-block overhead of ragperf's ``track_operation`` vs its peers.

Every case times an EMPTY block (or an empty function call): a loop of N
iterations is timed with ``time.perf_counter_ns`` and divided by N. Nothing is
subtracted: every case pays the same loop overhead, so the bare ``with`` row
is the floor. All cases run in one process; each repetition visits every case
once (round-robin, with the starting case rotated per repetition) so clock or
thermal drift hits all cases alike. The reported figure is the median over the
repetitions, with min and max.

Before timing, each case is run once (N blocks, which also warms it up) and
checked to have actually recorded N operations, so no case can silently
measure a no-op; the totals are checked again after timing.

Usage:
    .venv/bin/python benchmarks/bench_overhead.py [--repetitions 7] [--iterations N]
        [--json benchmarks/results/overhead.json] [--quick] [--check]

Exit status: 0 after a completed measurement, whatever the targets say;
with ``--check``, 1 when a (non-informational) target is missed; 2 when a
sanity check fails (a monitor did not record what it was asked to).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE / "results" / "overhead.json"
DEFAULT_ITERATIONS = 100_000
DEFAULT_REPETITIONS = 7
MIN_REPETITIONS = 5
QUICK_ITERATIONS = 2_000

try:
    import prometheus_client
    import psutil
except ImportError as exc:  # pragma: no cover - environment problem
    sys.exit(
        f"bench_overhead: {exc}. Install the peers: .venv/bin/pip install prometheus-client psutil"
    )

import ragperf
from ragperf import OperationType, PerformanceMonitor

sys.path.insert(0, str(HERE))
from seed_style_monitor import SeedStyleMonitor  # noqa: E402

# --------------------------------------------------------------------------
# Timed loops. Each is a module-level function whose hot objects are locals
# (LOAD_FAST), and each block is written exactly as a user would write it.
# --------------------------------------------------------------------------


def _loop_nullcontext(n: int, cm: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with cm:
            pass
    return perf_counter_ns() - t0


def _loop_prometheus(n: int, hist: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with hist.time():
            pass
    return perf_counter_ns() - t0


def _loop_track(n: int, monitor: Any) -> int:
    # Same source for ragperf and the seed-style monitor.
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with monitor.track_operation("op"):
            pass
    return perf_counter_ns() - t0


def _loop_track_optype_tokens(n: int, monitor: Any) -> int:
    kind = OperationType.LLM_INFERENCE
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with monitor.track_operation(kind) as op:
            op.tokens = 1
    return perf_counter_ns() - t0


async def _aloop_nullcontext(n: int, cm: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        async with cm:
            pass
    return perf_counter_ns() - t0


async def _aloop_track(n: int, monitor: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        async with monitor.track_operation("op"):
            pass
    return perf_counter_ns() - t0


def _loop_call(n: int, fn: Callable[[], Any]) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        fn()
    return perf_counter_ns() - t0


def _empty() -> None:
    pass


# --------------------------------------------------------------------------
# Cases.
# --------------------------------------------------------------------------


@dataclass
class Case:
    """One benchmark: ``run(n)`` times n blocks and returns elapsed ns;
    ``recorded()`` returns what the monitor holds (None: nothing to check);
    ``expected(total_blocks)`` is what it must hold after that many blocks."""

    name: str
    label: str
    group: str  # "core" or "extra"
    run: Callable[[int], int]
    recorded: Callable[[], Optional[int]] = lambda: None
    expected: Callable[[int], Optional[int]] = lambda total: None
    samples_ns: List[float] = field(default_factory=list)
    blocks: int = 0
    checks: List[Dict[str, Any]] = field(default_factory=list)


def _ragperf_case(
    name: str, label: str, group: str, memory: bool, loop: Any, op: Any, **kwargs: Any
) -> Case:
    monitor = PerformanceMonitor(enable_memory_tracking=memory, **kwargs)
    return Case(
        name,
        label,
        group,
        run=lambda n: loop(n, monitor),
        recorded=lambda: monitor.get_operation_count(op),
        expected=lambda total: total,
    )


def _seed_case(name: str, label: str, memory: bool) -> Case:
    monitor = SeedStyleMonitor(enable_memory_tracking=memory)

    def recorded() -> int:
        # The seed keeps no all-time count: its history is a bounded deque.
        # Check the per-op duration deque, the operation history, and (memory
        # on) that the RSS samples were taken, and that percentiles come out.
        durations = monitor.response_tracker.history_length("op")
        history = monitor.get_operation_count("op")
        samples = monitor.memory_monitor.sample_count()
        stats = monitor.get_operation_stats("op")
        if stats.p99_duration < stats.p50_duration or stats.total_operations != history:
            return -1
        if memory and samples != monitor.memory_monitor._samples.maxlen and samples != 2 * history:
            return -1
        if not memory and samples != 0:
            return -1
        return min(durations, history)

    return Case(
        name,
        label,
        "core",
        run=lambda n: _loop_track(n, monitor),
        recorded=recorded,
        expected=lambda total: min(total, monitor.max_history),
    )


def _prometheus_case() -> Case:
    registry = prometheus_client.CollectorRegistry()
    hist = prometheus_client.Histogram(
        "bench_block_seconds", "Empty block duration", registry=registry
    )

    def recorded() -> int:
        value = registry.get_sample_value("bench_block_seconds_count")
        return int(value) if value is not None else 0

    return Case(
        "prometheus/Histogram.time",
        "prometheus_client Histogram.time() (own CollectorRegistry)",
        "core",
        run=lambda n: _loop_prometheus(n, hist),
        recorded=recorded,
        expected=lambda total: total,
    )


def _async_ragperf_case() -> Case:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    return Case(
        "ragperf/async_with",
        "ragperf memory off, `async with`, N blocks inside one asyncio.run",
        "extra",
        run=lambda n: asyncio.run(_aloop_track(n, monitor)),
        recorded=lambda: monitor.get_operation_count("op"),
        expected=lambda total: total,
    )


def _timed_case() -> Case:
    monitor = PerformanceMonitor(enable_memory_tracking=False)

    @monitor.timed("op")
    def empty_timed() -> None:
        pass

    return Case(
        "ragperf/timed_call",
        "call of an empty function decorated with @monitor.timed (memory off)",
        "extra",
        run=lambda n: _loop_call(n, empty_timed),
        recorded=lambda: monitor.get_operation_count("op"),
        expected=lambda total: total,
    )


def _has_rss_cache() -> bool:
    """Whether this ragperf has the RSS cache (``memory_max_age_us``)."""
    import inspect

    return "memory_max_age_us" in inspect.signature(PerformanceMonitor).parameters


def build_cases() -> List[Case]:
    null = contextlib.nullcontext()
    anull = contextlib.nullcontext()
    exact: List[Case] = []
    if _has_rss_cache():
        # Default memory-on blocks reuse an RSS reading up to 100 us old, so a
        # stream of empty blocks mostly skips the statm read; exact mode reads
        # at the start and end of every block, like the seed does.
        exact.append(
            _ragperf_case(
                "ragperf/memory_on_exact",
                "ragperf memory on, memory_max_age_us=0 (statm read at start and end of every block)",
                "extra",
                True,
                _loop_track,
                "op",
                memory_max_age_us=0,
            )
        )
    return [
        Case(
            "bare_with/nullcontext",
            "`with cm:` on one reused contextlib.nullcontext()",
            "core",
            run=lambda n: _loop_nullcontext(n, null),
        ),
        _prometheus_case(),
        _seed_case(
            "seed_style/memory_on",
            "seed-style pure-Python monitor, psutil RSS before/after (seed default)",
            memory=True,
        ),
        _seed_case(
            "seed_style/memory_off", "seed-style pure-Python monitor, memory tracking off", memory=False
        ),
        _ragperf_case(
            "ragperf/memory_off",
            'ragperf PerformanceMonitor(enable_memory_tracking=False), track_operation("op")',
            "core",
            False,
            _loop_track,
            "op",
        ),
        _ragperf_case(
            "ragperf/memory_on",
            'ragperf PerformanceMonitor(enable_memory_tracking=True), track_operation("op")',
            "core",
            True,
            _loop_track,
            "op",
        ),
        *exact,
        _ragperf_case(
            "ragperf/optype_tokens",
            "ragperf memory off, OperationType.LLM_INFERENCE and `op.tokens = 1` inside",
            "extra",
            False,
            _loop_track_optype_tokens,
            OperationType.LLM_INFERENCE,
        ),
        Case(
            "bare_async_with/nullcontext",
            "`async with cm:` on one reused nullcontext, inside one asyncio.run",
            "extra",
            run=lambda n: asyncio.run(_aloop_nullcontext(n, anull)),
        ),
        _async_ragperf_case(),
        Case(
            "plain_call/empty_function",
            "call of a plain empty Python function",
            "extra",
            run=lambda n: _loop_call(n, _empty),
        ),
        _timed_case(),
    ]


# --------------------------------------------------------------------------
# Running.
# --------------------------------------------------------------------------


class SanityError(RuntimeError):
    pass


def _check(case: Case, when: str) -> None:
    expected = case.expected(case.blocks)
    got = case.recorded()
    case.checks.append({"when": when, "blocks": case.blocks, "expected": expected, "recorded": got})
    if expected is not None and got != expected:
        raise SanityError(
            f"{case.name}: after {case.blocks} blocks ({when}) the monitor holds {got}, expected {expected}"
        )


def run_cases(cases: List[Case], iterations: int, repetitions: int, log: Callable[[str], None]) -> None:
    # Sanity + warm-up: one untimed pass of N blocks per case.
    for case in cases:
        case.run(iterations)
        case.blocks += iterations
        _check(case, "before timing")
    log(f"sanity: all {len(cases)} cases recorded what they were asked to")

    for rep in range(repetitions):
        shift = rep % len(cases)
        order = cases[shift:] + cases[:shift]
        for case in order:
            elapsed = case.run(iterations)
            case.blocks += iterations
            case.samples_ns.append(elapsed / iterations)
        log(f"repetition {rep + 1}/{repetitions} done")

    for case in cases:
        _check(case, "after timing")


# --------------------------------------------------------------------------
# Environment.
# --------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> Optional[float]:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / (1024 * 1024), 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _git_describe() -> Optional[str]:
    try:
        out = subprocess.run(
            ["git", "-C", str(HERE.parent), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _core_build() -> Dict[str, Any]:
    """Which compiled core was loaded (others may reinstall it while we run)."""
    import hashlib

    from ragperf import _core

    path = Path(_core.__file__)
    info: Dict[str, Any] = {"path": str(path)}
    try:
        info["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        info["mtime"] = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.timezone.utc).isoformat(
            timespec="seconds"
        )
    except OSError:  # pragma: no cover
        pass
    return info


def _loadavg() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def environment(iterations: int, repetitions: int, quick: bool) -> Dict[str, Any]:
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "num_cpus": os.cpu_count(),
        "mem_total_gib": _mem_total_gib(),
        "ragperf_version": ragperf.__version__,
        "ragperf_path": str(Path(ragperf.__file__).parent),
        "source_git": _git_describe(),
        "prometheus_client_version": getattr(prometheus_client, "__version__", None)
        or _dist_version("prometheus_client"),
        "psutil_version": psutil.__version__,
        "iterations": iterations,
        "repetitions": repetitions,
        "quick": quick,
        "timer": "time.perf_counter_ns",
        "time_unit": "ns",
        "aggregate": "median over repetitions (min and max reported too)",
        "gc_enabled": gc.isenabled(),
        "loadavg_before": None,  # filled in by main()
        "loadavg_after": _loadavg(),
        "order": "round-robin over cases per repetition, start rotated each repetition",
    }


def _dist_version(name: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # pragma: no cover
        return None


# --------------------------------------------------------------------------
# Results, targets, output.
# --------------------------------------------------------------------------


def summarize(cases: List[Case], iterations: int) -> List[Dict[str, Any]]:
    bare = statistics.median(cases[0].samples_ns)
    rows = []
    for case in cases:
        med = statistics.median(case.samples_ns)
        rows.append(
            {
                "name": case.name,
                "label": case.label,
                "group": case.group,
                "run_type": "aggregate",
                "aggregate_name": "median",
                "iterations": iterations,
                "repetitions": len(case.samples_ns),
                "real_time": med,
                "median_ns": med,
                "min_ns": min(case.samples_ns),
                "max_ns": max(case.samples_ns),
                "time_unit": "ns",
                "ratio_to_bare_with": med / bare,
                "repetitions_ns": case.samples_ns,
                "sanity_checks": case.checks,
            }
        )
    return rows


def evaluate_targets(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    med = {r["name"]: r["median_ns"] for r in rows}
    bare = med["bare_with/nullcontext"]
    off = med["ragperf/memory_off"]
    on = med["ragperf/memory_on"]
    prom = med["prometheus/Histogram.time"]
    seed_on = med["seed_style/memory_on"]

    def target(name: str, value: float, op: str, threshold: float, unit: str, info: bool) -> Dict[str, Any]:
        ok = value <= threshold if op == "<=" else value >= threshold
        return {
            "name": name,
            "value": value,
            "op": op,
            "threshold": threshold,
            "unit": unit,
            "status": "PASS" if ok else "MISS",
            "informational": info,
        }

    return [
        target("ragperf memory off: ns per block", off, "<=", 500.0, "ns", False),
        target("ragperf memory off / bare with", off / bare, "<=", 3.0, "x", False),
        target("ragperf memory on: ns per block", on, "<=", 1500.0, "ns", False),
        target("prometheus Histogram.time() / ragperf memory off", prom / off, ">=", 2.0, "x", True),
        target("seed-style (memory on) / ragperf memory on", seed_on / on, ">=", 10.0, "x", True),
    ]


def derived(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    med = {r["name"]: r["median_ns"] for r in rows}
    rows_out = [
        {
            "name": "@monitor.timed overhead over a plain call",
            "value": med["ragperf/timed_call"] - med["plain_call/empty_function"],
            "unit": "ns",
        },
        {
            "name": "ragperf async with / bare async with",
            "value": med["ragperf/async_with"] / med["bare_async_with/nullcontext"],
            "unit": "x",
        },
        {
            "name": "ragperf memory on (default, RSS cache) - memory off",
            "value": med["ragperf/memory_on"] - med["ragperf/memory_off"],
            "unit": "ns",
        },
        {
            "name": "seed-style memory on - memory off (cost of the psutil reads)",
            "value": med["seed_style/memory_on"] - med["seed_style/memory_off"],
            "unit": "ns",
        },
    ]
    if "ragperf/memory_on_exact" in med:
        rows_out.append(
            {
                "name": "ragperf exact memory mode - memory off (two statm reads per block)",
                "value": med["ragperf/memory_on_exact"] - med["ragperf/memory_off"],
                "unit": "ns",
            }
        )
        rows_out.append(
            {
                "name": "seed-style (memory on) / ragperf exact memory mode",
                "value": med["seed_style/memory_on"] / med["ragperf/memory_on_exact"],
                "unit": "x",
            }
        )
    return rows_out


def _fmt(v: float, unit: str) -> str:
    return f"{v:,.0f} ns" if unit == "ns" else f"{v:.2f}x"


def render(env: Dict[str, Any], rows: List[Dict[str, Any]], targets: List[Dict[str, Any]], extra: List[Dict[str, Any]]) -> str:
    out = []
    out.append(
        f"{env['started']} .. {env['date']}  Python {env['python_version']}  ragperf {env['ragperf_version']}  "
        f"({env['num_cpus']} X {env['cpu_model']})"
    )
    out.append(
        f"{env['platform']}  load average (1/5/15 min) before {env['loadavg_before']}, "
        f"after {env['loadavg_after']}"
    )
    out.append(
        f"{env['iterations']:,} blocks per repetition, {env['repetitions']} repetitions, "
        "ns per block (loop overhead included, nothing subtracted)"
    )
    w = max(len(r["name"]) for r in rows) + 2
    header = f"{'Benchmark':<{w}}{'median ns/op':>14}{'min':>10}{'max':>10}{'x bare with':>13}"
    rule = "-" * len(header)
    out += [rule, header, rule]
    group = None
    for r in rows:
        if group is not None and r["group"] != group:
            out.append("(extra rows)")
        group = r["group"]
        out.append(
            f"{r['name']:<{w}}{r['median_ns']:>14,.0f}{r['min_ns']:>10,.0f}{r['max_ns']:>10,.0f}"
            f"{r['ratio_to_bare_with']:>13.2f}"
        )
    out.append(rule)
    out.append("Targets (from the medians above):")
    for t in targets:
        tag = " (informational)" if t["informational"] else ""
        out.append(
            f"  [{t['status']}] {t['name']}: {_fmt(t['value'], t['unit'])} "
            f"{t['op']} {_fmt(t['threshold'], t['unit'])}{tag}"
        )
    out.append("Derived:")
    for d in extra:
        out.append(f"  {d['name']}: {_fmt(d['value'], d['unit'])}")
    return "\n".join(out)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repetitions", type=int, default=None, help=f"timed repetitions per case (>= {MIN_REPETITIONS}, default {DEFAULT_REPETITIONS})")
    p.add_argument("--iterations", type=int, default=None, help=f"blocks per repetition (default {DEFAULT_ITERATIONS:,}; --quick: {QUICK_ITERATIONS:,})")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results (default {DEFAULT_JSON.relative_to(HERE.parent)})")
    p.add_argument("--quick", action="store_true", help="few iterations, minimum repetitions: a smoke run, not a measurement")
    p.add_argument("--check", action="store_true", help="exit 1 when a non-informational target is missed")
    args = p.parse_args(argv)
    if args.repetitions is None:
        args.repetitions = MIN_REPETITIONS if args.quick else DEFAULT_REPETITIONS
    if args.iterations is None:
        args.iterations = QUICK_ITERATIONS if args.quick else DEFAULT_ITERATIONS
    if args.repetitions < MIN_REPETITIONS:
        p.error(f"--repetitions must be >= {MIN_REPETITIONS}")
    if args.iterations < 1:
        p.error("--iterations must be >= 1")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)

    def log(msg: str) -> None:
        print(f"# {msg}", file=sys.stderr, flush=True)

    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    load_before = _loadavg()
    core_before = _core_build()
    cases = build_cases()
    try:
        run_cases(cases, args.iterations, args.repetitions, log)
    except SanityError as exc:
        print(f"bench_overhead: sanity check failed: {exc}", file=sys.stderr)
        return 2

    env = environment(args.iterations, args.repetitions, args.quick)
    env["started"] = started
    env["loadavg_before"] = load_before
    env["ragperf_core"] = core_before
    if _core_build() != core_before:
        env["ragperf_core_replaced_during_run"] = _core_build()
        log("warning: ragperf's _core was reinstalled during the run; the old (loaded) one was measured")
    rows = summarize(cases, args.iterations)
    targets = evaluate_targets(rows)
    extra = derived(rows)
    print(render(env, rows, targets, extra))

    result = {"context": env, "benchmarks": rows, "targets": targets, "derived": extra}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.json.with_name(args.json.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, args.json)
    print(f"results written to {args.json}")

    missed = [t for t in targets if t["status"] == "MISS" and not t["informational"]]
    if args.check and missed:
        print(f"--check: {len(missed)} target(s) missed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
