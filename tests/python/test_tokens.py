"""TokenCounter: ceil(characters / 4), counted over Unicode characters."""

from __future__ import annotations

import math
import random

import pytest

from ragperf import TokenCounter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("a", 1),
        ("abc", 1),
        ("abcd", 1),
        ("abcde", 2),
        ("Hello world", 3),
        ("Your text here", 4),
        ("x" * 4000, 1000),
        ("x" * 4001, 1001),
        (" ", 1),
        ("\n\t\r ", 1),
    ],
)
def test_count_tokens(text: str, expected: int) -> None:
    assert TokenCounter.count_tokens(text) == expected


@pytest.mark.parametrize(
    ("text", "chars"),
    [
        ("日本語です", 5),
        ("日本語です" * 100, 500),
        ("😀" * 5, 5),
        ("é", 1),
        ("e\u0301", 2),  # combining accent is its own code point
        ("Grüße aus Köln", 14),
        ("Ωμέγα", 5),
        ("\U0010ffff" * 9, 9),
        ("a日b本c語d😀" * 3, 24),
    ],
)
def test_unicode_counted_by_characters(text: str, chars: int) -> None:
    assert len(text) == chars
    assert TokenCounter.count_tokens(text) == math.ceil(chars / 4)


def test_unicode_specific_example() -> None:
    assert TokenCounter.count_tokens("日本語です") == 2  # 5 characters, 15 UTF-8 bytes


def test_random_strings_match_formula() -> None:
    rng = random.Random(4)
    alphabet = (
        [chr(c) for c in range(0x20, 0x7F)]
        + [chr(c) for c in range(0xA0, 0x800, 7)]
        + [chr(c) for c in range(0x800, 0xD800, 331)]
        + [chr(c) for c in range(0xE000, 0x10000, 97)]
        + [chr(c) for c in range(0x10000, 0x110000, 9973)]
    )
    for _ in range(500):
        n = rng.randrange(0, 70)
        text = "".join(rng.choice(alphabet) for _ in range(n))
        assert TokenCounter.count_tokens(text) == math.ceil(len(text) / 4), repr(text)


def test_count_tokens_in_list() -> None:
    texts = ["abcd", "abcde", "", "Hello world", "日本語です"]
    assert TokenCounter.count_tokens_in_list(texts) == 1 + 2 + 0 + 3 + 2
    assert TokenCounter.count_tokens_in_list(texts) == sum(TokenCounter.count_tokens(t) for t in texts)
    assert TokenCounter.count_tokens_in_list([]) == 0
    assert TokenCounter.count_tokens_in_list(("abcd", "a")) == 2
    assert TokenCounter.count_tokens_in_list(t for t in ["abcd", "abcd"]) == 2
    assert TokenCounter.count_tokens_in_list(iter(["x"])) == 1


def test_count_tokens_in_list_is_per_text_not_joined() -> None:
    # "a" and "b" are one token each; joined they would be one token.
    assert TokenCounter.count_tokens_in_list(["a", "b"]) == 2


def test_single_str_to_count_tokens_in_list_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        TokenCounter.count_tokens_in_list("abcd")


def test_non_str_items_are_rejected() -> None:
    with pytest.raises(TypeError, match="42"):
        TokenCounter.count_tokens_in_list(["ok", 42])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        TokenCounter.count_tokens_in_list([b"bytes"])  # type: ignore[list-item]


def test_count_tokens_rejects_non_str() -> None:
    with pytest.raises(TypeError, match="123"):
        TokenCounter.count_tokens(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TokenCounter.count_tokens(["abcd"])  # type: ignore[arg-type]


def test_lone_surrogate_is_a_value_error() -> None:
    # Not encodable as UTF-8: UnicodeEncodeError (a ValueError), not a crash.
    with pytest.raises(ValueError):
        TokenCounter.count_tokens("\ud800")


def test_str_subclass() -> None:
    class Text(str):
        pass

    assert TokenCounter.count_tokens(Text("abcdefgh")) == 2


def test_chars_per_token_constant() -> None:
    assert TokenCounter.CHARS_PER_TOKEN == 4


def test_static_methods_via_instance() -> None:
    counter = TokenCounter()
    assert counter.count_tokens("abcd") == 1
    assert counter.count_tokens_in_list(["abcd"]) == 1


def test_large_text() -> None:
    text = "word " * 200_000  # 1,000,000 characters
    assert TokenCounter.count_tokens(text) == 250_000
