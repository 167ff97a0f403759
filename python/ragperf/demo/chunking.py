"""Documents, chunks and the chunking step of the demo pipeline: sentence
splitting, the :class:`Chunker` and :class:`Embedder` protocols, and the
default :class:`SentenceChunker`. :mod:`ragperf.demo.pipeline` re-exports
every name; :mod:`ragperf.demo.semantic_chunker` builds on them.

Example:
    >>> doc = Document("d", "T", "One short sentence. Another one here.")
    >>> [c.text for c in SentenceChunker(min_words=5, max_words=10, overlap_words=1).chunk(doc)]
    ['One short sentence. Another one here.']
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "Chunk",
    "Chunker",
    "Document",
    "Embedder",
    "SentenceChunker",
    "chunks_from_spans",
    "cut_long_sentences",
    "split_sentences",
]

_LIST_MARKER_RE: Final = re.compile(r"^(?:[-*\u2022]|\d{1,3}[.)])\s+")
_SENTENCE_BREAK_RE: Final = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS: Final[frozenset[str]] = frozenset(
    {"e.g.", "i.e.", "etc.", "approx.", "no.", "mr.", "mrs.", "ms.", "dr.", "vs.", "fig."}
)


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into whitespace-normalised sentences.

    Blank lines separate paragraphs; list items (``-``, ``*``, ``1.``) become
    sentences of their own with the marker removed; wrapped lines are joined.

    >>> split_sentences("Rates:\\n- Free: 60 per minute.\\n- Paid: more. See e.g. the table.")
    ['Rates:', 'Free: 60 per minute.', 'Paid: more.', 'See e.g. the table.']
    """
    units: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for raw_line in block.splitlines():
            line = raw_line.strip()
            if not line:
                continue
            marker = _LIST_MARKER_RE.match(line)
            if marker is not None:
                if current:
                    units.append(" ".join(current))
                current = [line[marker.end() :]]
            else:
                current.append(line)
        if current:
            units.append(" ".join(current))

    sentences: list[str] = []
    for unit in units:
        pending = ""
        for piece in _SENTENCE_BREAK_RE.split(unit):
            piece = " ".join(piece.split())
            if not piece:
                continue
            pending = f"{pending} {piece}" if pending else piece
            last_word = pending.rsplit(" ", 1)[-1].lower()
            if last_word in _ABBREVIATIONS:
                continue  # "e.g. The" is not a sentence boundary
            sentences.append(pending)
            pending = ""
        if pending:
            sentences.append(pending)
    return sentences


@dataclass(frozen=True)
class Document:
    """One source document: ``doc_id`` is the file stem, ``title`` its first line."""

    doc_id: str
    title: str
    text: str


@dataclass(frozen=True)
class Chunk:
    """A contiguous run of whole sentences from one :class:`Document`."""

    chunk_id: str
    doc_id: str
    title: str
    index: int
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        """The chunk's sentences joined by single spaces."""
        return " ".join(self.sentences)

    @property
    def word_count(self) -> int:
        """Number of whitespace-separated words in :attr:`text`."""
        return sum(len(s.split()) for s in self.sentences)

    @property
    def embedding_text(self) -> str:
        """Text handed to the embedder: the document title as a header, then the chunk."""
        return f"{self.title}. {self.text}" if self.title else self.text


# ----------------------------------------------------------------------- chunking


class Chunker(Protocol):
    """Turns a document into chunks (``semantic_chunking`` step)."""

    def chunk(self, document: Document) -> list[Chunk]:
        """Return the document's chunks in reading order; never empty chunks."""
        ...


def chunks_from_spans(
    document: Document, pieces: Sequence[str], spans: Sequence[Sequence[int]]
) -> list[Chunk]:
    """One :class:`Chunk` per half-open ``(start, end)`` range of ``pieces``, numbered in order.

    >>> [c.chunk_id for c in chunks_from_spans(Document("d", "T", ""), ["a.", "b."], [(0, 1), (1, 2)])]
    ['d#0', 'd#1']
    """
    return [
        Chunk(
            chunk_id=f"{document.doc_id}#{i}",
            doc_id=document.doc_id,
            title=document.title,
            index=i,
            sentences=tuple(pieces[start:end]),
        )
        for i, (start, end) in enumerate(spans)
    ]


