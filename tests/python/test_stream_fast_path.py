"""The per-chunk path of track_stream: usage is looked for in full only when
a cheap look at the chunk's fields does not rule it out (issue 20 item 5;
figures in benchmarks/bench_stream.py). Usage and text must come out the
same as through the full extraction."""

from __future__ import annotations

from types import SimpleNamespace as NS
from typing import Any

import pytest

from ragperf import PerformanceMonitor
from ragperf.measure.streaming import track_stream
from ragperf.measure.tokens import TokenCounter
from ragperf.measure.usage import carries_no_usage

openai_types = pytest.importorskip("openai.types.chat")


def _chunk(content: str | None, usage: dict[str, int] | None = None, choices: bool = True) -> Any:
    return openai_types.ChatCompletionChunk.model_validate(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}] if choices else [],
            "usage": usage,
        }
    )


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"choices": [], "usage": None}, True),
        ({"choices": []}, True),
        ({"usage": {"prompt_tokens": 1}}, False),
        ({"usage_metadata": {"prompt_token_count": 1}}, False),
        ({"type": "response.completed", "response": {"usage": {"input_tokens": 1}}}, False),
        ({"prompt_tokens": 0, "completion_tokens": 0}, False),  # a usage object itself
        (NS(type="message_delta", usage=NS(output_tokens=3)), False),
        (NS(type="content_block_delta", delta=NS(text="hi")), True),
        ("a str", False),  # not a dict and no __dict__: "maybe", the caller decides
        (object(), False),
    ],
)
def test_carries_no_usage(obj: object, expected: bool) -> None:
    assert carries_no_usage(obj) is expected


def test_carries_no_usage_on_sdk_models() -> None:
    assert carries_no_usage(_chunk("hi")) is True
    assert carries_no_usage(_chunk(None, {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7})) is False
    # Undeclared fields of a pydantic model are not in __dict__: "maybe".
    extra = openai_types.ChatCompletionChunk.model_validate(
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
         "x_usage": {"prompt_tokens": 1}}
    )
    assert carries_no_usage(extra) is False


class _Chunk:
    """A chunk that counts lookups of attributes it does not have (what a
    pydantic model answers with a raised and caught AttributeError)."""

    misses = 0

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __getattr__(self, name: str) -> Any:
        type(self).misses += 1
        raise AttributeError(name)


def test_chunks_without_usage_are_not_probed_for_missing_attributes() -> None:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    chunks = [_Chunk(choices=[_Chunk(delta=_Chunk(content=" word"))], usage=None) for _ in range(50)]
    _Chunk.misses = 0
    assert list(track_stream(monitor, iter(chunks), "llm_inference")) == chunks
    # The first chunk may be looked at in full (model, shape); the rest not.
    assert _Chunk.misses <= 10
    assert monitor.get_operation_stats("llm_inference").total_tokens == 50 * TokenCounter.count_tokens(" word")


def test_openai_sdk_chunks_count_text_then_take_the_final_usage() -> None:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    chunks = [_chunk(" hello"), _chunk(" world"), _chunk(None), _chunk(None, choices=False,
              usage={"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15})]
    with track_stream(monitor, iter(chunks), "llm_inference", model="gpt-4o-mini") as stream:
        seen = list(stream)
    assert seen == chunks
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.prompt_tokens, stats.completion_tokens, stats.total_tokens) == (11, 4, 15)


def test_dict_chunks_count_the_same_as_sdk_chunks() -> None:
    texts = [" one", " two three", "", " four"]
    a = PerformanceMonitor(enable_memory_tracking=False)
    b = PerformanceMonitor(enable_memory_tracking=False)
    list(track_stream(a, iter([_chunk(t) for t in texts]), "llm_inference"))
    list(track_stream(b, iter([_chunk(t).model_dump() for t in texts]), "llm_inference"))
    expected = sum(TokenCounter.count_tokens(t) for t in texts)
    assert a.get_operation_stats("llm_inference").total_tokens == expected
    assert b.get_operation_stats("llm_inference").total_tokens == expected
