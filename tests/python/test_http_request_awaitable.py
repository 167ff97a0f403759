"""RagperfMiddleware's call is C++: ``_core._HttpTiming.serve`` returns the
app's own awaitable for non-HTTP scopes and an ``_HttpRequest`` for HTTP,
which drives the app's awaitable (send / throw / close, as a coroutine) and
records the request when that ends. These tests drive it the ways servers
and event loops do: awaited in a task, cancelled, closed, dropped, thrown
into by hand, and detected as ASGI 3 by uvicorn."""

from __future__ import annotations

import asyncio
import collections.abc
import gc
import inspect
import warnings
from typing import Any

import pytest

from ragperf import PerformanceMonitor, _core
from ragperf.integrations.fastapi import RagperfMiddleware


class Route:
    def __init__(self, path_format: str) -> None:
        self.path_format = path_format


def http_scope(**extra: Any) -> dict[str, Any]:
    return {"type": "http", "method": "".join("GET"), "path": "/x", "root_path": "", **extra}


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


class Sink:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, message: Any) -> None:
        self.sent.append(message)


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    scope["route"] = Route("/x")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def records(monitor: PerformanceMonitor) -> list[dict[str, Any]]:
    return monitor.get_recent_operations("http_request", limit=100)


def cancelled(monitor: PerformanceMonitor) -> int:
    return int(monitor.get_all_stats()["http_request"].cancelled_operations)



def test_non_http_scopes_get_the_apps_own_awaitable(monitor: PerformanceMonitor) -> None:
    made: list[Any] = []

    def app(scope: Any, receive: Any, send: Any) -> Any:
        async def run() -> None:
            pass

        made.append(run())
        return made[-1]

    mw = RagperfMiddleware(app, monitor=monitor)
    for kind in ("lifespan", "websocket"):
        awaitable = mw({"type": kind}, receive, Sink().send)
        assert awaitable is made[-1]
        asyncio.run(awaitable)
    assert records(monitor) == []


def test_an_http_request_is_a_coroutine_that_records_when_it_ends(monitor: PerformanceMonitor) -> None:
    mw = RagperfMiddleware(ok_app, monitor=monitor)
    sink = Sink()
    request = mw(http_scope(), receive, sink.send)
    assert type(request) is _core._HttpRequest
    assert asyncio.iscoroutine(request) and isinstance(request, collections.abc.Coroutine)
    assert monitor.get_operation_count("http_request") == 0  # open, not recorded

    async def serve() -> None:
        await request

    asyncio.run(serve())
    [rec] = records(monitor)
    assert rec["metadata"] == {"method": "GET", "route": "/x", "status_code": 200} and rec["success"]
    assert [m["type"] for m in sink.sent] == ["http.response.start", "http.response.body"]
    # Awaited once: a second await is an error, and records nothing more.
    with pytest.raises(RuntimeError, match="already awaited"):
        asyncio.run(serve())
    assert monitor.get_operation_count("http_request") == 1


def test_the_middleware_is_detected_as_asgi3_and_as_a_coroutine_function(monitor: PerformanceMonitor) -> None:
    uvicorn_config = pytest.importorskip("uvicorn.config")
    mw = RagperfMiddleware(ok_app, monitor=monitor)
    assert asyncio.iscoroutinefunction(mw.__call__)
    if hasattr(inspect, "markcoroutinefunction"):
        assert inspect.iscoroutinefunction(mw.__call__)
    config = uvicorn_config.Config(mw)
    config.load()
    assert config.interface == "asgi3"


