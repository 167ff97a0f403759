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
import sys
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Callable, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
from common import MIN_REPETITIONS, SanityError, log, target  # noqa: E402

DEFAULT_JSON = common.RESULTS_DIR / "overhead.json"
DEFAULT_ITERATIONS = 100_000
DEFAULT_REPETITIONS = 7
QUICK_ITERATIONS = 2_000

try:
    import psutil  # the seed-style monitor needs it
except ImportError as exc:  # pragma: no cover - environment problem
    sys.exit(f"bench_overhead: {exc}. Install it: .venv/bin/pip install psutil")

# Optional peers: when one is missing its cases are skipped with a note (in the
# printed output and the JSON), not a crash.
SKIPPED: List[Dict[str, str]] = []

try:
    import prometheus_client
except ImportError as exc:  # pragma: no cover - environment problem
    prometheus_client = None  # type: ignore[assignment]
    _PROMETHEUS_MISSING: Optional[str] = f"{exc} (.venv/bin/pip install prometheus-client)"
else:
    _PROMETHEUS_MISSING = None

try:
    from opentelemetry.sdk.trace import ReadableSpan as _OtelReadableSpan
    from opentelemetry.sdk.trace import TracerProvider as _OtelTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor as _OtelBatchSpanProcessor
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor as _OtelSimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter as _OtelInMemorySpanExporter,
    )
except ImportError as exc:  # pragma: no cover - environment problem
    _OTEL_MISSING: Optional[str] = f"{exc} (.venv/bin/pip install opentelemetry-sdk)"
else:
    _OTEL_MISSING = None

from ragperf import OperationType, PerformanceMonitor  # noqa: E402

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


def _loop_prometheus_labels(n: int, hist: Any) -> int:
    # The child is looked up per block, as users write it.
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with hist.labels(operation="op").time():
            pass
    return perf_counter_ns() - t0


