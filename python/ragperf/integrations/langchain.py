"""LangChain instrumentation: ``RagperfCallbackHandler`` and ``instrument_embeddings``.

Pass the handler as a callback and every run becomes a ragperf operation:

==========================  =========================================
LangChain run               ragperf operation
==========================  =========================================
retriever                   ``document_retrieval`` (``metadata["documents"]``)
LLM / chat model            ``llm_inference`` (tokens, model, TTFT when streamed)
outermost chain             ``query_processing``
chain inside a chain        not recorded (its children attach to the
                            nearest recorded ancestor), unless
                            ``nested_chain_operation`` names an operation
embeddings                  ``embedding_generation`` through
                            :func:`instrument_embeddings` (LangChain has no
                            callback for embedding calls)
tool                        not recorded (children attach upwards)
==========================  =========================================

Every operation has ``metadata["name"]`` (the run's name, e.g.
``"RunnableSequence"``, ``"FakeListChatModel"``). Errors end the operation as
failed under the exception's type. Nesting follows LangChain's run tree
(``run_id``/``parent_run_id``), wherever the callbacks run (threads, asyncio
tasks): a retriever called by a chain is the chain's child in
``monitor.get_recent_traces()``, and the outermost run nests under the
ragperf block current where the chain was invoked. The caller's context is
never changed: blocks your own code opens inside a LangChain step nest under
the block current when the chain was invoked, not under the step.

Tokens of an LLM run come from the result: the messages' ``usage_metadata``
(chat models), else ``llm_output["token_usage"]`` / ``["usage"]``
(``metadata["token_source"] == "usage"``). A streamed run (``on_llm_new_token``
callbacks) marks its time to first token at the first token and counts
tokens as they arrive, estimated from their text
(``metadata["token_source"] == "estimate"``) unless the result reports usage,
which then replaces the estimate. The model (``op.model``: dimensions,
per-model totals, pricing) is the one the run asked for: its
``ls_model_name``, else the invocation parameters' ``model`` /
``model_name``; the model the result names (``response_metadata`` /
``llm_output`` ``model_name``, e.g. a dated snapshot) is
``op.response_model``. ``metadata["provider"]`` is the run's
``ls_provider`` as an OpenTelemetry ``gen_ai.provider.name`` (``"openai"``
for ``ChatOpenAI``); :func:`instrument_embeddings` records the wrapped
embeddings' ``model`` and provider (``"openai"`` for ``OpenAIEmbeddings``).

Example:
    >>> from ragperf.integrations.langchain import RagperfCallbackHandler   # doctest: +SKIP
    >>> handler = RagperfCallbackHandler(monitor)                           # doctest: +SKIP
    >>> chain.invoke("What is RAG?", config={"callbacks": [handler]})       # doctest: +SKIP
    >>> monitor.get_recent_traces(1)[0]["operation"]                        # doctest: +SKIP
    'query_processing'
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

try:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.embeddings import Embeddings
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        f"ragperf.integrations.langchain needs langchain-core: pip install ragperf[langchain] [{_exc}]"
    ) from _exc

from ..operation_type import OperationType
from ..measure.tokens import TokenCounter
from ..measure.usage import extract_usage
from ._genai import provider_name
from ._spans import DetachedSpan, resolve_monitor

if TYPE_CHECKING:
    from langchain_core.outputs import LLMResult

    from ..monitor import Operation, PerformanceMonitor

__all__ = ["RagperfCallbackHandler", "RagperfEmbeddings", "instrument_embeddings"]


class _Run:
    """One LangChain run the handler has seen start."""

    __slots__ = ("span", "anchor", "in_chain", "streamed", "token")

    def __init__(self, span: DetachedSpan | None, anchor: DetachedSpan | None, in_chain: bool) -> None:
        self.span = span  # this run's operation, None when not recorded
        self.anchor = anchor  # where children attach: span, or an ancestor's
        self.in_chain = in_chain  # a recorded chain is this run or an ancestor
        self.streamed = False
        self.token: contextvars.Token[_Active | None] | None = None


# The span of the LangChain run whose code runs in this context, for calls
# LangChain has no callback for (embeddings): set when a run starts, reset
# when it ends if that happens in the same context. Only a hint: a span that
# has finished (its end ran elsewhere) is ignored.
_Active = tuple["PerformanceMonitor", DetachedSpan]
_active_run: contextvars.ContextVar[_Active | None] = contextvars.ContextVar("ragperf_langchain_run", default=None)


def _run_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if serialized:
        name = serialized.get("name")
        if isinstance(name, str) and name:
            return name
        ids = serialized.get("id")
        if isinstance(ids, list) and ids and isinstance(ids[-1], str):
            return ids[-1]
    return default


def _model_of(metadata: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> str | None:
    if metadata:
        model = metadata.get("ls_model_name")
        if isinstance(model, str) and model:
            return model
    params = kwargs.get("invocation_params")
    if isinstance(params, Mapping):
        for key in ("model", "model_name", "model_id"):
            model = params.get(key)
            if isinstance(model, str) and model:
                return model
    return None


def _usage_of(response: LLMResult) -> dict[str, Any] | None:
    """Token usage of an LLM result as a usage dict (with the model when the
    result names one), or None when it reports none."""
    prompt = completion = total = 0
    found = False
    model: str | None = None
    for generations in response.generations:
        for generation in generations:
            message = getattr(generation, "message", None)
            if message is None:
                continue
            metadata = getattr(message, "response_metadata", None) or {}
            for key in ("model_name", "model"):
                if model is None and isinstance(metadata.get(key), str):
                    model = metadata[key]
            usage = extract_usage(getattr(message, "usage_metadata", None))
            if usage is not None:
                found = True
                prompt += usage.prompt_tokens
                completion += usage.completion_tokens
                total += usage.total_tokens
    output = response.llm_output or {}
    if model is None:
        for key in ("model_name", "model"):
            if isinstance(output.get(key), str):
                model = output[key]
                break
    if not found:
        for key in ("token_usage", "usage"):
            usage = extract_usage(output.get(key))
            if usage is not None:
                found = True
                prompt, completion, total = usage.prompt_tokens, usage.completion_tokens, usage.total_tokens
                break
    if not found:
        return {"model": model} if model else None
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total, "model": model}


def _text_of(token: str | list[str | dict[str, Any]]) -> str:
    if isinstance(token, str):
        return token
    parts = []
    for block in token:
        text = block if isinstance(block, str) else block.get("text")
        if isinstance(text, str):
            parts.append(text)
    return "".join(parts)


class RagperfCallbackHandler(BaseCallbackHandler):
    """A LangChain callback handler recording runs in a ragperf monitor (see
    the module docstring for the mapping).

    Thread-safe; runs inline (``run_inline = True``: it only starts or ends
    a ragperf operation, so it is not worth a thread hop in async chains).

    Args:
        monitor: where to record (default: the process-wide monitor).
        nested_chain_operation: an operation name for chains inside a
            recorded chain (LCEL steps such as prompts and parsers); None
            (default) does not record them.

    Raises:
        TypeError: ``monitor`` is not a monitor.

    Example:
        >>> handler = RagperfCallbackHandler(monitor)                            # doctest: +SKIP
        >>> (retriever | prompt | llm).invoke("q", config={"callbacks": [handler]})  # doctest: +SKIP
        >>> monitor.get_operation_stats("llm_inference").total_tokens            # doctest: +SKIP
    """

    run_inline = True
    raise_error = False

    def __init__(
        self,
        monitor: PerformanceMonitor | None = None,
        *,
        nested_chain_operation: Operation | None = None,
    ) -> None:
        super().__init__()
        self.monitor = resolve_monitor(monitor)
        if nested_chain_operation is not None:
            from .._validate import operation_name

            operation_name(nested_chain_operation)
        self.nested_chain_operation = nested_chain_operation
        self._runs: dict[UUID, _Run] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------- plumbing

    def _parent(self, parent_run_id: UUID | None) -> _Run | None:
        return None if parent_run_id is None else self._runs.get(parent_run_id)

    def _begin(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        operation: Operation | None,
        name: str,
        *,
        chain: bool = False,
    ) -> _Run:
        parent = self._parent(parent_run_id)
        anchor = parent.anchor if parent is not None else None
        in_chain = parent.in_chain if parent is not None else False
        if chain and operation is None:
            if in_chain:
                operation = self.nested_chain_operation
            else:
                operation = OperationType.QUERY_PROCESSING
        span = None
        if operation is not None:
            span = DetachedSpan.start(self.monitor, operation, anchor, {"name": name})
            anchor = span
        run = _Run(span, anchor, in_chain or (chain and span is not None))
        if anchor is not None:
            run.token = _active_run.set((self.monitor, anchor))
        with self._lock:
            self._runs[run_id] = run
        return run

    def _end(self, run_id: UUID, error: BaseException | None = None) -> _Run | None:
        with self._lock:
            run = self._runs.pop(run_id, None)
        if run is None:
            return None
        if run.span is not None:
            run.span.finish(error)
        if run.token is not None:
            try:
                _active_run.reset(run.token)
            except ValueError:  # ended in another context than it started
                pass
        return run

    @property
    def open_runs(self) -> int:
        """Runs started and not yet ended (0 once every chain has finished)."""
        return len(self._runs)

    # --------------------------------------------------------------- chains

    def on_chain_start(
        self,
        serialized: dict[str, Any],
        inputs: dict[str, Any],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """The outermost chain starts ``query_processing``."""
        self._begin(run_id, parent_run_id, None, _run_name(serialized, kwargs, "chain"), chain=True)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Ends the chain's operation."""
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Ends the chain's operation as failed."""
        self._end(run_id, error)

    # ----------------------------------------------------------- retrievers

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Starts ``document_retrieval``."""
        self._begin(
            run_id, parent_run_id, OperationType.DOCUMENT_RETRIEVAL, _run_name(serialized, kwargs, "retriever")
        )

    def on_retriever_end(self, documents: Sequence[Any], *, run_id: UUID, **kwargs: Any) -> None:
        """Ends ``document_retrieval`` with ``metadata["documents"]``."""
        run = self._runs.get(run_id)
        if run is not None and run.span is not None:
            run.span.tracker.metadata["documents"] = len(documents)
        self._end(run_id)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Ends ``document_retrieval`` as failed."""
        self._end(run_id, error)

    # ------------------------------------------------------------------ LLMs

    def _begin_llm(
        self,
        serialized: Mapping[str, Any] | None,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: Mapping[str, Any] | None,
        kwargs: Mapping[str, Any],
    ) -> None:
        run = self._begin(
            run_id, parent_run_id, OperationType.LLM_INFERENCE, _run_name(serialized, kwargs, "llm")
        )
        if run.span is None:
            return
        model = _model_of(metadata, kwargs)
        if model is not None and len(model) <= 200:
            run.span.tracker.model = model  # the requested model
        provider = provider_name(metadata.get("ls_provider") if metadata else None, known_only=False)
        if provider is not None:
            run.span.tracker.metadata["provider"] = provider

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Starts ``llm_inference`` for a completion model."""
        self._begin_llm(serialized, run_id, parent_run_id, metadata, kwargs)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Starts ``llm_inference`` for a chat model."""
        self._begin_llm(serialized, run_id, parent_run_id, metadata, kwargs)

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: Any = None,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        """A streamed token: the first marks the time to first token; each
        adds its estimated tokens (text content blocks count by their text)."""
        run = self._runs.get(run_id)
        if run is None or run.span is None:
            return
        tracker = run.span.tracker
        if not run.streamed:
            run.streamed = True
            tracker.mark_first_token()
            tracker.metadata["token_source"] = "estimate"
        n = TokenCounter.count_tokens(_text_of(token)) if token else 0
        if n:
            tracker.add_tokens(n)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Ends ``llm_inference`` with the usage and model the result reports."""
        run = self._runs.get(run_id)
        if run is not None and run.span is not None:
            tracker = run.span.tracker
            try:
                usage = _usage_of(response)
            except (TypeError, ValueError):  # malformed usage from a provider
                usage = None
                tracker.metadata["usage_error"] = True
            if usage is not None:
                model = usage.get("model")
                if isinstance(model, str) and 0 < len(model) <= 200:
                    tracker.response_model = model  # op.model stays the requested one
                if "total_tokens" in usage:
                    tracker.set_usage(usage)
                    tracker.metadata["token_source"] = "usage"
        self._end(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Ends ``llm_inference`` as failed."""
        self._end(run_id, error)

    # ----------------------------------------------------------------- tools

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Not recorded; remembered so the tool's children attach upwards."""
        self._begin(run_id, parent_run_id, None, _run_name(serialized, kwargs, "tool"))

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Forgets the tool run."""
        self._end(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forgets the tool run."""
        self._end(run_id)


