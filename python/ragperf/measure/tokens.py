"""TokenCounter: the seed's token estimate (~4 characters per token,
computed in C++ over Unicode characters, not bytes), or exact counts from a
real tokenizer.

``TokenCounter.count_tokens(text)`` called on the class always uses the
estimate (the seed API). An instance made with ``TokenCounter(tokenizer=...)``
counts with that tokenizer instead; an instance made without one uses the
estimate too.
"""

from __future__ import annotations

import operator
import reprlib
from collections.abc import Mapping, Sized
from types import MethodType
from typing import Any, Callable, Concatenate, Generic, Iterable, ParamSpec, TypeVar, cast

from .. import _core

__all__ = ["TokenCounter"]

_T = TypeVar("_T")
_P = ParamSpec("_P")
_R = TypeVar("_R")

_ACCEPTED = (
    "None (the estimate), a Hugging Face tokenizers.Tokenizer, a tiktoken Encoding, "
    "or a callable f(text) returning a token count (int) or a sequence of tokens"
)

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = 8


class _ClassOrInstanceMethod(Generic[_T, _P, _R]):
    """A method that works both on the class and on an instance.

    On an instance it is an ordinary bound method. On the class it is bound
    to a shared default instance of the class that defines it (created
    without arguments, on first use), so ``Class.method(args)`` keeps working
    where the method used to be a ``staticmethod``.

    Example:
        >>> class Greeter:
        ...     def __init__(self, word: str = "hello") -> None:
        ...         self.word = word
        ...     @_ClassOrInstanceMethod
        ...     def greet(self, name: str) -> str:
        ...         return f"{self.word} {name}"
        >>> Greeter.greet("class"), Greeter("hi").greet("instance")
        ('hello class', 'hi instance')
    """

    def __init__(self, func: Callable[Concatenate[_T, _P], _R]) -> None:
        self._func = func
        self._owner: type[Any] | None = None
        self._default: Callable[_P, _R] | None = None  # bound to the default instance
        self.__doc__ = func.__doc__
        self.__name__ = getattr(func, "__name__", "method")
        self.__wrapped__ = func

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._owner = owner

    def __get__(self, obj: _T | None, objtype: type[Any] | None = None) -> Callable[_P, _R]:
        if obj is None:
            bound = self._default
            if bound is None:
                owner = self._owner if self._owner is not None else objtype
                if owner is None:  # pragma: no cover - __get__ always gets one of them
                    raise TypeError(f"{self.__name__}() needs an instance or the class")
                # A race creates two equivalent defaults; either one is fine.
                bound = self._default = cast("Callable[_P, _R]", MethodType(self._func, owner()))
            return bound
        return cast("Callable[_P, _R]", MethodType(self._func, obj))


def _describe(value: Any) -> str:
    return f"{_short.repr(value)} ({type(value).__name__})"


def _check_text(text: Any) -> None:
    if not isinstance(text, str):
        raise TypeError(f"count_tokens() takes a str, got {_describe(text)}")


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("count_tokens_in_list() takes a list of str, got a single str")
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"count_tokens_in_list() takes str items, got {_describe(text)} at index {index}")
    return items


def _reraise_for_surrogates(texts: Iterable[str]) -> None:
    """Turn a tokenizer's TypeError about a text that is a str but not valid
    Unicode (a lone surrogate) into the ValueError the estimate raises."""
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"text must be valid Unicode (no lone surrogates), got {_short.repr(text)}"
            ) from None


def _is_tiktoken(obj: Any) -> bool:
    return callable(getattr(obj, "encode_ordinary", None)) and callable(
        getattr(obj, "encode_ordinary_batch", None)
    )


def _is_hf_tokenizer(obj: Any) -> bool:
    return callable(getattr(obj, "encode", None)) and callable(getattr(obj, "encode_batch", None))


_estimate: Callable[[str], int] = _core.estimate_tokens
_estimate_batch: Callable[[list[str]], int] = _core.estimate_tokens_batch