def test_the_middleware_call_is_the_c_slot_and_checks_its_state(monitor: PerformanceMonitor) -> None:
    mw = RagperfMiddleware(ok_app, monitor=monitor)
    # Calls go through the C base's slot; the instance's __call__ (what
    # uvicorn inspects) is the same call.
    assert "__call__" not in RagperfMiddleware.__dict__
    assert isinstance(mw, _core._AsgiMiddleware)
    for call in (mw, mw.__call__):
        asyncio.run(call(http_scope(), receive, Sink().send))  # type: ignore[arg-type]
    assert monitor.get_operation_count("http_request") == 2
    with pytest.raises(TypeError, match="3 positional arguments"):
        mw(http_scope(), receive)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="_exchange must be a _core._HttpTiming, got 1"):
        mw._exchange = 1  # type: ignore[assignment]
    with pytest.raises(TypeError, match="app must be an ASGI app"):
        mw.app = "not callable"  # type: ignore[assignment]
    class Subclass(RagperfMiddleware):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            scope["seen_by_subclass"] = True
            await super().__call__(scope, receive, send)

    sub = Subclass(ok_app, monitor=monitor)
    scope = http_scope()
    asyncio.run(sub.__call__(scope, receive, Sink().send))
    assert scope["seen_by_subclass"] and monitor.get_operation_count("http_request") == 3
    bare = _core._AsgiMiddleware()
    with pytest.raises(TypeError, match="not initialised"):
        bare(http_scope(), receive, Sink().send)
    with pytest.raises(AttributeError):
        bare.app


def test_an_app_that_raises_at_once_or_returns_no_awaitable(monitor: PerformanceMonitor) -> None:
    def raises(scope: Any, receive: Any, send: Any) -> Any:
        raise LookupError("no such thing")

    def returns_int(scope: Any, receive: Any, send: Any) -> Any:
        return 42

    with pytest.raises(LookupError, match="no such thing"):
        RagperfMiddleware(raises, monitor=monitor)(http_scope(), receive, Sink().send)
    with pytest.raises(TypeError, match="returned 42, which cannot be awaited"):
        RagperfMiddleware(returns_int, monitor=monitor)(http_scope(), receive, Sink().send)
    failed = [(r["success"], r["error_type"], r["metadata"]["status_code"]) for r in records(monitor)]
    assert sorted(failed) == [(False, "LookupError", 500), (False, "TypeError", 500)]


def test_a_cancelled_request_counts_as_cancelled_and_cancellation_propagates(monitor: PerformanceMonitor) -> None:
    entered = asyncio.Event()
    cleaned: list[str] = []

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        try:
            entered.set()
            await asyncio.sleep(60)
        finally:
            cleaned.append("finally")

    async def main() -> None:
        nonlocal entered
        entered = asyncio.Event()
        task = asyncio.ensure_future(RagperfMiddleware(slow, monitor=monitor)(http_scope(), receive, Sink().send))
        await entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert cleaned == ["finally"]
    assert cancelled(monitor) == 1 and records(monitor) == []  # no duration


def test_close_and_an_abandoned_request(monitor: PerformanceMonitor) -> None:
    closed: list[str] = []
    fut_holder: list[asyncio.Future[None]] = []

    async def waits(scope: Any, receive: Any, send: Any) -> None:
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            closed.append("closed")

    async def main() -> None:
        mw = RagperfMiddleware(waits, monitor=monitor)
        request = mw(http_scope(), receive, Sink().send)
        yielded = request.send(None)  # suspended on the future
        assert isinstance(yielded, asyncio.Future)
        fut_holder.append(yielded)
        request.close()
        request.close()  # twice: nothing more happens
        assert closed == ["closed"]
        # Dropped without ever being awaited: the app's coroutine is closed
        # and the request counted as cancelled too.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # "never awaited"
            mw(http_scope(), receive, Sink().send)
            gc.collect()

    asyncio.run(main())
    assert cancelled(monitor) == 2 and records(monitor) == []


