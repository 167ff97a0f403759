"""The index, retrieve and rerank steps of the demo pipeline: exact cosine search
over the embeddings (:class:`VectorIndex`) and a BM25 + cosine reranker.

>>> index = VectorIndex()
>>> len(index), index.search(np.zeros(3, np.float32), k=1)
(0, [])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from .chunking import Chunk
from .embedding import FloatMatrix
from .terms import TermStatistics, tokenize

__all__ = ["BM25Reranker", "Reranker", "ScoredChunk", "VectorIndex"]


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk with its retrieval scores; ``score`` is the one used for ranking."""

    chunk: Chunk
    score: float
    cosine: float
    lexical: float = 0.0



class VectorIndex:
    """Exact cosine-similarity search over L2-normalised vectors with numpy.

    >>> index = VectorIndex()
    >>> c = [Chunk(f"d#{i}", "d", "", i, (f"s{i}",)) for i in range(3)]
    >>> index.add(c, np.eye(3, dtype=np.float32))
    >>> [s.chunk.chunk_id for s in index.search(np.array([0, 1, 0], np.float32), k=2)]
    ['d#1', 'd#0']
    """

    def __init__(self) -> None:
        self._chunks: list[Chunk] = []
        self._matrix: FloatMatrix | None = None

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def chunks(self) -> Sequence[Chunk]:
        """The indexed chunks, in insertion order (row ``i`` is ``chunks[i]``)."""
        return tuple(self._chunks)

    def add(self, chunks: Sequence[Chunk], vectors: npt.NDArray[np.floating[Any]]) -> None:
        """Append ``chunks`` with their ``(len(chunks), dim)`` embedding rows."""
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(chunks):
            raise ValueError(f"expected {len(chunks)} embedding rows, got shape {matrix.shape}")
        if self._matrix is not None and matrix.shape[1] != self._matrix.shape[1]:
            raise ValueError("embedding dimension differs from the existing index")
        self._matrix = matrix if self._matrix is None else np.vstack([self._matrix, matrix])
        self._chunks.extend(chunks)

    def search(self, query: npt.NDArray[np.floating[Any]], k: int) -> list[ScoredChunk]:
        """The ``k`` chunks with the highest cosine similarity, best first."""
        if self._matrix is None or k <= 0:
            return []
        scores = self._matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
        k = min(k, len(self._chunks))
        top = np.argpartition(-scores, k - 1)[:k]
        order = top[np.lexsort((top, -scores[top]))]  # by score, ties by position
        return [
            ScoredChunk(self._chunks[i], float(scores[i]), float(scores[i])) for i in order.tolist()
        ]


class Reranker(Protocol):
    """Reorders retrieved candidates (``reranking`` step)."""

    def rerank(
        self, query: str, candidates: Sequence[ScoredChunk], top_n: int
    ) -> list[ScoredChunk]:
        """Return at most ``top_n`` candidates, best first, with updated scores."""
        ...


class BM25Reranker:
    """Blend of BM25 lexical relevance and the retriever's cosine score.

    ``score = alpha * cosine + (1 - alpha) * bm25 / max_bm25`` over the
    candidates. Term statistics come from :meth:`fit` (called with the whole
    index by :class:`RAGPipeline`); without it they are taken from the
    candidates alone.

    >>> c = [Chunk(f"d{i}#0", f"d{i}", "", 0, (t,)) for i, t in enumerate(
    ...     ["Shipping takes four days.", "Returns are accepted for 30 days."])]
    >>> ranked = BM25Reranker().rerank("return policy", [ScoredChunk(x, 0.5, 0.5) for x in c], 1)
    >>> ranked[0].chunk.doc_id
    'd1'
    """

    name: Final = "bm25+cosine"

    def __init__(self, *, alpha: float = 0.6, k1: float = 1.2, b: float = 0.75) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError("alpha must be in [0, 1]")
        self.alpha, self.k1, self.b = alpha, k1, b
        self._stats: TermStatistics | None = None

    def fit(self, chunks: Sequence[Chunk]) -> None:
        """Learn document frequencies from every indexed chunk."""
        self._stats = TermStatistics.from_texts([c.embedding_text for c in chunks])

    def bm25(self, query_terms: Sequence[str], chunk: Chunk, stats: TermStatistics) -> float:
        """Okapi BM25 of ``chunk`` for the (already tokenised) query."""
        terms = tokenize(chunk.embedding_text)
        tf = Counter(terms)
        norm = self.k1 * (1.0 - self.b + self.b * len(terms) / max(stats.avg_len, 1.0))
        score = 0.0
        for term in set(query_terms):
            f = tf.get(term, 0)
            if f:
                score += stats.idf(term) * f * (self.k1 + 1.0) / (f + norm)
        return score

    def rerank(
        self, query: str, candidates: Sequence[ScoredChunk], top_n: int
    ) -> list[ScoredChunk]:
        """Rescore ``candidates`` and keep the best ``top_n``."""
        if not candidates:
            return []
        stats = self._stats or TermStatistics.from_texts(
            [c.chunk.embedding_text for c in candidates]
        )
        query_terms = tokenize(query)
        lexical = [self.bm25(query_terms, c.chunk, stats) for c in candidates]
        top = max(lexical)
        rescored = [
            replace(
                c,
                lexical=lex,
                score=self.alpha * c.cosine + (1.0 - self.alpha) * (lex / top if top > 0 else 0.0),
            )
            for c, lex in zip(candidates, lexical)
        ]
        rescored.sort(key=lambda c: c.score, reverse=True)  # stable: ties keep retrieval order
        return rescored[: max(top_n, 0)]
