"""ragperf.integrations.fastapi.RagperfMiddleware with a real FastAPI app
and its TestClient: one http_request per request with the route template
and status, 5xx and exceptions as failures, X-Response-Time, streamed
bodies timed to their end, and the endpoint's own blocks nested under the
request."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi import APIRouter, FastAPI, HTTPException  # noqa: E402
from fastapi.responses import StreamingResponse  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from ragperf import PerformanceMonitor  # noqa: E402
from ragperf.integrations.fastapi import RagperfMiddleware  # noqa: E402

STREAM_PAUSE_S = 0.05


def make_app(monitor: PerformanceMonitor, **options: Any) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RagperfMiddleware, monitor=monitor, **options)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        with monitor.track_operation("document_retrieval"):
            await asyncio.sleep(0)
        return {"id": item_id}

    @app.get("/sync/{name}")
    def sync_endpoint(name: str) -> dict[str, str]:  # runs in a worker thread
        with monitor.track_operation("llm_inference") as op:
            op.tokens = 7
        return {"name": name}

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(status_code=404, detail="nope")

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise HTTPException(status_code=503, detail="busy")

    @app.get("/boom")
    async def boom() -> None:
        raise ZeroDivisionError("bad math")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for i in range(3):
                await asyncio.sleep(STREAM_PAUSE_S)
                yield f"chunk{i}\n".encode()

        return StreamingResponse(body(), media_type="text/plain")

    router = APIRouter(prefix="/v1")

    @router.get("/docs/{doc_id}/pages/{page}")
    async def page(doc_id: str, page: int) -> dict[str, Any]:
        return {"doc": doc_id, "page": page}

    app.include_router(router)
    sub = FastAPI()

    @sub.get("/health/{probe}")
    async def health(probe: str) -> dict[str, str]:
        return {"probe": probe}

    app.mount("/admin", sub)
    return app



@pytest.fixture
def client(monitor: PerformanceMonitor) -> Iterator[TestClient]:
    with TestClient(make_app(monitor), raise_server_exceptions=False) as c:
        yield c


def _records(monitor: PerformanceMonitor) -> list[dict[str, Any]]:
    return monitor.get_recent_operations("http_request", limit=100)


def test_route_templates_status_and_header(monitor: PerformanceMonitor, client: TestClient) -> None:
    for i in range(3):
        r = client.get(f"/items/{i}")
        assert r.status_code == 200 and r.json() == {"id": i}
        assert re.fullmatch(r"\d+\.\d{3}ms", r.headers["x-response-time"])
    assert client.get("/v1/docs/abc/pages/2").json() == {"doc": "abc", "page": 2}
    assert client.get("/admin/health/db").json() == {"probe": "db"}
    assert client.get("/nowhere").status_code == 404
    s = monitor.get_operation_stats("http_request")
    assert (s.total_operations, s.failed_operations) == (6, 0)
    routes = [(r["metadata"]["method"], r["metadata"]["route"], r["metadata"]["status_code"]) for r in _records(monitor)]
    assert sorted(routes, key=str) == sorted(
        [("GET", "/items/{item_id}", 200)] * 3
        + [
            ("GET", "/v1/docs/{doc_id}/pages/{page}", 200),
            ("GET", "/admin/health/{probe}", 200),
            ("GET", None, 404),  # no route matched: no raw path recorded
        ],
        key=str,
    )
    assert all("path" not in r["metadata"] for r in _records(monitor))


def test_endpoint_blocks_nest_under_the_request(monitor: PerformanceMonitor, client: TestClient) -> None:
    client.get("/items/5")
    client.get("/sync/x")
    traces = monitor.get_recent_traces(2)
    assert [(t["operation"], [c["operation"] for c in t["children"]]) for t in traces] == [
        ("http_request", ["document_retrieval"]),
        ("http_request", ["llm_inference"]),
    ]
    assert traces[1]["children"][0]["tokens"] == 7


def test_server_errors_and_exceptions_are_failures(monitor: PerformanceMonitor, client: TestClient) -> None:
    assert client.get("/missing").status_code == 404  # a client error is not a failure of ours
    assert client.get("/unavailable").status_code == 503
    assert client.get("/boom").status_code == 500
    s = monitor.get_operation_stats("http_request")
    assert (s.total_operations, s.failed_operations) == (3, 2)
    assert dict(s.errors_by_type) == {"HTTP503": 1, "ZeroDivisionError": 1}
    by_route = {r["metadata"]["route"]: r for r in _records(monitor)}
    assert by_route["/unavailable"]["metadata"]["status_code"] == 503
    assert by_route["/boom"]["error_type"] == "ZeroDivisionError"
    assert by_route["/boom"]["metadata"]["status_code"] == 500
    assert by_route["/missing"]["success"] is True


def test_streaming_response_is_timed_until_the_body_ends(monitor: PerformanceMonitor, client: TestClient) -> None:
    started = time.perf_counter()
    r = client.get("/stream")
    elapsed = time.perf_counter() - started
    assert r.text == "chunk0\nchunk1\nchunk2\n"
    rec = _records(monitor)[0]
    assert rec["metadata"]["route"] == "/stream"
    # three pauses happen inside the body: the operation covers them all
    assert 3 * STREAM_PAUSE_S <= rec["duration_s"] <= elapsed
    # the header is sent with the first byte, before the body's pauses
    assert float(r.headers["x-response-time"].removesuffix("ms")) / 1e3 <= rec["duration_s"]


def test_options_and_bad_arguments(monitor: PerformanceMonitor) -> None:
    app = make_app(monitor, operation="api_call", response_time_header=None)
    with TestClient(app) as c:
        assert "x-response-time" not in c.get("/items/1").headers
    assert monitor.get_operation_count("api_call") == 1
    with pytest.raises(TypeError, match="ASGI app"):
        RagperfMiddleware("app")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="monitor must be"):
        RagperfMiddleware(make_app(monitor), monitor=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="response_time_header"):
        RagperfMiddleware(make_app(monitor), monitor=monitor, response_time_header=" ")


def test_non_http_scopes_pass_through(monitor: PerformanceMonitor) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(RagperfMiddleware(app, monitor=monitor)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"] and monitor.get_operation_count() == 0
