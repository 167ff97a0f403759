"""The ASGI apps that benchmarks/bench_asgi.py serves with uvicorn.

``RAGPERF_BENCH_ASGI_VARIANT`` picks one: ``plain`` (a FastAPI app),
``noop`` (the same app behind a pure-ASGI middleware that only passes the
call on: the floor any middleware pays), ``ragperf`` (behind
``RagperfMiddleware`` with its defaults) and ``ragperf_no_header`` (the same
with ``response_time_header=None``: what the header costs the server). ``GET /count`` answers how many requests the
ragperf monitor recorded, so the benchmark can check exact counts.
"""

from __future__ import annotations

import os
from typing import Any, Awaitable, Callable, Dict, MutableMapping

from fastapi import FastAPI

from ragperf import PerformanceMonitor
from ragperf.integrations.fastapi import RagperfMiddleware

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

VARIANTS = ("plain", "noop", "ragperf", "ragperf_no_header")


class NoopMiddleware:
    """A pure-ASGI middleware that does nothing but call the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def make_app(variant: str) -> FastAPI:
    if variant not in VARIANTS:
        raise ValueError(f"RAGPERF_BENCH_ASGI_VARIANT must be one of {VARIANTS}, got {variant!r}")
    monitor = PerformanceMonitor(enable_memory_tracking=True)
    app = FastAPI()
    if variant == "noop":
        app.add_middleware(NoopMiddleware)
    elif variant == "ragperf":
        app.add_middleware(RagperfMiddleware, monitor=monitor)
    elif variant == "ragperf_no_header":
        app.add_middleware(RagperfMiddleware, monitor=monitor, response_time_header=None)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> Dict[str, int]:
        return {"id": item_id}

    @app.get("/count")
    async def count() -> Dict[str, int]:
        return {"count": monitor.get_operation_count("http_request")}

    return app


app = make_app(os.environ.get("RAGPERF_BENCH_ASGI_VARIANT", "plain"))
