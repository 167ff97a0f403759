"""ASGI middleware timing every HTTP request: ``RagperfMiddleware``.

A pure ASGI middleware (no framework import): it works with FastAPI,
Starlette and any other ASGI app. Every HTTP request becomes one
``http_request`` operation:

* duration: from the request reaching the middleware until the app has sent
  the last body chunk (for a ``StreamingResponse``, until the stream ends);
* metadata: ``method``, ``route`` (the route template such as
  ``"/items/{item_id}"``, taken from FastAPI's routing after it ran, with a
  mount's prefix in front; None when no route matched, e.g. a 404) and
  ``status_code``; the raw path is not recorded (unbounded, may hold data);
* failures: a 5xx response counts as failed under the type ``HTTP<status>``
  (e.g. ``HTTP503``); an exception escaping the app counts under its own type
  (``status_code`` 500 unless a response had started) and is re-raised
  unchanged;
* the response gets a header ``X-Response-Time`` (name settable, None for
  none): the time until the response *headers* were sent, in milliseconds
  with three decimals and the unit, e.g. ``X-Response-Time: 12.345ms``. For a
  streamed body that is the time to the first byte; the operation's duration
  covers the whole body.
* memory: the request's own operation records no RSS change unless
  ``track_memory=True``. Requests served concurrently on one event loop share
  one process RSS, so a request's delta mostly measures the requests around
  it, and the two ``/proc`` reads were the largest part of what the
  middleware cost a request. Operations tracked inside the endpoint record
  memory as the monitor is configured.

Operations tracked inside the endpoint (retrieval, LLM calls...) nest under
the request's operation, so ``monitor.get_recent_traces()`` shows each
request's tree. WebSocket and lifespan traffic passes through untouched.
With several worker processes (gunicorn/uvicorn ``--workers``) see
``RAGPERF_MULTIPROC_DIR`` in docs/export.md.

Example:
    >>> from fastapi import FastAPI                                     # doctest: +SKIP
    >>> from ragperf.integrations.fastapi import RagperfMiddleware     # doctest: +SKIP
    >>> app = FastAPI()                                                 # doctest: +SKIP
    >>> app.add_middleware(RagperfMiddleware, monitor=monitor)          # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import collections.abc
import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

from .. import _core
from ._spans import error_class, resolve_monitor

if TYPE_CHECKING:
    from ..monitor import Operation, PerformanceMonitor

__all__ = ["RagperfMiddleware", "HTTP_REQUEST"]

#: The operation every request is recorded as (unless told otherwise).
HTTP_REQUEST = "http_request"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


_F = TypeVar("_F", bound=Callable[..., Any])

# _core's awaitable of one request implements send/throw/close/__await__:
# asyncio (create_task, iscoroutine) and anyio accept it as a coroutine.
collections.abc.Coroutine.register(_core._HttpRequest)


def _marked_coroutine_function(func: _F) -> _F:
    """Marks ``func`` (a plain function returning an awaitable) as a coroutine
    function for ``inspect``/``asyncio.iscoroutinefunction``: uvicorn picks
    ASGI 3 for an app whose ``__call__`` is one."""
    if hasattr(inspect, "markcoroutinefunction"):  # Python 3.12+
        return inspect.markcoroutinefunction(func)  # type: ignore[no-any-return]
    func._is_coroutine = asyncio.coroutines._is_coroutine  # type: ignore[attr-defined]
    return func


def _http_failure(status: object) -> BaseException:
    """The exception a 5xx response fails its request with: ``HTTP503``..."""
    return error_class(f"HTTP{status}")(f"HTTP {status} response")


class RagperfMiddleware(_core._AsgiMiddleware):
    """Times each HTTP request as an ``http_request`` operation with its
    route template and status code, and adds ``X-Response-Time`` (see the
    module docstring).

    Args:
        app: the ASGI app to wrap (given by ``app.add_middleware``).
        monitor: where to record (default: the process-wide monitor).
        operation: the operation name (default ``"http_request"``).
        response_time_header: the header to add (None: add none).
        track_memory: also record each request's RSS change (default False:
            see the module docstring).

    Raises:
        TypeError: ``app`` is not callable, ``monitor`` is not a monitor,
            ``response_time_header`` is not a str or None, or
            ``track_memory`` is not a bool.
        ValueError: ``operation`` or ``response_time_header`` is empty.

    Example:
        >>> app.add_middleware(RagperfMiddleware, monitor=monitor)    # doctest: +SKIP
        >>> TestClient(app).get("/items/3").headers["x-response-time"]  # doctest: +SKIP
        '0.912ms'
    """

    def __init__(
        self,
        app: ASGIApp,
        monitor: PerformanceMonitor | None = None,
        *,
        operation: Operation = HTTP_REQUEST,
        response_time_header: str | None = "X-Response-Time",
        track_memory: bool = False,
    ) -> None:
        self.app = app  # the base's slot: TypeError naming a non-callable app
        self.monitor = resolve_monitor(monitor)
        self._track = self.monitor.track_operation
        from .._validate import operation_name

        self.operation = operation_name(operation)
        if response_time_header is not None:
            if not isinstance(response_time_header, str):
                raise TypeError(f"response_time_header must be a str or None, got {response_time_header!r}")
            if not response_time_header.strip():
                raise ValueError(f"response_time_header must not be empty, got {response_time_header!r}")
            self._header: bytes | None = response_time_header.strip().lower().encode("latin-1")
        else:
            self._header = None
        if not isinstance(track_memory, bool):
            raise TypeError(f"track_memory must be a bool, got {track_memory!r}")
        self.track_memory = track_memory
        self._exchange = _core._HttpTiming(
            self._track, self.operation, self._header, _http_failure, read_memory=track_memory
        )

        # Calls go through the base class's C slot (no Python frame; see
        # cpp/bindings/asgi_middleware_type.cpp). uvicorn tells ASGI 3 from
        # ASGI 2 by getattr(app, "__call__"): the instance answers with the
        # same call, marked as a coroutine function (unless a subclass
        # defines its own __call__, which then answers for itself).
        if type(self).__call__ is _core._AsgiMiddleware.__call__:
            self.__dict__["__call__"] = self._asgi3_call

    @_marked_coroutine_function
    def _asgi3_call(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The middleware's call (what ``getattr(middleware, "__call__")``
        answers): for an HTTP request, the block is entered in the caller's
        context (blocks the endpoint opens nest under it) and the awaitable
        returned awaits the app and records the request when it ends (C++,
        http_exchange.h); other scopes get the app's own awaitable.

        Example:
            >>> await middleware(scope, receive, send)  # doctest: +SKIP
        """
        return _core._AsgiMiddleware.__call__(self, scope, receive, send)
