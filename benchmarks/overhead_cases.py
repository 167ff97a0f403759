"""The cases of bench_overhead.py: ragperf, the seed-style monitor and the peers
(prometheus_client, the OpenTelemetry SDK), each a :class:`Case` that times
its loop and says what its monitor must hold afterwards. A peer that is not
importable has its cases skipped, with a note (``SKIPPED``)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from overhead_loops import (
    _aloop_nullcontext,
    _aloop_track,
    _empty,
    _loop_call,
    _loop_nullcontext,
    _loop_otel_span,
    _loop_prometheus,
    _loop_prometheus_labels,
    _loop_record,
    _loop_track,
    _loop_track_optype_tokens,
)
from seed_style_monitor import SeedStyleMonitor

from ragperf import OperationType, PerformanceMonitor


DEFAULT_ITERATIONS = 100_000

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
