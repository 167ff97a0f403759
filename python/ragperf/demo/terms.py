"""Terms of the demo pipeline's text: the tokenizer every step agrees on and the
corpus statistics (document frequencies) that the reranker and the generator learn
when the index is built.

>>> tokenize("Calibrating the rain gauges") == tokenize("calibrated rain gauge")  # terms, not words
True
>>> TermStatistics.from_texts(["rain gauge", "api key"]).n_docs
2
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

from .chunking import Chunk

__all__ = ["SupportsFit", "TermStatistics", "tokenize"]

_STOPWORDS: Final[frozenset[str]] = frozenset(
    """a about above after again against all am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers him his how i if in into
    is it its itself just me more most my no nor not now of off on once only or other
    our ours out over own same she should so some such than that the their theirs them
    then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    also may must many much get got one per""".split()
)

_WORD_RE: Final = re.compile(r"[a-z0-9]+(?:['.][a-z0-9]+)*")


def _normalise(word: str) -> str:
    """A deliberately tiny stemmer: fold plurals, then "-ing"/"-ed", then a final "e".

    Enough for "calibrate", "calibrated" and "calibrating" to share a term.
    """
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 5 and word.endswith("ed") and not word.endswith("eed"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case content words of ``text``: stop words dropped, plurals folded.

    Shared by the hashing embedder, the BM25 reranker and the extractive
    generator so that they agree on what a term is.

    >>> tokenize("How many API requests are allowed?")
    ['api', 'request', 'allow']
    """
    return [_normalise(w) for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS]


@runtime_checkable
class SupportsFit(Protocol):
    """A component that learns corpus statistics when the index is built."""

    def fit(self, chunks: Sequence[Chunk]) -> None:
        """Learn from all indexed chunks."""
        ...


@dataclass
class TermStatistics:
    """Document frequencies of :func:`tokenize` terms over a set of chunks.

    >>> stats = TermStatistics.from_texts(["rain gauge", "rain shield", "api key"])
    >>> stats.idf("rain") < stats.idf("shield") < stats.idf("unseen")
    True
    """

    n_docs: int = 0
    avg_len: float = 0.0
    df: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> TermStatistics:
        """Count, for every term, how many of ``texts`` contain it."""
        stats = cls()
        total = 0
        for text in texts:
            terms = tokenize(text)
            total += len(terms)
            stats.df.update(set(terms))
        stats.n_docs = len(texts)
        stats.avg_len = total / len(texts) if texts else 0.0
        return stats

    def idf(self, term: str) -> float:
        """BM25 inverse document frequency (always positive)."""
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))
