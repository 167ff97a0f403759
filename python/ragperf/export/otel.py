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

Metrics: histogram ``ragperf.operation.duration`` (unit ``s``, attributes
``operation`` and ``success``), counter ``ragperf.operation.tokens`` (unit
``{token}``, attribute ``operation``; only blocks with tokens > 0 add to it)
and counter ``ragperf.operation.cancelled`` (attributes ``operation``,
``reason``): a cancelled block is counted there and in no other metric, as
in ``get_operation_stats``.

``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` (read by
:func:`instrument`) emits the latest GenAI conventions only: no
``gen_ai.system`` duplicate of ``gen_ai.provider.name``, no
``ragperf.time_to_first_token_s`` on GenAI spans, and no
``ragperf.operation.duration`` / ``ragperf.operation.tokens`` for GenAI
operations. Without it ragperf's own names are emitted too.

Example:
    >>> import ragperf, ragperf.export.otel
    >>> monitor = ragperf.PerformanceMonitor()                    # doctest: +SKIP
    >>> with ragperf.otel.instrument(monitor):                    # doctest: +SKIP
    ...     with monitor.track_operation("query_processing"):
    ...         with monitor.track_operation("document_retrieval"):
    ...             pass
"""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Mapping, Sequence
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any

try:
    from opentelemetry import metrics, trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "ragperf.otel needs OpenTelemetry: pip install ragperf[otel] "
        f"(or opentelemetry-sdk) [{_exc}]"
    ) from _exc

from . import _otel_genai as _genai
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

DURATION_HISTOGRAM = "ragperf.operation.duration"
TOKENS_COUNTER = "ragperf.operation.tokens"
CANCELLED_COUNTER = "ragperf.operation.cancelled"
_SCOPE = "ragperf"
#: Bucket boundaries (seconds) suggested for the duration histogram.
_BUCKETS: Sequence[float] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)  # fmt: skip
#: Emitted trees remembered for blocks that finish after their root.
_MAX_TRACES = 1024

_registry: weakref.WeakKeyDictionary[Any, list[Instrumentation]] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _scope_version() -> str:
    from .. import __version__

    return __version__


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds * 1e9))


def _attribute(value: Any) -> str | bool | int | float:
    if isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _span_attributes(op: Any, latest: bool) -> dict[str, Any]:
    """ragperf's own span attributes (those of every block, GenAI or not)."""
    attrs: dict[str, Any] = {"ragperf.operation": op.operation}
    model = op.model
    if model is not None:
        attrs["gen_ai.request.model"] = model
    if op.prompt_tokens > 0:
        attrs["gen_ai.usage.input_tokens"] = op.prompt_tokens
    if op.completion_tokens > 0:
        attrs["gen_ai.usage.output_tokens"] = op.completion_tokens
    attrs["ragperf.tokens"] = op.tokens
    cost = op.cost_usd
    if cost is not None:
        attrs["ragperf.cost_usd"] = float(cost)
    ttft = op.time_to_first_token_s
    if ttft is not None and not latest:
        # With the opt-in, GenAI spans carry gen_ai.response.time_to_first_chunk only.
        attrs["ragperf.time_to_first_token_s"] = float(ttft)
    cache_hit = op.cache_hit
    if cache_hit is not None:
        attrs["ragperf.cache_hit"] = bool(cache_hit)
    for key, value in op.metadata.items():
        if value is not None:
            attrs[f"ragperf.metadata.{key}"] = _attribute(value)
    return attrs


def _histogram(meter: Any, name: str, unit: str, description: str, buckets: Sequence[float]) -> Any:
    try:
        return meter.create_histogram(
            name, unit=unit, description=description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # pragma: no cover - opentelemetry-api < 1.23
        return meter.create_histogram(name, unit=unit, description=description)


def _end_time_s(op: Any) -> float | None:
    end: float | None = op.end_time_s
    if end is None and op.start_time_s is not None and op.duration_s is not None:
        end = op.start_time_s + op.duration_s
    return end


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
    ) -> None:
        self._monitor_ref = weakref.ref(monitor)
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        #: ragperf operation name -> gen_ai.operation.name (read-only).
        self.genai_operations: Mapping[str, str] = MappingProxyType(dict(genai_operations))
        #: Whether OTEL_SEMCONV_STABILITY_OPT_IN had gen_ai_latest_experimental
        #: when this handle was made (then only the latest conventions are emitted).
        self.latest_experimental = latest_experimental
        self._genai = dict(genai_operations)
        self._tracer = tracer_provider.get_tracer(_SCOPE, _scope_version())
        meter = meter_provider.get_meter(_SCOPE, _scope_version())
        self._duration = _histogram(
            meter, DURATION_HISTOGRAM, "s", "Duration of tracked ragperf operations", _BUCKETS
        )
        self._tokens = meter.create_counter(
            TOKENS_COUNTER, unit="{token}", description="Tokens of tracked ragperf operations"
        )
        self._cancelled = meter.create_counter(
            CANCELLED_COUNTER,
            unit="{operation}",
            description="Tracked ragperf operations cancelled or abandoned before they finished",
        )
        self._genai_duration = _histogram(
            meter, GENAI_DURATION_HISTOGRAM, "s", "GenAI operation duration.", _genai.DURATION_BUCKETS
        )
        self._genai_tokens = _histogram(
            meter,
            GENAI_TOKEN_USAGE_HISTOGRAM,
            "{token}",
            "Number of input and output tokens used.",
            _genai.TOKEN_BUCKETS,
        )
        self._genai_ttfc = _histogram(
            meter,
            GENAI_TIME_TO_FIRST_CHUNK_HISTOGRAM,
            "s",
            "Time to receive the first chunk of a streamed GenAI response.",
            _genai.CHUNK_BUCKETS,
        )
        self._lock = threading.RLock()
        # trace_id -> {ragperf span_id: OTel span} of recently emitted trees,
        # so blocks finishing after their root still find their parent.
        self._traces: collections.OrderedDict[int, dict[int, Span]] = collections.OrderedDict()
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
                monitor._remove_exit_hook(self._on_exit)
        with self._lock:
            self._traces.clear()
            self._pending.clear()
        return True

    def close(self) -> None:
        """:meth:`uninstrument` (the close of ragperf's exporter interface;
        this handle is a :class:`ragperf.export.base.BlockExporter`)."""
        self.uninstrument()

    def __call__(self, op: Any) -> None:
        """Exports one finished block (what the monitor's exit hook does)."""
        self._on_exit(op)

    # ------------------------------------------------------------ hook

    def _on_exit(self, op: Any) -> None:
        failure: BaseException | None = None
        try:
            self._record_metrics(op)
        except Exception as exc:  # noqa: BLE001 - spans still go out
            failure = exc
        try:
            self._record_span(op)
        except Exception as exc:  # noqa: BLE001
            failure = failure or exc
        if failure is not None:
            raise failure  # counted (and logged once) by the tracker

    def _record_metrics(self, op: Any) -> None:
        name = op.operation
        genai_op = self._genai.get(name)
        # ragperf's own metrics, for every block; with the opt-in, only for
        # blocks that have no GenAI operation (the gen_ai.client.* ones cover those).
        legacy = genai_op is None or not self.latest_experimental
        reason = _genai.cancel_reason(op)
        if reason is not None:
            # Cancelled is not an error and did not finish: counted apart and
            # nothing else, as in get_operation_stats (cancelled_operations).
            self._cancelled.add(1, {"operation": name, "reason": reason})
            return
        duration = op.duration_s
        if duration is not None and legacy:
            self._duration.record(duration, {"operation": name, "success": op.success is not False})
        tokens = op.tokens
        if tokens > 0 and legacy:
            self._tokens.add(tokens, {"operation": name})
        if genai_op is None:
            return
        attrs = _genai.metric_attributes(genai_op, op, self.latest_experimental)
        if duration is not None:
            if op.success is False:
                self._genai_duration.record(duration, {**attrs, "error.type": _genai.error_type(op)})
            else:
                self._genai_duration.record(duration, attrs)
        if op.prompt_tokens > 0:
            self._genai_tokens.record(op.prompt_tokens, {**attrs, "gen_ai.token.type": "input"})
        if op.completion_tokens > 0:
            self._genai_tokens.record(op.completion_tokens, {**attrs, "gen_ai.token.type": "output"})
        ttft = op.time_to_first_token_s
        if ttft is not None:
            self._genai_ttfc.record(ttft, attrs)

    def _record_span(self, op: Any) -> None:
        trace_id = op.trace_id
        span_id = op.span_id
        with self._lock:
            if op.parent_id is None or trace_id is None or span_id is None:
                self._emit_tree(op)
                return
            spans = self._traces.get(trace_id)
            if spans is None:
                return  # the root has not finished: it will emit this block
            parent = spans.get(op.parent_id)
            if parent is None:
                self._pending.setdefault((trace_id, op.parent_id), []).append(op)
                return
            failure = self._emit_subtree(op, parent, spans, trace_id)
        if failure is not None:
            raise failure

    def _emit_tree(self, root: Any) -> None:
        descendants = sorted(
            root._spans, key=lambda s: (s.depth, s.start_time_s or 0.0, s.span_id or 0)
        )
        spans: dict[int, Span] = {}
        created: list[tuple[Span, Any]] = []
        failure: BaseException | None = None
        try:
            root_span = self._start(root, None)
            created.append((root_span, root))
            if root.span_id is not None:
                spans[root.span_id] = root_span
            trace_id = root.trace_id
            waiting: dict[tuple[int, int], list[Any]] = {}
            for op in descendants:
                parent = spans.get(op.parent_id)
                if parent is None:
                    if root.dropped_spans == 0 and trace_id is not None:
                        # Its parent is still running (finishes after the root).
                        waiting.setdefault((trace_id, op.parent_id), []).append(op)
                        continue
                    parent = root_span  # its parent was dropped: attach to the root
                span = self._start(op, parent)
                created.append((span, op))
                if op.span_id is not None:
                    spans[op.span_id] = span
            if trace_id is not None:
                self._traces[trace_id] = spans
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
                span.end(end_time=_ns(_end_time_s(op)))
            except Exception as exc:  # noqa: BLE001
                failure = failure or exc
        if failure is not None:
            raise failure

    def _emit_subtree(
        self, op: Any, parent: Span, spans: dict[int, Span], trace_id: int
    ) -> BaseException | None:
        """Emits a block that finished after its root, then the blocks that
        were waiting for it."""
        failure: BaseException | None = None
        queue: list[tuple[Any, Span]] = [(op, parent)]
        while queue:
            node, node_parent = queue.pop(0)
            try:
                span = self._start(node, node_parent)
            except Exception as exc:  # noqa: BLE001
                failure = failure or exc
                continue
            if node.span_id is not None:
                spans[node.span_id] = span
                for child in self._pending.pop((trace_id, node.span_id), []):
                    queue.append((child, span))
            try:
                span.end(end_time=_ns(_end_time_s(node)))
            except Exception as exc:  # noqa: BLE001
                failure = failure or exc
        return failure

    def _start(self, op: Any, parent: Span | None) -> Span:
        context = trace.set_span_in_context(parent) if parent is not None else None
        genai_op = self._genai.get(op.operation)
        reason = _genai.cancel_reason(op)
        latest = self.latest_experimental
        if genai_op is None:
            name, kind = op.operation, SpanKind.INTERNAL
            attributes = _span_attributes(op, latest=False)
        else:
            name, kind = _genai.span_name(genai_op, op), SpanKind.CLIENT
            attributes = _span_attributes(op, latest)
            attributes.update(_genai.span_attributes(genai_op, op, latest, reason))
        if reason is not None:
            attributes["ragperf.cancelled"] = True
            attributes["ragperf.cancel_reason"] = reason
        span: Span = self._tracer.start_span(
            name,
            context=context,
            kind=kind,
            attributes=attributes,
            start_time=_ns(op.start_time_s),
        )
        if op.success is False and reason is None:
            error_type = _genai.error_type(op)
            message = op.error_message
            span.set_attribute("error.type", error_type)
            event: dict[str, str] = {"exception.type": error_type}
            if message is not None:
                event["exception.message"] = message
            span.add_event("exception", event, timestamp=_ns(_end_time_s(op)))
            span.set_status(Status(StatusCode.ERROR, message or error_type))
        return span


def instrument(
    monitor: PerformanceMonitor,
    tracer_provider: Any | None = None,
    meter_provider: Any | None = None,
    *,
    genai_operations: Mapping[str, str | None] | None = None,
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

    Example:
        >>> handle = instrument(monitor, tracer_provider=provider,              # doctest: +SKIP
        ...                     genai_operations={"my_llm_step": "chat"})
        >>> handle.uninstrument()                                               # doctest: +SKIP
        True
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
    tracer_provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
    meter_provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    with _registry_lock:
        handles = _registry.setdefault(monitor, [])
        for handle in handles:
            if handle.tracer_provider is tracer_provider and handle.meter_provider is meter_provider:
                if dict(handle.genai_operations) != mapping:
                    raise ValueError(
                        "this monitor is already instrumented with these providers and "
                        f"genai_operations={dict(handle.genai_operations)!r}; call "
                        "uninstrument() before instrumenting it with a different mapping"
                    )
                return handle
        handle = Instrumentation(monitor, tracer_provider, meter_provider, mapping, latest)
        monitor._add_exit_hook(handle._on_exit)
        handle.active = True
        handles.append(handle)
    return handle


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
