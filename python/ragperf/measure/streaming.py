"""Tracking streamed LLM responses: time to first token, inter-token
latency, output tokens per second.

:func:`track_stream` wraps a sync or async stream of chunks (an OpenAI
``Stream``/``AsyncStream``, a generator of str, ...) and passes every chunk
through unchanged while it feeds the operation's tracker:

* the first chunk marks the time to first token (measured from the call of
  :func:`track_stream`, i.e. right after the request was sent, so it includes
  the wait for the server);
* each chunk adds its tokens (an inter-token gap is recorded per chunk that
  has tokens): ``count(chunk)`` if given, else the usage the chunk reports
  (the final chunk of an OpenAI stream with ``stream_options={"include_usage":
  True}``, set once as the operation's totals, after which nothing more is
  counted; also Anthropic ``message_delta`` and OpenAI Responses
  ``response.completed``), else an estimate of the chunk's text (a str
  chunk, an OpenAI ``choices[0].delta.content``, an Anthropic
  ``delta.text``, an OpenAI Responses text ``delta``; 0 for other typed
  events), else 1;
* the operation ends when the stream does, with ``metadata["stream_status"]``
  ``"completed"``; ``"abandoned"`` when the consumer stops early (break, then
  ``close()``, the end of a ``with`` block, or garbage collection), recorded
  as a success with what was counted; ``"error"`` when the stream raises: the
  exception propagates and the operation counts as failed with its type;
  ``"cancelled"`` when a cancellation (``asyncio.CancelledError``,
  ``KeyboardInterrupt``, ``GeneratorExit``) stops it: the operation counts as
  cancelled, never as failed.
* closing the wrapper closes the wrapped stream itself, as closing it
  directly would: ``close()`` / the end of a ``with`` block call the
  stream's ``close()`` (an OpenAI ``Stream`` then closes its HTTP response
  and frees the connection), ``aclose()`` / ``close()`` / the end of an
  ``async with`` block await its ``aclose()`` or ``close()``; a generator
  made by its ``__iter__`` / ``__aiter__`` is closed too.

Example:
    >>> stream = client.chat.completions.create(model="gpt-4o", messages=msgs, stream=True,  # doctest: +SKIP
    ...                                         stream_options={"include_usage": True})
    >>> for chunk in track_stream(monitor, stream, "llm_inference", model="gpt-4o"):  # doctest: +SKIP
    ...     print(chunk.choices[0].delta.content or "" if chunk.choices else "", end="")
    >>> monitor.get_operation_stats("llm_inference").time_to_first_token_p50_s  # doctest: +SKIP
"""

from __future__ import annotations

import enum
import inspect
import operator
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast, overload

from .. import _core
from .usage import carries_no_usage, extract_usage

if TYPE_CHECKING:
    from ..operation_type import Operation

__all__ = ["AsyncTrackedStream", "TrackedStream", "track_stream"]

# TokenCounter.count_tokens on the class is this estimate; called directly
# per chunk (one C call instead of two Python-level ones).
_count_tokens = _core.estimate_tokens

T = TypeVar("T")

COMPLETED = "completed"
ABANDONED = "abandoned"
ERROR = "error"
CANCELLED = "cancelled"


def _ended_by(exc_type: type[BaseException] | None) -> str:
    """The stream status of an end by ``exc_type``: a cancellation
    (a BaseException that is not an Exception) is "cancelled", not an error."""
    if exc_type is not None and not issubclass(exc_type, Exception):
        return CANCELLED
    return ERROR


