"""ragperf.integrations.llamaindex with LlamaIndex's real OpenAI-compatible
LLM (``llama-index-llms-openai-like``: ``OpenAILike`` on the ``openai``
SDK) against a local OpenAI-compatible server
(tests/python/_openai_server.py) on 127.0.0.1.

What a user would check: the answer and the streamed deltas are those of
an uninstrumented LLM, the model is the one configured (its price applies)
with the dated response model beside it, tokens equal the server's usage,
and no operation stays open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("llama_index.llms.openai_like")
openai = pytest.importorskip("openai")

from _openai_server import DATED_MODELS, OpenAIServer  # noqa: E402
from llama_index.core.llms import ChatMessage  # noqa: E402
from llama_index.llms.openai_like import OpenAILike  # noqa: E402

from ragperf import PerformanceMonitor  # noqa: E402
from ragperf.integrations.llamaindex import instrument  # noqa: E402

MODEL = "gpt-4o-mini"
DATED = DATED_MODELS[MODEL]
PRICE = (0.15, 0.60)
MESSAGES = [ChatMessage(role="user", content="What does RAG stand for?")]
USAGE = {"stream_options": {"include_usage": True}}


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as s:
        yield s


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.set_model_prices({MODEL: PRICE})
    yield m


_http_clients: list[Any] = []


@pytest.fixture(autouse=True)
def _close_http_clients() -> Iterator[None]:
    yield
    while _http_clients:
        _http_clients.pop().close()  # the keep-alive connections


def llm(server: OpenAIServer) -> OpenAILike:
    """An OpenAILike on the local server; its sync connections are closed
    after the test."""
    http_client = openai.DefaultHttpxClient()
    _http_clients.append(http_client)
    return OpenAILike(model=MODEL, api_base=server.url, api_key="test-key", is_chat_model=True,
                      max_retries=0, timeout=5, context_window=16000, http_client=http_client)


def _check(rec: dict[str, Any], usage: dict[str, int] | None) -> None:
    assert usage is not None
    assert (rec["model"], rec["response_model"]) == (MODEL, DATED)
    assert rec["metadata"]["provider"] == "openai" and rec["metadata"]["token_source"] == "usage"
    assert (rec["prompt_tokens"], rec["completion_tokens"]) == (usage["prompt_tokens"], usage["completion_tokens"])
    cost = (usage["prompt_tokens"] * PRICE[0] + usage["completion_tokens"] * PRICE[1]) / 1e6
    assert rec["cost_usd"] == pytest.approx(cost)


def test_chat_and_stream_chat(server: OpenAIServer, monitor: PerformanceMonitor) -> None:
    reference = llm(server).chat(MESSAGES).message.content
    plain_deltas = [r.delta for r in llm(server).stream_chat(MESSAGES, **USAGE)]
    with instrument(monitor) as handle:
        answer = llm(server).chat(MESSAGES).message.content
        deltas = [r.delta for r in llm(server).stream_chat(MESSAGES, **USAGE)]
        assert handle.open_operations == 0
    assert answer == reference == "".join(server.chunks)
    assert deltas == plain_deltas
    recs = monitor.get_recent_operations("llm_inference")
    assert len(recs) == 2
    _check(recs[0], server.exchanges[2].usage)
    _check(recs[1], server.exchanges[3].usage)
    assert recs[1]["time_to_first_token_s"] is not None
    assert monitor.get_in_flight_operations() == {}
    assert monitor.get_model_stats()[MODEL]["response_models"] == [DATED]


def test_async_chat_and_stream(server: OpenAIServer, monitor: PerformanceMonitor) -> None:
    async def run() -> tuple[str, str]:
        model = llm(server)
        answer = await model.achat(MESSAGES)
        text = "".join([r.delta or "" async for r in await model.astream_chat(MESSAGES, **USAGE)])
        await model._get_aclient().close()
        return str(answer.message.content), text

    with instrument(monitor):
        answer, text = asyncio.run(run())
    assert answer == text == "".join(server.chunks)
    recs = monitor.get_recent_operations("llm_inference")
    assert len(recs) == 2
    for rec, exchange in zip(recs, server.exchanges):
        _check(rec, exchange.usage)
    assert monitor.get_in_flight_operations() == {}
