"""ragperf.integrations.openai with the real ``openai`` SDK (sync and async)
against a local OpenAI-compatible server (tests/python/_openai_server.py)
on 127.0.0.1: HTTP/1.1, chunked SSE, usage in the last chunk, a dated
response model, an error mid-stream.

What a user would check: the chunks are the plain SDK's, every way of
closing a stream closes its HTTP response (the server sees the client go
and stops generating; a 2-connection pool is not exhausted), nothing stays
in flight, tokens equal the server's usage, and the cost is the requested
model's price.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from _openai_server import DATED_MODELS, OpenAIServer  # noqa: E402

from ragperf import PerformanceMonitor  # noqa: E402
from ragperf.integrations.openai import instrument  # noqa: E402

MODEL = "gpt-4o-mini"
DATED = DATED_MODELS[MODEL]
MESSAGES = [{"role": "user", "content": "What does RAG stand for?"}]
PRICE = (0.15, 0.60)  # USD per 1M tokens, set for the requested model only
SLOW = {"chunks": [f"w{i} " for i in range(40)], "delay_s": 0.05}  # 2 s per stream

# The HTTP library the installed SDK uses (httpx, or httpx2 for openai>=3).
_http = sys.modules[openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0]]


def _limits(n: int) -> Any:
    return _http.Limits(max_connections=n, max_keepalive_connections=n)


_open_clients: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _open_clients:
        _open_clients.pop().close()  # the keep-alive connections


def make_client(server: OpenAIServer, connections: int = 2, timeout: float = 5.0) -> Any:
    """A sync client with a pool of ``connections``, closed after the test."""
    client = openai.OpenAI(
        base_url=server.url,
        api_key="test-key",
        max_retries=0,
        timeout=timeout,
        http_client=openai.DefaultHttpxClient(limits=_limits(connections)),
    )
    _open_clients.append(client)
    return client


def make_async_client(server: OpenAIServer, connections: int = 2, timeout: float = 5.0) -> Any:
    """An async client; ``await client.close()`` it in its event loop."""
    return openai.AsyncOpenAI(
        base_url=server.url,
        api_key="test-key",
        max_retries=0,
        timeout=timeout,
        http_client=openai.DefaultAsyncHttpxClient(limits=_limits(connections)),
    )


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


@pytest.fixture
def monitor() -> PerformanceMonitor:
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.set_model_prices({MODEL: PRICE})
    return m


def _cost(usage: dict[str, int]) -> float:
    return (usage["prompt_tokens"] * PRICE[0] + usage["completion_tokens"] * PRICE[1]) / 1e6


def _comparable(chunk: Any) -> dict[str, Any]:
    d: dict[str, Any] = chunk.model_dump()
    d.pop("id"), d.pop("created")  # per request
    return d


def _only_record(monitor: PerformanceMonitor, operation: str = "llm_inference") -> dict[str, Any]:
    recs = monitor.get_recent_operations(operation)
    assert len(recs) == 1, recs
    return recs[0]


# ------------------------------------------------------------ full streams


def test_stream_chunks_tokens_model_and_cost_match_the_plain_sdk(server: OpenAIServer, monitor: PerformanceMonitor) -> None:
    plain, tracked = make_client(server), make_client(server)
    instrument(tracked, monitor)
    kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "stream": True,
                              "stream_options": {"include_usage": True}}
    reference = [_comparable(c) for c in plain.chat.completions.create(**kwargs)]
    stream = tracked.chat.completions.create(**kwargs)
    assert isinstance(stream.response, _http.Response)  # the SDK stream's attributes still work
    got = [_comparable(c) for c in stream]
    assert got == reference and got[-1]["usage"] is not None
    assert stream.response.is_closed
    assert server.wait_done() and all(e.completed for e in server.exchanges)

    usage = server.exchanges[1].usage
    assert usage is not None
    rec = _only_record(monitor)
    assert (rec["prompt_tokens"], rec["completion_tokens"], rec["tokens"]) == (
        usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"])
    assert (rec["model"], rec["response_model"]) == (MODEL, DATED)
    assert rec["cost_usd"] == pytest.approx(_cost(usage))
    assert rec["metadata"]["provider"] == "openai" and rec["metadata"]["stream_status"] == "completed"
    assert rec["success"] is True and rec["time_to_first_token_s"] is not None
    assert monitor.get_in_flight_operations() == {}
    models = monitor.get_model_stats()
    assert list(models) == [MODEL] and models[MODEL]["response_models"] == [DATED]
    assert models[MODEL]["cost_usd"] == pytest.approx(_cost(usage))
    node = monitor.get_recent_traces(1)[0]
    assert (node["model"], node["response_model"], node["status"]) == (MODEL, DATED, "ok")
    report = monitor.generate_report()
    assert report["models"][MODEL]["response_models"] == [DATED]


def test_non_stream_call_and_embeddings(server: OpenAIServer, monitor: PerformanceMonitor) -> None:
    plain, tracked = make_client(server), make_client(server)
    instrument(tracked, monitor)
    reply = tracked.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert reply.choices[0].message.content == "".join(server.chunks) and reply.model == DATED
    usage = server.exchanges[0].usage
    assert usage is not None
    rec = _only_record(monitor)
    assert (rec["model"], rec["response_model"], rec["tokens"]) == (MODEL, DATED, usage["total_tokens"])
    assert rec["cost_usd"] == pytest.approx(_cost(usage))

    texts = ["retrieval", "augmented generation"]
    vectors = tracked.embeddings.create(model="text-embedding-3-small", input=texts)
    reference = plain.embeddings.create(model="text-embedding-3-small", input=texts)
    assert [d.embedding for d in vectors.data] == [d.embedding for d in reference.data]
    emb = _only_record(monitor, "embedding_generation")
    assert emb["prompt_tokens"] == server.exchanges[1].usage["prompt_tokens"]  # type: ignore[index]
    assert emb["model"] == "text-embedding-3-small" and emb["metadata"]["provider"] == "openai"


# ------------------------------------------------------------ close paths


def _assert_closed_early(server: OpenAIServer, monitor: PerformanceMonitor, response: Any) -> None:
    """The HTTP response is closed, the server saw the client leave before
    the end, and the operation ended as abandoned (a success, not in flight)."""
    assert response.is_closed
    assert server.wait_done(5)
    exchange = server.exchanges[-1]
    assert exchange.client_closed and not exchange.completed
    assert exchange.chunks_sent < exchange.chunks_total
    assert monitor.get_in_flight_operations() == {}
    rec = monitor.get_recent_operations("llm_inference")[-1]
    assert rec["metadata"]["stream_status"] == "abandoned" and rec["success"] is True
    assert (rec["model"], rec["response_model"]) == (MODEL, DATED)
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.failed_operations, stats.cancelled_operations) == (0, 0)


@pytest.mark.parametrize("path", ["close", "with_break", "helper_stream_break"])
def test_every_sync_close_path_closes_the_http_response(path: str, monitor: PerformanceMonitor) -> None:
    with OpenAIServer(**SLOW) as server:  # type: ignore[arg-type]
        client = make_client(server)
        instrument(client, monitor)
        if path == "close":
            stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            next(iter(stream))
            stream.close()
            response = stream.response
        elif path == "with_break":
            with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
                for _ in stream:
                    break
            response = stream.response
        else:
            with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as helper:
                for event in helper:
                    if event.type == "content.delta":
                        break
            response = helper._response  # the helper keeps the SDK stream's response here
        _assert_closed_early(server, monitor, response)


@pytest.mark.parametrize("path", ["aclose", "await_close", "async_with_break", "helper_stream_break"])
def test_every_async_close_path_closes_the_http_response(path: str, monitor: PerformanceMonitor) -> None:
    async def run(server: OpenAIServer) -> Any:
        client = make_async_client(server)
        instrument(client, monitor)
        async with client:
            if path == "helper_stream_break":
                async with client.chat.completions.stream(model=MODEL, messages=MESSAGES) as helper:
                    async for event in helper:
                        if event.type == "content.delta":
                            break
                return helper._response
            stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            if path == "async_with_break":
                async with stream:
                    async for _ in stream:
                        break
            else:
                await stream.__anext__()
                await (stream.aclose() if path == "aclose" else stream.close())
            return stream.response

    with OpenAIServer(**SLOW) as server:  # type: ignore[arg-type]
        response = asyncio.run(run(server))
        _assert_closed_early(server, monitor, response)


def _abandon_streams(client: Any, n: int) -> list[Any]:
    kept = []  # the streams stay referenced: only closing may free a connection
    for _ in range(n):
        with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream:
            for _ in stream:
                break
        kept.append(stream)
    return kept


def test_abandoned_streams_do_not_exhaust_a_two_connection_pool(monitor: PerformanceMonitor) -> None:
    with OpenAIServer(**SLOW) as server:  # type: ignore[arg-type]
        # The plain SDK, as the reference: 4 abandoned streams on 2 connections.
        assert len(_abandon_streams(make_client(server, connections=2, timeout=1.5), 4)) == 4
        tracked = make_client(server, connections=2, timeout=1.5)
        instrument(tracked, monitor)
        kept = _abandon_streams(tracked, 4)  # an exhausted pool: APITimeoutError on the third
        assert all(s.response.is_closed for s in kept)
        assert server.wait_done(5)
        assert [e.client_closed for e in server.exchanges] == [True] * 8
        assert monitor.get_in_flight_operations() == {}
        assert monitor.get_operation_stats("llm_inference").total_operations == 4


def test_async_abandoned_streams_do_not_exhaust_the_pool(monitor: PerformanceMonitor) -> None:
    async def run(server: OpenAIServer) -> int:
        async with make_async_client(server, connections=2, timeout=1.5) as client:
            instrument(client, monitor)
            kept = []
            for _ in range(4):
                stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
                async with stream:
                    async for _ in stream:
                        break
                kept.append(stream)
            return sum(s.response.is_closed for s in kept)

    with OpenAIServer(**SLOW) as server:  # type: ignore[arg-type]
        assert asyncio.run(run(server)) == 4
        assert server.wait_done(5) and all(e.client_closed for e in server.exchanges)
        assert monitor.get_in_flight_operations() == {}


# ------------------------------------------------------- errors, cancelling


def test_error_mid_stream_is_a_failure_and_closes_the_response(monitor: PerformanceMonitor) -> None:
    with OpenAIServer(fail_after=2) as server:
        plain, tracked = make_client(server), make_client(server)
        instrument(tracked, monitor)
        kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "stream": True}

        def consume(client: Any) -> tuple[list[dict[str, Any]], BaseException, Any]:
            got = []
            stream = client.chat.completions.create(**kwargs)
            with pytest.raises(openai.APIError) as caught:
                for chunk in stream:
                    got.append(_comparable(chunk))
            return got, caught.value, stream.response

        reference, ref_error, _ = consume(plain)
        got, error, response = consume(tracked)
        assert got == reference and len(got) == 3  # role + 2 content chunks
        assert type(error) is type(ref_error) and str(error) == str(ref_error)
        assert response.is_closed
        rec = _only_record(monitor)
        assert rec["success"] is False and rec["error_type"] == type(error).__name__
        assert rec["metadata"]["stream_status"] == "error"
        assert monitor.get_in_flight_operations() == {}


def test_cancelled_task_is_cancelled_in_stats_and_traces_not_failed(monitor: PerformanceMonitor) -> None:
    async def run(server: OpenAIServer) -> Any:
        client = make_async_client(server)
        instrument(client, monitor)
        started = asyncio.Event()
        holder: dict[str, Any] = {}
        await client.__aenter__()

        async def consume() -> None:
            stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            holder["stream"] = stream
            async with stream:
                async for _ in stream:
                    started.set()

        task = asyncio.create_task(consume())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.close()
        return holder["stream"].response

    with OpenAIServer(**SLOW) as server:  # type: ignore[arg-type]
        response = asyncio.run(run(server))
        assert response.is_closed and server.wait_done(5) and server.exchanges[0].client_closed
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.cancelled_operations, stats.failed_operations, stats.total_operations) == (1, 0, 0)
    assert monitor.get_in_flight_operations() == {}
    node = monitor.get_recent_traces(1)[0]
    assert node["status"] == "cancelled" and node["cancelled"] is True
    assert node["success"] is None and node["error_type"] is None
    assert node["cancelled_by"] == "CancelledError"
    assert node["metadata"]["stream_status"] == "cancelled"