class TracksOperations(Protocol):
    """What :func:`track_stream` needs of a monitor (``PerformanceMonitor`` has it)."""

    def track_operation(
        self, operation: Operation, metadata: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> Any: ...


class _StreamTracker(Protocol):
    """What the wrapper needs of an OperationTracker."""

    @property
    def metadata(self) -> dict[str, Any]: ...

    def mark_first_token(self) -> object: ...

    def add_tokens(self, n: int = 1, /) -> object: ...

    def set_usage(self, response: object, /) -> bool: ...

    response_model: str | None  # optional: set only when the tracker has it

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> object: ...


# ------------------------------------------------------------ token counts


def _get(obj: object, name: str) -> object:
    if type(obj) is dict:  # the common case first: isinstance(x, Mapping) is an ABC check
        return obj.get(name)
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _fields(obj: object) -> dict[str, Any] | None:
    """A dict chunk itself, or the ``__dict__`` of an object keeping its
    attributes there (the SDKs' pydantic models, SimpleNamespace); else None."""
    if type(obj) is dict:
        return obj
    fields = getattr(obj, "__dict__", None)
    return fields if type(fields) is dict else None


def _openai_delta_text(fields: dict[str, Any]) -> str | None:
    """The text of an OpenAI Chat Completions chunk read through plain
    dicts (``choices[0].delta.content``): the per-chunk fast path of
    :func:`_chunk_text`. None when the chunk is not of that shape."""
    choices = fields.get("choices")
    if type(choices) is not list:
        return None
    if not choices:
        return ""
    choice = _fields(choices[0])
    if choice is None:
        return None
    delta = choice.get("delta")
    if delta is None:
        content = choice.get("text")
    else:
        delta_fields = _fields(delta)
        content = delta_fields.get("content") if delta_fields is not None else _get(delta, "content")
    return content if isinstance(content, str) else ""


def _chunk_text(chunk: object) -> str | None:
    """The generated text of a chunk of a known shape, "" for such a chunk
    without text, None for chunks of unknown shape.

    Known shapes: OpenAI Chat Completions (``choices[0].delta.content``,
    legacy ``choices[0].text``), Anthropic events (``delta.text``), OpenAI
    Responses events (``delta`` as a str), and other typed events (an object
    or dict with a str ``type``: no text).
    """
    choices = _get(chunk, "choices")
    if isinstance(choices, (list, tuple)):
        if not choices:
            return ""
        choice = choices[0]
        delta = _get(choice, "delta")
        content = _get(delta, "content") if delta is not None else _get(choice, "text")
        return content if isinstance(content, str) else ""
    delta = _get(chunk, "delta")
    if isinstance(delta, str):
        return delta
    if delta is not None and not isinstance(delta, (bytes, bytearray)):
        text = _get(delta, "text")
        return text if isinstance(text, str) else ""
    if isinstance(_get(chunk, "type"), str):
        return ""  # e.g. message_start, content_block_stop, ping
    return None


def _usage_of(chunk: object) -> object | None:
    """The object whose usage a chunk reports (the chunk itself, or the
    ``response`` of an OpenAI Responses ``response.completed`` event), or
    None. Malformed usage is ignored: the stream is the user's, not ours."""
    try:
        if extract_usage(chunk) is not None:
            return chunk
        response = _get(chunk, "response")
        if response is not None and extract_usage(response) is not None:
            return response
    except (TypeError, ValueError):
        pass
    return None


def _checked_count(n: object) -> int:
    if isinstance(n, bool):
        raise TypeError(f"count(chunk) must return a non-negative int, got {n!r} (bool)")
    try:
        value = operator.index(n)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"count(chunk) must return a non-negative int, got {n!r} ({type(n).__name__})") from None
    if value < 0:
        raise ValueError(f"count(chunk) must return a non-negative int, got {n!r}")
    return value


# ----------------------------------------------------------------- wrappers