def _loop_otel_span(n: int, tracer: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with tracer.start_as_current_span("op"):
            pass
    return perf_counter_ns() - t0


def _loop_record(n: int, monitor: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        monitor.record("op", duration_s=0.001)
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
    ``expected(total_blocks)`` is what it must hold after that many blocks.
    ``extra_checks(iterations, when)`` returns further checks (dicts with
    ``what``, ``expected`` and ``recorded``) for peers whose timed setup keeps
    nothing countable; ``note`` is printed and stored with the row."""

    name: str
    label: str
    group: str  # "core" or "extra"
    run: Callable[[int], int]
    recorded: Callable[[], Optional[int]] = lambda: None
    expected: Callable[[int], Optional[int]] = lambda total: None
    extra_checks: Callable[[int, str], List[Dict[str, Any]]] = lambda iterations, when: []
    note: Optional[str] = None
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


def _prometheus_labelled_case(cached_child: bool) -> Case:
    registry = prometheus_client.CollectorRegistry()
    hist = prometheus_client.Histogram(
        "bench_labelled_block_seconds",
        "Empty block duration",
        labelnames=("operation",),
        registry=registry,
    )

    def recorded() -> int:
        value = registry.get_sample_value("bench_labelled_block_seconds_count", {"operation": "op"})
        return int(value) if value is not None else 0

    if cached_child:
        child = hist.labels(operation="op")
        return Case(
            "prometheus/labels_cached.time",
            'prometheus_client child = Histogram(labelnames=("operation",)).labels(operation="op") '
            "looked up ONCE outside the loop; child.time() per block",
            "extra",
            run=lambda n: _loop_prometheus(n, child),
            recorded=recorded,
            expected=lambda total: total,
            note="prometheus/labels_cached.time: the labelled child is looked up once, outside the "
            "loop (a micro-optimisation); each block then costs what an unlabelled Histogram.time() does.",
        )
    return Case(
        "prometheus/labels().time",
        'prometheus_client Histogram(labelnames=("operation",)): '
        'hist.labels(operation="op").time() per block',
        "core",
        run=lambda n: _loop_prometheus_labels(n, hist),
        recorded=recorded,
        expected=lambda total: total,
        note='prometheus/labels().time: labels(operation="op") is called in every block, as users '
        "write it: it validates the label values, builds a key tuple and looks the child up in a dict "
        "under a lock, then times the block like Histogram.time() (count, sum, fixed buckets; no "
        "client-side percentiles).",
    )


def _otel_processor_count(provider: Any) -> Optional[int]:
    """Span processors on an SDK TracerProvider (private attribute: None when
    this SDK version does not have it)."""
    active = getattr(provider, "_active_span_processor", None)
    procs = getattr(active, "_span_processors", None)
    return None if procs is None else len(procs)


def _otel_probe(provider: Any, tracer: Any, processors: int, when: str) -> List[Dict[str, Any]]:
    """One untimed block on the timed tracer itself: it must yield a real SDK
    span that records while open and is ended on exit (not a no-op tracer)."""
    with tracer.start_as_current_span("op") as span:
        recording = span.is_recording()
    ok = (
        isinstance(span, _OtelReadableSpan)
        and recording
        and span.name == "op"
        and span.end_time is not None
        and span.get_span_context().is_valid
    )
    got = _otel_processor_count(provider)
    return [
        {
            "when": when,
            "what": "one block on the timed tracer yields an SDK span, recording while open, ended on exit",
            "expected": True,
            "recorded": ok,
        },
        {
            "when": when,
            "what": "span processors on the timed TracerProvider"
            + ("" if got is not None else " (not inspectable in this SDK version)"),
            "expected": processors if got is not None else None,
            "recorded": got,
        },
    ]


def _otel_in_memory_check(n: int, when: str) -> List[Dict[str, Any]]:
    """The timed loop, run untimed on a SEPARATE provider that has a
    SimpleSpanProcessor + InMemorySpanExporter: every block must end up as one
    finished root span named "op" with its own span id."""
    exporter = _OtelInMemorySpanExporter()
    provider = _OtelTracerProvider()
    provider.add_span_processor(_OtelSimpleSpanProcessor(exporter))
    _loop_otel_span(n, provider.get_tracer("bench_overhead"))
    spans = exporter.get_finished_spans()
    good = sum(
        1
        for s in spans
        # parent None: the previous block's span was no longer current
        if s.name == "op" and s.end_time is not None and s.parent is None and s.context.is_valid
    )
    distinct = len({s.context.span_id for s in spans})
    exporter.clear()
    provider.shutdown()
    what = "separate untimed provider (SimpleSpanProcessor + InMemorySpanExporter), same loop"
    return [
        {"when": when, "what": f"{what}: finished root spans named 'op'", "expected": n, "recorded": good},
        {"when": when, "what": f"{what}: distinct span ids", "expected": n, "recorded": distinct},
    ]


def _otel_case() -> Case:
    provider = _OtelTracerProvider()  # no span processor, no exporter
    tracer = provider.get_tracer("bench_overhead")
    sampler = provider.sampler.get_description()
    if sampler.startswith("ParentBased{root:AlwaysOnSampler,"):
        sampler = "ParentBased(ALWAYS_ON), the default"

    def extra_checks(iterations: int, when: str) -> List[Dict[str, Any]]:
        checks = _otel_probe(provider, tracer, 0, when)
        if when == "before timing":
            checks += _otel_in_memory_check(iterations, when)
        return checks

    return Case(
        "otel/span_no_processor",
        'OpenTelemetry SDK TracerProvider() with NO span processor/exporter: '
        'tracer.start_as_current_span("op")',
        "core",
        run=lambda n: _loop_otel_span(n, tracer),
        extra_checks=extra_checks,
        note=(
            "otel/span_no_processor: opentelemetry-sdk TracerProvider() with NO span processor and NO "
            f"exporter (sampler {sampler}). Each block creates, starts, makes current, ends and detaches "
            "a real SDK span (random trace and span ids, two time_ns() reads, attribute/event "
            "containers, contextvars attach/detach), which is then discarded: nothing is kept, so this "
            "is a lower bound of the cost of tracing. Spans have no client-side counts or percentiles: "
            "aggregating them needs an exporter plus a backend (a tracing store, or a span-to-metrics "
            "step). Sanity: the same loop, untimed, on a separate provider with SimpleSpanProcessor + "
            "InMemorySpanExporter produced one finished span per block; and one block on the timed "
            "provider yields a recording SDK span (not a no-op tracer)."
        ),
    )


def _otel_batch_case(iterations: int) -> Case:
    exporter = _OtelInMemorySpanExporter()
    # Queue big enough for one repetition, so no span is dropped and the count
    # check is exact (the default, 2048, drops spans in a tight loop).
    queue = max(2048, iterations)
    processor = _OtelBatchSpanProcessor(exporter, max_queue_size=queue)
    provider = _OtelTracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench_overhead")
    exported = [0]

    def run(n: int) -> int:
        elapsed = _loop_otel_span(n, tracer)
        # Untimed: drain what the worker has not exported yet, count, free.
        processor.force_flush()
        spans = exporter.get_finished_spans()
        exported[0] += sum(1 for s in spans if s.name == "op")
        exporter.clear()
        return elapsed

    return Case(
        "otel/span_batch_in_memory",
        f"OpenTelemetry SDK, BatchSpanProcessor(InMemorySpanExporter(), max_queue_size={queue:,}): "
        'tracer.start_as_current_span("op")',
        "extra",
        run=run,
        recorded=lambda: exported[0],
        expected=lambda total: total,
        note=(
            "otel/span_batch_in_memory: one BatchSpanProcessor to an InMemorySpanExporter, "
            f"max_queue_size={queue:,} so no span is dropped; its worker thread exports batches of 512 "
            "during the timed loop (the GIL time it takes is counted); after each timed loop, untimed: "
            "force_flush(), count the exported spans, clear the exporter."
        ),
    )


def _record_case() -> Case:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    return Case(
        "ragperf/record_call",
        'ragperf memory off, monitor.record("op", duration_s=0.001) per call (no context manager)',
        "extra",
        run=lambda n: _loop_record(n, monitor),
        recorded=lambda: monitor.get_operation_count("op"),
        expected=lambda total: total,
        note="ragperf/record_call: direct recording of a duration measured elsewhere (here a constant "
        "1 ms), memory tracking off: no clock read and no tracker object; the keyword arguments are "
        "validated, then one record goes to the same core as a tracked block's.",
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


def _skip(cases: List[str], reason: str) -> None:
    for name in cases:
        SKIPPED.append({"case": name, "reason": reason})


def build_cases(iterations: int = DEFAULT_ITERATIONS) -> List[Case]:
    null = contextlib.nullcontext()
    anull = contextlib.nullcontext()
    SKIPPED.clear()
    prometheus: List[Case] = []
    prometheus_cached: List[Case] = []
    if prometheus_client is not None:
        prometheus = [_prometheus_case(), _prometheus_labelled_case(cached_child=False)]
        prometheus_cached = [_prometheus_labelled_case(cached_child=True)]
    else:
        _skip(
            ["prometheus/Histogram.time", "prometheus/labels().time", "prometheus/labels_cached.time"],
            f"prometheus_client not importable: {_PROMETHEUS_MISSING}",
        )
    otel: List[Case] = []
    otel_batch: List[Case] = []
    if _OTEL_MISSING is None:
        otel = [_otel_case()]
        otel_batch = [_otel_batch_case(iterations)]
    else:
        _skip(
            ["otel/span_no_processor", "otel/span_batch_in_memory"],
            f"opentelemetry-sdk not importable: {_OTEL_MISSING}",
        )
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
        *prometheus,
        *otel,
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
        _record_case(),
        *prometheus_cached,
        *otel_batch,
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
