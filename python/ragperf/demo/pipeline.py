"""A small but real retrieval-augmented generation pipeline, tracked with ragperf.

Every step is an ordinary, swappable object and every step runs inside a
``monitor.track_operation(...)`` block, so the report at the end shows where
the time goes:

=====================  ==============================================  =========================
step                   default implementation                          ragperf operation
=====================  ==============================================  =========================
load                   :func:`load_documents` (bundled ``corpus/``)    ``"document_loading"``
chunk                  :class:`SentenceChunker` (demo: semantic)       ``semantic_chunking``
embed                  :class:`HashingEmbedder` (512-d, no download)   ``embedding_generation``
index                  batches embedded, :class:`VectorIndex` filled    ``"index_building"``
retrieve               cosine top-k over the index (numpy)             ``document_retrieval``
rerank                 :class:`BM25Reranker` (BM25 + cosine blend)     ``reranking``
generate               :class:`ExtractiveGenerator` (streams words)    ``llm_inference``
whole question         :meth:`RAGPipeline.answer`                      ``query_processing``
=====================  ==============================================  =========================

The embedder, chunker, reranker and generator are protocols, so a real
embedding model or LLM can be dropped in without touching the rest:

>>> from ragperf import PerformanceMonitor
>>> pipeline = RAGPipeline(monitor=PerformanceMonitor())
>>> pipeline.index(load_documents()) > 0
True
>>> pipeline.answer("How many days do I have to return a product?").sources[0]
'14_returns_refunds'
"""

from __future__ import annotations

import math
import os
import re
import sys
import textwrap
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ragperf import (
    OperationType,
    PerformanceMonitor,
    TokenCounter,
    get_performance_monitor,
)

from .chunking import (  # re-exported: documents, chunks and the chunking step
    Chunk,
    Chunker,
    Document,
    Embedder,
    SentenceChunker,
    chunks_from_spans,
    cut_long_sentences,
    split_sentences,
)

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - the package supports Python 3.9+
    from importlib.abc import Traversable

__all__ = [
    "DEFAULT_QUESTIONS",
    "Answer",
    "BM25Reranker",
    "Chunk",
    "Chunker",
    "Document",
    "Embedder",
    "ExtractiveGenerator",
    "Generator",
    "HashingEmbedder",
    "RAGPipeline",
    "Reranker",
    "ScoredChunk",
    "SentenceChunker",
    "SupportsFit",
    "TermStatistics",
    "VectorIndex",
    "corpus_root",
    "chunks_from_spans",
    "cut_long_sentences",
    "load_documents",
    "run_demo",
    "split_sentences",
    "tokenize",
]

FloatMatrix = npt.NDArray[np.float32]
"""Row-major ``(n, dim)`` float32 matrix, one L2-normalised embedding per row."""

DOCUMENT_LOADING: Final = "document_loading"
"""Operation name used for loading plain-text files (``pdf_loading`` is for PDFs)."""

INDEX_BUILDING: Final = "index_building"
"""Operation name of the indexing phase: embedding batches (nested), filling the index, fitting term statistics."""

DEFAULT_QUESTIONS: Final[tuple[str, ...]] = (
    "How long is the warranty on the Halyard weather station?",
    "How many API requests per minute are allowed on the Free plan?",
    "How many days do I have to return a product for a refund?",
    "How long does standard shipping take within the European Union?",
    "How do I reset the Wi-Fi settings on my station?",
    "How often should I check and calibrate the rain gauge?",
    "How long are raw one-minute readings kept?",
    "What are the customer support hours?",
    "Which radio band does the Beacon gateway use in Europe?",
)
"""Questions about the bundled Alderbank Instruments handbook, used by :func:`run_demo`."""

FALLBACK_ANSWER: Final = "I could not find an answer to that in the handbook."

# --------------------------------------------------------------------------- text


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


# ---------------------------------------------------------------------- documents


