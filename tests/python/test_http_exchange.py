"""The per-request work of RagperfMiddleware in C++ (_core._HttpTiming and
_core._HttpExchange), driven as an ASGI server drives a middleware: the app's
messages are left as they were, the server's awaitable is passed through,
cancellation and late exceptions are recorded right, bad arguments raise
clear errors and nothing is kept alive after a request."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Iterator

import pytest

from ragperf import PerformanceMonitor, _core
from ragperf.integrations.fastapi import RagperfMiddleware


class Route:
    def __init__(self, path_format: str) -> None:
        self.path_format = path_format


def scope_for(method: str = "GET", **extra: Any) -> dict[str, Any]:
    # A server makes a new str per request: "".join gives one too.
    return {"type": "http", "method": "".join(method), "path": "/x", "root_path": "", **extra}


class Server:
    """Collects what the middleware sends; send() returns a coroutine, as
    uvicorn's does."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, message: Any) -> None:
        self.sent.append(message)

    async def receive(self) -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}


def run(mw: RagperfMiddleware, scope: dict[str, Any], server: Server) -> None:
    asyncio.run(mw(scope, server.receive, server.send))


def records(monitor: PerformanceMonitor) -> list[dict[str, Any]]:
    return monitor.get_recent_operations("http_request", limit=1000)



