"""Tests for the bundled RAG demo (ragperf.demo): real pipeline outcomes and reported metrics."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragperf import PerformanceMonitor
from ragperf.demo.__main__ import main
from ragperf.demo.semantic_chunker import SemanticChunker
from ragperf.demo.pipeline import (
    DEFAULT_QUESTIONS,
    BM25Reranker,
    Chunk,
    Document,
    ExtractiveGenerator,
    HashingEmbedder,
    RAGPipeline,
    ScoredChunk,
    SentenceChunker,
    VectorIndex,
    load_documents,
    run_demo,
    split_sentences,
)

REPEAT = 2

# Each built-in question is answered by exactly one handbook section.
EXPECTED_SOURCE = {
    "How long is the warranty on the Halyard weather station?": "15_warranty",
    "How many API requests per minute are allowed on the Free plan?": "11_api_rate_limits",
    "How many days do I have to return a product for a refund?": "14_returns_refunds",
    "How long does standard shipping take within the European Union?": "13_shipping",
    "How do I reset the Wi-Fi settings on my station?": "09_connectivity_troubleshooting",
    "How often should I check and calibrate the rain gauge?": "06_calibration",
    "How long are raw one-minute readings kept?": "12_data_retention_privacy",
    "What are the customer support hours?": "16_support",
    "Which radio band does the Beacon gateway use in Europe?": "17_radio_compliance",
}

# The fact each answer must state (a substring of the right sentence).
EXPECTED_FACT = {
    "15_warranty": "three-year limited warranty",
    "11_api_rate_limits": "60 requests per minute",
    "14_returns_refunds": "within 30 days of delivery",
    "13_shipping": "2 to 4 working days",
    "09_connectivity_troubleshooting": "hold the pairing button for ten seconds",
    "06_calibration": "every six months",
    "12_data_retention_privacy": "kept for 90 days",
    "16_support": "08:00 to 18:00",
    "17_radio_compliance": "868 MHz band",
}


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return load_documents(monitor=PerformanceMonitor())


@pytest.fixture(scope="module")
def docs_by_id(documents: list[Document]) -> dict[str, Document]:
    return {d.doc_id: d for d in documents}


@pytest.fixture(scope="module")
def pipeline(documents: list[Document]) -> RAGPipeline:
    p = RAGPipeline(monitor=PerformanceMonitor())
    p.index(documents)
    return p


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    path = tmp_path_factory.mktemp("demo") / "metrics.json"
    report = run_demo(quiet=True, metrics_path=path, monitor=PerformanceMonitor(), repeat=REPEAT)
    return report, path


# ---------------------------------------------------------------- the corpus


def test_corpus_is_bundled_and_sized(documents: list[Document]) -> None:
    # 16 text files and one PDF read with pypdf
    assert len(documents) == 17
    assert sum(d.doc_id == "17_radio_compliance" for d in documents) == 1
    assert len({d.doc_id for d in documents}) == len(documents)
    for doc in documents:
        assert doc.title and doc.title == doc.title.strip()
        assert 150 <= len(doc.text.split()) <= 400, doc.doc_id


def test_expected_sources_match_the_builtin_questions(docs_by_id: dict[str, Document]) -> None:
    assert set(EXPECTED_SOURCE) == set(DEFAULT_QUESTIONS)
    assert set(EXPECTED_SOURCE.values()) <= set(docs_by_id)


# --------------------------------------------------------- run_demo and report


def test_every_step_is_reported_with_the_right_counts(
    demo_run: tuple[dict[str, Any], Path], documents: list[Document]
) -> None:
    report, _ = demo_run
    chunker = SemanticChunker(HashingEmbedder())  # what run_demo uses with its default embedder
    batches = math.ceil(sum(len(chunker.chunk(d)) for d in documents) / 8)
    ops = report["operations"]
    answered = len(DEFAULT_QUESTIONS) * REPEAT
    expected = {
        "document_loading": 1,
        "pdf_loading": 1,
        "semantic_chunking": 1,
        "embedding_generation": batches + answered,  # index batches of 8, one per question
        "index_building": 1,
        "document_retrieval": answered,
        "reranking": answered,
        "llm_inference": answered,
        "query_processing": answered,
    }
    assert {name: ops[name]["total"] for name in expected} == expected
    for name in expected:
        assert ops[name]["successful"] == ops[name]["total"], name
        assert ops[name]["failed"] == 0, name
    assert report["total_operations"] == sum(op["total"] for op in ops.values())


def test_durations_are_positive_and_ordered(demo_run: tuple[dict[str, Any], Path]) -> None:
    report, _ = demo_run
    for name, op in report["operations"].items():
        d = op["duration"]
        assert 0 < d["min"] <= d["max"], name
        assert d["min"] <= d["avg"] <= d["max"] * (1 + 1e-9), name
        assert d["p50"] <= d["p95"] <= d["p99"], name
        # percentiles may come from a relative-error sketch: allow 2 % slack at the edges
        assert d["min"] * 0.98 <= d["p50"] and d["p99"] <= d["max"] * 1.02, name


def test_tokens_are_counted_where_text_flows(demo_run: tuple[dict[str, Any], Path]) -> None:
    ops = demo_run[0]["operations"]
    for name in ("document_loading", "semantic_chunking", "embedding_generation", "llm_inference"):
        assert ops[name]["tokens"]["total"] > 0, name
    llm = ops["llm_inference"]["tokens"]
    assert llm["avg"] == pytest.approx(llm["total"] / ops["llm_inference"]["total"])
    # every answer is a few sentences plus a prompt with three context chunks
    assert 50 < llm["avg"] < 2000
    assert ops["document_retrieval"]["tokens"]["total"] == 0


def test_metrics_json_has_the_seed_schema(demo_run: tuple[dict[str, Any], Path]) -> None:
    report, path = demo_run
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data["timestamp"], str) and data["timestamp"]
    assert data["total_operations"] == report["total_operations"]
    memory = data["memory"]
    for key in ("current_rss_mb", "min_rss_mb", "max_rss_mb", "avg_rss_mb"):
        assert isinstance(memory[key], (int, float)) and memory[key] > 0, key
    assert memory["min_rss_mb"] <= memory["avg_rss_mb"] <= memory["max_rss_mb"]
    assert set(data["operations"]) == set(report["operations"])
    for name, op in data["operations"].items():
        for key in ("total", "successful", "failed"):
            assert isinstance(op[key], int), (name, key)
        assert set(op["duration"]) >= {"min", "max", "avg", "p50", "p95", "p99"}, name
        assert set(op["tokens"]) >= {"total", "avg"}, name
        assert all(math.isfinite(v) for v in op["duration"].values() if isinstance(v, float))


def test_run_demo_prints_questions_answers_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.json"
    question = "How many days do I have to return a product for a refund?"
    report = run_demo([question], monitor=PerformanceMonitor(), metrics_path=path)
    out = capsys.readouterr().out
    assert question in out
    assert "within 30 days of delivery" in out
    assert str(path.resolve()) in out
    assert path.exists()
    assert report["operations"]["query_processing"]["total"] == 1


def test_run_demo_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_demo(
        ["Who founded Alderbank?"],
        monitor=PerformanceMonitor(),
        metrics_path=tmp_path / "m.json",
        quiet=True,
    )
    assert capsys.readouterr().out == ""


def test_run_demo_rejects_bad_repeat(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        run_demo(
            monitor=PerformanceMonitor(), metrics_path=tmp_path / "m.json", repeat=0, quiet=True
        )


def test_cli_writes_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cli.json"
    argv = ["--quiet", "--embedder", "hashing", "--metrics", str(path)]
    assert main([*argv, "--question", "Who founded Alderbank?"]) == 0
    assert (
        json.loads(path.read_text(encoding="utf-8"))["operations"]["query_processing"]["total"] >= 1
    )
    assert capsys.readouterr().out == ""


# -------------------------------------------------------- retrieval and answers


@pytest.mark.parametrize("question", DEFAULT_QUESTIONS)
def test_retrieval_ranks_the_answering_document_first(pipeline: RAGPipeline, question: str) -> None:
    hits = pipeline.retrieve(question)
    assert len(hits) == pipeline.top_k
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].chunk.doc_id == EXPECTED_SOURCE[question]


@pytest.mark.parametrize("question", DEFAULT_QUESTIONS)
def test_answer_quotes_the_answering_document(
    pipeline: RAGPipeline, docs_by_id: dict[str, Document], question: str
) -> None:
    answer = pipeline.answer(question)
    expected = EXPECTED_SOURCE[question]
    assert answer.sources[0] == expected
    sentences = split_sentences(docs_by_id[expected].text)
    assert any(s in answer.text for s in sentences), answer.text
    assert EXPECTED_FACT[expected] in answer.text
    assert answer.completion_tokens == len(answer.text.split())
    assert answer.prompt_tokens > answer.completion_tokens


def test_unanswerable_question_falls_back(pipeline: RAGPipeline) -> None:
    answer = pipeline.answer("zyxxy qwertz")
    assert answer.text == "I could not find an answer to that in the handbook."


# ------------------------------------------------------------------- chunker


def test_chunker_overlaps_and_covers_every_sentence(documents: list[Document]) -> None:
    chunker = SentenceChunker()
    for doc in documents:
        chunks = chunker.chunk(doc)
        assert chunks, doc.doc_id
        assert [c.index for c in chunks] == list(range(len(chunks)))
        for c in chunks:
            assert c.text.strip() and all(s.strip() for s in c.sentences)
            assert c.word_count <= chunker.max_words
            assert c.doc_id == doc.doc_id and c.title == doc.title
        for c in chunks[:-1]:
            assert c.word_count >= chunker.min_words
        for prev, nxt in zip(chunks, chunks[1:]):
            assert nxt.sentences[0] in prev.sentences, "consecutive chunks must overlap"
            assert nxt.sentences[-1] not in prev.sentences, "every chunk must add new text"
        covered = [s for c in chunks for s in c.sentences]
        assert list(dict.fromkeys(covered)) == split_sentences(doc.text)


def test_chunker_edge_cases() -> None:
    chunker = SentenceChunker(min_words=10, max_words=20, overlap_words=5)
    assert chunker.chunk(Document("empty", "Empty", "")) == []
    assert chunker.chunk(Document("blank", "Blank", "  \n\n  ")) == []
    short = chunker.chunk(Document("short", "Short", "Just one short sentence."))
    assert [c.text for c in short] == ["Just one short sentence."]
    long_sentence = " ".join(f"w{i}" for i in range(55)) + "."
    pieces = chunker.chunk(Document("long", "Long", long_sentence))
    assert all(0 < c.word_count <= 20 for c in pieces)
    assert " ".join(c.text for c in pieces).split() == long_sentence.split()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_words": 0},
        {"min_words": 50, "max_words": 40},
        {"overlap_words": 60},
        {"overlap_words": -1},
    ],
)
def test_chunker_rejects_bad_sizes(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        SentenceChunker(**kwargs)


def test_split_sentences_handles_lists_and_abbreviations() -> None:
    text = (
        "Title line\n\nLimits:\n- Free: 60 per minute.\n"
        "1. Step one, e.g. This.\nWrapped\nline. Next one!"
    )
    assert split_sentences(text) == [
        "Title line",
        "Limits:",
        "Free: 60 per minute.",
        "Step one, e.g. This.",
        "Wrapped line.",
        "Next one!",
    ]


# ------------------------------------------------------------------ embedder


def test_hashing_embedder_is_deterministic_and_unit_norm() -> None:
    texts = [
        "The rain gauge tips every 0.2 millimetres.",
        "API keys can be revoked.",
        "Warranty claims",
    ]
    a = HashingEmbedder().embed(texts)
    b = HashingEmbedder().embed(list(reversed(texts)))[::-1]
    assert a.shape == (3, 512) and a.dtype == np.float32
    assert np.array_equal(a, b)  # fresh instance, other batch order: bit-identical
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)
    assert not np.any(HashingEmbedder().embed(["", "the and of"]))  # nothing to hash: zero rows


def test_hashing_embedder_places_similar_texts_closer() -> None:
    emb = HashingEmbedder()
    base, para, other = emb.embed(
        [
            "How long does standard shipping take to Germany?",
            "Standard shipping within the EU takes two to four working days.",
            "Reset the Wi-Fi settings by holding the pairing button.",
        ]
    )
    assert float(base @ para) > float(base @ other) + 0.1


def test_hashing_embedder_dimension() -> None:
    assert HashingEmbedder(dim=64).embed(["solar panel"]).shape == (1, 64)
    with pytest.raises(ValueError):
        HashingEmbedder(dim=0)


# ------------------------------------------------------- index, rerank, generate


def _chunk(i: int, text: str) -> Chunk:
    return Chunk(f"d{i}#0", f"d{i}", f"Doc {i}", 0, tuple(split_sentences(text)))


def test_vector_index_orders_by_cosine_and_clips_k() -> None:
    index = VectorIndex()
    vectors = np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
    index.add([_chunk(i, f"text {i}.") for i in range(3)], vectors)
    hits = index.search(np.array([1, 0], dtype=np.float32), k=10)
    assert [h.chunk.doc_id for h in hits] == ["d0", "d1", "d2"]
    assert [round(h.score, 4) for h in hits] == [1.0, 0.6, 0.0]
    with pytest.raises(ValueError):
        index.add([_chunk(9, "x.")], np.ones((2, 2), dtype=np.float32))


def test_bm25_reranker_prefers_lexical_match_and_keeps_top_n() -> None:
    chunks = [
        _chunk(0, "Shipping takes four days."),
        _chunk(1, "Returns are accepted within 30 days."),
        _chunk(2, "The barometer needs the station altitude."),
    ]
    reranker = BM25Reranker(alpha=0.5)
    reranker.fit(chunks)
    candidates = [ScoredChunk(c, 0.4, 0.4) for c in chunks]
    ranked = reranker.rerank("Are returns accepted?", candidates, top_n=2)
    assert ranked[0].chunk.doc_id == "d1"
    assert len(ranked) == 2 and ranked[0].score >= ranked[1].score
    assert ranked[0].lexical > 0 and ranked[0].cosine == 0.4


def test_extractive_generator_streams_word_tokens() -> None:
    chunk = _chunk(0, "Cats purr loudly. The warranty lasts three years from delivery.")
    tokens = list(
        ExtractiveGenerator().generate(
            "How long does the warranty last?", [ScoredChunk(chunk, 1, 1)]
        )
    )
    assert tokens == "The warranty lasts three years from delivery.".split()


# ------------------------------------------------------------- pluggability


class _CountingEmbedder:
    """Wraps the hashing embedder and counts calls: any object with ``embed`` plugs in."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder(dim=128)
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return self.inner.embed(texts)