@dataclass(frozen=True)
class ScoredChunk:
    """A chunk with its retrieval scores; ``score`` is the one used for ranking."""

    chunk: Chunk
    score: float
    cosine: float
    lexical: float = 0.0


def corpus_root() -> Traversable:
    """The bundled corpus directory, found through :mod:`importlib.resources`.

    Works from a source checkout, an installed wheel or a zip import.

    >>> any(p.name.endswith(".txt") for p in corpus_root().iterdir())
    True
    """
    return files("ragperf.demo") / "corpus"


def _parse_document(doc_id: str, raw: str) -> Document:
    lines = raw.strip().splitlines()
    if not lines:
        return Document(doc_id=doc_id, title="", text="")
    return Document(doc_id=doc_id, title=lines[0].strip(), text="\n".join(lines[1:]).strip())


def load_documents(
    source: Traversable | str | os.PathLike[str] | None = None,
    *,
    monitor: PerformanceMonitor | None = None,
    suffix: str = ".txt",
    include_pdf: bool = True,
) -> list[Document]:
    """Read every ``*.txt`` (and ``*.pdf``) file under ``source`` (default: the bundled corpus).

    The first line of each file is its title, the rest its body; a PDF's text
    is extracted with pypdf (:func:`ragperf.demo.pdf.read_pdf_text`). Files
    are read in name order so runs are reproducible. The whole load is tracked
    as ``"document_loading"`` with the number of files and an estimate of the
    tokens read; each PDF is also a nested ``pdf_loading`` block with its page
    count. ``include_pdf=False`` reads only the text files.

    >>> docs = load_documents()
    >>> docs[0].doc_id, docs[0].title
    ('01_company_overview', 'About Alderbank Instruments')
    >>> docs[-1].doc_id, docs[-1].title
    ('17_radio_compliance', 'Radio and Regulatory Compliance Data Sheet')
    """
    mon = monitor if monitor is not None else get_performance_monitor()
    root: Traversable = corpus_root() if source is None else _as_traversable(source)
    wanted = (suffix, ".pdf") if include_pdf else (suffix,)
    with mon.track_operation(DOCUMENT_LOADING, {"source": str(root)}) as op:
        entries = sorted(
            (p for p in root.iterdir() if p.is_file() and p.name.endswith(wanted)),
            key=lambda p: p.name,
        )
        documents: list[Document] = []
        pdfs = 0
        for entry in entries:
            if entry.name.endswith(".pdf") and include_pdf:
                documents.append(_load_pdf(entry, mon))
                pdfs += 1
            else:
                raw = entry.read_text(encoding="utf-8")
                documents.append(_parse_document(entry.name[: -len(suffix)], raw))
        op.tokens = TokenCounter.count_tokens_in_list([d.text for d in documents])
        op.metadata["files"] = len(documents)
        op.metadata["pdf_files"] = pdfs
    return documents


def _load_pdf(entry: Traversable, monitor: PerformanceMonitor) -> Document:
    from .pdf import read_pdf_text  # late: only corpora with PDFs need pypdf

    with monitor.track_operation(OperationType.PDF_LOADING, {"file": entry.name}) as op:
        text, pages = read_pdf_text(entry)
        op.tokens = TokenCounter.count_tokens(text)
        op.metadata["pages"] = pages
    return _parse_document(entry.name[: -len(".pdf")], text)


def _as_traversable(source: Traversable | str | os.PathLike[str]) -> Traversable:
    if isinstance(source, (str, os.PathLike)):
        return Path(source)
    return source


# ---------------------------------------------------------------------- embedding


