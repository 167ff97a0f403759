#!/usr/bin/env python3
"""A realistic nested RAG query tracked by ragperf vs the same nesting of bare
``with`` blocks, wall clock (issue #20 item 1, second half: <= 2.5x).

One query, as RAG code writes it (memory tracking on, the default;
``t = monitor.track_operation``)::

    with t(OperationType.QUERY_PROCESSING, user="u1") as q:
        with t(OperationType.EMBEDDING_GENERATION, model="all-MiniLM-L6-v2") as e:
            e.tokens = 12
        with t(OperationType.DOCUMENT_RETRIEVAL, k=5, index="docs"):
            pass
        with t(OperationType.LLM_INFERENCE, model="qwen", tenant="acme") as g:
            g.prompt_tokens = 100
            g.completion_tokens = 20

Variants (each side is one module-level loop below, its hot objects locals):

* ``query4`` (the headline): the query above, a root and 3 children with
  keyword metadata and token counts;
* ``query4_positional``: the same with positional metadata dicts
  (``t(OperationType.LLM_INFERENCE, {"model": "qwen", "tenant": "acme"})``,
  the seed's style), against the same peer;
* ``query3``: a root and 2 children (retrieval, LLM inference with tokens).

The peer of each is the exact same nesting of ``contextlib.nullcontext(ns)``
blocks (``ns`` a ``types.SimpleNamespace``) with the same attribute sets on
``ns``, the context managers built once outside the loop (the bare ``with``
floor, as ``bare_with/nullcontext`` in bench_overhead.py), so the only
difference is ragperf. ``bare_query4_new`` builds a ``nullcontext(ns)``
per block instead (the ``query4_vs_new`` ratio, informational).

Method (as bench_overhead.py): one process; each repetition (round) times
every side once, N queries each, with ``time.perf_counter_ns``, the order
rotated per round so drift hits all sides alike; nothing is subtracted. Each
ragperf side has its own monitor, checked before and after timing to hold
exactly the queries it ran (counts and tokens per operation, and the last
trace's shape). Reported: the median, min and max per query of each side,
and per variant the median of the per-round ratios ragperf / peer.

Usage:
    .venv/bin/python benchmarks/bench_nested.py [--iterations 5000] [--repetitions 31]
        [--json benchmarks/results/nested.json] [--quick] [--check]

Exit status: 0 after a completed measurement, whatever the targets say;
with ``--check``, 1 when the (non-informational) headline target is missed;
2 when a sanity check fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from time import perf_counter_ns
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
from common import MIN_REPETITIONS, SanityError, log, target  # noqa: E402

from ragperf import OperationType, PerformanceMonitor  # noqa: E402

DEFAULT_JSON = common.RESULTS_DIR / "nested.json"
DEFAULT_ITERATIONS = 5_000
QUICK_ITERATIONS = 200
DEFAULT_REPETITIONS = 31
TARGET_RATIO = 2.5


# --------------------------------------------------------------------------
# The timed loops: n queries each, elapsed ns returned.
# --------------------------------------------------------------------------


def _ragperf_query4(n: int, monitor: Any) -> int:
    t = monitor.track_operation
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with t(OperationType.QUERY_PROCESSING, user="u1") as q:  # noqa: F841
            with t(OperationType.EMBEDDING_GENERATION, model="all-MiniLM-L6-v2") as e:
                e.tokens = 12
            with t(OperationType.DOCUMENT_RETRIEVAL, k=5, index="docs"):
                pass
            with t(OperationType.LLM_INFERENCE, model="qwen", tenant="acme") as g:
                g.prompt_tokens = 100
                g.completion_tokens = 20
    return perf_counter_ns() - t0


def _ragperf_query4_positional(n: int, monitor: Any) -> int:
    t = monitor.track_operation
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with t(OperationType.QUERY_PROCESSING, {"user": "u1"}) as q:  # noqa: F841
            with t(OperationType.EMBEDDING_GENERATION, {"model": "all-MiniLM-L6-v2"}) as e:
                e.tokens = 12
            with t(OperationType.DOCUMENT_RETRIEVAL, {"k": 5, "index": "docs"}):
                pass
            with t(OperationType.LLM_INFERENCE, {"model": "qwen", "tenant": "acme"}) as g:
                g.prompt_tokens = 100
                g.completion_tokens = 20
    return perf_counter_ns() - t0


def _ragperf_query3(n: int, monitor: Any) -> int:
    t = monitor.track_operation
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with t(OperationType.QUERY_PROCESSING, user="u1") as q:  # noqa: F841
            with t(OperationType.DOCUMENT_RETRIEVAL, k=5, index="docs"):
                pass
            with t(OperationType.LLM_INFERENCE, model="qwen", tenant="acme") as g:
                g.prompt_tokens = 100
                g.completion_tokens = 20
    return perf_counter_ns() - t0


def _bare_query4(n: int, cms: Any) -> int:
    nq, ne, nr, nl = cms
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with nq as q:  # noqa: F841
            with ne as e:
                e.tokens = 12
            with nr:
                pass
            with nl as g:
                g.prompt_tokens = 100
                g.completion_tokens = 20
    return perf_counter_ns() - t0


def _bare_query4_new(n: int, nss: Any) -> int:
    sq, se, sr, sl = nss
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with nullcontext(sq) as q:  # noqa: F841
            with nullcontext(se) as e:
                e.tokens = 12
            with nullcontext(sr):
                pass
            with nullcontext(sl) as g:
                g.prompt_tokens = 100
                g.completion_tokens = 20
    return perf_counter_ns() - t0


def _bare_query3(n: int, cms: Any) -> int:
    nq, nr, nl = cms
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with nq as q:  # noqa: F841
            with nr:
                pass
            with nl as g:
                g.prompt_tokens = 100
                g.completion_tokens = 20
    return perf_counter_ns() - t0


# --------------------------------------------------------------------------
# Sides and their checks.
# --------------------------------------------------------------------------

# operation -> (metadata of one block, tokens per block) for each ragperf query shape.
QUERY4_OPS: Dict[str, Any] = {
    "query_processing": ({"user": "u1"}, 0),
    "embedding_generation": ({"model": "all-MiniLM-L6-v2"}, 12),
    "document_retrieval": ({"k": 5, "index": "docs"}, 0),
    "llm_inference": ({"model": "qwen", "tenant": "acme"}, 120),
}
QUERY3_OPS = {k: v for k, v in QUERY4_OPS.items() if k != "embedding_generation"}


@dataclass
class Side:
    name: str
    label: str
    blocks_per_query: int
    loop: Callable[[int, Any], int]
    arg: Any
    ops: Optional[Dict[str, Any]] = None  # a ragperf side: what one query records
    queries: int = 0  # queries run so far (warm-up included)
    samples_ns: List[float] = field(default_factory=list)  # ns per query, one per round
    checks: List[Dict[str, Any]] = field(default_factory=list)

    def run(self, n: int) -> int:
        elapsed = self.loop(n, self.arg)
        self.queries += n
        return elapsed


def _namespaces(k: int) -> List[SimpleNamespace]:
    return [SimpleNamespace() for _ in range(k)]


def _monitor() -> PerformanceMonitor:
    return PerformanceMonitor(enable_memory_tracking=True)


# name -> a new side of that name (bench_instructions.py runs these too).
SIDES: Dict[str, Callable[[], Side]] = {
    "bare_query4": lambda: Side("bare_query4", "bare nested with: root + 3 children", 4, _bare_query4,
                                [nullcontext(ns) for ns in _namespaces(4)]),
    "ragperf_query4": lambda: Side("ragperf_query4", "ragperf: root + 3 children, keyword metadata", 4,
                                   _ragperf_query4, _monitor(), QUERY4_OPS),
    "ragperf_query4_positional": lambda: Side("ragperf_query4_positional",
                                              "ragperf: root + 3 children, positional metadata dicts", 4,
                                              _ragperf_query4_positional, _monitor(), QUERY4_OPS),
    "bare_query3": lambda: Side("bare_query3", "bare nested with: root + 2 children", 3, _bare_query3,
                                [nullcontext(ns) for ns in _namespaces(3)]),
    "ragperf_query3": lambda: Side("ragperf_query3", "ragperf: root + 2 children, keyword metadata", 3,
                                   _ragperf_query3, _monitor(), QUERY3_OPS),
    "bare_query4_new": lambda: Side("bare_query4_new",
                                    "bare nested with, nullcontext(ns) built per block: root + 3 children", 4,
                                    _bare_query4_new, _namespaces(4)),
}


# bench_instructions.py's per-query case -> the side it runs.
INSTRUCTION_CASES = {
    "nested_bare": "bare_query4",
    "nested_query": "ragperf_query4",
    "nested_query_positional": "ragperf_query4_positional",
    "nested3_bare": "bare_query3",
    "nested3_query": "ragperf_query3",
}


def build_sides() -> List[Side]:
    return [make() for make in SIDES.values()]


def run_side(name: str, n: int) -> Side:
    """Runs ``n`` queries of side ``name`` untimed and checks them (for
    bench_instructions.py, which counts their instructions under valgrind)."""
    side = SIDES[name]()
    side.run(n)
    check_side(side, "after the run")
    return side


# variant -> (ragperf side, peer side, informational)
VARIANTS = {
    "query4": ("ragperf_query4", "bare_query4", False),
    "query4_positional": ("ragperf_query4_positional", "bare_query4", True),
    "query3": ("ragperf_query3", "bare_query3", True),
    "query4_vs_new": ("ragperf_query4", "bare_query4_new", True),
}


def _trace_shape(trace: Dict[str, Any]) -> List[Any]:
    """(operation, metadata, tokens) of a trace's root and children."""
    return [[trace["operation"], trace["metadata"], trace["tokens"]]] + [
        [c["operation"], c["metadata"], c["tokens"]] for c in trace["children"]
    ]


