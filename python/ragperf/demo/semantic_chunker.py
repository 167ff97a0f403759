"""Semantic chunking: cut a document where its topic changes, judged by embeddings.

Every sentence of a document is embedded (with the pipeline's own embedder);
the similarity of each pair of neighbouring sentences says how related they
are. A chunk grows sentence by sentence and is cut at a *breakpoint* — a
neighbour similarity in the lowest ``breakpoint_percentile`` percent of that
document's — once it holds ``min_words``; it is always cut before it would
pass ``max_words``. A short tail joins the chunk before it when that fits.

Example:
    >>> from ragperf.demo.chunking import Document
    >>> from ragperf.demo.embedding import HashingEmbedder
    >>> text = ("The rain gauge tips every 0.2 mm. Clean the rain gauge funnel often. "
    ...         "Invoices are sent by email. Invoices list the plan and the price.")
    >>> chunker = SemanticChunker(HashingEmbedder(), min_words=5, max_words=40)
    >>> [c.text for c in chunker.chunk(Document("d", "T", text))]  # doctest: +NORMALIZE_WHITESPACE
    ['The rain gauge tips every 0.2 mm. Clean the rain gauge funnel often.',
     'Invoices are sent by email. Invoices list the plan and the price.']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .chunking import Chunk, Document, chunks_from_spans, cut_long_sentences, split_sentences

if TYPE_CHECKING:
    from .chunking import Embedder

__all__ = ["SemanticChunker"]


class SemanticChunker:
    """A :class:`~ragperf.demo.chunking.Chunker` that cuts at topic shifts (see the module doc).

    Raises:
        ValueError: ``0 < min_words <= max_words`` or ``0 <= breakpoint_percentile <= 100``
            does not hold (the message names the values).

    Example:
        >>> from ragperf.demo.embedding import HashingEmbedder
        >>> SemanticChunker(HashingEmbedder(), min_words=10, max_words=5)
        Traceback (most recent call last):
        ...
        ValueError: need 0 < min_words <= max_words, got min_words=10, max_words=5
    """

    name = "semantic"

    def __init__(
        self,
        embedder: Embedder,
        *,
        min_words: int = 40,
        max_words: int = 120,
        breakpoint_percentile: float = 30.0,
    ) -> None:
        if not 0 < min_words <= max_words:
            raise ValueError(
                f"need 0 < min_words <= max_words, got min_words={min_words}, max_words={max_words}"
            )
        if not 0.0 <= breakpoint_percentile <= 100.0:
            raise ValueError(f"breakpoint_percentile must be in [0, 100], got {breakpoint_percentile!r}")
        self.embedder = embedder
        self.min_words = min_words
        self.max_words = max_words
        self.breakpoint_percentile = breakpoint_percentile

    def similarities(self, sentences: Sequence[str]) -> list[float]:
        """Cosine similarity of each sentence with the next (``len - 1`` values).

        Example:
            >>> from ragperf.demo.embedding import HashingEmbedder
            >>> sims = SemanticChunker(HashingEmbedder()).similarities(["rain gauge", "rain gauge", "api key"])
            >>> [round(s, 3) for s in sims]
            [1.0, 0.0]
        """
        if len(sentences) < 2:
            return []
        vectors = np.asarray(self.embedder.embed(list(sentences)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1)
        dots = np.sum(vectors[:-1] * vectors[1:], axis=1)
        denom = norms[:-1] * norms[1:]
        return [float(d / n) if n > 0 else 0.0 for d, n in zip(dots.tolist(), denom.tolist())]

    def chunk(self, document: Document) -> list[Chunk]:
        """Split ``document.text`` into chunks of whole sentences at topic shifts."""
        pieces = cut_long_sentences(split_sentences(document.text), self.max_words)
        if not pieces:
            return []
        counts = [len(p.split()) for p in pieces]
        sims = self.similarities(pieces)
        cut_below = float(np.percentile(sims, self.breakpoint_percentile)) if sims else 0.0
        spans: list[list[int]] = [[0, 1]]
        words = counts[0]
        for i in range(1, len(pieces)):
            at_breakpoint = sims[i - 1] <= cut_below
            if words + counts[i] > self.max_words or (words >= self.min_words and at_breakpoint):
                spans.append([i, i + 1])
                words = counts[i]
            else:
                spans[-1][1] = i + 1
                words += counts[i]
        if len(spans) > 1 and words < self.min_words:
            previous = sum(counts[spans[-2][0] : spans[-2][1]])
            if previous + words <= self.max_words:
                tail = spans.pop()
                spans[-1][1] = tail[1]
        return chunks_from_spans(document, pieces, spans)