class HashingEmbedder:
    """Deterministic feature-hashing embedder: no model, no download, no state.

    Features are the content-word unigrams and bigrams from :func:`tokenize`.
    Each feature is hashed with CRC-32; the low bits pick one of ``dim``
    buckets and the top bit a sign, so colliding features tend to cancel
    rather than pile up. Weights are sublinear term frequencies
    ``1 + log(tf)``; rows are L2-normalised (an empty text gives a zero row).

    >>> emb = HashingEmbedder()
    >>> v = emb.embed(["rain gauge calibration", "calibrating the rain gauges", "API keys"])
    >>> v.shape, round(float(v[0] @ v[0]), 6)
    ((3, 512), 1.0)
    >>> bool(v[0] @ v[1] > v[0] @ v[2])
    True
    """

    name: Final = "hashing-crc32"

    def __init__(self, dim: int = 512, *, bigrams: bool = True) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.dim = dim
        self.bigrams = bigrams

    def features(self, text: str) -> list[str]:
        """The hashed features of ``text``: unigrams, then ``"a b"`` bigrams.

        >>> HashingEmbedder().features("Charging battery packs")
        ['charg', 'battery', 'pack', 'charg battery', 'battery pack']
        """
        terms = tokenize(text)
        if self.bigrams:
            terms += [f"{a} {b}" for a, b in zip(terms, terms[1:])]
        return terms

    def embed(self, texts: list[str]) -> FloatMatrix:
        """Embed ``texts`` into a ``(len(texts), dim)`` float32 matrix."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, tf in Counter(self.features(text)).items():
                h = zlib.crc32(feature.encode("utf-8"))
                sign = -1.0 if h & 0x80000000 else 1.0
                out[row, h % self.dim] += sign * (1.0 + math.log(tf))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


# ---------------------------------------------------------------------- retrieval


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


# ------------------------------------------------------------------ term statistics


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


# ---------------------------------------------------------------------- reranking


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


# --------------------------------------------------------------------- generation


class Generator(Protocol):
    """Produces an answer as a stream of tokens (``llm_inference`` step).

    Two optional attributes are read by :meth:`RAGPipeline.generate`:
    ``separator`` (how pieces are joined, default ``" "`` for word tokens;
    ``""`` for LLM deltas that carry their own spaces) and ``last_usage``
    (a usage dict the model reported for the last answer, passed to
    ``op.set_usage``), as :class:`~ragperf.demo.openai_chat.OpenAIChatGenerator` has.
    """

    @property
    def model_name(self) -> str:
        """Recorded as the ``model`` metadata of each ``llm_inference`` operation."""
        ...

    def generate(self, question: str, contexts: Sequence[ScoredChunk]) -> Iterator[str]:
        """Yield the answer's tokens in order."""
        ...


