"""The generate step of the demo pipeline: the :class:`Generator` protocol, the local
:class:`ExtractiveGenerator` and the prompt an LLM generator receives
(:class:`~ragperf.demo.openai_chat.OpenAIChatGenerator` is the real-LLM one).

>>> build_prompt("Why?", []).splitlines()[-2:]
['Question: Why?', 'Answer:']
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Final, Protocol

from .chunking import Chunk
from .retrieval import ScoredChunk
from .terms import TermStatistics, tokenize

__all__ = ["FALLBACK_ANSWER", "ExtractiveGenerator", "Generator", "build_prompt"]

FALLBACK_ANSWER: Final = "I could not find an answer to that in the handbook."


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
