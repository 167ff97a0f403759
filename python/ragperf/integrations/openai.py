"""Instrumentation of OpenAI-style clients: ``instrument(client)``.

Wraps ``client.chat.completions.create`` (as ``llm_inference``) and, when the
client has it, ``client.embeddings.create`` (as ``embedding_generation``) of
any object with that shape: the ``openai`` SDK's ``OpenAI`` and
``AsyncOpenAI``, Azure and compatible clients, or your own. Nothing is
imported: the ``openai`` package is not needed.

Every call becomes one operation with

* its duration: the call; for ``stream=True``, from the call until the
  stream ends (exhausted, closed early: ``metadata["stream_status"]``
  ``"abandoned"``, or raising: a failure);
* the model: ``model=`` of the call (``op.model``: dimensions, per-model
  totals and pricing use it), and the one the response names, often a dated
  snapshot such as ``gpt-4o-mini-2024-07-18`` (``op.response_model``);
* ``metadata["provider"]``: ``"openai"`` (``"azure.ai.openai"`` for an
  Azure client; ``instrument(..., provider=...)`` to name another);
* token usage from ``response.usage`` (``op.set_usage``); for a stream, from
  the final chunk's usage when the request asked for it
  (``stream_options={"include_usage": True}``; set once, not added to the
  chunks counted before), else estimated from the chunks' text;
* time to first token (streams): from the call to the first chunk;
* cost from the monitor's prices (``monitor.set_model_prices``);
* failures: an exception from the call or the stream is re-raised unchanged
  and counted under its type (e.g. ``RateLimitError``).

A returned stream behaves as the SDK's: the same chunks, the SDK stream's
attributes (``response``...), and every way of closing it closes the SDK
stream, hence its HTTP response (the connection goes back to the pool):
``close()``, ``with ... as s:`` and ``async with``, ``await s.close()`` /
``aclose()``, and the helper ``client.chat.completions.stream(...)``
(wrapped too) left early. A stream closed early is ``"abandoned"``.

A call nests under the ragperf block current where it is made; a stream's
operation does not become the current block while you iterate it.
``with_raw_response`` / ``with_streaming_response`` calls are not wrapped.

Example:
    >>> from openai import OpenAI                                   # doctest: +SKIP
    >>> from ragperf.integrations.openai import instrument          # doctest: +SKIP
    >>> client = OpenAI()                                           # doctest: +SKIP
    >>> handle = instrument(client)                                 # doctest: +SKIP
    >>> client.chat.completions.create(model="gpt-4o-mini", messages=[...])  # doctest: +SKIP
    >>> handle.uninstrument()                                       # doctest: +SKIP
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..operation_type import OperationType
from ..measure.streaming import AsyncTrackedStream, TrackedStream
from ._genai import provider_name
from ._handle import Handle
from ._spans import DetachedSpan, resolve_monitor

if TYPE_CHECKING:
    from .._core import OperationTracker
    from ..monitor import PerformanceMonitor

__all__ = ["Instrumentation", "instrument", "uninstrument"]

# (path to the object owning the method, method, operation); None: the
# SDK's ``stream()`` helper, whose requests go through the wrapped create.
_TARGETS: tuple[tuple[tuple[str, ...], str, OperationType | None], ...] = (
    (("chat", "completions"), "create", OperationType.LLM_INFERENCE),
    (("chat", "completions"), "stream", None),
    (("embeddings",), "create", OperationType.EMBEDDING_GENERATION),
)
_MARK = "__ragperf_wrapped__"
_lock = threading.Lock()
# While a stream() helper's manager is entered: where create() puts the
# tracked stream it returns, so the manager's exit can close it.
_helper_streams: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "ragperf_openai_helper_streams", default=None
)


# ------------------------------------------------------------------ streams


class _Forwarding:
    """Forwards unknown attributes to ``self._source`` (the SDK's stream)."""

    __slots__ = ()
    _source: Any

    def __getattr__(self, name: str) -> Any:
        if name == "_source":  # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self._source, name)


class _ProxyStream(_Forwarding, TrackedStream[Any]):
    """A tracked sync stream that still offers the SDK stream's own
    attributes (``response``, ...)."""

    __slots__ = ("_source",)

    def __init__(self, source: Any, op: Any) -> None:
        self._source = source
        super().__init__(source, op, True, None)


class _AsyncProxyStream(_Forwarding, AsyncTrackedStream[Any]):
    """The async counterpart of :class:`_ProxyStream` (its ``close()`` is
    async, like the SDK's ``AsyncStream.close()``)."""

    __slots__ = ("_source",)

    def __init__(self, source: Any, op: Any) -> None:
        self._source = source
        super().__init__(source, op, True, None)


class _StreamManager(_Forwarding):
    """Wraps the manager of ``client.chat.completions.stream(...)``: its
    exit (normal, early or by an exception) also ends the tracked stream
    its request returned, which the SDK's helper closes by closing the HTTP
    response behind ragperf's back."""

    __slots__ = ("_source", "_streams")

    def __init__(self, source: Any) -> None:
        self._source = source
        self._streams: list[Any] = []

    def __enter__(self) -> Any:
        token = _helper_streams.set(self._streams)
        try:
            return self._source.__enter__()
        finally:
            _helper_streams.reset(token)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return self._source.__exit__(exc_type, exc, tb)
        finally:
            for stream in self._streams:
                stream.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Any:
        token = _helper_streams.set(self._streams)
        try:
            return await self._source.__aenter__()
        finally:
            _helper_streams.reset(token)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return await self._source.__aexit__(exc_type, exc, tb)
        finally:
            for stream in self._streams:
                await stream.__aexit__(exc_type, exc, tb)


# ------------------------------------------------------------------ calls


def _start(
    monitor: PerformanceMonitor, operation: OperationType, kwargs: Mapping[str, Any], provider: str | None
) -> DetachedSpan:
    # A detached span: a stream's operation outlives this call and must not
    # stay the caller's current block while the caller iterates.
    span = DetachedSpan.start(monitor, operation, None, None if provider is None else {"provider": provider})
    model = kwargs.get("model")
    if isinstance(model, str) and 0 < len(model) <= 200:
        span.tracker.model = model  # the requested model
    return span


def _note_usage(tracker: OperationTracker, response: object) -> None:
    model = getattr(response, "model", None)
    if isinstance(model, str) and 0 < len(model) <= 200:
        tracker.response_model = model
    try:
        tracker.set_usage(response)
    except (TypeError, ValueError):
        # A malformed usage in someone else's response must not fail the call.
        tracker.metadata["usage_error"] = True


def _is_stream(kwargs: Mapping[str, Any], result: object) -> bool:
    if kwargs.get("stream") is True:
        return hasattr(result, "__iter__") or hasattr(result, "__aiter__")
    return False


def _finish_sync(span: DetachedSpan, kwargs: Mapping[str, Any], result: Any) -> Any:
    if _is_stream(kwargs, result):
        stream: _ProxyStream | _AsyncProxyStream
        if hasattr(result, "__aiter__"):
            stream = _AsyncProxyStream(result, span.tracker)
        else:
            stream = _ProxyStream(result, span.tracker)
        helper = _helper_streams.get()
        if helper is not None:
            helper.append(stream)
        return stream
    _note_usage(span.tracker, result)
    span.finish()
    return result


def _wrap_sync(
    original: Callable[..., Any], monitor: PerformanceMonitor, operation: OperationType, provider: str | None
) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        span = _start(monitor, operation, kwargs, provider)
        try:
            result = original(*args, **kwargs)
        except BaseException as e:
            span.finish(e)
            raise
        if inspect.isawaitable(result):  # an async create not declared `async def`
            return _await_then_finish(span, kwargs, result)
        return _finish_sync(span, kwargs, result)

    return create


async def _await_then_finish(span: DetachedSpan, kwargs: Mapping[str, Any], pending: Any) -> Any:
    try:
        result = await pending
    except BaseException as e:
        span.finish(e)
        raise
    return _finish_sync(span, kwargs, result)


def _wrap_async(
    original: Callable[..., Any], monitor: PerformanceMonitor, operation: OperationType, provider: str | None
) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(*args: Any, **kwargs: Any) -> Any:
        span = _start(monitor, operation, kwargs, provider)
        try:
            result = await original(*args, **kwargs)
        except BaseException as e:
            span.finish(e)
            raise
        return _finish_sync(span, kwargs, result)

    return create


def _wrap_stream_helper(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        return _StreamManager(original(*args, **kwargs))

    return stream


# ---------------------------------------------------------- instrumenting


def _owner(client: Any, path: tuple[str, ...]) -> Any:
    obj = client
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


# What one wrapper replaced: (dotted name, owner, method name, original,
# whether the owner had its own attribute rather than its class's).
_Patch = tuple[str, Any, str, Any, bool]


def _undo(patched: list[_Patch]) -> None:
    for _, owner, method, original, own in reversed(patched):
        if own:
            setattr(owner, method, original)
        else:
            try:
                delattr(owner, method)
            except AttributeError:
                pass
    patched.clear()


def _provider_of(client: Any) -> str | None:
    """``"openai"`` for the openai SDK's clients, ``"azure.ai.openai"`` for
    its Azure ones; None for other objects."""
    cls = type(client)
    module = getattr(cls, "__module__", "") or ""
    if module != "openai" and not module.startswith("openai."):
        return None
    return provider_name("azure_openai" if "Azure" in cls.__name__ else "openai")


class Instrumentation(Handle):
    """What :func:`instrument` changed on a client; :meth:`uninstrument`
    puts it back. Also a context manager that uninstruments on exit.

    Example:
        >>> with instrument(client, monitor):   # doctest: +SKIP
        ...     client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    """

    def __init__(self, client: Any, monitor: PerformanceMonitor, provider: str | None = None) -> None:
        self.client = client
        self.monitor = monitor
        self.provider = provider
        self._patched: list[_Patch] = []

    @property
    def wrapped(self) -> list[str]:
        """Dotted names of the wrapped methods, e.g. ``["chat.completions.create"]``
        (empty once undone)."""
        return [name for name, _, _, _, _ in self._patched]

    def uninstrument(self) -> bool:
        """Restores the original methods. False when already undone.

        Example:
            >>> handle.uninstrument()   # doctest: +SKIP
            True
        """
        with _lock:
            if not self._patched:
                return False
            _undo(self._patched)
            return True

    def _patch(self, path: tuple[str, ...], method: str, operation: OperationType | None) -> None:
        """Wraps ``<path>.<method>`` if the client has it (caller holds _lock)."""
        name = ".".join((*path, method))
        owner = _owner(self.client, path)
        original = getattr(owner, method, None) if owner is not None else None
        if not callable(original):
            return
        if getattr(original, _MARK, None) is not None:
            raise ValueError(f"client {self.client!r} is already instrumented by ragperf ({name})")
        if operation is None:
            wrapper = _wrap_stream_helper(original)
        else:
            make = _wrap_async if inspect.iscoroutinefunction(original) else _wrap_sync
            wrapper = make(original, self.monitor, operation, self.provider)
        setattr(wrapper, _MARK, self)
        own = method in getattr(owner, "__dict__", {})
        try:
            setattr(owner, method, wrapper)
        except (AttributeError, TypeError) as e:
            raise TypeError(f"cannot replace {name} on {self.client!r}: {e}") from None
        self._patched.append((name, owner, method, original, own))
        if _owner(self.client, path) is not owner:
            raise TypeError(
                f"client {self.client!r} returns a new {'.'.join(path)} object on every access, "
                "so a wrapper on it would not stick"
            )

    def __repr__(self) -> str:
        return f"<ragperf.integrations.openai.Instrumentation wrapped={self.wrapped}>"


def instrument(
    client: Any, monitor: PerformanceMonitor | None = None, *, provider: str | None = None
) -> Instrumentation:
    """Times every ``client.chat.completions.create`` call (sync, async and
    ``stream=True``) as ``llm_inference``, and ``client.embeddings.create``
    (when present) as ``embedding_generation``, in ``monitor`` (default: the
    process-wide one). Returns a handle whose ``uninstrument()`` undoes it.

    An ``async def create`` gets an async wrapper; a sync ``create`` that
    returns an awaitable is handled too. A stream is returned wrapped: it
    yields the same chunks, forwards other attributes to the SDK's stream,
    and closing it closes the SDK's stream. ``chat.completions.stream`` (the
    SDK's helper) is wrapped so that leaving it early ends its operation.

    ``provider`` is ``metadata["provider"]`` of every operation (the
    OpenTelemetry ``gen_ai.provider.name``); default ``"openai"`` for the
    openai SDK's clients (``"azure.ai.openai"`` for Azure ones), none for
    other objects.

    Raises:
        TypeError: ``client`` has no callable ``chat.completions.create``,
            or its ``chat.completions`` is a new object on every access (the
            wrapper would not stick), or ``monitor`` is not a monitor, or
            ``provider`` is not a str of 1 to 200 characters or None.
        ValueError: the client is already instrumented.

    Example:
        >>> handle = instrument(client)   # doctest: +SKIP
        >>> monitor.get_operation_stats("llm_inference").total_tokens   # doctest: +SKIP
    """
    target = resolve_monitor(monitor)
    chat = _owner(client, ("chat", "completions"))
    if chat is None or not callable(getattr(chat, "create", None)):
        raise TypeError(
            f"client must have a callable chat.completions.create (an OpenAI-style client), got {client!r}"
        )
    if provider is None:
        provider = _provider_of(client)
    elif not isinstance(provider, str) or not 0 < len(provider) <= 200:
        raise TypeError(f"provider must be a str of 1 to 200 characters or None, got {provider!r}")
    handle = Instrumentation(client, target, provider)
    with _lock:
        try:
            for path, method, operation in _TARGETS:
                handle._patch(path, method, operation)
        except BaseException:
            _undo(handle._patched)
            raise
    return handle


def uninstrument(client: Any) -> bool:
    """Removes ragperf's wrappers from ``client`` (the same as the handle's
    ``uninstrument()``). False when it had none.

    Example:
        >>> uninstrument(client)   # doctest: +SKIP
        True
    """
    create = getattr(_owner(client, ("chat", "completions")), "create", None)
    handle = getattr(create, _MARK, None)
    return handle.uninstrument() if isinstance(handle, Instrumentation) else False
