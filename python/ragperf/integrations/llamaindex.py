"""LlamaIndex instrumentation: ``instrument()``.

Adds an event handler and a span handler to LlamaIndex's instrumentation
dispatcher (``llama_index.core.instrumentation``) and maps its events onto
ragperf operations:

=====================================  ===========================================
LlamaIndex                             ragperf operation
=====================================  ===========================================
``QueryStartEvent`` / ``End``          ``query_processing`` (query engines)
``RetrievalStartEvent`` / ``End``      ``document_retrieval`` (``metadata["documents"]``)
``EmbeddingStartEvent`` / ``End``      ``embedding_generation`` (``metadata["texts"]``)
node postprocessors                    ``reranking`` (``metadata["documents"]``: nodes
                                       kept); also ``ReRankStartEvent`` / ``End``
``LLMChat*`` / ``LLMCompletion*``      ``llm_inference`` (tokens, model, TTFT)
=====================================  ===========================================

Node postprocessors emit no event of their own, so ``instrument()`` also
wraps ``BaseNodePostprocessor.postprocess_nodes`` / ``apostprocess_nodes``
(``uninstrument()`` restores them). Every operation has ``metadata["name"]``,
the LlamaIndex class that ran it.

Nesting follows LlamaIndex's spans: an operation is the child of the
operation open in the nearest enclosing span (a query engine's retrieval is
the query's child), and the outermost one nests under the ragperf block
current where LlamaIndex was called. An operation inside another of the same
kind is not recorded (a ``chat`` that calls ``complete`` is one LLM call; a
retriever calling sub-retrievers is one retrieval).

The model of an LLM call (``op.model``) is the one the LLM was configured
with (the start event's ``model_dict``); the one the response names (its
``raw`` ``model``, e.g. a dated snapshot) is ``op.response_model``.
``metadata["provider"]`` is the OpenTelemetry ``gen_ai.provider.name`` of
known LLM and embedding classes (``"openai"`` for ``OpenAI``,
``OpenAILike`` and ``OpenAIEmbedding``).

Tokens of an LLM call come from the response's ``raw`` usage (OpenAI-style,
Anthropic, ...) or ``additional_kwargs`` (``prompt_tokens`` /
``completion_tokens``) when the LLM reports them
(``metadata["token_source"] == "usage"``). A streamed call
(``stream_chat``, ``stream_complete``, a streaming query engine) marks its
time to first token at the first delta and counts the deltas' text as an
estimate (``"estimate"``) unless usage is reported. Errors end the open
operations of the failing span as failed under the exception's type; a
stream closed before its end is recorded as a success with
``metadata["stream_status"] == "abandoned"``.

Example:
    >>> from ragperf.integrations.llamaindex import instrument   # doctest: +SKIP
    >>> handle = instrument(monitor)                             # doctest: +SKIP
    >>> index.as_query_engine().query("What is RAG?")            # doctest: +SKIP
    >>> monitor.get_recent_traces(1)[0]["operation"]             # doctest: +SKIP
    'query_processing'
"""

from __future__ import annotations

import collections
import functools
import inspect
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

try:
    from llama_index_instrumentation import get_dispatcher
    from llama_index_instrumentation.dispatcher import Dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.span import BaseSpan, active_span_id
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        f"ragperf.integrations.llamaindex needs llama-index-core: pip install ragperf[llamaindex] [{_exc}]"
    ) from _exc

from ..operation_type import OperationType
from ._handle import Handle
from ._llamaindex_events import (  # what the events say: tables, the open operation, notes
    _ENDS,
    _LLM,
    _PROGRESS,
    _STARTS,
    _class_of,
    _defer_to_stream,
    _note_delta,
    _note_end,
    _note_start,
    _Open,
)
from ._spans import DetachedSpan, resolve_monitor

if TYPE_CHECKING:
    from ..monitor import PerformanceMonitor

__all__ = ["Instrumentation", "instrument"]

_EXITED_KEPT = 4096  # exited spans remembered for streams started after their span
_PRUNE_EVERY = 256