def _tiktoken_counters(encoding: Any) -> tuple[Callable[[str], int], Callable[[list[str]], int]]:
    encode = encoding.encode_ordinary
    encode_batch = encoding.encode_ordinary_batch

    def count(text: str) -> int:
        _check_text(text)
        return len(encode(text))

    def count_batch(texts: list[str]) -> int:
        items = _check_texts(texts)
        return sum(map(len, encode_batch(items))) if items else 0

    return count, count_batch


def _hf_counters(tokenizer: Any) -> tuple[Callable[[str], int], Callable[[list[str]], int]]:
    encode = tokenizer.encode
    encode_batch = tokenizer.encode_batch

    def count(text: str) -> int:
        _check_text(text)
        try:
            encoding = encode(text, add_special_tokens=False)
        except TypeError:
            _reraise_for_surrogates((text,))
            raise
        return len(encoding.ids)

    def count_batch(texts: list[str]) -> int:
        items = _check_texts(texts)
        if not items:
            return 0
        try:
            encodings = encode_batch(items, add_special_tokens=False)
        except TypeError:
            _reraise_for_surrogates(items)
            raise
        return sum(len(encoding.ids) for encoding in encodings)

    return count, count_batch


def _callable_counters(
    tokenizer: Callable[[str], Any], name: str
) -> tuple[Callable[[str], int], Callable[[list[str]], int]]:
    def as_count(result: Any, text: str) -> int:
        """The count a callable tokenizer's ``result`` stands for."""
        if isinstance(result, bool):
            pass  # a bool is an int, but never a count
        else:
            try:
                value = operator.index(result)  # int, numpy integers
            except TypeError:
                if isinstance(result, Sized) and not isinstance(result, (str, bytes, bytearray, Mapping)):
                    return len(result)
            else:
                if value >= 0:
                    return value
                raise ValueError(
                    f"tokenizer {name} returned {result!r} for {_short.repr(text)}; "
                    "a token count must be >= 0"
                )
        hint = (
            " (a transformers tokenizer's __call__ returns a dict: pass "
            "lambda t: tok.encode(t, add_special_tokens=False) instead)"
            if isinstance(result, Mapping)
            else ""
        )
        raise TypeError(
            f"tokenizer {name} returned {_describe(result)} for {_short.repr(text)}; "
            f"expected a token count (int >= 0) or a sequence of tokens{hint}"
        )

    def count(text: str) -> int:
        _check_text(text)
        return as_count(tokenizer(text), text)

    def count_batch(texts: list[str]) -> int:
        return sum(as_count(tokenizer(text), text) for text in _check_texts(texts))

    return count, count_batch