class ExtractiveGenerator:
    """Local "LLM" that answers with the best-matching sentences from the context.

    Every sentence of the top ``context_chunks`` contexts is scored by the
    IDF-weighted overlap of its terms with the question (plus a bonus for
    shared bigrams and a small prior from the chunk's retrieval score). The
    best sentence is always kept; up to ``max_sentences - 1`` more from the
    same document are kept if they score at least ``relative_cutoff`` of the
    best, so an answer never stitches unrelated documents together. It is
    streamed as whitespace-separated word tokens.

    >>> c = Chunk("d#0", "d", "", 0, ("Cats purr.", "The warranty lasts three years."))
    >>> tokens = ExtractiveGenerator().generate("How long is the warranty?", [ScoredChunk(c, 1, 1)])
    >>> " ".join(tokens)
    'The warranty lasts three years.'
    """

    model_name: str = "extractive-local"

    def __init__(
        self,
        *,
        max_sentences: int = 2,
        context_chunks: int = 3,
        min_sentence_words: int = 4,
        relative_cutoff: float = 0.75,
    ) -> None:
        self.max_sentences = max_sentences
        self.context_chunks = context_chunks
        self.min_sentence_words = min_sentence_words
        self.relative_cutoff = relative_cutoff
        self._stats: TermStatistics | None = None

    def fit(self, chunks: Sequence[Chunk]) -> None:
        """Learn IDF weights from every indexed chunk."""
        self._stats = TermStatistics.from_texts([c.text for c in chunks])

    def select(self, question: str, contexts: Sequence[ScoredChunk]) -> list[str]:
        """The sentences that make up the answer, best first (may be empty)."""
        q_terms = tokenize(question)
        q_set = set(q_terms)
        q_bigrams = set(zip(q_terms, q_terms[1:]))
        used = contexts[: self.context_chunks]
        stats = self._stats or TermStatistics.from_texts([c.chunk.text for c in used])

        scored: list[tuple[float, int, str, str]] = []
        seen: set[str] = set()
        for context in used:
            for sentence in context.chunk.sentences:
                if (
                    sentence in seen
                    or sentence.endswith(":")  # a list's lead-in, not an answer
                    or len(sentence.split()) < self.min_sentence_words
                ):
                    continue
                seen.add(sentence)
                s_terms = tokenize(sentence)
                matched = q_set.intersection(s_terms)
                if not matched:
                    continue
                overlap = sum(stats.idf(t) for t in matched)
                overlap += 0.5 * sum(
                    stats.idf(a) + stats.idf(b)
                    for a, b in q_bigrams.intersection(zip(s_terms, s_terms[1:]))
                )
                score = overlap / math.sqrt(1.0 + len(s_terms)) + 0.5 * context.score
                scored.append((score, len(scored), context.chunk.doc_id, sentence))
        if not scored:
            return []
        scored.sort(key=lambda item: (-item[0], item[1]))
        best_score, _, best_doc, _ = scored[0]
        keep = [
            sentence
            for score, _, doc_id, sentence in scored
            if doc_id == best_doc and score >= self.relative_cutoff * best_score
        ]
        return keep[: self.max_sentences]

    def generate(self, question: str, contexts: Sequence[ScoredChunk]) -> Iterator[str]:
        """Stream the selected sentences word by word (or a fixed fallback)."""
        sentences = self.select(question, contexts) or [FALLBACK_ANSWER]
        for sentence in sentences:
            yield from sentence.split()


# ----------------------------------------------------------------------- pipeline


@dataclass(frozen=True)
class Answer:
    """The result of :meth:`RAGPipeline.answer`."""

    question: str
    text: str
    contexts: tuple[ScoredChunk, ...]
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_s: float

    @property
    def sources(self) -> list[str]:
        """Document ids of the contexts, best first, without duplicates."""
        return list(dict.fromkeys(c.chunk.doc_id for c in self.contexts))


def build_prompt(question: str, contexts: Sequence[ScoredChunk]) -> str:
    """The prompt an LLM generator would receive; used for prompt-token counts.

    >>> print(build_prompt("Why?", []))
    Answer the question using only the numbered context passages.
    <BLANKLINE>
    Question: Why?
    Answer:
    """
    parts = ["Answer the question using only the numbered context passages.", ""]
    for i, context in enumerate(contexts, 1):
        parts += [f"[{i}] {context.chunk.title} ({context.chunk.doc_id})", context.chunk.text, ""]
    parts += [f"Question: {question}", "Answer:"]
    return "\n".join(parts)