def check_side(side: Side, when: str) -> None:
    """Raises SanityError unless the side did what ``side.queries`` queries do."""
    if side.ops is None:  # a bare side: its namespaces hold the attributes set
        nss = [cm.enter_result for cm in side.arg] if side.name != "bare_query4_new" else side.arg
        got = [vars(ns) for ns in nss]
        if side.blocks_per_query == 4:
            expected = [{}, {"tokens": 12}, {}, {"prompt_tokens": 100, "completion_tokens": 20}]
        else:
            expected = [{}, {}, {"prompt_tokens": 100, "completion_tokens": 20}]
        side.checks.append({"when": when, "what": "attributes set", "expected": expected, "recorded": got})
        if got != expected:
            raise SanityError(f"{side.name} ({when}): attributes {got}, expected {expected}")
        return
    monitor = side.arg
    for op, (_meta, tokens) in side.ops.items():
        stats = monitor.get_operation_stats(op)
        got_ops = None if stats is None else stats.total_operations
        got_tokens = None if stats is None else stats.total_tokens
        exp = {"operations": side.queries, "tokens": tokens * side.queries}
        rec = {"operations": got_ops, "tokens": got_tokens}
        side.checks.append({"when": when, "what": op, "expected": exp, "recorded": rec})
        if rec != exp:
            raise SanityError(f"{side.name} ({when}): {op} holds {rec}, expected {exp}")
    traces = monitor.get_recent_traces(1)
    got_shape = _trace_shape(traces[0]) if traces else None
    exp_shape = [[op, meta, tokens] for op, (meta, tokens) in side.ops.items()]
    side.checks.append({"when": when, "what": "last trace", "expected": exp_shape, "recorded": got_shape})
    if got_shape != exp_shape:
        raise SanityError(f"{side.name} ({when}): last trace {got_shape}, expected {exp_shape}")


