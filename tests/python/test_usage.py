"""ragperf.usage.extract_usage: token usage from OpenAI / Anthropic / Gemini
style responses, as objects and as dicts."""

from __future__ import annotations

from types import SimpleNamespace as NS
from typing import Any

import pytest

from ragperf.measure.usage import Usage, extract_usage

# ------------------------------------------------------------------ fixtures
# SimpleNamespace objects with the attribute layout of the SDK types.


def chat_completion(prompt: int = 12, completion: int = 30, total: int | None = 42) -> NS:
    """Like openai.types.chat.ChatCompletion."""
    return NS(
        id="chatcmpl-1",
        object="chat.completion",
        model="gpt-4o-mini-2024-07-18",
        choices=[NS(index=0, finish_reason="stop", message=NS(role="assistant", content="Hello!"))],
        usage=NS(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=total,
            prompt_tokens_details=NS(cached_tokens=0),
            completion_tokens_details=NS(reasoning_tokens=0),
        ),
    )


def chunk(content: str | None, usage: NS | None = None) -> NS:
    """Like openai.types.chat.ChatCompletionChunk (final one: choices=[])."""
    choices = [] if usage is not None else [NS(index=0, delta=NS(role=None, content=content), finish_reason=None)]
    return NS(id="chatcmpl-1", object="chat.completion.chunk", model="gpt-4o", choices=choices, usage=usage)


def anthropic_message(**usage: Any) -> NS:
    """Like anthropic.types.Message."""
    fields = {"input_tokens": 25, "output_tokens": 11, "cache_creation_input_tokens": None, "cache_read_input_tokens": None}
    fields.update(usage)
    return NS(
        id="msg_1",
        type="message",
        role="assistant",
        model="claude-sonnet-4-20250514",
        content=[NS(type="text", text="Hi")],
        stop_reason="end_turn",
        usage=NS(**fields),
    )


# ------------------------------------------------------------------- shapes


def test_openai_chat_completion_object() -> None:
    assert extract_usage(chat_completion()) == Usage(12, 30, 42, "gpt-4o-mini-2024-07-18")


