"""SemanticChunker: cuts at topic shifts measured by the embedder, within size bounds."""

from __future__ import annotations

import numpy as np
import pytest

from ragperf import PerformanceMonitor
from ragperf.demo.pipeline import (
    Document,
    HashingEmbedder,
    cut_long_sentences,
    load_documents,
    run_demo,
    split_sentences,
)
from ragperf.demo.semantic_chunker import SemanticChunker

RAIN = "The rain gauge tips every 0.2 mm of rain. Clean the rain gauge funnel after storms. "
BILLING = "Invoices are sent by email each month. Invoices list the plan, the price and the tax. "


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return load_documents(monitor=PerformanceMonitor())


def test_cuts_where_the_topic_changes() -> None:
    chunker = SemanticChunker(HashingEmbedder(), min_words=10, max_words=60)
    chunks = chunker.chunk(Document("d", "T", RAIN + BILLING + RAIN))
    assert [c.text for c in chunks] == [RAIN.strip(), BILLING.strip(), RAIN.strip()]
    assert [c.chunk_id for c in chunks] == ["d#0", "d#1", "d#2"]


def test_every_cut_is_a_breakpoint_or_forced_by_size(documents: list[Document]) -> None:
    chunker = SemanticChunker(HashingEmbedder())
    for doc in documents:
        pieces = cut_long_sentences(split_sentences(doc.text), chunker.max_words)
        chunks = chunker.chunk(doc)
        # every sentence exactly once, in reading order, no overlap
        assert [s for c in chunks for s in c.sentences] == pieces, doc.doc_id
        assert all(0 < c.word_count <= chunker.max_words for c in chunks), doc.doc_id
        sims = chunker.similarities(pieces)
        cut_below = float(np.percentile(sims, chunker.breakpoint_percentile))
        start = 0
        for left, right in zip(chunks, chunks[1:]):
            start += len(left.sentences)
            forced = left.word_count + len(right.sentences[0].split()) > chunker.max_words
            assert forced or (sims[start - 1] <= cut_below and left.word_count >= chunker.min_words)


def test_empty_and_single_sentence_documents() -> None:
    chunker = SemanticChunker(HashingEmbedder())
    assert chunker.chunk(Document("e", "E", " \n ")) == []
    (only,) = chunker.chunk(Document("s", "S", "Just one sentence."))
    assert only.sentences == ("Just one sentence.",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_words": 0}, "min_words=0"),
        ({"min_words": 50, "max_words": 40}, "max_words=40"),
        ({"breakpoint_percentile": 101}, "101"),
    ],
)
def test_bad_sizes_name_the_value(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SemanticChunker(HashingEmbedder(), **kwargs)  # type: ignore[arg-type]


def test_run_demo_chunks_semantically(tmp_path: object) -> None:
    monitor = PerformanceMonitor()
    run_demo(["Who founded Alderbank?"], monitor=monitor, quiet=True,
             metrics_path=f"{tmp_path}/m.json")
    (record,) = monitor.get_recent_operations("semantic_chunking")
    assert record["metadata"]["chunker"] == "semantic"
    assert record["metadata"]["chunks"] > 17  # more than one chunk per document