class TokenCounter:
    """Counts tokens: the ~4-characters-per-token estimate by default, or
    exact counts from a tokenizer.

    ``tokenizer`` may be:

    * ``None`` (default): ``ceil(characters / 4)``, 0 for an empty string,
      computed in C++ over Unicode characters.
    * a Hugging Face ``tokenizers.Tokenizer``: the count is
      ``len(tokenizer.encode(text, add_special_tokens=False).ids)``, i.e. the
      tokens of the text itself, without the ``[CLS]``/``<s>``-style tokens a
      post-processor adds around a whole input. Lists use ``encode_batch``
      (parallel, in Rust).
    * a tiktoken ``Encoding``: ``len(encoding.encode_ordinary(text))``; text
      that looks like a special token (``"<|endoftext|>"``) is counted as
      ordinary text instead of raising. Lists use ``encode_ordinary_batch``.
    * any other callable ``f(text)`` returning the count (an int >= 0) or the
      tokens (anything with ``len()``, e.g. a list of ids). A transformers
      tokenizer fits as ``lambda t: tok.encode(t, add_special_tokens=False)``.

    The kind of tokenizer is detected once, here; anything else is a
    TypeError. The class-level calls ``TokenCounter.count_tokens(text)`` and
    ``TokenCounter.count_tokens_in_list(texts)`` keep using the estimate.
    A counter is as thread-safe as its tokenizer (both libraries above are).

    Example:
        >>> TokenCounter.count_tokens("Hello world")          # the estimate
        3
        >>> TokenCounter.count_tokens_in_list(["abcd", "abcde"])
        3
        >>> words = TokenCounter(tokenizer=str.split)         # a callable
        >>> words.count_tokens("Hello big world"), words.name
        (3, 'callable:str.split')
        >>> import tiktoken  # doctest: +SKIP
        >>> exact = TokenCounter(tiktoken.get_encoding("cl100k_base"))  # doctest: +SKIP
        >>> exact.count_tokens("hello world"), exact.name  # doctest: +SKIP
        (2, 'tiktoken:cl100k_base')
    """

    CHARS_PER_TOKEN: int = int(_core.CHARS_PER_TOKEN)

    def __init__(self, tokenizer: Any = None) -> None:
        self._tokenizer: Any = tokenizer
        self._name: str
        self._count: Callable[[str], int]
        self._count_batch: Callable[[list[str]], int]
        if tokenizer is None:
            self._name = "estimate"
            self._count, self._count_batch = _estimate, _estimate_batch
        elif _is_tiktoken(tokenizer):
            self._name = f"tiktoken:{getattr(tokenizer, 'name', type(tokenizer).__name__)}"
            self._count, self._count_batch = _tiktoken_counters(tokenizer)
        elif _is_hf_tokenizer(tokenizer):
            try:
                probe = tokenizer.encode("", add_special_tokens=False)
                probe.ids  # noqa: B018 - checks the shape of an Encoding
            except Exception as exc:
                raise TypeError(
                    f"tokenizer {_describe(tokenizer)} has encode() and encode_batch() but is not a "
                    f"Hugging Face tokenizers.Tokenizer (encode('', add_special_tokens=False).ids "
                    f"failed: {exc!r}); accepted: {_ACCEPTED}"
                ) from exc
            model = getattr(tokenizer, "model", None)
            kind = type(model).__name__ if model is not None else type(tokenizer).__name__
            self._name = f"tokenizers:{kind}"
            self._count, self._count_batch = _hf_counters(tokenizer)
        elif callable(tokenizer):
            qualname = getattr(tokenizer, "__qualname__", None)
            if not isinstance(qualname, str):
                qualname = type(tokenizer).__qualname__
            self._name = f"callable:{qualname}"
            self._count, self._count_batch = _callable_counters(tokenizer, self._name)
        else:
            raise TypeError(f"tokenizer must be {_ACCEPTED}; got {_describe(tokenizer)}")

    # ------------------------------------------------------------ public API

    @property
    def tokenizer(self) -> Any:
        """The tokenizer given to the constructor (``None`` for the estimate).

        Example:
            >>> TokenCounter().tokenizer is None
            True
        """
        return self._tokenizer

    @property
    def name(self) -> str:
        """What counts the tokens: ``"estimate"``, ``"tokenizers:<model>"``
        (e.g. ``"tokenizers:BPE"``), ``"tiktoken:<encoding name>"`` or
        ``"callable:<qualified name>"``.

        Example:
            >>> TokenCounter().name
            'estimate'
        """
        return self._name

    def __repr__(self) -> str:
        return f"TokenCounter(name={self._name!r})"

    @_ClassOrInstanceMethod
    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` (TypeError if not a str). On the class, and on
        an instance without a tokenizer: the estimate ``ceil(characters / 4)``.

        Example:
            >>> TokenCounter.count_tokens("")
            0
            >>> TokenCounter(tokenizer=lambda t: t.split()).count_tokens("a b c")
            3
        """
        return self._count(text)

    @_ClassOrInstanceMethod
    def count_tokens_in_list(self, texts: Iterable[str]) -> int:
        """Sum of :meth:`count_tokens` over ``texts`` (any iterable of str;
        a single str is a TypeError). Each text is counted on its own, never
        joined.

        Example:
            >>> TokenCounter.count_tokens_in_list([])
            0
            >>> TokenCounter(tokenizer=str.split).count_tokens_in_list(["a b", "c"])
            3
        """
        if isinstance(texts, str):
            raise TypeError("count_tokens_in_list() takes a list of str, got a single str")
        return self._count_batch(texts if isinstance(texts, list) else list(texts))
