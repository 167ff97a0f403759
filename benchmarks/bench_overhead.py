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
        "prometheus_client_version": (
            getattr(prometheus_client, "__version__", None) or _dist_version("prometheus_client")
        )
        if prometheus_client is not None
        else None,
        "opentelemetry_sdk_version": _dist_version("opentelemetry-sdk") if _OTEL_MISSING is None else None,
        "opentelemetry_api_version": _dist_version("opentelemetry-api") if _OTEL_MISSING is None else None,
        "otel_timed_setup": "otel/span_no_processor: TracerProvider() with no span processor and no "
        "exporter (spans are created and discarded); the in-memory exporter is used only in the untimed "
        "sanity check (and in otel/span_batch_in_memory)"
        if _OTEL_MISSING is None
        else None,
        "skipped_cases": list(SKIPPED),
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

    def target(
        name: str, value: Optional[float], op: str, threshold: float, unit: str, info: bool
    ) -> Dict[str, Any]:
        if value is None:  # the peer was skipped
            status = "SKIP"
        else:
            ok = value <= threshold if op == "<=" else value >= threshold
            status = "PASS" if ok else "MISS"
        return {
            "name": name,
            "value": value,
            "op": op,
            "threshold": threshold,
            "unit": unit,
            "status": status,
            "informational": info,
        }

    return [
        target("ragperf memory off: ns per block", off, "<=", 500.0, "ns", False),
        target("ragperf memory off / bare with", off / bare, "<=", 3.0, "x", False),
        target("ragperf memory on: ns per block", on, "<=", 1500.0, "ns", False),
        target(
            "prometheus Histogram.time() / ragperf memory off",
            prom / off if prom is not None else None,
            ">=",
            2.0,
            "x",
            True,
        ),
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
    off = med["ragperf/memory_off"]
    # Informational ratios against the peers added later (absent when skipped).
    if "otel/span_no_processor" in med:
        rows_out.append(
            {
                "name": "OTel SDK span (no processor) / ragperf memory off",
                "value": med["otel/span_no_processor"] / off,
                "unit": "x",
            }
        )
    if "otel/span_batch_in_memory" in med:
        rows_out.append(
            {
                "name": "OTel SDK span (BatchSpanProcessor -> in-memory) / ragperf memory off",
                "value": med["otel/span_batch_in_memory"] / off,
                "unit": "x",
            }
        )
    if "prometheus/labels().time" in med:
        rows_out.append(
            {
                "name": "prometheus labels().time() / ragperf memory off",
                "value": med["prometheus/labels().time"] / off,
                "unit": "x",
            }
        )
    if "prometheus/labels().time" in med and "prometheus/labels_cached.time" in med:
        rows_out.append(
            {
                "name": "prometheus labels() lookup per block (labels().time - labels_cached.time)",
                "value": med["prometheus/labels().time"] - med["prometheus/labels_cached.time"],
                "unit": "ns",
            }
        )
    rows_out.append(
        {
            "name": "ragperf record() call / ragperf memory off tracked block",
            "value": med["ragperf/record_call"] / off,
            "unit": "x",
        }
    )
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
    cases = build_cases(args.iterations)
    for skipped in SKIPPED:
        log(f"skipping {skipped['case']}: {skipped['reason']}")
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
    print(render(env, rows, targets, extra, SKIPPED))

    result = {
        "context": env,
        "benchmarks": rows,
        "targets": targets,
        "derived": extra,
        "skipped": list(SKIPPED),
    }
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