def test_openai_chat_completion_dict() -> None:
    response = {
        "id": "chatcmpl-1",
        "model": "gpt-4o",
        "choices": [{"message": {"content": "x"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
    }
    assert extract_usage(response) == Usage(5, 7, 12, "gpt-4o")


def test_usage_object_inside_a_dict_and_dict_inside_an_object() -> None:
    assert extract_usage({"usage": NS(prompt_tokens=1, completion_tokens=2)}) == Usage(1, 2, 3, None)
    assert extract_usage(NS(model="m", usage={"prompt_tokens": 1, "completion_tokens": 2})) == Usage(1, 2, 3, "m")


def test_missing_total_is_prompt_plus_completion() -> None:
    assert extract_usage(chat_completion(total=None)) == Usage(12, 30, 42, "gpt-4o-mini-2024-07-18")
    assert extract_usage({"usage": {"prompt_tokens": 3}}) == Usage(3, 0, 3, None)
    assert extract_usage({"usage": {"completion_tokens": 4}}) == Usage(0, 4, 4, None)


def test_given_total_is_kept() -> None:
    # e.g. Gemini "thinking" tokens make total > prompt + completion.
    assert extract_usage({"usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 10}}) == Usage(1, 2, 10)


def test_embeddings_response() -> None:
    response = {"object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}}
    assert extract_usage(response) == Usage(8, 0, 8, "text-embedding-3-small")


def test_streamed_chunks_only_the_final_one_has_usage() -> None:
    chunks = [
        chunk(""),
        chunk("Hel"),
        chunk("lo"),
        chunk(None, usage=NS(prompt_tokens=9, completion_tokens=2, total_tokens=11)),
    ]
    assert [extract_usage(c) for c in chunks[:3]] == [None, None, None]
    assert extract_usage(chunks[3]) == Usage(9, 2, 11, "gpt-4o")


def test_streamed_dict_chunks() -> None:
    assert extract_usage({"model": "m", "choices": [{"delta": {"content": "a"}}], "usage": None}) is None
    assert extract_usage({"model": "m", "choices": [{"delta": {"content": "a"}}]}) is None
    final = {"model": "m", "choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}}
    assert extract_usage(final) == Usage(2, 1, 3, "m")


def test_anthropic_message() -> None:
    assert extract_usage(anthropic_message()) == Usage(25, 11, 36, "claude-sonnet-4-20250514")


def test_anthropic_cached_prompt_tokens_count_as_prompt() -> None:
    msg = anthropic_message(cache_creation_input_tokens=100, cache_read_input_tokens=1000)
    assert extract_usage(msg) == Usage(1125, 11, 1136, "claude-sonnet-4-20250514")


def test_openai_responses_api_dict() -> None:
    response = {
        "object": "response",
        "model": "gpt-4.1",
        "usage": {
            "input_tokens": 36,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 87,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 123,
        },
    }
    assert extract_usage(response) == Usage(36, 87, 123, "gpt-4.1")


def test_gemini_usage_metadata() -> None:
    response = NS(
        model_version="gemini-2.0-flash",
        usage_metadata=NS(prompt_token_count=4, candidates_token_count=6, total_token_count=10),
    )
    assert extract_usage(response) == Usage(4, 6, 10, None)


def test_usage_object_itself() -> None:
    assert extract_usage(chat_completion().usage) == Usage(12, 30, 42, None)
    assert extract_usage({"input_tokens": 3, "output_tokens": 4}) == Usage(3, 4, 7, None)


def test_numpy_ints_are_accepted() -> None:
    np = pytest.importorskip("numpy")
    u = extract_usage({"usage": {"prompt_tokens": np.int64(3), "completion_tokens": np.int32(4)}})
    assert u == Usage(3, 4, 7, None)
    assert type(u.prompt_tokens) is int if u else False


@pytest.mark.parametrize(
    "response",
    [
        None,
        "Hello",
        b"bytes",
        42,
        [],
        {},
        {"usage": None},
        {"usage": {}},
        {"usage": {"unrelated": 1}},
        NS(),
        NS(usage=None),
        NS(choices=[NS(delta=NS(content="x"))], usage=None),
    ],
)
def test_no_usage_gives_none(response: object) -> None:
    assert extract_usage(response) is None


def test_model_only_when_str() -> None:
    assert extract_usage({"model": 7, "usage": {"prompt_tokens": 1}}) == Usage(1, 0, 1, None)
    assert extract_usage({"model": None, "usage": {"prompt_tokens": 1}}) == Usage(1, 0, 1, None)


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("prompt_tokens", -1, ValueError),
        ("completion_tokens", -5, ValueError),
        ("total_tokens", -1, ValueError),
        ("prompt_tokens", True, TypeError),
        ("completion_tokens", False, TypeError),
        ("prompt_tokens", 1.5, TypeError),
        ("prompt_tokens", 2.0, TypeError),
        ("completion_tokens", "12", TypeError),
        ("total_tokens", [1], TypeError),
        ("input_tokens", -3, ValueError),
        ("output_tokens", "x", TypeError),
        ("cache_read_input_tokens", -1, ValueError),
        ("prompt_tokens", 2**63, ValueError),
    ],
)
def test_bad_counts_raise_naming_field_and_value(field: str, value: object, error: type[Exception]) -> None:
    usage: dict[str, object] = {"input_tokens": 1} if field.startswith("cache") else {}
    usage[field] = value
    with pytest.raises(error) as info:
        extract_usage({"usage": usage})
    assert field in str(info.value)
    assert repr(value) in str(info.value)
    with pytest.raises(error):
        extract_usage(NS(usage=NS(**usage)))


@pytest.mark.parametrize("usage", ["12", 12, 1.5, [1, 2]])
def test_usage_that_is_not_an_object_raises(usage: object) -> None:
    with pytest.raises(TypeError, match="usage must be an object or a dict"):
        extract_usage({"usage": usage})


def test_usage_is_frozen() -> None:
    u = Usage(1, 2, 3)
    with pytest.raises(AttributeError):
        u.prompt_tokens = 5  # type: ignore[misc]
    assert u.model is None