# ------------------------------------------------------------- embeddings


def _parent_span(monitor: PerformanceMonitor) -> DetachedSpan | None:
    """The span of the LangChain run running in this context, if it is
    still open and recorded in ``monitor``."""
    active = _active_run.get()
    if active is None or active[0] is not monitor or active[1].done:
        return None
    return active[1]


def _embeddings_provider(embeddings: object) -> str | None:
    """The provider of LangChain embeddings from their package
    (``langchain_openai.OpenAIEmbeddings`` -> ``"openai"``), None when
    unknown."""
    cls = type(embeddings)
    package = (getattr(cls, "__module__", "") or "").split(".", 1)[0]
    if not package.startswith("langchain_"):
        return None
    hint = package[len("langchain_") :]
    if hint == "openai" and "Azure" in cls.__name__:
        hint = "azure_openai"
    return provider_name(hint)


class RagperfEmbeddings(Embeddings):
    """LangChain ``Embeddings`` that time every call of the wrapped ones as
    ``embedding_generation`` (``metadata["texts"]``: how many texts); see
    :func:`instrument_embeddings`.

    Example:
        >>> emb = RagperfEmbeddings(OpenAIEmbeddings(), monitor)   # doctest: +SKIP
        >>> emb.embed_query("hello")                               # doctest: +SKIP
    """

    def __init__(self, embeddings: Embeddings, monitor: PerformanceMonitor | None = None) -> None:
        if not isinstance(embeddings, Embeddings):
            raise TypeError(
                f"embeddings must be a langchain_core Embeddings, got {embeddings!r} ({type(embeddings).__name__})"
            )
        self.wrapped = embeddings
        self.monitor = resolve_monitor(monitor)

    def _start(self, texts: int) -> DetachedSpan:
        parent = _parent_span(self.monitor)
        metadata: dict[str, Any] = {"name": type(self.wrapped).__name__, "texts": texts}
        provider = _embeddings_provider(self.wrapped)
        if provider is not None:
            metadata["provider"] = provider
        span = DetachedSpan.start(self.monitor, OperationType.EMBEDDING_GENERATION, parent, metadata)
        model = getattr(self.wrapped, "model", None)
        if isinstance(model, str) and 0 < len(model) <= 200:
            span.tracker.model = model
        return span

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The wrapped ``embed_documents``, timed."""
        span = self._start(len(texts))
        try:
            vectors = self.wrapped.embed_documents(texts)
        except BaseException as e:
            span.finish(e)
            raise
        span.finish()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The wrapped ``embed_query``, timed."""
        span = self._start(1)
        try:
            vector = self.wrapped.embed_query(text)
        except BaseException as e:
            span.finish(e)
            raise
        span.finish()
        return vector

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """The wrapped ``aembed_documents``, timed."""
        span = self._start(len(texts))
        try:
            vectors = await self.wrapped.aembed_documents(texts)
        except BaseException as e:
            span.finish(e)
            raise
        span.finish()
        return vectors

    async def aembed_query(self, text: str) -> list[float]:
        """The wrapped ``aembed_query``, timed."""
        span = self._start(1)
        try:
            vector = await self.wrapped.aembed_query(text)
        except BaseException as e:
            span.finish(e)
            raise
        span.finish()
        return vector

    def __getattr__(self, name: str) -> Any:
        # Anything else (model name, client...) is the wrapped object's.
        if name == "wrapped":
            raise AttributeError(name)
        return getattr(self.wrapped, name)


def instrument_embeddings(embeddings: Embeddings, monitor: PerformanceMonitor | None = None) -> RagperfEmbeddings:
    """Wraps LangChain ``embeddings`` so that every ``embed_documents`` /
    ``embed_query`` call (and their async forms) is an
    ``embedding_generation`` operation in ``monitor`` (default: the
    process-wide one). Use the result wherever you used the original
    (vector stores, retrievers). A call made inside a LangChain run that a
    :class:`RagperfCallbackHandler` of the same monitor records (a
    vector-store retriever embedding its query) nests under that run's
    operation; elsewhere it nests under the current ragperf block.

    Raises:
        TypeError: ``embeddings`` is not a LangChain ``Embeddings``, or
            ``monitor`` is not a monitor.

    Example:
        >>> handler = RagperfCallbackHandler(monitor)                                # doctest: +SKIP
        >>> store = InMemoryVectorStore(instrument_embeddings(embeddings, monitor))  # doctest: +SKIP
        >>> store.as_retriever().invoke("q", config={"callbacks": [handler]})        # doctest: +SKIP
    """
    return RagperfEmbeddings(embeddings, monitor)
