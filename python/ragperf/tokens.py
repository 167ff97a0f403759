"""TokenCounter: the seed's token estimate (~4 characters per token),
computed in C++ over Unicode characters (not bytes)."""

from __future__ import annotations

from typing import Iterable

from . import _core

__all__ = ["TokenCounter"]


class TokenCounter:
    """Estimates tokens as ceil(characters / 4); 0 for an empty string.

    Example:
        >>> TokenCounter.count_tokens("Hello world")
        3
        >>> TokenCounter.count_tokens_in_list(["abcd", "abcde"])
        3
    """

    CHARS_PER_TOKEN: int = int(_core.CHARS_PER_TOKEN)

    @staticmethod
    def count_tokens(text: str) -> int:
        """Estimated tokens of ``text`` (TypeError if not a str).

        Example:
            >>> TokenCounter.count_tokens("")
            0
        """
        return int(_core.estimate_tokens(text))

    @staticmethod
    def count_tokens_in_list(texts: Iterable[str]) -> int:
        """Sum of :meth:`count_tokens` over ``texts``.

        Example:
            >>> TokenCounter.count_tokens_in_list([])
            0
        """
        if isinstance(texts, str):
            raise TypeError("count_tokens_in_list() takes a list of str, got a single str")
        return int(_core.estimate_tokens_batch(list(texts)))