class _Feeder:
    """The per-stream state shared by the sync and async wrappers."""

    __slots__ = ("_op", "_owns", "_count", "_first", "_usage_seen", "_done", "__weakref__")

    def __init__(self, op: _StreamTracker, owns: bool, count: Callable[[Any], int] | None) -> None:
        self._op = op
        self._owns = owns
        self._count = count
        self._first = True
        self._usage_seen = False
        self._done = False

    @property
    def tracker(self) -> Any:
        """The OperationTracker this stream feeds (its ``time_to_first_token_s``,
        ``completion_tokens``... are readable at any time)."""
        return self._op

    @property
    def status(self) -> str | None:
        """``"completed"``, ``"abandoned"`` or ``"error"`` once the stream has
        ended, else None."""
        if not self._done:
            return None
        status = self._op.metadata.get("stream_status")
        return status if isinstance(status, str) else None

    def _feed(self, chunk: object) -> None:
        op = self._op
        if self._first:
            self._first = False
            op.mark_first_token()
            model = None if isinstance(chunk, str) else _get(chunk, "model")
            if isinstance(model, str) and 0 < len(model) <= 200 and getattr(op, "response_model", "") is None:
                op.response_model = model  # the model that served the stream
        if self._count is not None:
            n = _checked_count(self._count(chunk))
        elif self._usage_seen:
            return  # the reported usage is final: do not count over it
        elif isinstance(chunk, str):
            n = _count_tokens(chunk)
        else:
            # Usage comes once, in the last chunk: look for it in full only
            # when a cheap look does not rule it out.
            fields = _fields(chunk)
            if (fields is None or not carries_no_usage(chunk, fields)) and (usage := _usage_of(chunk)) is not None:
                op.set_usage(usage)  # sets the totals (not added)
                self._usage_seen = True
                return
            text = _openai_delta_text(fields) if fields is not None else None
            if text is None:
                text = _chunk_text(chunk)
            n = 1 if text is None else _count_tokens(text)
        if n > 0:
            op.add_tokens(n)

    def _finish(
        self,
        status: str,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        """Ends the operation once; later calls do nothing."""
        if self._done:
            return
        self._done = True
        if status == ERROR:
            status = _ended_by(exc_type)
        op = self._op
        op.metadata["stream_status"] = status
        if self._owns:
            op.__exit__(exc_type, exc, tb)

    def __del__(self) -> None:
        # Abandoned without close(): end the operation with what was counted.
        try:
            self._finish(ABANDONED)
        except Exception:  # noqa: S110 - never raise from a finalizer
            pass


class TrackedStream(_Feeder, Generic[T]):
    """A sync stream that yields the wrapped stream's chunks unchanged while
    tracking them (see :func:`track_stream`). Also a context manager;
    ``close()`` closes the wrapped stream and ends the operation as
    "abandoned" if the stream was not exhausted.

    Example:
        >>> with track_stream(monitor, iter(["Hel", "lo"]), "llm_inference") as s:  # doctest: +SKIP
        ...     text = "".join(s)
        >>> s.status  # doctest: +SKIP
        'completed'
    """

    __slots__ = ("_src", "_it")

    def __init__(
        self, stream: Iterable[T], op: _StreamTracker, owns: bool, count: Callable[[Any], int] | None
    ) -> None:
        self._src: Iterable[T] | None = stream
        self._it: Iterator[T] | None = None
        super().__init__(op, owns, count)
        try:
            self._it = iter(stream)
        except BaseException as e:
            self._finish(ERROR, type(e), e, e.__traceback__)
            raise

    def __iter__(self) -> TrackedStream[T]:
        return self

    def __next__(self) -> T:
        if self._done or self._it is None:
            raise StopIteration
        try:
            chunk = next(self._it)
        except StopIteration:
            self._finish(COMPLETED)
            raise
        except BaseException as e:
            self._finish(ERROR, type(e), e, e.__traceback__)
            raise
        try:
            self._feed(chunk)
        except BaseException as e:  # e.g. count(chunk) failed
            self._finish(ERROR, type(e), e, e.__traceback__)
            raise
        return chunk

    def _close_source(self) -> None:
        """Closes the wrapped stream as closing it directly would (its
        ``close()``), then the iterator its ``__iter__`` made, if another
        object (an OpenAI ``Stream``'s generator does not own the HTTP
        response: only ``Stream.close()`` closes it)."""
        src, it = self._src, self._it
        try:
            close = getattr(src, "close", None)
            if callable(close):
                close()
        finally:
            if it is not None and it is not src:
                close = getattr(it, "close", None)
                if callable(close):
                    close()

    def close(self) -> None:
        """Stops the stream: closes the wrapped one (if it has ``close()``;
        also after the stream ended, as a plain stream's ``close()`` would)
        and, unless it had ended, ends the operation as "abandoned".
        Idempotent.

        Example:
            >>> s = track_stream(monitor, gen(), "llm_inference")  # doctest: +SKIP
            >>> first = next(s); s.close()                         # doctest: +SKIP
        """
        try:
            self._close_source()
        except BaseException as e:
            self._finish(ERROR, type(e), e, e.__traceback__)
            raise
        self._finish(ABANDONED)

    def __enter__(self) -> TrackedStream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and not self._done:
            # The consumer's block raised: the streamed operation failed too
            # (or was cancelled, for a cancellation).
            try:
                self._close_source()
            finally:
                self._finish(ERROR, exc_type, exc, tb)
            return
        self.close()

    def __repr__(self) -> str:
        return f"<ragperf TrackedStream {self._op!r} status={self.status}>"


class AsyncTrackedStream(_Feeder, Generic[T]):
    """An async stream that yields the wrapped stream's chunks unchanged while
    tracking them (see :func:`track_stream`). Also an async context manager;
    ``await aclose()`` (or ``await close()``, the OpenAI SDK's name) closes
    the wrapped stream and ends the operation as "abandoned" if the stream
    was not exhausted.

    Example:
        >>> async with track_stream(monitor, await client.chat.completions.create(  # doctest: +SKIP
        ...         model="gpt-4o", messages=msgs, stream=True), "llm_inference") as s:
        ...     async for chunk in s:
        ...         ...
    """

    __slots__ = ("_src", "_ait")

    def __init__(
        self, stream: AsyncIterable[T], op: _StreamTracker, owns: bool, count: Callable[[Any], int] | None
    ) -> None:
        self._src: AsyncIterable[T] | None = stream
        self._ait: AsyncIterator[T] | None = None
        super().__init__(op, owns, count)
        try:
            self._ait = stream.__aiter__()
        except BaseException as e:
            self._finish(ERROR, type(e), e, e.__traceback__)
            raise

    def __aiter__(self) -> AsyncTrackedStream[T]:
        return self

    async def __anext__(self) -> T:
        if self._done or self._ait is None:
            raise StopAsyncIteration
        try:
            chunk = await self._ait.__anext__()
        except StopAsyncIteration:
            self._finish(COMPLETED)
            raise
        except BaseException as e:
            self._finish(ERROR, type(e), e, e.__traceback__)
            raise
        try:
            self._feed(chunk)
        except BaseException as e:  # e.g. count(chunk) failed
            self._finish(ERROR, type(e), e, e.__traceback__)
            raise
        return chunk

    @staticmethod
    async def _close(obj: object) -> None:
        """``await obj.aclose()``, else ``obj.close()`` (awaited when it
        returns an awaitable, e.g. OpenAI's ``AsyncStream.close()``)."""
        aclose = getattr(obj, "aclose", None)
        if callable(aclose):
            await aclose()
            return
        close = getattr(obj, "close", None)
        if callable(close):
            result = close()
            if inspect.isawaitable(result):
                await result

    async def _close_source(self) -> None:
        src, ait = self._src, self._ait
        try:
            await self._close(src)
        finally:
            if ait is not None and ait is not src:
                await self._close(ait)

    async def aclose(self) -> None:
        """Stops the stream: closes the wrapped one (``aclose()`` or
        ``close()``; also after the stream ended, as a plain stream's would)
        and, unless it had ended, ends the operation as "abandoned".
        Idempotent.

        Example:
            >>> await s.aclose()  # doctest: +SKIP
        """
        try:
            await self._close_source()
        except BaseException as e:
            self._finish(ERROR, type(e), e, e.__traceback__)
            raise
        self._finish(ABANDONED)

    async def close(self) -> None:
        """The same as :meth:`aclose` (OpenAI's ``AsyncStream`` names it
        ``close()``, awaited).

        Example:
            >>> await s.close()  # doctest: +SKIP
        """
        await self.aclose()

    async def __aenter__(self) -> AsyncTrackedStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and not self._done:
            try:
                await self._close_source()
            finally:
                self._finish(ERROR, exc_type, exc, tb)
            return
        await self.aclose()

    def __repr__(self) -> str:
        return f"<ragperf AsyncTrackedStream {self._op!r} status={self.status}>"


# --------------------------------------------------------------- entry point


def _is_tracker(operation: object) -> bool:
    return not isinstance(operation, (str, enum.Enum)) and hasattr(operation, "add_tokens")


@overload
def track_stream(
    monitor: TracksOperations,
    stream: AsyncIterable[T],
    operation: Operation | Any,
    *,
    count: Callable[[T], int] | None = None,
    metadata: Mapping[str, Any] | None = None,
    **metadata_kwargs: Any,
) -> AsyncTrackedStream[T]: ...


@overload
def track_stream(
    monitor: TracksOperations,
    stream: Iterable[T],
    operation: Operation | Any,
    *,
    count: Callable[[T], int] | None = None,
    metadata: Mapping[str, Any] | None = None,
    **metadata_kwargs: Any,
) -> TrackedStream[T]: ...


def track_stream(
    monitor: TracksOperations,
    stream: Iterable[Any] | AsyncIterable[Any],
    operation: Any,
    *,
    count: Callable[[Any], int] | None = None,
    metadata: Mapping[str, Any] | None = None,
    **metadata_kwargs: Any,
) -> TrackedStream[Any] | AsyncTrackedStream[Any]:
    """Tracks a streamed response as one operation; yields its chunks unchanged.

    ``stream`` is a sync iterable, or an async iterable (it has
    ``__aiter__``): then an :class:`AsyncTrackedStream` is returned for
    ``async for``, else a :class:`TrackedStream`. ``operation`` is an
    operation name or :class:`OperationType`: the operation starts now (call
    this right after sending the request, so time to first token includes
    the wait) and ends with the stream; or an active OperationTracker
    (``with monitor.track_operation(...) as op:``), which the stream feeds
    but does not end. ``count`` (chunk -> int) replaces the built-in token
    counting; ``metadata`` and keyword arguments are the operation's
    metadata. See the module docstring for how chunks are counted and how
    the operation ends (``metadata["stream_status"]``).

    Example:
        >>> def tokens():
        ...     yield from ["Hello", ", ", "world"]
        >>> for chunk in track_stream(monitor, tokens(), "llm_inference", model="qwen"):  # doctest: +SKIP
        ...     print(chunk, end="")
        Hello, world
        >>> async for chunk in track_stream(monitor, agen(), "llm_inference"):  # doctest: +SKIP
        ...     ...
    """
    if count is not None and not callable(count):
        raise TypeError(f"count must be a callable (chunk -> int) or None, got {count!r}")
    is_async = hasattr(stream, "__aiter__")
    if isinstance(stream, (str, bytes, bytearray)) or (not is_async and not hasattr(stream, "__iter__")):
        raise TypeError(f"stream must be an iterable or an async iterable, got {stream!r} ({type(stream).__name__})")
    if _is_tracker(operation):
        if getattr(operation, "active", True) is not True:
            raise ValueError(
                f"the tracker {operation!r} is not active: use it inside its "
                "`with monitor.track_operation(...)` block, or pass an operation name"
            )
        op = cast(_StreamTracker, operation)
        if metadata is not None or metadata_kwargs:
            op.metadata.update(metadata or {}, **metadata_kwargs)
        owns = False
    else:
        tracker = monitor.track_operation(operation, metadata, **metadata_kwargs)
        tracker.__enter__()
        op = cast(_StreamTracker, tracker)
        owns = True
    if is_async:
        return AsyncTrackedStream(cast(AsyncIterable[Any], stream), op, owns, count)
    return TrackedStream(cast(Iterable[Any], stream), op, owns, count)
