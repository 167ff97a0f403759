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
measure a no-op; the totals are checked again after timing. The timed
OpenTelemetry case keeps nothing countable (a TracerProvider with no span
processor), so the same loop is checked, untimed, on a separate provider with
an in-memory exporter, and one block on the timed provider is inspected.

Peers: prometheus_client (Histogram.time, labelled Histogram), the
OpenTelemetry SDK (opentelemetry-sdk) and a seed-style pure-Python monitor
(benchmarks/seed_style_monitor.py, needs psutil). A peer that is not
importable has its cases skipped, with a note in the output and the JSON.

This file runs the cases and writes the results; the cases are in
overhead_cases.py, their timed loops in overhead_loops.py.

Usage:
    .venv/bin/python benchmarks/bench_overhead.py [--repetitions 7] [--iterations N]
        [--json benchmarks/results/overhead.json] [--quick] [--check]

Exit status: 0 after a completed measurement, whatever the targets say;
with ``--check``, 1 when a (non-informational) target is missed; 2 when a
sanity check fails (a monitor did not record what it was asked to).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
from common import MIN_REPETITIONS, SanityError, log, target  # noqa: E402
from overhead_cases import (  # noqa: E402  (the cases and the peers that are importable)
    _OTEL_MISSING,
    DEFAULT_ITERATIONS,
    SKIPPED,
    Case,
    build_cases,
    prometheus_client,
    psutil,
)

DEFAULT_JSON = common.RESULTS_DIR / "overhead.json"
DEFAULT_REPETITIONS = 7
QUICK_ITERATIONS = 2_000


# --------------------------------------------------------------------------
# Running.
# --------------------------------------------------------------------------


def _check(case: Case, when: str) -> None:
    expected = case.expected(case.blocks)
    got = case.recorded()
    case.checks.append({"when": when, "blocks": case.blocks, "expected": expected, "recorded": got})
    if expected is not None and got != expected:
        raise SanityError(
            f"{case.name}: after {case.blocks} blocks ({when}) the monitor holds {got}, expected {expected}"
        )


def _extra_checks(case: Case, iterations: int, when: str) -> None:
    for check in case.extra_checks(iterations, when):
        case.checks.append(check)
        if check["recorded"] != check["expected"]:
            raise SanityError(
                f"{case.name} ({when}): {check['what']}: got {check['recorded']}, expected {check['expected']}"
            )


def run_cases(cases: List[Case], iterations: int, repetitions: int, log: Callable[[str], None]) -> None:
    # Sanity + warm-up: one untimed pass of N blocks per case.
    for case in cases:
        case.run(iterations)
        case.blocks += iterations
        _check(case, "before timing")
        _extra_checks(case, iterations, "before timing")
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
        _extra_checks(case, iterations, "after timing")


# --------------------------------------------------------------------------
# Environment.
# --------------------------------------------------------------------------


def environment(iterations: int, repetitions: int, quick: bool, start: Dict[str, Any]) -> Dict[str, Any]:
    """common.environment() plus the peers' versions and this run's settings;
    ``start`` is common.run_start() from before the run."""
    return common.environment(
        **start,
        prometheus_client_version=(
            getattr(prometheus_client, "__version__", None) or common.dist_version("prometheus_client")
        )
        if prometheus_client is not None
        else None,
        opentelemetry_sdk_version=common.dist_version("opentelemetry-sdk") if _OTEL_MISSING is None else None,
        opentelemetry_api_version=common.dist_version("opentelemetry-api") if _OTEL_MISSING is None else None,
        otel_timed_setup="otel/span_no_processor: TracerProvider() with no span processor and no "
        "exporter (spans are created and discarded); the in-memory exporter is used only in the untimed "
        "sanity check (and in otel/span_batch_in_memory)"
        if _OTEL_MISSING is None
        else None,
        skipped_cases=list(SKIPPED),
        psutil_version=psutil.__version__,
        iterations=iterations,
        repetitions=repetitions,
        quick=quick,
        time_unit="ns",
        order="round-robin over cases per repetition, start rotated each repetition",
    )


# --------------------------------------------------------------------------
# Results, targets, output.
# --------------------------------------------------------------------------


