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

import os
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from ragperf import OperationType, PerformanceMonitor, TokenCounter, get_performance_monitor

# The steps, one module each; their names are re-exported here.
from .chunking import (
    Chunk,
    Chunker,
    Document,
    Embedder,
    SentenceChunker,
    chunks_from_spans,
    cut_long_sentences,
    split_sentences,
)
from .embedding import FloatMatrix, HashingEmbedder
from .generation import FALLBACK_ANSWER, ExtractiveGenerator, Generator, build_prompt
from .loading import DOCUMENT_LOADING, corpus_root, load_documents
from .retrieval import BM25Reranker, Reranker, ScoredChunk, VectorIndex
from .terms import SupportsFit, TermStatistics, tokenize

__all__ = [
    "DEFAULT_QUESTIONS",
    "DOCUMENT_LOADING",
    "FALLBACK_ANSWER",
    "INDEX_BUILDING",
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
    "build_prompt",
    "corpus_root",
    "chunks_from_spans",
    "cut_long_sentences",
    "load_documents",
    "run_demo",
    "split_sentences",
    "tokenize",
]

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