def test_the_apps_messages_are_left_as_they_were(monitor: PerformanceMonitor) -> None:
    headers = [(b"content-type", b"text/plain")]
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    body = {"type": "http.response.body", "body": b"ok"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = Route("/x")
        await send(start)
        await send(body)

    server = Server()
    run(RagperfMiddleware(app, monitor=monitor), scope_for(), server)
    assert start == {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
    assert server.sent[0] is not start and server.sent[1] is body
    sent_headers = server.sent[0]["headers"]
    assert sent_headers[0] == (b"content-type", b"text/plain")
    assert sent_headers[1][0] == b"x-response-time" and sent_headers[1][1].endswith(b"ms")
    assert len(sent_headers) == 2 and list(server.sent[0]) == ["type", "status", "headers"]
    assert records(monitor)[0]["metadata"] == {"method": "GET", "route": "/x", "status_code": 200}


def test_messages_that_are_not_dicts_and_starts_without_headers(monitor: PerformanceMonitor) -> None:
    class Message(Mapping[str, Any]):
        def __init__(self, **items: Any) -> None:
            self.items_ = items

        def __getitem__(self, key: str) -> Any:
            return self.items_[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self.items_)

        def __len__(self) -> int:
            return len(self.items_)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(Message(type="http.response.start", status=201))
        await send(MappingProxyType({"type": "http.response.body", "body": b""}))

    server = Server()
    run(RagperfMiddleware(app, monitor=monitor), scope_for("POST"), server)
    assert server.sent[0]["status"] == 201 and server.sent[0]["headers"][0][0] == b"x-response-time"
    assert records(monitor)[0]["metadata"] == {"method": "POST", "route": None, "status_code": 201}


def test_send_returns_the_servers_awaitable_and_errors_name_the_message(monitor: PerformanceMonitor) -> None:
    marker = object()
    timing = _core._HttpTiming(monitor.track_operation, "http_request", None, lambda status: RuntimeError(status))
    exchange = timing(scope_for(), lambda message: marker)
    assert exchange({"type": "http.response.body"}) is marker
    with pytest.raises(KeyError, match="type"):
        exchange({"status": 200})
    with pytest.raises(KeyError, match="status"):
        exchange({"type": "http.response.start"})
    with pytest.raises(TypeError, match="1 positional argument"):
        exchange()
    assert exchange.tracker.active
    exchange.finish(None)
    assert not exchange.tracker.active and exchange.tracker.success
    with pytest.raises(RuntimeError, match="finished already"):
        exchange.finish(None)


def test_bad_arguments_raise_clear_errors(monitor: PerformanceMonitor) -> None:
    track = monitor.track_operation
    with pytest.raises(TypeError, match="callable"):
        _core._HttpTiming("track", "http_request", None, RuntimeError)
    with pytest.raises(TypeError, match="operation must be a str"):
        _core._HttpTiming(track, 3, None, RuntimeError)
    with pytest.raises(TypeError, match="header must be bytes or None"):
        _core._HttpTiming(track, "http_request", "x-response-time", RuntimeError)
    timing = _core._HttpTiming(track, "http_request", None, RuntimeError)
    with pytest.raises(TypeError, match="scope, send"):
        timing(scope_for())
    exchange = timing(scope_for(), Server().send)
    with pytest.raises(TypeError, match="exception instance or None, got 'boom'"):
        exchange.finish("boom")
    exchange.finish(None)  # the bad call did not finish it
    with pytest.raises(TypeError, match="must return an exception"):
        bad = _core._HttpTiming(track, "http_request", None, lambda status: "not an exception")
        ex = bad(scope_for(), lambda message: None)
        ex({"type": "http.response.start", "status": 502})
        ex.finish(None)
    assert not ex.tracker.active and ex.tracker.success is False  # the block was still recorded


def test_cancellation_and_late_exceptions(monitor: PerformanceMonitor) -> None:
    async def cancelled(scope: Any, receive: Any, send: Any) -> None:
        raise asyncio.CancelledError

    async def late(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ValueError("after the headers")

    with pytest.raises(asyncio.CancelledError):
        run(RagperfMiddleware(cancelled, monitor=monitor), scope_for(), Server())
    with pytest.raises(ValueError):
        run(RagperfMiddleware(late, monitor=monitor), scope_for(), Server())
    s = monitor.get_operation_stats("http_request")
    assert (s.total_operations, s.failed_operations, s.cancelled_operations) == (1, 1, 1)
    rec = records(monitor)[0]
    assert rec["error_type"] == "ValueError" and rec["metadata"]["status_code"] == 200


def test_status_codes_of_any_int_kind(monitor: PerformanceMonitor) -> None:
    def app_sending(status: Any) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": status})

        return app

    for status in (HTTPStatus.SERVICE_UNAVAILABLE, 599, 200, 1000):
        run(RagperfMiddleware(app_sending(status), monitor=monitor), scope_for(), Server())
    s = monitor.get_operation_stats("http_request")
    assert (s.total_operations, s.failed_operations) == (4, 3)
    assert dict(s.errors_by_type) == {"HTTP503": 1, "HTTP599": 1, "HTTP1000": 1}
    assert sorted(r["metadata"]["status_code"] for r in records(monitor)) == [200, 503, 599, 1000]


def test_same_values_are_handed_over_as_one_object(monitor: PerformanceMonitor) -> None:
    timing = _core._HttpTiming(monitor.track_operation, "http_request", None, RuntimeError)
    seen = []
    for _ in range(2):
        scope = scope_for("GET", route=Route("/items/{item_id}"))
        exchange = timing(scope, lambda message: None)
        exchange({"type": "http.response.start", "status": int("404")})  # a new int object
        exchange.finish(None)
        seen.append(exchange.tracker.metadata)
    assert seen[0] == seen[1] == {"method": "GET", "route": "/items/{item_id}", "status_code": 404}
    assert seen[0]["method"] is seen[1]["method"] and seen[0]["status_code"] is seen[1]["status_code"]
    other = timing(scope_for("BREW"), lambda message: None)  # not a standard method: kept as given
    other.finish(None)
    assert other.tracker.metadata == {"method": "BREW", "route": None, "status_code": None}


def test_mounts_with_many_prefixes_keep_their_routes(monitor: PerformanceMonitor) -> None:
    timing = _core._HttpTiming(monitor.track_operation, "http_request", None, RuntimeError)
    for i in range(1100):  # more prefixes than the joined-route table keeps
        scope = scope_for(root_path="/api", route=Route("/health"))

        async def send(message: Any) -> None:
            pass

        exchange = timing(scope, send)
        scope["root_path"] = f"/api/t{i}"  # what a mount with a path parameter does
        exchange.finish(None)
        assert exchange.tracker.metadata["route"] == f"/t{i}/health"


def test_nothing_outlives_the_request(monitor: PerformanceMonitor) -> None:
    class Scope(dict):  # type: ignore[type-arg]  # a dict subclass can be weakly referenced
        pass

    class Send:
        async def __call__(self, message: Any) -> None:
            pass

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = Route("/x")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    mw = RagperfMiddleware(app, monitor=monitor)
    refs = []
    for _ in range(50):
        scope, send = Scope(scope_for()), Send()
        refs.append((weakref.ref(scope), weakref.ref(send)))
        asyncio.run(mw(scope, Server().receive, send))
        del scope, send
    # Freed by reference counting alone: no cycle, no leaked reference.
    assert all(s() is None and f() is None for s, f in refs)
    assert monitor.get_operation_count("http_request") == 50