class _Recorder:
    """The state shared by the event handler, the span handler and the
    postprocessor wrappers: LlamaIndex's span tree and the open operations."""

    def __init__(self, monitor: PerformanceMonitor) -> None:
        self.monitor = monitor
        self._lock = threading.Lock()
        self._parent_of: dict[str, str | None] = {}  # open LlamaIndex spans
        # Recently exited spans: a generator's body (a streamed LLM call)
        # runs after the span that created it has exited.
        self._exited: collections.OrderedDict[str, str | None] = collections.OrderedDict()
        self._open: dict[str | None, list[_Open]] = {}  # by LlamaIndex span id
        self._starts = 0

    # ------------------------------------------------------------- spans

    def span_entered(self, span_id: str, parent_id: str | None) -> None:
        with self._lock:
            self._parent_of[span_id] = parent_id

    def span_exited(self, span_id: str) -> None:
        with self._lock:
            if span_id in self._parent_of:
                self._exited[span_id] = self._parent_of.pop(span_id)
                if len(self._exited) > _EXITED_KEPT:
                    self._exited.popitem(last=False)

    def span_dropped(self, span_id: str, error: BaseException | None) -> None:
        with self._lock:
            self._parent_of.pop(span_id, None)
            ops = self._open.pop(span_id, [])
        for op in reversed(ops):
            if op.span is not None:
                op.span.finish(error if error is not None else RuntimeError("span dropped"))

    # -------------------------------------------------------- operations

    def _enclosing(self, span_id: str | None) -> _Open | None:
        """The innermost open operation in ``span_id`` or an enclosing span
        (caller holds the lock)."""
        seen = 0
        while True:
            ops = self._open.get(span_id)
            if ops:
                return ops[-1]
            if span_id is None or seen > 10_000:  # a cycle would be a LlamaIndex bug
                return None
            span_id = self._parent_of[span_id] if span_id in self._parent_of else self._exited.get(span_id)
            seen += 1

    def _prune(self) -> None:
        """Forgets operations a stream wrapper has ended (caller holds the lock)."""
        for span_id in list(self._open):
            alive = [op for op in self._open[span_id] if op.span is None or op.span.tracker.active]
            if alive:
                self._open[span_id] = alive
            else:
                del self._open[span_id]

    def start(self, operation: OperationType, span_id: str | None, name: str | None) -> _Open:
        with self._lock:
            self._starts += 1
            if self._starts % _PRUNE_EVERY == 0:
                self._prune()
            outer = self._enclosing(span_id)
        parent = outer.anchor if outer is not None else None
        if outer is not None and outer.operation is operation:
            op = _Open(operation, None, parent)
        else:
            metadata = {"name": name} if name else None
            span = DetachedSpan.start(self.monitor, operation, parent, metadata)
            op = _Open(operation, span, span)
        with self._lock:
            self._open.setdefault(span_id, []).append(op)
        return op

    def latest(self, span_id: str | None, operation: OperationType | None = None) -> _Open | None:
        with self._lock:
            for op in reversed(self._open.get(span_id, ())):
                if operation is None or op.operation is operation:
                    return op
        return None

    def end(self, op: _Open, span_id: str | None, error: BaseException | None = None) -> None:
        with self._lock:
            ops = self._open.get(span_id)
            if ops is not None:
                try:
                    ops.remove(op)
                except ValueError:
                    pass
                if not ops:
                    del self._open[span_id]
        if op.span is not None:
            op.span.finish(error)

    def open_operations(self) -> int:
        with self._lock:
            return sum(1 for ops in self._open.values() for op in ops if op.span is not None and op.span.tracker.active)

    # ------------------------------------------------------------ events

    def handle(self, event: Any) -> None:
        kind = type(event).__name__
        span_id = getattr(event, "span_id", None)
        operation = _STARTS.get(kind)
        if operation is not None:
            started = self.start(operation, span_id, _class_of(span_id))
            if started.span is not None:
                _note_start(started.span, event)
            return
        if kind in _PROGRESS:
            streaming = self.latest(span_id, _LLM)
            if streaming is not None and streaming.span is not None:
                _note_delta(streaming, getattr(event, "response", None))
            return
        operation = _ENDS.get(kind)
        if operation is not None:
            op = self.latest(span_id, operation)
            if op is not None:
                if op.span is not None:
                    _note_end(op, event)
                    if operation is OperationType.QUERY_PROCESSING and _defer_to_stream(op.span, event):
                        return  # stays open (and the parent of the LLM stream) until the stream ends
                self.end(op, span_id)
            return
        if kind == "ExceptionEvent":
            self._stream_failed(span_id, getattr(event, "exception", None))

    def _stream_failed(self, span_id: str | None, error: object) -> None:
        op = self.latest(span_id, _LLM)
        if op is None:
            return
        if isinstance(error, GeneratorExit):
            if op.span is not None:
                op.span.tracker.metadata["stream_status"] = "abandoned"
            self.end(op, span_id)
        else:
            self.end(op, span_id, error if isinstance(error, BaseException) else RuntimeError(str(error)))


# ------------------------------------------------------------- handlers


# The recorder is a class attribute of a subclass made per instrument()
# call: pydantic's private attributes cost a __getattr__ per event.


class _EventHandler(BaseEventHandler):
    recorder: ClassVar[_Recorder]

    @classmethod
    def class_name(cls) -> str:
        return "RagperfEventHandler"

    def handle(self, event: Any, **kwargs: Any) -> None:
        self.recorder.handle(event)


class _SpanHandler(BaseSpanHandler[BaseSpan]):
    recorder: ClassVar[_Recorder]

    @classmethod
    def class_name(cls) -> str:
        return "RagperfSpanHandler"

    def new_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        parent_span_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # None: LlamaIndex's own open-span bookkeeping is not needed here.
        self.recorder.span_entered(id_, parent_span_id)

    def prepare_to_exit_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        result: Any | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.span_exited(id_)

    def prepare_to_drop_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any | None = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> None:
        self.recorder.span_dropped(id_, err)


# ------------------------------------------------------ postprocessors

_installed: list[_Recorder] = []
_originals: dict[str, Callable[..., Any]] = {}
_patch_lock = threading.Lock()


