"""What LlamaIndex's instrumentation events say, for :mod:`ragperf.integrations.llamaindex`.

The event -> operation tables, the open operation (:class:`_Open`) and the
notes taken on it from a start, progress (streamed delta) or end event:
model, provider, tokens and usage, counts of nodes and texts. No LlamaIndex
import: events are read by their class name and attributes.

Example:
    >>> _STARTS["RetrievalStartEvent"].value, _class_of("RetrieverQueryEngine.query-" + "0" * 36)
    ('document_retrieval', 'RetrieverQueryEngine')
"""

from __future__ import annotations

from typing import Any

from ..operation_type import OperationType
from ..measure.streaming import AsyncTrackedStream, TrackedStream
from ..measure.tokens import TokenCounter
from ..measure.usage import extract_usage
from ._genai import provider_name
from ._spans import DetachedSpan

_LLM = OperationType.LLM_INFERENCE
# Start event -> operation; end event -> the operation it ends.
_STARTS: dict[str, OperationType] = {
    "QueryStartEvent": OperationType.QUERY_PROCESSING,
    "RetrievalStartEvent": OperationType.DOCUMENT_RETRIEVAL,
    "EmbeddingStartEvent": OperationType.EMBEDDING_GENERATION,
    "SparseEmbeddingStartEvent": OperationType.EMBEDDING_GENERATION,
    "ReRankStartEvent": OperationType.RERANKING,
    "LLMChatStartEvent": _LLM,
    "LLMCompletionStartEvent": _LLM,
}
_ENDS: dict[str, OperationType] = {
    "QueryEndEvent": OperationType.QUERY_PROCESSING,
    "RetrievalEndEvent": OperationType.DOCUMENT_RETRIEVAL,
    "EmbeddingEndEvent": OperationType.EMBEDDING_GENERATION,
    "SparseEmbeddingEndEvent": OperationType.EMBEDDING_GENERATION,
    "ReRankEndEvent": OperationType.RERANKING,
    "LLMChatEndEvent": _LLM,
    "LLMCompletionEndEvent": _LLM,
}
_PROGRESS = frozenset({"LLMChatInProgressEvent", "LLMCompletionInProgressEvent"})
_UUID_SUFFIX = 37  # "-" + str(uuid4()) at the end of every LlamaIndex span id


def _class_of(span_id: str | None) -> str | None:
    """``"RetrieverQueryEngine"`` from ``"RetrieverQueryEngine.query-<uuid>"``."""
    if not span_id or len(span_id) <= _UUID_SUFFIX:
        return None
    return span_id[:-_UUID_SUFFIX].split(".", 1)[0] or None


class _Open:
    """An operation open in a LlamaIndex span (``span`` None: a nested one
    of the same kind, not recorded, kept so that its end event pairs up)."""

    __slots__ = ("operation", "span", "anchor", "streamed")

    def __init__(self, operation: OperationType, span: DetachedSpan | None, anchor: DetachedSpan | None) -> None:
        self.operation = operation
        self.span = span
        self.anchor = anchor  # where operations inside attach: span, or the enclosing one's
        self.streamed = False


class _QueryStream(TrackedStream[Any]):
    """A streaming query's text generator, advanced inside the query
    operation's context: LlamaIndex calls the LLM lazily from the first
    ``next()``, outside every LlamaIndex span, so this is how that LLM call
    finds the query as its parent."""

    __slots__ = ("_context",)

    def __init__(self, gen: Any, span: DetachedSpan) -> None:
        self._context = span.context
        super().__init__(gen, span.tracker, True, _no_tokens)

    def __next__(self) -> Any:
        return self._context.run(TrackedStream.__next__, self)


def _no_tokens(chunk: object) -> int:
    return 0  # the LLM call under the query counts them


def _defer_to_stream(span: DetachedSpan, event: Any) -> bool:
    """For a streaming query engine's response: hands the query operation
    to a wrapper of ``response.response_gen`` that ends it with the stream
    (its time to first token is the query's: from the query to the first
    text). False when the response is not a stream."""
    response: Any = getattr(event, "response", None)
    gen = getattr(response, "response_gen", None)
    if response is None or gen is None or not (hasattr(gen, "__next__") or hasattr(gen, "__anext__")):
        return False
    try:
        if hasattr(gen, "__anext__"):
            response.response_gen = AsyncTrackedStream(gen, span.tracker, True, _no_tokens)
        else:
            response.response_gen = _QueryStream(gen, span)
    except Exception:  # noqa: BLE001 - a response we cannot wrap ends the query now
        return False
    return True


def _usable_model(model: object) -> str | None:
    if isinstance(model, str) and 0 < len(model) <= 200 and model != "unknown":  # LlamaIndex's "not set"
        return model
    return None


def _note_start(span: DetachedSpan, event: Any) -> None:
    model_dict = getattr(event, "model_dict", None)
    if isinstance(model_dict, dict):
        for key in ("model", "model_name"):
            model = _usable_model(model_dict.get(key))
            if model is not None:
                span.tracker.model = model  # the requested model
                break
        provider = provider_name(model_dict.get("class_name"))
        if provider is not None:
            span.tracker.metadata["provider"] = provider
    model = _usable_model(getattr(event, "model_name", None))  # ReRankStartEvent
    if model is not None:
        span.tracker.model = model


def _response_model(response: Any) -> str | None:
    """The model an LLM response (or a streamed delta) names in its ``raw``."""
    raw = getattr(response, "raw", None)
    if raw is None:
        return None
    model = raw.get("model") if isinstance(raw, dict) else getattr(raw, "model", None)
    return _usable_model(model)


def _note_delta(op: _Open, response: Any) -> None:
    assert op.span is not None
    tracker = op.span.tracker
    if not op.streamed:
        op.streamed = True
        tracker.mark_first_token()
        tracker.metadata["token_source"] = "estimate"
        model = _response_model(response)
        if model is not None:
            tracker.response_model = model
    delta = getattr(response, "delta", None)
    if isinstance(delta, str) and delta:
        tracker.add_tokens(TokenCounter.count_tokens(delta))


def _usage(response: Any) -> Any:
    for source in (getattr(response, "raw", None), getattr(response, "additional_kwargs", None)):
        if not source:
            continue
        try:
            usage = extract_usage(source)
        except (TypeError, ValueError):
            continue
        if usage is not None:
            return usage
    return None


def _note_end(op: _Open, event: Any) -> None:
    assert op.span is not None
    tracker = op.span.tracker
    if op.operation is _LLM:
        response = getattr(event, "response", None)
        model = _response_model(response)
        if model is not None:
            tracker.response_model = model  # op.model stays the requested one
        usage = _usage(response)
        if usage is not None:
            if tracker.response_model is None and _usable_model(usage.model) is not None:
                tracker.response_model = usage.model
            tracker.prompt_tokens = usage.prompt_tokens
            tracker.completion_tokens = usage.completion_tokens
            tracker.metadata["token_source"] = "usage"
        return
    for field, key in (("nodes", "documents"), ("chunks", "texts")):
        items = getattr(event, field, None)
        if isinstance(items, list):
            tracker.metadata[key] = len(items)
