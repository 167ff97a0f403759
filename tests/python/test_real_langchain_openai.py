"""ragperf.integrations.langchain with the real ``langchain_openai``
(``ChatOpenAI``, ``OpenAIEmbeddings``) against a local OpenAI-compatible
server (tests/python/_openai_server.py) on 127.0.0.1.

What a user would check: the answer and the streamed chunks are those of
an uninstrumented model, the model is the one asked for (its price
applies) with the dated response model beside it, tokens equal the
server's usage, a stream left early is cancelled (not failed) and its HTTP
response closed, and no run stays open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("langchain_openai")
openai = pytest.importorskip("openai")

from _openai_server import DATED_MODELS, OpenAIServer  # noqa: E402
from langchain_openai import ChatOpenAI, OpenAIEmbeddings  # noqa: E402

from ragperf import PerformanceMonitor  # noqa: E402
from ragperf.integrations.langchain import RagperfCallbackHandler, instrument_embeddings  # noqa: E402

MODEL = "gpt-4o-mini"
DATED = DATED_MODELS[MODEL]
PRICE = (0.15, 0.60)
QUESTION = "What does RAG stand for?"


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


@pytest.fixture
def monitor() -> PerformanceMonitor:
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.set_model_prices({MODEL: PRICE})
    return m


_http_clients: list[Any] = []


@pytest.fixture(autouse=True)
def _close_http_clients() -> Iterator[None]:
    yield
    while _http_clients:
        _http_clients.pop().close()  # the keep-alive connections


def _http_client() -> Any:
    client = openai.DefaultHttpxClient()
    _http_clients.append(client)
    return client


def chat(server: OpenAIServer, **kw: Any) -> Any:
    """A ChatOpenAI on the local server; its sync connections are closed
    after the test (async ones: ``await llm.root_async_client.close()``)."""
    return ChatOpenAI(model=MODEL, base_url=server.url, api_key="test-key", max_retries=0, timeout=5,
                      stream_usage=True, http_client=_http_client(), **kw)


def _usage_matches(rec: dict[str, Any], usage: dict[str, int] | None) -> None:
    assert usage is not None
    assert (rec["prompt_tokens"], rec["completion_tokens"], rec["tokens"]) == (
        usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"])
    cost = (usage["prompt_tokens"] * PRICE[0] + usage["completion_tokens"] * PRICE[1]) / 1e6
    assert rec["cost_usd"] == pytest.approx(cost)


def _llm_record(monitor: PerformanceMonitor) -> dict[str, Any]:
    recs = monitor.get_recent_operations("llm_inference")
    assert len(recs) == 1, recs
    rec = recs[0]
    assert (rec["model"], rec["response_model"]) == (MODEL, DATED)
    assert rec["metadata"]["provider"] == "openai" and rec["metadata"]["token_source"] == "usage"
    return rec


def test_invoke_answer_model_tokens_and_cost(server: OpenAIServer, monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)
    reference = chat(server).invoke(QUESTION)
    answer = chat(server).invoke(QUESTION, config={"callbacks": [handler]})
    assert answer.content == reference.content == "".join(server.chunks)
    assert answer.response_metadata["model_name"] == DATED
    _usage_matches(_llm_record(monitor), server.exchanges[1].usage)
    assert handler.open_runs == 0 and monitor.get_in_flight_operations() == {}
    assert monitor.get_model_stats()[MODEL]["response_models"] == [DATED]


def test_stream_chunks_tokens_and_ttft(server: OpenAIServer, monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)
    reference = [c.content for c in chat(server).stream(QUESTION)]
    got = [c.content for c in chat(server).stream(QUESTION, config={"callbacks": [handler]})]
    assert got == reference and "".join(got) == "".join(server.chunks)
    assert server.wait_done() and all(e.completed and e.stream for e in server.exchanges)
    rec = _llm_record(monitor)
    _usage_matches(rec, server.exchanges[1].usage)
    assert rec["time_to_first_token_s"] is not None
    assert handler.open_runs == 0 and monitor.get_in_flight_operations() == {}


def test_async_invoke_and_stream(server: OpenAIServer, monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)

    async def run() -> tuple[str, list[str]]:
        llm = chat(server)
        answer = await llm.ainvoke(QUESTION, config={"callbacks": [handler]})
        chunks = [c.content async for c in llm.astream(QUESTION, config={"callbacks": [handler]})]
        await llm.root_async_client.close()
        return str(answer.content), [str(c) for c in chunks]

    answer, chunks = asyncio.run(run())
    assert answer == "".join(chunks) == "".join(server.chunks)
    recs = monitor.get_recent_operations("llm_inference")
    assert len(recs) == 2
    for rec, exchange in zip(recs, server.exchanges):
        assert (rec["model"], rec["response_model"]) == (MODEL, DATED)
        _usage_matches(rec, exchange.usage)
    assert handler.open_runs == 0 and monitor.get_in_flight_operations() == {}


def test_stream_left_early_is_cancelled_and_its_response_closed(monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)
    with OpenAIServer(chunks=[f"w{i} " for i in range(40)], delay_s=0.05) as server:
        stream = chat(server).stream(QUESTION, config={"callbacks": [handler]})
        for chunk in stream:
            if chunk.content:
                break
        stream.close()  # what the for loop's owner does when it drops the generator
        assert server.wait_done(5)
        exchange = server.exchanges[0]
        assert exchange.client_closed and exchange.chunks_sent < exchange.chunks_total
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.cancelled_operations, stats.failed_operations) == (1, 0)
    node = monitor.get_recent_traces(1)[0]
    assert node["status"] == "cancelled" and node["error_type"] is None
    assert node["model"] == MODEL and node["cancelled_by"] == "GeneratorExit"
    assert handler.open_runs == 0 and monitor.get_in_flight_operations() == {}


def test_error_mid_stream_is_a_failure_of_its_type(monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)
    with OpenAIServer(fail_after=2) as server:
        got = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in chat(server).stream(QUESTION, config={"callbacks": [handler]}):
                got.append(chunk.content)
    assert "".join(got) == "".join(server.chunks[:2])
    rec = monitor.get_recent_operations("llm_inference")[0]
    assert rec["success"] is False and rec["error_type"] == type(caught.value).__name__
    assert handler.open_runs == 0 and monitor.get_in_flight_operations() == {}


def test_openai_embeddings(server: OpenAIServer, monitor: PerformanceMonitor) -> None:
    def embeddings() -> OpenAIEmbeddings:
        # check_embedding_ctx_length=False: no tiktoken encoding download.
        return OpenAIEmbeddings(model="text-embedding-3-small", base_url=server.url, api_key="test-key",
                                max_retries=0, check_embedding_ctx_length=False, http_client=_http_client())

    wrapped = instrument_embeddings(embeddings(), monitor)
    texts = ["retrieval", "augmented generation"]
    assert wrapped.embed_documents(texts) == embeddings().embed_documents(texts)
    assert wrapped.embed_query("rag") == embeddings().embed_query("rag")
    recs = monitor.get_recent_operations("embedding_generation")
    assert [r["metadata"]["texts"] for r in recs] == [2, 1]
    assert all(r["model"] == "text-embedding-3-small" and r["metadata"]["provider"] == "openai" for r in recs)
    assert all(r["success"] for r in recs) and monitor.get_in_flight_operations() == {}
