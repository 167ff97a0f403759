"""OpenTelemetry export of tracked operations: spans and metrics.

:func:`instrument` installs an exit hook on a monitor; from then on every
finished ``track_operation`` block becomes an OpenTelemetry span (with the
nesting of ragperf's trace trees; LLM, embedding and retrieval blocks per the
OpenTelemetry GenAI semantic conventions, see below) and its duration is
recorded in histograms. Nothing here runs, and ``opentelemetry`` is not even
imported, unless you import this module and call :func:`instrument`.

Needs ``opentelemetry-api`` (``pip install ragperf[otel]`` installs the SDK,
which brings it). Spans go to ``tracer_provider`` and metrics to
``meter_provider``; without them, to the global providers
(``opentelemetry.trace.set_tracer_provider`` /
``opentelemetry.metrics.set_meter_provider``).

How spans are built: OpenTelemetry needs a parent span before its children,
while ragperf finishes children first, so a tree is emitted when its root
block finishes, with the exact start and end times ragperf measured. A root
block becomes a child of the OpenTelemetry span current when it finishes
(usually the one current when it started), so ragperf trees nest under your
own spans. Blocks that outlive their root (an asyncio task started inside it)
are emitted when they finish, under their parent.

GenAI semantic conventions: blocks whose operation maps to a
``gen_ai.operation.name`` (by default ``llm_inference`` -> ``chat``,
``embedding_generation`` -> ``embeddings``, ``document_retrieval`` ->
``retrieval``; ``instrument(..., genai_operations={...})`` adds or changes
entries) are CLIENT spans named ``"{gen_ai.operation.name} {model}"``
(retrieval: ``"retrieval {data_source_id}"``) with ``gen_ai.operation.name``,
``gen_ai.provider.name`` (``op.metadata["provider"]``, set by the
integrations or by ``provider=`` on a block), ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.*``,
``gen_ai.response.time_to_first_chunk`` and ``error.type``; their metrics
are ``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage`` and
``gen_ai.client.operation.time_to_first_chunk``. Other blocks are INTERNAL
spans named after the operation.

Span attributes of every block: ``ragperf.operation``; ``ragperf.tokens``;
``ragperf.cost_usd`` (when the cost is known); ``ragperf.time_to_first_token_s``
(streams); ``ragperf.cache_hit`` (when set); ``ragperf.metadata.<key>`` for
each metadata entry (str/int/float/bool as they are, anything else as
``str()``). A failed block has status ERROR with the error message, the
``error.type`` attribute and an ``exception`` event (``exception.type``,
``exception.message``). A cancelled block (KeyboardInterrupt,
CancelledError, GeneratorExit, a stream abandoned early) is no error: status
UNSET, ``ragperf.cancelled`` and ``ragperf.cancel_reason``.

Metrics, two paths. With ``metric_exporter=`` (any SDK ``MetricExporter``)
nothing runs per block for metrics: ragperf's own statistics (exponential
histograms whose buckets are the sketch's bins, token/error sums;
``monitor.record()`` included) are pushed every
``metric_export_interval_s``, at ``force_flush()`` and at ``uninstrument()``
(:mod:`ragperf.export.otel_metrics`). Without it (the original path), SDK
instruments of ``meter_provider`` are recorded per block: histogram
``ragperf.operation.duration`` (unit ``s``, attributes ``operation`` and
``success``), counter ``ragperf.operation.tokens`` (unit ``{token}``,
attribute ``operation``; only blocks with tokens > 0 add to it), counter
``ragperf.operation.cancelled`` (attributes ``operation``, ``reason``; a
cancelled block is counted there and in no other metric, as in
``get_operation_stats``) and the ``gen_ai.client.*`` histograms.

Trace sampling: ``trace_sample_ratio=r`` decides once per trace, when its
root ends: a random fraction r, every trace with a failed block, and with
``trace_slow_threshold_s`` every trace whose root took that long; a kept
trace is emitted whole, a dropped one not at all. Metrics are not sampled.

``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` (read by
:func:`instrument`) emits the latest GenAI conventions only: no
``gen_ai.system`` duplicate of ``gen_ai.provider.name``, no
``ragperf.time_to_first_token_s`` on GenAI spans, and no
``ragperf.operation.duration`` / ``ragperf.operation.tokens`` for GenAI
operations. Without it ragperf's own names are emitted too.

Example:
    >>> import ragperf, ragperf.export.otel
    >>> monitor = ragperf.PerformanceMonitor()                    # doctest: +SKIP
    >>> with ragperf.export.otel.instrument(monitor):                    # doctest: +SKIP
    ...     with monitor.track_operation("query_processing"):
    ...         with monitor.track_operation("document_retrieval"):
    ...             pass
"""