def run_sides(sides: List[Side], iterations: int, repetitions: int) -> None:
    for side in sides:  # warm-up and sanity: one untimed pass of N queries
        side.run(iterations)
        check_side(side, "before timing")
    log(f"sanity: all {len(sides)} sides did what they were asked to")
    for rep in range(repetitions):
        shift = rep % len(sides)
        for side in sides[shift:] + sides[:shift]:
            side.samples_ns.append(side.run(iterations) / iterations)
        log(f"repetition {rep + 1}/{repetitions} done")
    for side in sides:
        check_side(side, "after timing")


# --------------------------------------------------------------------------
# Results.
# --------------------------------------------------------------------------


def side_rows(sides: List[Side], iterations: int) -> List[Dict[str, Any]]:
    rows = []
    for side in sides:
        st = common.summarize(side.samples_ns, scale=1e3, unit="us")
        rows.append({
            "name": side.name,
            "label": side.label,
            "ragperf": side.ops is not None,
            "blocks_per_query": side.blocks_per_query,
            "iterations": iterations,
            "repetitions": st["repetitions"],
            "us_per_query": st["median"],
            "us_per_query_min": st["min"],
            "us_per_query_max": st["max"],
            "us_per_block": st["median"] / side.blocks_per_query,
            "repetitions_us": st["samples"],
            "sanity_checks": side.checks,
        })
    return rows


def ratio_rows(sides: List[Side]) -> List[Dict[str, Any]]:
    by = {s.name: s for s in sides}
    out = []
    for variant, (rp, peer, informational) in VARIANTS.items():
        per_round = [a / b for a, b in zip(by[rp].samples_ns, by[peer].samples_ns)]
        out.append({
            "variant": variant,
            "ragperf": rp,
            "peer": peer,
            "informational": informational,
            "median": statistics.median(per_round),
            "min": min(per_round),
            "max": max(per_round),
            "ratio_of_medians": statistics.median(by[rp].samples_ns) / statistics.median(by[peer].samples_ns),
            "per_round": per_round,
        })
    return out