def cut_long_sentences(sentences: Sequence[str], max_words: int) -> list[str]:
    """``sentences`` with every one longer than ``max_words`` words cut into
    near-equal word windows (so no chunk has to exceed ``max_words``).

    >>> cut_long_sentences(["a b c d e", "f g."], 2)
    ['a b', 'c d', 'e', 'f g.']
    """
    pieces: list[str] = []
    for sentence in sentences:
        words = sentence.split()
        if len(words) <= max_words:
            pieces.append(sentence)
            continue
        n_parts = math.ceil(len(words) / max_words)
        size = math.ceil(len(words) / n_parts)
        pieces.extend(" ".join(words[i : i + size]) for i in range(0, len(words), size))
    return pieces


@dataclass(frozen=True)
class SentenceChunker:
    """Greedy sentence-aware chunker with sentence-level overlap.

    Sentences are packed into a chunk until it holds at least ``min_words``
    words, never going past ``max_words`` (a single longer sentence is cut into
    word windows first). The next chunk starts with the trailing sentences of
    the previous one, up to ``overlap_words`` words, and at least one sentence
    whenever that still moves forward. A short tail is folded into the last
    chunk when it fits, so no chunk is a tiny leftover.

    >>> doc = Document("d", "T", " ".join(f"Sentence number {i} has six words." for i in range(12)))
    >>> chunks = SentenceChunker(min_words=24, max_words=40, overlap_words=6).chunk(doc)
    >>> [c.word_count for c in chunks]
    [24, 24, 36]
    >>> chunks[0].sentences[-1] == chunks[1].sentences[0]
    True
    """

    min_words: int = 60
    max_words: int = 120
    overlap_words: int = 25

    def __post_init__(self) -> None:
        if not 0 < self.min_words <= self.max_words:
            raise ValueError("need 0 < min_words <= max_words")
        if not 0 <= self.overlap_words < self.min_words:
            raise ValueError("need 0 <= overlap_words < min_words")

    def chunk(self, document: Document) -> list[Chunk]:
        """Split ``document.text`` into overlapping chunks of whole sentences."""
        pieces = cut_long_sentences(split_sentences(document.text), self.max_words)
        counts = [len(p.split()) for p in pieces]
        return chunks_from_spans(document, pieces, self.spans(counts))

    def spans(self, counts: Sequence[int]) -> list[tuple[int, int]]:
        """Half-open ``(start, end)`` sentence ranges for sentences of ``counts`` words.

        >>> SentenceChunker(min_words=10, max_words=20, overlap_words=4).spans([5, 5, 5, 5, 5])
        [(0, 2), (1, 3), (2, 5)]
        """
        n = len(counts)
        remaining = [0] * (n + 1)
        for i in range(n - 1, -1, -1):
            remaining[i] = remaining[i + 1] + counts[i]

        spans: list[tuple[int, int]] = []
        start = 0
        while start < n:
            end, words = start, 0
            while end < n:
                if words > 0 and (words >= self.min_words or words + counts[end] > self.max_words):
                    break
                words += counts[end]
                end += 1
            rest = remaining[end]
            if 0 < rest < self.min_words and words + rest <= self.max_words:
                end, words = n, words + rest
            spans.append((start, end))
            if end >= n:
                break
            back, overlap = end, 0
            while back - 1 > start and overlap + counts[back - 1] <= self.overlap_words:
                back -= 1
                overlap += counts[back]
            if (
                back == end
                and self.overlap_words > 0
                and end - start >= 2
                and counts[end - 1] < self.min_words
            ):
                back = end - 1
            start = back
        return spans


class Embedder(Protocol):
    """Maps texts to L2-normalised vectors (``embedding_generation`` step)."""

    def embed(self, texts: list[str]) -> npt.NDArray[np.floating[Any]]:
        """Return a ``(len(texts), dim)`` array whose non-zero rows have unit norm."""
        ...