class RAGPipeline:
    """Index documents, then answer questions; every step is a tracked operation.

    >>> from ragperf import PerformanceMonitor
    >>> p = RAGPipeline(monitor=PerformanceMonitor(), top_k=5, context_k=2)
    >>> p.index(load_documents(monitor=p.monitor)) == len(p.chunks)
    True
    >>> p.retrieve("How long is the warranty?")[0].chunk.doc_id
    '15_warranty'
    """

    def __init__(
        self,
        *,
        monitor: PerformanceMonitor | None = None,
        embedder: Embedder | None = None,
        chunker: Chunker | None = None,
        reranker: Reranker | None = None,
        generator: Generator | None = None,
        top_k: int = 8,
        context_k: int = 3,
    ) -> None:
        if top_k <= 0 or context_k <= 0:
            raise ValueError("top_k and context_k must be positive")
        self.monitor: PerformanceMonitor = (
            monitor if monitor is not None else get_performance_monitor()
        )
        self.embedder: Embedder = embedder if embedder is not None else HashingEmbedder()
        self.chunker: Chunker = chunker if chunker is not None else SentenceChunker()
        self.reranker: Reranker = reranker if reranker is not None else BM25Reranker()
        self.generator: Generator = generator if generator is not None else ExtractiveGenerator()
        self.top_k = top_k
        self.context_k = context_k
        self._index = VectorIndex()

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every indexed chunk."""
        return self._index.chunks

    def _embed(self, texts: list[str]) -> FloatMatrix:
        vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"embedder returned shape {vectors.shape} for {len(texts)} texts")
        return vectors

    def index(
        self,
        documents: Sequence[Document],
        *,
        progress: Callable[[int, int], None] | None = None,
        batch_size: int = 8,
    ) -> int:
        """Chunk and embed ``documents`` and add them to the index; returns the chunk count.

        Tracked as ``semantic_chunking``, then one ``"index_building"`` block
        for the rest of the phase: inside it, one ``embedding_generation``
        block per batch of ``batch_size`` chunks (so the report shows batch
        latency, not one long outlier), then filling the index and fitting
        the term statistics. ``progress(done, total)`` is called after every
        batch (the demo draws its progress bar from it).
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        mon = self.monitor
        with mon.track_operation(
            OperationType.SEMANTIC_CHUNKING, {"documents": len(documents)}
        ) as op:
            chunks = [c for d in documents for c in self.chunker.chunk(d)]
            op.tokens = TokenCounter.count_tokens_in_list([c.text for c in chunks])
            op.metadata["chunks"] = len(chunks)
            op.metadata["chunker"] = _name_of(self.chunker)

        texts = [c.embedding_text for c in chunks]
        embedder = _name_of(self.embedder)
        with mon.track_operation(INDEX_BUILDING, {"chunks": len(chunks)}):
            parts: list[FloatMatrix] = []
            for start in range(0, len(texts), batch_size):
                batch = texts[start : start + batch_size]
                with mon.track_operation(
                    OperationType.EMBEDDING_GENERATION,
                    {"phase": "index", "texts": len(batch), "embedder": embedder},
                ) as op:
                    parts.append(self._embed(batch))
                    op.tokens = TokenCounter.count_tokens_in_list(batch)
                if progress is not None:
                    progress(start + len(batch), len(texts))
            if parts:
                self._index.add(chunks, np.vstack(parts))
            everything = self._index.chunks
            for component in (self.reranker, self.generator):
                if isinstance(component, SupportsFit):
                    component.fit(everything)
        return len(chunks)

    def retrieve(self, question: str, k: int | None = None) -> list[ScoredChunk]:
        """Embed ``question`` and return the ``k`` (default ``top_k``) nearest chunks."""
        mon = self.monitor
        with mon.track_operation(
            OperationType.EMBEDDING_GENERATION,
            {"phase": "query", "texts": 1, "embedder": _name_of(self.embedder)},
        ) as op:
            query = self._embed([question])[0]
            op.tokens = TokenCounter.count_tokens(question)
        k = self.top_k if k is None else k
        with mon.track_operation(
            OperationType.DOCUMENT_RETRIEVAL, {"top_k": k, "index_size": len(self._index)}
        ) as op:
            hits = self._index.search(query, k)
            op.metadata["best_score"] = hits[0].score if hits else 0.0
        return hits

    def rerank(self, question: str, candidates: Sequence[ScoredChunk]) -> list[ScoredChunk]:
        """Rerank retrieval ``candidates`` and keep the best ``context_k``."""
        with self.monitor.track_operation(
            OperationType.RERANKING,
            {
                "candidates": len(candidates),
                "top_n": self.context_k,
                "reranker": _name_of(self.reranker),
            },
        ):
            ranked = self.reranker.rerank(question, candidates, self.context_k)
        return ranked

    def generate(self, question: str, contexts: Sequence[ScoredChunk]) -> Answer:
        """Stream an answer from the generator inside one ``llm_inference`` block.

        Streaming is recorded with the tracker's own calls: the first piece
        marks the time to first token (``op.mark_first_token()``), every
        piece adds one completion token (``op.add_tokens(1)``), and a usage
        the generator reports at the end (``generator.last_usage``, as the
        OpenAI-compatible generator does) replaces those counts
        (``op.set_usage``). The prompt tokens are estimated from
        :func:`build_prompt` unless the usage says otherwise. Pieces are
        joined with ``generator.separator`` (default ``" "``: word tokens).
        """
        prompt = build_prompt(question, contexts)
        separator = getattr(self.generator, "separator", " ")
        with self.monitor.track_operation(
            OperationType.LLM_INFERENCE, {"model": self.generator.model_name}
        ) as op:
            op.prompt_tokens = TokenCounter.count_tokens(prompt)
            pieces: list[str] = []
            for piece in self.generator.generate(question, contexts):
                if not pieces:
                    op.mark_first_token()
                pieces.append(piece)
                op.add_tokens(1)
            usage = getattr(self.generator, "last_usage", None)
            if usage is not None:
                op.set_usage(usage)
            op.tokens = op.prompt_tokens + op.completion_tokens
            first_token_s = op.time_to_first_token_s
        return Answer(
            question=question,
            text=separator.join(pieces).strip(),
            contexts=tuple(contexts),
            prompt_tokens=op.prompt_tokens,
            completion_tokens=op.completion_tokens,
            time_to_first_token_s=first_token_s or 0.0,
        )

    def answer(self, question: str) -> Answer:
        """Retrieve, rerank and generate, all inside one ``query_processing`` operation.

        >>> from ragperf import PerformanceMonitor
        >>> p = RAGPipeline(monitor=PerformanceMonitor())
        >>> _ = p.index(load_documents(monitor=p.monitor))
        >>> "429" in p.answer("What status code means I exceeded the API rate limit?").text
        True
        """
        with self.monitor.track_operation(
            OperationType.QUERY_PROCESSING, {"question_chars": len(question)}
        ) as op:
            candidates = self.retrieve(question)
            contexts = self.rerank(question, candidates)
            result = self.generate(question, contexts)
            op.tokens = result.prompt_tokens + result.completion_tokens
            op.metadata["top_source"] = result.sources[0] if result.sources else ""
        return result