def _nodes_kept(result: Any) -> int | None:
    return len(result) if isinstance(result, list) else None


def _start_all(instance: Any) -> list[tuple[_Recorder, _Open, str | None]]:
    span_id = active_span_id.get()
    name = type(instance).__name__
    return [(r, r.start(OperationType.RERANKING, span_id, name), span_id) for r in list(_installed)]


def _end_all(started: list[tuple[_Recorder, _Open, str | None]], result: Any, error: BaseException | None) -> None:
    kept = _nodes_kept(result)
    for recorder, op, span_id in started:
        if op.span is not None and kept is not None:
            op.span.tracker.metadata["documents"] = kept
        recorder.end(op, span_id, error)


def _wrap_postprocess(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def postprocess_nodes(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = _start_all(self)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as e:
            _end_all(started, None, e)
            raise
        _end_all(started, result, None)
        return result

    return postprocess_nodes


def _wrap_apostprocess(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def apostprocess_nodes(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = _start_all(self)
        try:
            result = await original(self, *args, **kwargs)
        except BaseException as e:
            _end_all(started, None, e)
            raise
        _end_all(started, result, None)
        return result

    return apostprocess_nodes


_WRAPPERS = {"postprocess_nodes": _wrap_postprocess, "apostprocess_nodes": _wrap_apostprocess}


def _install(recorder: _Recorder) -> None:
    with _patch_lock:
        if not _installed:
            for name, wrap in _WRAPPERS.items():
                original = BaseNodePostprocessor.__dict__[name]
                _originals[name] = original
                setattr(BaseNodePostprocessor, name, wrap(original))
        _installed.append(recorder)


def _uninstall(recorder: _Recorder) -> None:
    with _patch_lock:
        _installed.remove(recorder)
        if not _installed:
            for name, original in _originals.items():
                setattr(BaseNodePostprocessor, name, original)
            _originals.clear()


# ------------------------------------------------------------ public API


class Instrumentation(Handle):
    """The handlers :func:`instrument` added; :meth:`uninstrument` removes
    them. Also a context manager that uninstruments on exit.

    Example:
        >>> with instrument(monitor) as handle:            # doctest: +SKIP
        ...     query_engine.query("What is RAG?")
    """

    def __init__(self, monitor: PerformanceMonitor, dispatcher: Dispatcher) -> None:
        self.monitor = monitor
        self.dispatcher = dispatcher
        self._recorder = _Recorder(monitor)
        self._events = type("RagperfEventHandler", (_EventHandler,), {"recorder": self._recorder})()
        self._spans = type("RagperfSpanHandler", (_SpanHandler,), {"recorder": self._recorder})()
        self._active = False

    def _start(self) -> None:
        self.dispatcher.add_event_handler(self._events)
        self.dispatcher.add_span_handler(self._spans)
        _install(self._recorder)
        self._active = True

    @property
    def active(self) -> bool:
        """Whether the handlers are installed."""
        return self._active

    @property
    def open_operations(self) -> int:
        """Operations started and not yet ended (0 when LlamaIndex is idle)."""
        return self._recorder.open_operations()

    def uninstrument(self) -> bool:
        """Removes the handlers (and, with the last instrumentation, the
        postprocessor wrappers). False when already removed.

        Example:
            >>> handle.uninstrument()   # doctest: +SKIP
            True
        """
        if not self._active:
            return False
        self._active = False
        self.dispatcher.event_handlers = [h for h in self.dispatcher.event_handlers if h is not self._events]
        self.dispatcher.span_handlers = [h for h in self.dispatcher.span_handlers if h is not self._spans]
        _uninstall(self._recorder)
        return True

    def __repr__(self) -> str:
        return f"<ragperf.integrations.llamaindex.Instrumentation active={self._active}>"


def instrument(monitor: PerformanceMonitor | None = None, *, dispatcher: Dispatcher | None = None) -> Instrumentation:
    """Records LlamaIndex's queries, retrievals, embeddings, postprocessors
    (reranking) and LLM calls in ``monitor`` (default: the process-wide
    one); see the module docstring. ``dispatcher`` defaults to LlamaIndex's
    root dispatcher, which sees every LlamaIndex component. Returns a handle
    whose ``uninstrument()`` undoes it.

    Raises:
        TypeError: ``monitor`` is not a monitor, or ``dispatcher`` is not a
            LlamaIndex ``Dispatcher``.

    Example:
        >>> handle = instrument(monitor)                              # doctest: +SKIP
        >>> VectorStoreIndex.from_documents(docs).as_query_engine().query("q")  # doctest: +SKIP
        >>> monitor.get_operation_stats("document_retrieval").total_operations  # doctest: +SKIP
        1
    """
    target = resolve_monitor(monitor)
    if dispatcher is None:
        dispatcher = get_dispatcher()
    elif not isinstance(dispatcher, Dispatcher):
        raise TypeError(f"dispatcher must be a llama_index Dispatcher or None, got {dispatcher!r}")
    handle = Instrumentation(target, dispatcher)
    handle._start()
    return handle
