"""ragperf.integrations.openai: instrument() on client objects of the OpenAI
shape (sync, async, streaming, errors), checked against the numbers the
fake server side reports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace as NS
from typing import Any

import pytest

from ragperf import PerformanceMonitor, TokenCounter
from ragperf.integrations import openai as ragperf_openai

PRICES = {"gpt-4o-mini": {"input": 0.15, "output": 0.60}}


class RateLimitError(Exception):
    pass


def _completion(model: str, prompt: int, completion: int) -> NS:
    return NS(
        model=model,
        choices=[NS(message=NS(role="assistant", content="It is retrieval-augmented generation."))],
        usage=NS(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion),
    )


def _chunks(model: str, texts: list[str], usage: tuple[int, int] | None) -> list[NS]:
    chunks = [NS(model=model, choices=[NS(delta=NS(content=t))], usage=None) for t in texts]
    if usage is not None:
        p, c = usage
        chunks.append(NS(model=model, choices=[], usage=NS(prompt_tokens=p, completion_tokens=c, total_tokens=p + c)))
    return chunks


class FakeStream:
    """Like openai.Stream: iterable, with a ``response`` attribute and close()."""

    def __init__(self, chunks: list[NS], fail_after: int | None = None) -> None:
        self.response = NS(status_code=200)
        self._chunks = chunks
        self._fail_after = fail_after
        self.closed = False

    def __iter__(self) -> Iterator[NS]:
        for i, chunk in enumerate(self._chunks):
            if self._fail_after is not None and i == self._fail_after:
                raise ConnectionError("stream cut")
            yield chunk

    def close(self) -> None:
        self.closed = True


class FakeAsyncStream:
    def __init__(self, chunks: list[NS]) -> None:
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[NS]:
        for chunk in self._chunks:
            await asyncio.sleep(0)
            yield chunk


class Completions:
    def __init__(self) -> None:
        self.calls = 0
        self.fail: BaseException | None = None
        self.stream_usage: tuple[int, int] | None = (9, 3)
        self.fail_after: int | None = None

    def create(self, *, model: str, messages: list[dict[str, str]], stream: bool = False, **kw: Any) -> Any:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        if stream:
            return FakeStream(_chunks(model, ["Retrieval", "-augmented", " generation"], self.stream_usage), self.fail_after)
        return _completion(model, 12, 30)


class AsyncCompletions:
    def __init__(self) -> None:
        self.fail: BaseException | None = None

    async def create(self, *, model: str, messages: list[dict[str, str]], stream: bool = False, **kw: Any) -> Any:
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        if stream:
            return FakeAsyncStream(_chunks(model, ["a", "b"], (5, 2)))
        return _completion(model, 7, 11)


class Embeddings:
    def create(self, *, model: str, input: list[str]) -> NS:
        return NS(model=model, data=[NS(embedding=[0.0])] * len(input), usage=NS(prompt_tokens=4 * len(input), total_tokens=4 * len(input)))


def make_client() -> NS:
    return NS(chat=NS(completions=Completions()), embeddings=Embeddings())


MESSAGES = [{"role": "user", "content": "What is RAG?"}]


@pytest.fixture
def monitor() -> PerformanceMonitor:
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.set_model_prices(PRICES)
    return m


def test_sync_call_records_usage_model_cost_and_nesting(monitor: PerformanceMonitor) -> None:
    client = make_client()
    with ragperf_openai.instrument(client, monitor) as handle:
        assert handle.wrapped == ["chat.completions.create", "embeddings.create"]
        with monitor.track_operation("query_processing"):
            response = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert response.usage.total_tokens == 42
    s = monitor.get_operation_stats("llm_inference")
    assert (s.total_operations, s.prompt_tokens, s.completion_tokens, s.total_tokens) == (1, 12, 30, 42)
    assert s.cost_usd == pytest.approx(12 * 0.15 / 1e6 + 30 * 0.60 / 1e6)
    assert monitor.get_model_stats()["gpt-4o-mini"]["operations"] == 1
    tree = monitor.get_recent_traces(1)[0]
    assert tree["operation"] == "query_processing"
    assert [c["operation"] for c in tree["children"]] == ["llm_inference"]
    assert tree["children"][0]["model"] == "gpt-4o-mini"
    assert tree["children"][0]["tokens"] == 42


def test_uninstrument_restores_the_original(monitor: PerformanceMonitor) -> None:
    client = make_client()
    original = client.chat.completions.create
    handle = ragperf_openai.instrument(client, monitor)
    assert client.chat.completions.create is not original
    with pytest.raises(ValueError, match="already instrumented"):
        ragperf_openai.instrument(client, monitor)
    assert handle.uninstrument() is True
    assert handle.uninstrument() is False
    assert client.chat.completions.create == original
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert monitor.get_operation_count("llm_inference") == 0
    ragperf_openai.instrument(client, monitor)
    assert ragperf_openai.uninstrument(client) is True
    assert ragperf_openai.uninstrument(client) is False
    assert "create" not in vars(client.chat.completions)  # the class method shows through again


def test_stream_with_final_usage_is_counted_once(monitor: PerformanceMonitor) -> None:
    client = make_client()
    ragperf_openai.instrument(client, monitor)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert stream.response.status_code == 200  # the SDK stream's attributes still work
    text = "".join(c.choices[0].delta.content for c in stream if c.choices)
    assert text == "Retrieval-augmented generation"
    s = monitor.get_operation_stats("llm_inference")
    # the final chunk's usage (9 + 3) replaces the per-chunk estimate
    assert (s.total_operations, s.prompt_tokens, s.completion_tokens) == (1, 9, 3)
    assert s.streams == 1 and s.time_to_first_token_p50_s is not None
    rec = monitor.get_recent_operations("llm_inference", limit=1)[0]
    assert rec["metadata"]["stream_status"] == "completed"
    assert rec["model"] == "gpt-4o-mini"
    assert rec["cost_usd"] == pytest.approx(9 * 0.15 / 1e6 + 3 * 0.60 / 1e6)


def test_stream_without_usage_estimates_tokens_and_early_break_is_abandoned(monitor: PerformanceMonitor) -> None:
    client = make_client()
    client.chat.completions.stream_usage = None
    ragperf_openai.instrument(client, monitor)
    pieces = ["Retrieval", "-augmented", " generation"]
    for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
        pass
    s = monitor.get_operation_stats("llm_inference")
    assert s.completion_tokens == sum(TokenCounter.count_tokens(p) for p in pieces)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()
    recs = monitor.get_recent_operations("llm_inference", limit=2)
    assert sorted(r["metadata"]["stream_status"] for r in recs) == ["abandoned", "completed"]
    assert monitor.get_operation_stats("llm_inference").failed_operations == 0


def test_errors_are_failures_of_their_type_and_propagate(monitor: PerformanceMonitor) -> None:
    client = make_client()
    ragperf_openai.instrument(client, monitor)
    client.chat.completions.fail = RateLimitError("slow down")
    with pytest.raises(RateLimitError, match="slow down"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.chat.completions.fail = None
    client.chat.completions.fail_after = 1
    with pytest.raises(ConnectionError):
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            pass
    s = monitor.get_operation_stats("llm_inference")
    assert (s.total_operations, s.failed_operations) == (2, 2)
    assert dict(s.errors_by_type) == {"RateLimitError": 1, "ConnectionError": 1}
    assert monitor.get_recent_errors()[0]["message"] in {"slow down", "stream cut"}


def test_async_client_plain_stream_and_error(monitor: PerformanceMonitor) -> None:
    client = NS(chat=NS(completions=AsyncCompletions()))
    ragperf_openai.instrument(client, monitor)

    async def run() -> str:
        r = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert r.usage.prompt_tokens == 7
        parts = []
        async for chunk in await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content)
        client.chat.completions.fail = TimeoutError("upstream")
        with pytest.raises(TimeoutError):
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return "".join(parts)

    assert asyncio.run(run()) == "ab"
    s = monitor.get_operation_stats("llm_inference")
    assert (s.total_operations, s.failed_operations, s.streams) == (3, 1, 1)
    assert (s.prompt_tokens, s.completion_tokens) == (7 + 5, 11 + 2)
    assert dict(s.errors_by_type) == {"TimeoutError": 1}


def test_sync_create_returning_an_awaitable(monitor: PerformanceMonitor) -> None:
    inner = AsyncCompletions()

    def create(**kw: Any) -> Any:  # like openai's decorated AsyncCompletions.create
        return inner.create(**kw)

    client = NS(chat=NS(completions=NS(create=create)))
    ragperf_openai.instrument(client, monitor)
    r = asyncio.run(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES))
    assert r.usage.completion_tokens == 11
    assert monitor.get_operation_stats("llm_inference").completion_tokens == 11


def test_embeddings_create_is_embedding_generation(monitor: PerformanceMonitor) -> None:
    client = make_client()
    ragperf_openai.instrument(client, monitor)
    client.embeddings.create(model="text-embedding-3-small", input=["a", "b", "c"])
    s = monitor.get_operation_stats("embedding_generation")
    assert (s.total_operations, s.prompt_tokens) == (1, 12)
    assert monitor.get_recent_operations("embedding_generation", 1)[0]["model"] == "text-embedding-3-small"


def test_bad_arguments_name_the_value(monitor: PerformanceMonitor) -> None:
    with pytest.raises(TypeError, match="chat.completions.create"):
        ragperf_openai.instrument(object(), monitor)
    with pytest.raises(TypeError, match="monitor must be"):
        ragperf_openai.instrument(make_client(), monitor="nope")  # type: ignore[arg-type]

    class Fresh:
        @property
        def chat(self) -> NS:  # a new object on every access
            return NS(completions=Completions())

    with pytest.raises(TypeError, match="new chat.completions object"):
        ragperf_openai.instrument(Fresh(), monitor)