TARGET_NAMES = {
    "query4": "realistic nested query (root + 3 children, metadata, tokens, memory on) / bare nested with, "
              "wall clock",
    "query4_positional": "the same query with positional metadata dicts / bare nested with, wall clock",
    "query3": "nested query of root + 2 children / bare nested with, wall clock",
    "query4_vs_new": "realistic nested query / bare nested with building nullcontext(ns) per block, wall clock",
}


def evaluate_targets(ratios: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [target(TARGET_NAMES[r["variant"]], r["median"], "<=", TARGET_RATIO, "x", r["informational"])
            for r in ratios]


def render(env: Dict[str, Any], rows: List[Dict[str, Any]], ratios: List[Dict[str, Any]],
           targets: List[Dict[str, Any]]) -> str:
    out = [
        f"{env['started']} .. {env['date']}  Python {env['python_version']}  ragperf {env['ragperf_version']}  "
        f"({env['num_cpus']} X {env['cpu_model']})",
        f"{env['platform']}  load average (1/5/15 min) before {env['loadavg_before']}, after {env['loadavg_after']}",
        f"{env['iterations']:,} queries per side per round, {env['repetitions']} rounds, memory tracking on, "
        "wall clock per query (nothing subtracted)",
    ]
    w = max(len(r["name"]) for r in rows) + 2
    header = f"{'side':<{w}}{'blocks':>7}{'median us/query':>17}{'min':>9}{'max':>9}{'us/block':>10}"
    rule = "-" * len(header)
    out += [rule, header, rule]
    for r in rows:
        out.append(f"{r['name']:<{w}}{r['blocks_per_query']:>7}{r['us_per_query']:>17.3f}"
                   f"{r['us_per_query_min']:>9.3f}{r['us_per_query_max']:>9.3f}{r['us_per_block']:>10.3f}")
    out.append(rule)
    out.append("ragperf / peer (median of the per-round ratios, min-max):")
    for r in ratios:
        out.append(f"  {r['variant']:<19}{r['ragperf']} / {r['peer']}: {r['median']:.2f}x "
                   f"({r['min']:.2f}-{r['max']:.2f}; ratio of medians {r['ratio_of_medians']:.2f}x)")
    out.append("Targets:")
    for t in targets:
        tag = " (informational)" if t["informational"] else ""
        out.append(f"  [{t['status']}] {t['name']}: {t['value']:.2f}x {t['op']} {t['threshold']:.2f}x{tag}")
    return "\n".join(out)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repetitions", type=int, default=None,
                   help=f"rounds (>= {MIN_REPETITIONS}, default {DEFAULT_REPETITIONS})")
    p.add_argument("--iterations", type=int, default=None,
                   help=f"queries per side per round (default {DEFAULT_ITERATIONS:,}; --quick: {QUICK_ITERATIONS:,})")
    common.add_output_args(p, DEFAULT_JSON, "few queries, minimum rounds: a smoke run, not a measurement",
                           "exit 1 when the headline target is missed")
    args = p.parse_args(argv)
    common.resolve_repetitions(p, args, DEFAULT_REPETITIONS)
    common.resolve_size(p, args, "iterations", DEFAULT_ITERATIONS, QUICK_ITERATIONS)
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    start = common.run_start()
    command = common.command_line(None if argv is None else [sys.argv[0], *argv])
    sides = build_sides()
    try:
        run_sides(sides, args.iterations, args.repetitions)
    except SanityError as exc:
        print(f"bench_nested: sanity check failed: {exc}", file=sys.stderr)
        return 2
    env = common.environment(
        **start, command=command, iterations=args.iterations, repetitions=args.repetitions, quick=args.quick,
        memory_tracking=True, time_unit="us",
        order="round-robin over sides per round, start rotated each round",
        peer="contextlib.nullcontext(types.SimpleNamespace()) per block, built once outside the loop",
    )
    if common.core_replaced(env):
        log(f"warning: {common.CORE_REPLACED_NOTE}")
    rows = side_rows(sides, args.iterations)
    ratios = ratio_rows(sides)
    targets = evaluate_targets(ratios)
    print(render(env, rows, ratios, targets))
    result = {"benchmark": "nested", "context": env, "sides": rows, "ratios": ratios, "targets": targets}
    return common.finish(args.json, result, args.check)


if __name__ == "__main__":
    sys.exit(main())