def _name_of(component: object) -> str:
    name = getattr(component, "name", None)
    return name if isinstance(name, str) else type(component).__name__


# ---------------------------------------------------------------------------- demo


def run_demo(
    queries: Sequence[str] | None = None,
    *,
    monitor: PerformanceMonitor | None = None,
    metrics_path: str | os.PathLike[str] = "metrics.json",
    repeat: int = 1,
    quiet: bool = False,
    embedder: Embedder | None = None,
    generator: Generator | None = None,
    chunker: Chunker | None = None,
    csv_path: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Index the bundled handbook, answer ``queries`` ``repeat`` times, report.

    Prints each question with a short answer (first round only) and the
    monitor's report, writes the metrics JSON to ``metrics_path`` and the
    per-operation CSV to ``csv_path`` (default: ``metrics_path`` with a
    ``.csv`` suffix), names the command that opens the dashboard on the JSON,
    and returns ``monitor.generate_report()``. ``quiet=True`` prints nothing.
    ``embedder`` and ``generator`` replace the defaults
    (:class:`HashingEmbedder`, :class:`ExtractiveGenerator`), e.g. with
    :class:`~ragperf.demo.minilm.MiniLMEmbedder` or
    :class:`~ragperf.demo.openai_chat.OpenAIChatGenerator`. Documents are cut
    by ``chunker``, by default a
    :class:`~ragperf.demo.semantic_chunker.SemanticChunker` using the embedder. A progress bar
    for the embedding of the index is drawn on stderr when ``progress`` is
    True, or when it is None (the default), not quiet and stderr is a terminal.

    >>> import tempfile, pathlib
    >>> from ragperf import PerformanceMonitor
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "m.json"
    >>> report = run_demo(["Who founded Alderbank?"], monitor=PerformanceMonitor(),
    ...                   metrics_path=out, quiet=True)
    >>> report["operations"]["query_processing"]["total"], out.exists(), out.with_suffix(".csv").exists()
    (1, True, True)
    """
    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be an integer >= 1, got {repeat!r}")
    questions = list(DEFAULT_QUESTIONS if queries is None else queries)
    mon = monitor if monitor is not None else get_performance_monitor()
    json_path = os.fspath(metrics_path)
    table_path = os.fspath(csv_path) if csv_path is not None else _csv_next_to(json_path)

    def say(text: str = "") -> None:
        if not quiet:
            print(text, flush=True)

    # Chunking and indexing are batch phases, not requests: judge them against
    # minutes, not the request-path default (good < 2 s, investigate > 5 s).
    for batch_phase in (OperationType.SEMANTIC_CHUNKING, INDEX_BUILDING):
        mon.set_latency_target(batch_phase, good_below_s=60.0, investigate_above_s=600.0)
    documents = load_documents(monitor=mon)
    pipeline = RAGPipeline(monitor=mon, embedder=embedder, generator=generator, chunker=chunker)
    if chunker is None:
        from .semantic_chunker import SemanticChunker

        pipeline.chunker = SemanticChunker(pipeline.embedder)
    # None: draw when stderr is a terminal (unless quiet); True/False: as told
    bar_enabled = (None if not quiet else False) if progress is None else progress
    n_chunks = _index_with_progress(pipeline, documents, enabled=bar_enabled)
    say(
        f"ragperf demo: {len(documents)} documents -> {n_chunks} chunks, "
        f"{_name_of(pipeline.embedder)} embedder, {pipeline.generator.model_name} generator"
    )
    say(f"answering {len(questions)} question(s) x {repeat}\n")

    for round_ in range(repeat):
        for number, question in enumerate(questions, 1):
            result = pipeline.answer(question)
            if round_ == 0:
                source = result.contexts[0] if result.contexts else None
                where = f"{source.chunk.doc_id} (score {source.score:.2f})" if source else "none"
                say(f"[{number}] Q: {question}")
                say(
                    textwrap.fill(
                        result.text, width=92, initial_indent="    A: ", subsequent_indent="       "
                    )
                )
                ttft_ms = result.time_to_first_token_s * 1e3
                say(
                    f"       source: {where}; {result.completion_tokens} answer tokens, "
                    f"first token after {ttft_ms:.2f} ms\n"
                )

    if not quiet:
        mon.print_report()
    mon.export_metrics_json(json_path)
    mon.export_metrics_csv(table_path)
    say(f"\nmetrics written to {os.path.abspath(json_path)}")
    say(f"per-operation CSV written to {os.path.abspath(table_path)}")
    say(f"open the dashboard:  ragperf dashboard {_shell_quote(json_path)}")
    return mon.generate_report()


def _csv_next_to(json_path: str) -> str:
    root, ext = os.path.splitext(json_path)
    return f"{root}.csv" if ext.lower() == ".json" else f"{json_path}.csv"


def _shell_quote(path: str) -> str:
    import shlex

    return shlex.quote(path)


def _index_with_progress(
    pipeline: RAGPipeline, documents: Sequence[Document], *, enabled: bool | None
) -> int:
    from .progress import ProgressBar

    with ProgressBar(0, "indexing: embedding chunks", enabled=enabled) as bar:

        def update(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.done)

        return pipeline.index(documents, progress=update)