def test_throw_into_a_request_by_hand(monitor: PerformanceMonitor) -> None:
    async def catches(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = Route("/c")
        try:
            await asyncio.sleep(0)
        except KeyError:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    async def fails(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0)

    async def main() -> None:
        handled = RagperfMiddleware(catches, monitor=monitor)(http_scope(), receive, Sink().send)
        assert handled.send(None) is None  # sleep(0) yields None
        with pytest.raises(StopIteration):  # the app caught it and returned
            handled.throw(KeyError("k"))
        failing = RagperfMiddleware(fails, monitor=monitor)(http_scope(), receive, Sink().send)
        failing.send(None)
        with pytest.raises(ValueError, match="thrown"):
            failing.throw(ValueError("thrown"))
        with pytest.raises(ZeroDivisionError):  # after the end: raised as given
            failing.throw(ZeroDivisionError)
        with pytest.raises(TypeError, match="1 to 3 arguments"):
            failing.throw()

    asyncio.run(main())
    got = sorted((r["metadata"]["status_code"], r["success"], r["error_type"]) for r in records(monitor))
    assert got == [(204, True, None), (500, False, "ValueError")]


def test_request_memory_is_off_by_default_and_can_be_turned_on() -> None:
    monitor = PerformanceMonitor(enable_memory_tracking=True)

    async def endpoint_block(scope: Any, receive: Any, send: Any) -> None:
        with monitor.track_operation("retrieval"):
            await ok_app(scope, receive, send)

    async def main() -> None:
        await RagperfMiddleware(endpoint_block, monitor=monitor)(http_scope(), receive, Sink().send)
        await RagperfMiddleware(ok_app, monitor=monitor, track_memory=True)(http_scope(), receive, Sink().send)

    asyncio.run(main())
    default, tracked = records(monitor)
    [inner] = monitor.get_recent_operations("retrieval", limit=10)
    assert default["memory_delta_mb"] is None and tracked["memory_delta_mb"] is not None
    assert inner["memory_delta_mb"] is not None  # the endpoint's block as the monitor says
    with pytest.raises(TypeError, match="track_memory must be a bool, got 'yes'"):
        RagperfMiddleware(ok_app, monitor=monitor, track_memory="yes")  # type: ignore[arg-type]


def test_endpoint_edits_of_the_requests_metadata_are_kept(monitor: PerformanceMonitor) -> None:
    timing = _core._HttpTiming(monitor.track_operation, "http_request", None, lambda s: RuntimeError(s))
    sink = Sink()
    exchange = timing(http_scope(route=Route("/m")), sink.send)
    exchange.tracker.metadata["tenant"] = "acme"
    asyncio.run(exchange({"type": "http.response.start", "status": 201, "headers": []}))
    exchange.finish(None)
    [rec] = records(monitor)
    assert rec["metadata"] == {"method": "GET", "tenant": "acme", "route": "/m", "status_code": 201}


def test_a_monitor_overriding_track_operation_is_called(monitor: PerformanceMonitor) -> None:
    calls: list[Any] = []

    class Counting(PerformanceMonitor):
        def track_operation(self, operation: Any, metadata: Any = None, **kwargs: Any) -> Any:
            calls.append((operation, kwargs))
            return super().track_operation(operation, metadata, **kwargs)

    counting = Counting(enable_memory_tracking=False)
    asyncio.run(RagperfMiddleware(ok_app, monitor=counting)(http_scope(), receive, Sink().send))
    assert calls == [("http_request", {"method": "GET"})]
    [rec] = counting.get_recent_operations("http_request", limit=5)
    assert rec["metadata"] == {"method": "GET", "route": "/x", "status_code": 200}


def test_serve_checks_its_arguments(monitor: PerformanceMonitor) -> None:
    timing = _core._HttpTiming(monitor.track_operation, "http_request", None, lambda s: RuntimeError(s))
    with pytest.raises(TypeError, match="4 positional arguments"):
        timing.serve(ok_app, http_scope())  # type: ignore[call-arg]
    with pytest.raises(KeyError, match="type"):
        timing.serve(ok_app, {}, receive, Sink().send)
    assert records(monitor) == []


def test_the_request_cannot_be_resumed_or_closed_from_inside_the_app(monitor: PerformanceMonitor) -> None:
    holder: list[Any] = []
    errors: list[str] = []

    async def reentrant(scope: Any, receive: Any, send: Any) -> None:
        for call in (lambda: holder[0].close(), lambda: holder[0].send(None), lambda: holder[0].throw(KeyError)):
            try:
                call()
            except ValueError as e:
                errors.append(str(e))
        await ok_app(scope, receive, send)

    async def main() -> None:
        holder.append(RagperfMiddleware(reentrant, monitor=monitor)(http_scope(), receive, Sink().send))
        await holder[0]

    asyncio.run(main())
    assert errors == ["HTTP request already executing"] * 3
    [rec] = records(monitor)
    assert rec["success"] and rec["metadata"]["status_code"] == 200