def benchmark_rows(cases: List[Case], iterations: int) -> List[Dict[str, Any]]:
    stats = [common.summarize(case.samples_ns) for case in cases]
    bare = stats[0]["median"]  # the first case is the bare `with`
    rows = []
    for case, st in zip(cases, stats):
        rows.append(
            {
                "name": case.name,
                "label": case.label,
                "group": case.group,
                "run_type": "aggregate",
                "aggregate_name": "median",
                "iterations": iterations,
                "repetitions": st["repetitions"],
                "real_time": st["median"],
                "median_ns": st["median"],
                "min_ns": st["min"],
                "max_ns": st["max"],
                "time_unit": "ns",
                "ratio_to_bare_with": st["median"] / bare,
                "note": case.note,
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
    prom = med.get("prometheus/Histogram.time")
    seed_on = med["seed_style/memory_on"]
    return [  # informational last; a value of None (a skipped peer) gives status SKIP
        target("ragperf memory off: ns per block", off, "<=", 500.0, "ns", False),
        target("ragperf memory off / bare with", off / bare, "<=", 3.0, "x", False),
        target("ragperf memory on: ns per block", on, "<=", 1500.0, "ns", False),
        target("prometheus Histogram.time() / ragperf memory off", prom / off if prom is not None else None,
               ">=", 2.0, "x", True),
        target("seed-style (memory on) / ragperf memory on", seed_on / on, ">=", 10.0, "x", True),
    ]


def derived(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    med = {r["name"]: r["median_ns"] for r in rows}
    out: List[Dict[str, Any]] = []

    def add(name: str, a: str, b: str, unit: str) -> None:
        """A row comparing the medians of cases a and b: a - b ("ns") or a / b
        ("x"); left out when either case was skipped (a peer not importable)."""
        if a in med and b in med:
            out.append({"name": name, "value": med[a] - med[b] if unit == "ns" else med[a] / med[b], "unit": unit})

    off = "ragperf/memory_off"
    add("@monitor.timed overhead over a plain call", "ragperf/timed_call", "plain_call/empty_function", "ns")
    add("ragperf async with / bare async with", "ragperf/async_with", "bare_async_with/nullcontext", "x")
    add("ragperf memory on (default, RSS cache) - memory off", "ragperf/memory_on", off, "ns")
    add("seed-style memory on - memory off (cost of the psutil reads)", "seed_style/memory_on",
        "seed_style/memory_off", "ns")
    # Informational ratios against the peers added later.
    add("OTel SDK span (no processor) / ragperf memory off", "otel/span_no_processor", off, "x")
    add("OTel SDK span (BatchSpanProcessor -> in-memory) / ragperf memory off", "otel/span_batch_in_memory",
        off, "x")
    add("prometheus labels().time() / ragperf memory off", "prometheus/labels().time", off, "x")
    add("prometheus labels() lookup per block (labels().time - labels_cached.time)", "prometheus/labels().time",
        "prometheus/labels_cached.time", "ns")
    add("ragperf record() call / ragperf memory off tracked block", "ragperf/record_call", off, "x")
    add("ragperf exact memory mode - memory off (two statm reads per block)", "ragperf/memory_on_exact", off, "ns")
    add("seed-style (memory on) / ragperf exact memory mode", "seed_style/memory_on", "ragperf/memory_on_exact",
        "x")
    return out


def _fmt(v: Optional[float], unit: str) -> str:
    if v is None:
        return "n/a"
    return f"{v:,.0f} ns" if unit == "ns" else f"{v:.2f}x"


def render(
    env: Dict[str, Any],
    rows: List[Dict[str, Any]],
    targets: List[Dict[str, Any]],
    extra: List[Dict[str, Any]],
    skipped: Optional[List[Dict[str, str]]] = None,
) -> str:
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
    notes = [r["note"] for r in rows if r.get("note")]
    if notes:
        out.append("Notes on the peers:")
        out += [f"  - {n}" for n in notes]
    if skipped:
        out.append("Skipped (peer not importable):")
        out += [f"  - {s['case']}: {s['reason']}" for s in skipped]
    return "\n".join(out)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repetitions", type=int, default=None, help=f"timed repetitions per case (>= {MIN_REPETITIONS}, default {DEFAULT_REPETITIONS})")
    p.add_argument("--iterations", type=int, default=None, help=f"blocks per repetition (default {DEFAULT_ITERATIONS:,}; --quick: {QUICK_ITERATIONS:,})")
    common.add_output_args(p, DEFAULT_JSON, "few iterations, minimum repetitions: a smoke run, not a measurement",
                           "exit 1 when a non-informational target is missed")
    args = p.parse_args(argv)
    common.resolve_repetitions(p, args, DEFAULT_REPETITIONS)
    common.resolve_size(p, args, "iterations", DEFAULT_ITERATIONS, QUICK_ITERATIONS)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    start = common.run_start()
    cases = build_cases(args.iterations)
    for skipped in SKIPPED:
        log(f"skipping {skipped['case']}: {skipped['reason']}")
    try:
        run_cases(cases, args.iterations, args.repetitions, log)
    except SanityError as exc:
        print(f"bench_overhead: sanity check failed: {exc}", file=sys.stderr)
        return 2

    env = environment(args.iterations, args.repetitions, args.quick, start)
    if common.core_replaced(env):
        log("warning: ragperf's _core was reinstalled during the run; the old (loaded) one was measured")
    rows = benchmark_rows(cases, args.iterations)
    targets = evaluate_targets(rows)
    extra = derived(rows)
    print(render(env, rows, targets, extra, SKIPPED))

    result = {
        "context": env,
        "benchmarks": rows,
        "targets": targets,
        "derived": extra,
        "skipped": list(SKIPPED),
    }
    return common.finish(args.json, result, args.check)


if __name__ == "__main__":
    sys.exit(main())