from __future__ import annotations

import collections
import math
import random
import threading
import weakref
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any

try:
    from opentelemetry import metrics, trace
    from opentelemetry.trace import SpanContext
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "ragperf.otel needs OpenTelemetry: pip install ragperf[otel] "
        f"(or opentelemetry-sdk) [{_exc}]"
    ) from _exc

from . import _otel_genai as _genai
from .._validate import check_real
from .otel_block_metrics import CANCELLED_COUNTER, DURATION_HISTOGRAM, TOKENS_COUNTER, BlockMetrics
from .otel_spans import SpanBuilder, failed
from ._otel_genai import (
    DEFAULT_GENAI_OPERATIONS,
    GENAI_DURATION_HISTOGRAM,
    GENAI_TIME_TO_FIRST_CHUNK_HISTOGRAM,
    GENAI_TOKEN_USAGE_HISTOGRAM,
)

if TYPE_CHECKING:
    from ..monitor import PerformanceMonitor

__all__ = [
    "CANCELLED_COUNTER",
    "DEFAULT_GENAI_OPERATIONS",
    "DURATION_HISTOGRAM",
    "GENAI_DURATION_HISTOGRAM",
    "GENAI_TIME_TO_FIRST_CHUNK_HISTOGRAM",
    "GENAI_TOKEN_USAGE_HISTOGRAM",
    "TOKENS_COUNTER",
    "Instrumentation",
    "instrument",
    "uninstrument",
]

#: Emitted trees remembered for blocks that finish after their root.
_MAX_TRACES = 1024

_registry: weakref.WeakKeyDictionary[Any, list[Instrumentation]] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