class _EchoGenerator:
    model_name = "echo"

    def generate(self, question: str, contexts: Sequence[ScoredChunk]) -> Iterator[str]:
        yield from f"{contexts[0].chunk.doc_id}: {question}".split()


class _BrokenGenerator:
    model_name = "broken"

    def generate(self, question: str, contexts: Sequence[ScoredChunk]) -> Iterator[str]:
        yield "partial"
        raise RuntimeError("model crashed")


def test_custom_embedder_and_generator_plug_in(documents: list[Document]) -> None:
    monitor = PerformanceMonitor()
    embedder = _CountingEmbedder()
    p = RAGPipeline(
        monitor=monitor, embedder=embedder, generator=_EchoGenerator(), top_k=4, context_k=2
    )
    n_chunks = p.index(documents, batch_size=16)
    answer = p.answer("How long is the warranty?")
    assert answer.text == "15_warranty: How long is the warranty?"
    assert embedder.calls == math.ceil(n_chunks / 16) + 1  # index batches, then the question
    report = monitor.generate_report()
    assert report["operations"]["llm_inference"]["total"] == 1
    assert report["operations"]["embedding_generation"]["total"] == embedder.calls
    (tree,) = [t for t in monitor.get_recent_traces(10) if t["operation"] == "index_building"]
    assert [c["operation"] for c in tree["children"]] == ["embedding_generation"] * (embedder.calls - 1)


