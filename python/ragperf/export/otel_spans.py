"""Finished ragperf blocks as OpenTelemetry spans (used by :mod:`ragperf.export.otel`).

:class:`SpanBuilder` turns one finished block into one span: name, kind and
attributes per the GenAI semantic conventions (``_otel_genai``), status,
``exception`` event, exact start and end times. Two ways to emit it:

- *direct* (an SDK ``TracerProvider`` with its default sampler,
  ``ParentBased(ALWAYS_ON)``): the block is already finished, so ragperf
  builds the SDK's ``ReadableSpan`` itself (ids from the provider's
  ``id_generator``, its resource, scope ``ragperf``) and hands it to the
  provider's span processors' ``on_end`` — what ``Span.end()`` does, without
  the cost of a live span (the SDK's attribute validation per attribute,
  context objects, the sampler call): about 4x cheaper per span. The
  sampler's rule is applied as it would be: a tree under a sampled-out
  parent span is not emitted. Processors' ``on_start`` is not called (the
  span is never live).
- *tracer* (any other provider or sampler): ``tracer.start_span(...)`` and
  ``span.end(...)`` with the measured times, as before.

Example:
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> SpanBuilder(TracerProvider(), {}, latest=False).direct
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from . import _otel_genai as _genai

__all__ = ["SCOPE", "SpanBuilder", "end_time_s", "failed", "ns", "span_attributes"]

SCOPE = "ragperf"
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def _scope_version() -> str:
    from .. import __version__

    return __version__


def ns(seconds: float | None) -> int | None:
    """Seconds as integer nanoseconds (None stays None)."""
    return None if seconds is None else int(round(seconds * 1e9))


def _attribute(value: Any) -> str | bool | int | float:
    if isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def span_attributes(op: Any, latest: bool) -> dict[str, Any]:
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


def end_time_s(op: Any) -> float | None:
    """A finished block's end (wall clock, seconds)."""
    end: float | None = op.end_time_s
    if end is None and op.start_time_s is not None and op.duration_s is not None:
        end = op.start_time_s + op.duration_s
    return end


def failed(op: Any) -> bool:
    """Whether a finished block failed (cancelled and abandoned blocks did not)."""
    return op.success is False and _genai.cancel_reason(op) is None


def _is_default_sampler(sampler: Any) -> bool:
    from opentelemetry.sdk.trace import sampling

    described: Any = getattr(sampler, "get_description", None)
    default: Any = sampling.DEFAULT_ON
    return callable(described) and bool(described() == default.get_description())


class SpanBuilder:
    """Builds and emits the span of a finished block (see the module doc).

    Example:
        >>> builder = SpanBuilder(provider, {"llm_inference": "chat"}, latest=False)  # doctest: +SKIP
        >>> context, span = builder.start(op, None)                                   # doctest: +SKIP
        >>> builder.finish(span, op)                                                  # doctest: +SKIP
    """

    def __init__(self, tracer_provider: Any, genai: Mapping[str, str], latest: bool) -> None:
        self._genai = dict(genai)
        self._latest = latest
        self._tracer = tracer_provider.get_tracer(SCOPE, _scope_version())
        processor: Any = getattr(tracer_provider, "_active_span_processor", None)
        ids: Any = getattr(tracer_provider, "id_generator", None)
        resource: Any = getattr(tracer_provider, "resource", None)
        self._processor: Any = None
        self.direct = (
            processor is not None
            and ids is not None
            and resource is not None
            and _is_default_sampler(getattr(tracer_provider, "sampler", None))
            and not getattr(tracer_provider, "_disabled", False)
        )
        if self.direct:
            from opentelemetry.sdk.trace import Event, ReadableSpan
            from opentelemetry.sdk.util.instrumentation import InstrumentationScope

            self._processor = processor
            self._new_span_id = ids.generate_span_id
            self._new_trace_id = ids.generate_trace_id
            self._resource = resource
            self._scope = InstrumentationScope(SCOPE, _scope_version())
            self._readable = ReadableSpan
            self._event = Event

    def root_parent(self) -> tuple[bool, SpanContext | None]:
        """``(emit, parent)`` for a root block: the OpenTelemetry span current
        now (a ragperf tree nests under the caller's span), and whether the
        tree is emitted at all (not under a sampled-out parent, direct path)."""
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return True, None
        if self.direct and not context.trace_flags.sampled:
            return False, context
        return True, context

    def _describe(self, op: Any) -> tuple[str, SpanKind, dict[str, Any]]:
        genai_op = self._genai.get(op.operation)
        reason = _genai.cancel_reason(op)
        if genai_op is None:
            name, kind = op.operation, SpanKind.INTERNAL
            attributes = span_attributes(op, latest=False)
        else:
            name, kind = _genai.span_name(genai_op, op), SpanKind.CLIENT
            attributes = span_attributes(op, self._latest)
            attributes.update(_genai.span_attributes(genai_op, op, self._latest, reason))
        if reason is not None:
            attributes["ragperf.cancelled"] = True
            attributes["ragperf.cancel_reason"] = reason
        elif op.success is False:
            attributes["error.type"] = _genai.error_type(op)
        return name, kind, attributes

    def start(self, op: Any, parent: SpanContext | None) -> tuple[SpanContext, Any]:
        """``(its span context, the span to finish)`` for block ``op`` under
        ``parent`` (None: a new trace, or the current span for a root)."""
        name, kind, attributes = self._describe(op)
        error = op.success is False and "error.type" in attributes and not attributes.get("ragperf.cancelled")
        if self.direct:
            trace_id = parent.trace_id if parent is not None else self._new_trace_id()
            context = SpanContext(
                trace_id,
                self._new_span_id(),
                is_remote=False,
                trace_flags=_SAMPLED,
                trace_state=parent.trace_state if parent is not None else None,
            )
            events: tuple[Any, ...] = ()
            status = Status(StatusCode.UNSET)
            if error:
                events = (self._event("exception", self._exception(op), ns(end_time_s(op))),)
                status = Status(StatusCode.ERROR, op.error_message or attributes["error.type"])
            span = self._readable(
                name=name,
                context=context,
                parent=parent,
                resource=self._resource,
                attributes=attributes,
                events=events,
                kind=kind,
                status=status,
                start_time=ns(op.start_time_s),
                end_time=ns(end_time_s(op)),
                instrumentation_scope=self._scope,
            )
            return context, span
        otel_context = trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None
        live = self._tracer.start_span(
            name, context=otel_context, kind=kind, attributes=attributes, start_time=ns(op.start_time_s)
        )
        if error:
            live.add_event("exception", self._exception(op), timestamp=ns(end_time_s(op)))
            live.set_status(Status(StatusCode.ERROR, op.error_message or attributes["error.type"]))
        return live.get_span_context(), live

    @staticmethod
    def _exception(op: Any) -> dict[str, str]:
        event = {"exception.type": _genai.error_type(op)}
        if op.error_message is not None:
            event["exception.message"] = op.error_message
        return event

    def finish(self, span: Any, op: Any) -> None:
        """Ends ``span`` (tracer path) or hands it to the processors (direct)."""
        if self.direct:
            self._processor.on_end(span)
        else:
            span.end(end_time=ns(end_time_s(op)))