class Instrumentation:
    """The hook :func:`instrument` installed on a monitor.

    ``uninstrument()`` (idempotent) removes it; as a context manager it
    uninstruments on exit. ``active`` tells whether it is installed.
    """

    def __init__(
        self,
        monitor: Any,
        tracer_provider: Any,
        meter_provider: Any,
        genai_operations: Mapping[str, str] = DEFAULT_GENAI_OPERATIONS,
        latest_experimental: bool = False,
        *,
        metric_exporter: Any | None = None,
        metric_export_interval_s: float = 60.0,
        resource: Any | None = None,
        trace_sample_ratio: float = 1.0,
        trace_slow_threshold_s: float | None = None,
    ) -> None:
        self._monitor_ref = weakref.ref(monitor)
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        #: The exporter statistics are pushed to (None: per-block SDK instruments).
        self.metric_exporter = metric_exporter
        #: Fraction of traces emitted (failed and slow ones always are).
        self.trace_sample_ratio = trace_sample_ratio
        #: Traces whose root took at least this many seconds are always emitted.
        self.trace_slow_threshold_s = trace_slow_threshold_s
        #: Traces emitted / left out by the sampling decision (roots counted).
        self.traces_emitted = 0
        self.traces_dropped = 0
        self._sampling = trace_sample_ratio < 1.0
        self._random = random.Random().random
        #: ragperf operation name -> gen_ai.operation.name (read-only).
        self.genai_operations: Mapping[str, str] = MappingProxyType(dict(genai_operations))
        #: Whether OTEL_SEMCONV_STABILITY_OPT_IN had gen_ai_latest_experimental
        #: when this handle was made (then only the latest conventions are emitted).
        self.latest_experimental = latest_experimental
        self._genai = dict(genai_operations)
        self._builder = SpanBuilder(tracer_provider, genai_operations, latest_experimental)
        self._pusher: Any | None = None
        if metric_exporter is not None:
            from .otel_metrics import MetricPusher

            if resource is None:
                resource = getattr(tracer_provider, "resource", None)
            self._pusher = MetricPusher(
                monitor,
                metric_exporter,
                genai_operations,
                metric_export_interval_s,
                resource=resource,
                latest_experimental=latest_experimental,
            )
            meter_provider = None
        #: The exit hook installed on the monitor: spans only when statistics are pushed.
        self._hook = self._on_exit if metric_exporter is None else self._record_span
        self._metrics = BlockMetrics(meter_provider, genai_operations, latest_experimental) if meter_provider is not None else None
        self._lock = threading.RLock()
        # trace_id -> {ragperf span_id: OTel span} of recently emitted trees,
        # so blocks finishing after their root still find their parent.
        self._traces: collections.OrderedDict[int, dict[int, SpanContext]] = collections.OrderedDict()
        # (trace_id, parent span_id) -> finished blocks waiting for a parent
        # that finishes after the root.
        self._pending: dict[tuple[int, int], list[Any]] = {}
        self.active = False

    def __repr__(self) -> str:
        return f"Instrumentation(active={self.active})"

    def __enter__(self) -> Instrumentation:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstrument()

    def uninstrument(self) -> bool:
        """Stops exporting; returns whether it was installed."""
        monitor = self._monitor_ref()
        with _registry_lock:
            if not self.active:
                return False
            self.active = False
            if monitor is not None:
                handles = _registry.get(monitor, [])
                if self in handles:
                    handles.remove(self)
                monitor._remove_exit_hook(self._hook)
        with self._lock:
            self._traces.clear()
            self._pending.clear()
        if self._pusher is not None:
            self._pusher.stop(flush=True)  # the last push
        return True

    def close(self) -> None:
        """:meth:`uninstrument` (the close of ragperf's exporter interface;
        this handle is a :class:`ragperf.export.base.BlockExporter`)."""
        self.uninstrument()

    def __call__(self, op: Any) -> None:
        """Exports one finished block (what the monitor's exit hook does)."""
        self._hook(op)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Pushes ragperf's statistics to ``metric_exporter`` now (when
        given) and flushes the tracer and meter providers that have a
        ``force_flush``; True when all succeeded.

        Example:
            >>> handle.force_flush()  # doctest: +SKIP
            True
        """
        ok = True
        if self._pusher is not None:
            ok = self._pusher.force_flush()
        for provider in (self.tracer_provider, self.meter_provider):
            flush = getattr(provider, "force_flush", None)
            if callable(flush):
                ok = bool(flush(timeout_millis)) and ok
        return ok

    def shutdown(self) -> None:
        """Uninstruments (with a last push of the statistics) and shuts the
        ``metric_exporter`` down. The providers are the caller's to shut down.

        Example:
            >>> handle.shutdown()  # doctest: +SKIP
        """
        self.uninstrument()
        if self.metric_exporter is not None:
            self.metric_exporter.shutdown()

    # ------------------------------------------------------------ hook

    def _on_exit(self, op: Any) -> None:
        failure: BaseException | None = None
        try:
            if self._metrics is not None:
                self._metrics.record(op)
        except Exception as exc:  # noqa: BLE001 - spans still go out
            failure = exc
        try:
            self._record_span(op)
        except Exception as exc:  # noqa: BLE001
            failure = failure or exc
        if failure is not None:
            raise failure  # counted (and logged once) by the tracker

    def _on_exit_spans(self, op: Any) -> None:
        """The hook when statistics are pushed: spans only, no per-block
        metric (what :meth:`_record_span`, the installed hook, does)."""
        self._record_span(op)

    def _keep(self, root: Any) -> bool:
        """The sampling decision for the trace ``root`` heads: a random
        fraction ``trace_sample_ratio``, every trace with a failed block and
        every trace whose root took ``trace_slow_threshold_s`` or longer."""
        # Called for every trace: the tests that usually fail come first,
        # and failed() only for a block that did not succeed.
        if self._random() < self.trace_sample_ratio or (root.success is False and failed(root)):
            return True
        slow = self.trace_slow_threshold_s
        if slow is not None and (root.duration_s or 0.0) >= slow:
            return True
        if root.unsuccessful_spans:  # else no kept block failed: nothing to look for
            for span in root._spans:
                if span.success is False and failed(span):
                    return True
        return False

    def _record_span(self, op: Any) -> None:
        """Exports a finished root with its tree (or drops the trace, when
        sampled out), or a block that finished after its root."""
        parent_id = op.parent_id
        # A root (the usual call) needs no ids; a block without ids counts as one.
        trace_id = span_id = None
        if parent_id is not None:
            trace_id = op.trace_id
            span_id = op.span_id
        if trace_id is None or span_id is None:
            keep = not self._sampling or self._keep(op)
            with self._lock:
                if keep:
                    self._emit_root(op)
                else:
                    self.traces_dropped += 1
            return
        with self._lock:
            spans = self._traces.get(trace_id)
            if spans is None:
                return  # the root has not finished: it will emit this block
            parent = spans.get(parent_id)
            if parent is None:
                self._pending.setdefault((trace_id, parent_id), []).append(op)
                return
            failure = self._emit_subtree(op, parent, spans, trace_id)
        if failure is not None:
            raise failure

    # Roots carry their finished tree: other blocks need no call (see
    # ragperf.export.exporters).
    _record_span.roots_only = True  # type: ignore[attr-defined]

    def _emit_root(self, root: Any) -> None:
        """Emits the tree of ``root``, a kept trace (lock held)."""
        self.traces_emitted += 1
        self._emit_tree(root)

    def _emit_tree(self, root: Any) -> None:
        emit, parent_context = self._builder.root_parent()
        if not emit:
            return  # under a sampled-out span: the SDK sampler would record nothing
        descendants = sorted(
            root._spans, key=lambda s: (s.depth, s.start_time_s or 0.0, s.span_id or 0)
        )
        contexts: dict[int, SpanContext] = {}
        created: list[tuple[Any, Any]] = []
        failure: BaseException | None = None
        builder = self._builder
        try:
            root_context, root_span = builder.start(root, parent_context)
            created.append((root_span, root))
            if root.span_id is not None:
                contexts[root.span_id] = root_context
            trace_id = root.trace_id
            waiting: dict[tuple[int, int], list[Any]] = {}
            for op in descendants:
                parent = contexts.get(op.parent_id)
                if parent is None:
                    if root.dropped_spans == 0 and trace_id is not None:
                        # Its parent is still running (finishes after the root).
                        waiting.setdefault((trace_id, op.parent_id), []).append(op)
                        continue
                    parent = root_context  # its parent was dropped: attach to the root
                context, span = builder.start(op, parent)
                created.append((span, op))
                if op.span_id is not None:
                    contexts[op.span_id] = context
            if trace_id is not None:
                self._traces[trace_id] = contexts
                self._pending.update(waiting)
                while len(self._traces) > _MAX_TRACES:
                    old, _ = self._traces.popitem(last=False)
                    for key in [k for k in self._pending if k[0] == old]:
                        del self._pending[key]
        except Exception as exc:  # noqa: BLE001
            failure = exc
        # End every started span even if one end() (a span processor) fails.
        for span, op in reversed(created):
            try:
                builder.finish(span, op)
            except Exception as exc:  # noqa: BLE001
                failure = failure or exc
        if failure is not None:
            raise failure

    def _emit_subtree(
        self, op: Any, parent: SpanContext, contexts: dict[int, SpanContext], trace_id: int
    ) -> BaseException | None:
        """Emits a block that finished after its root, then the blocks that
        were waiting for it."""
        failure: BaseException | None = None
        queue: list[tuple[Any, SpanContext]] = [(op, parent)]
        while queue:
            node, node_parent = queue.pop(0)
            try:
                context, span = self._builder.start(node, node_parent)
            except Exception as exc:  # noqa: BLE001
                failure = failure or exc
                continue
            if node.span_id is not None:
                contexts[node.span_id] = context
                for child in self._pending.pop((trace_id, node.span_id), []):
                    queue.append((child, context))
            try:
                self._builder.finish(span, node)
            except Exception as exc:  # noqa: BLE001
                failure = failure or exc
        return failure


def instrument(
    monitor: PerformanceMonitor,
    tracer_provider: Any | None = None,
    meter_provider: Any | None = None,
    *,
    genai_operations: Mapping[str, str | None] | None = None,
    metric_exporter: Any | None = None,
    metric_export_interval_s: float = 60.0,
    resource: Any | None = None,
    trace_sample_ratio: float = 1.0,
    trace_slow_threshold_s: float | None = None,
) -> Instrumentation:
    """Exports every block ``monitor`` tracks as an OpenTelemetry span and
    its duration (and tokens) as metrics; returns the :class:`Instrumentation`
    (call ``.uninstrument()`` or use it as a context manager to stop).

    ``tracer_provider`` / ``meter_provider`` default to the global providers.
    ``genai_operations`` maps ragperf operation names to
    ``gen_ai.operation.name`` values, merged over
    :data:`DEFAULT_GENAI_OPERATIONS` (a value of None drops a default); the
    blocks of those operations follow the GenAI semantic conventions
    (CLIENT spans, ``gen_ai.client.*`` metrics). A bad mapping raises
    ``TypeError`` / ``ValueError`` naming the bad entry.
    ``OTEL_SEMCONV_STABILITY_OPT_IN`` is read here (see the module docs).
    Instrumenting a monitor again with the same providers returns the handle
    already installed (no duplicate spans); with a different mapping it
    raises ``ValueError`` (uninstrument first).

    ``metric_exporter`` (an SDK ``MetricExporter``: OTLP, console, yours)
    switches metrics to the pushed path: nothing metric-related runs per
    block; every ``metric_export_interval_s`` seconds, at
    ``handle.force_flush()`` and at ``uninstrument()`` / interpreter exit,
    ragperf's own statistics (exponential histograms that are the sketch's
    bins, token and error sums; ``monitor.record()`` included) are exported
    with ``resource`` (default: the tracer provider's) — see
    :mod:`ragperf.export.otel_metrics`. It excludes ``meter_provider``.

    ``trace_sample_ratio`` (0..1, default 1) keeps that random fraction of
    traces, decided once per trace when its root block ends, plus every
    trace with a failed block and, with ``trace_slow_threshold_s``, every
    trace whose root took at least that long; a kept trace is emitted
    whole, a dropped one not at all. Metrics are never sampled.

    Example:
        >>> handle = instrument(monitor, tracer_provider=provider,              # doctest: +SKIP
        ...                     genai_operations={"my_llm_step": "chat"})
        >>> handle.uninstrument()                                               # doctest: +SKIP
        True
        >>> from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        >>> handle = instrument(monitor, metric_exporter=OTLPMetricExporter(),  # doctest: +SKIP
        ...                     trace_sample_ratio=0.01, trace_slow_threshold_s=5.0)
    """
    add = getattr(monitor, "_add_exit_hook", None)
    remove = getattr(monitor, "_remove_exit_hook", None)
    if not callable(add) or not callable(remove):
        raise TypeError(
            f"instrument() needs a ragperf.PerformanceMonitor, got {monitor!r} "
            f"({type(monitor).__name__})"
        )
    mapping = _genai.genai_operations(genai_operations)
    latest = _genai.latest_experimental()
    ratio = _check_ratio(trace_sample_ratio)
    slow = _check_slow(trace_slow_threshold_s)
    if metric_exporter is not None:
        if meter_provider is not None:
            raise ValueError(
                "give metric_exporter (statistics pushed, nothing per block) or meter_provider "
                "(SDK instruments recorded per block), not both"
            )
        from ._runner import check_interval

        check_interval(metric_export_interval_s)
    tracer_provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    if metric_exporter is None and meter_provider is None:
        meter_provider = metrics.get_meter_provider()
    with _registry_lock:
        handles = _registry.setdefault(monitor, [])
        for handle in handles:
            if (
                handle.tracer_provider is tracer_provider
                and handle.meter_provider is meter_provider
                and handle.metric_exporter is metric_exporter
            ):
                settings = (dict(handle.genai_operations), handle.trace_sample_ratio, handle.trace_slow_threshold_s)
                if settings != (mapping, ratio, slow):
                    raise ValueError(
                        "this monitor is already instrumented with these providers and "
                        f"genai_operations={settings[0]!r}, trace_sample_ratio={settings[1]!r}, "
                        f"trace_slow_threshold_s={settings[2]!r}; call uninstrument() before "
                        "instrumenting it with different settings"
                    )
                return handle
        handle = Instrumentation(
            monitor,
            tracer_provider,
            meter_provider,
            mapping,
            latest,
            metric_exporter=metric_exporter,
            metric_export_interval_s=metric_export_interval_s,
            resource=resource,
            trace_sample_ratio=ratio,
            trace_slow_threshold_s=slow,
        )
        monitor._add_exit_hook(handle._hook)
        handle.active = True
        handles.append(handle)
    if handle._pusher is not None:
        handle._pusher.start()
    return handle


def _check_ratio(value: Any) -> float:
    ratio = check_real(value, "trace_sample_ratio", "a number between 0 and 1")
    if not 0.0 <= ratio <= 1.0:  # also rejects NaN
        raise ValueError(f"trace_sample_ratio must be between 0 and 1, got {value!r}")
    return ratio


def _check_slow(value: Any) -> float | None:
    if value is None:
        return None
    seconds = check_real(value, "trace_slow_threshold_s", "a number of seconds or None")
    if not (seconds >= 0 and math.isfinite(seconds)):
        raise ValueError(f"trace_slow_threshold_s must be a finite number >= 0, got {value!r}")
    return seconds


def uninstrument(monitor: PerformanceMonitor) -> int:
    """Removes every :func:`instrument` hook from ``monitor``; returns how
    many there were.

    Example:
        >>> uninstrument(monitor)  # doctest: +SKIP
        1
    """
    with _registry_lock:
        handles = list(_registry.get(monitor, []))
    return sum(1 for handle in handles if handle.uninstrument())