def test_failures_are_recorded_and_propagate(documents: list[Document]) -> None:
    monitor = PerformanceMonitor()
    p = RAGPipeline(monitor=monitor, generator=_BrokenGenerator())
    p.index(documents)
    with pytest.raises(RuntimeError, match="model crashed"):
        p.answer("How long is the warranty?")
    ops = monitor.generate_report()["operations"]
    for name in ("llm_inference", "query_processing"):
        assert (ops[name]["total"], ops[name]["successful"], ops[name]["failed"]) == (1, 0, 1), name
    for name in ("document_retrieval", "reranking"):
        assert ops[name]["failed"] == 0, name


def test_run_demo_accepts_a_custom_generator(tmp_path: Path) -> None:
    monitor = PerformanceMonitor()
    embedder = _CountingEmbedder()
    report = run_demo(
        ["How long is the warranty?", "What are the customer support hours?"],
        monitor=monitor,
        metrics_path=tmp_path / "m.json",
        quiet=True,
        embedder=embedder,
        generator=_EchoGenerator(),
    )
    assert report["operations"]["llm_inference"]["total"] == 2
    (chunking,) = monitor.get_recent_operations("semantic_chunking")
    batches = math.ceil(chunking["metadata"]["chunks"] / 8)
    # the semantic chunker embeds each document's sentences once (inside semantic_chunking)
    n_docs = len(load_documents(monitor=PerformanceMonitor()))
    assert embedder.calls == n_docs + batches + 2
    assert report["operations"]["embedding_generation"]["total"] == batches + 2
