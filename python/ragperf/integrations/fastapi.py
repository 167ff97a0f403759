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

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

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


def _http_failure(status: object) -> BaseException:
    """The exception a 5xx response fails its request with: ``HTTP503``..."""
    return error_class(f"HTTP{status}")(f"HTTP {status} response")


class RagperfMiddleware:
    """Times each HTTP request as an ``http_request`` operation with its
    route template and status code, and adds ``X-Response-Time`` (see the
    module docstring).

    Args:
        app: the ASGI app to wrap (given by ``app.add_middleware``).
        monitor: where to record (default: the process-wide monitor).
        operation: the operation name (default ``"http_request"``).
        response_time_header: the header to add (None: add none).

    Raises:
        TypeError: ``app`` is not callable, ``monitor`` is not a monitor, or
            ``response_time_header`` is not a str or None.
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
    ) -> None:
        if not callable(app):
            raise TypeError(f"app must be an ASGI app (a callable), got {app!r}")
        self.app = app
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
        self._exchange = _core._HttpTiming(self._track, self.operation, self._header, _http_failure)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The per-request work is C++ (_core._HttpTiming): the request's
        # block, entered here in the request's own context (blocks the
        # endpoint opens nest under it), and the send() the app is given.
        exchange = self._exchange(scope, send)
        try:
            await self.app(scope, receive, exchange)
        except BaseException as e:
            exchange.finish(e)
            raise
        exchange.finish(None)
