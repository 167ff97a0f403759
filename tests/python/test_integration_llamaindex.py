"""ragperf.integrations.llamaindex against real llama-index-core code: a
VectorStoreIndex over a few documents with MockEmbedding and MockLLM, a
query engine with a node postprocessor, streaming and async queries, no
network. Checks counts, tokens, time to first token, failures and the trace
tree.

LlamaIndex loads NLTK data and tiktoken encodings on first use and would
download them if missing: the fixture points both at the copies bundled in
llama-index-core and refuses every non-loopback connection, so a missing
file fails fast instead of hanging on the network."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("llama_index.core")

import llama_index.core  # noqa: E402
from llama_index.core import Document, Settings, VectorStoreIndex  # noqa: E402
from llama_index.core.base.llms.types import CompletionResponse  # noqa: E402
from llama_index.core.embeddings import MockEmbedding  # noqa: E402
from llama_index.core.llms import ChatMessage, MockLLM  # noqa: E402
from llama_index.core.llms.callbacks import llm_completion_callback  # noqa: E402
from llama_index.core.postprocessor import SimilarityPostprocessor  # noqa: E402
from llama_index.core.postprocessor.types import BaseNodePostprocessor  # noqa: E402

from ragperf import PerformanceMonitor, TokenCounter  # noqa: E402
from ragperf.integrations.llamaindex import instrument  # noqa: E402

DOCS = ["RAG is retrieval augmented generation.", "Cats purr.", "Dogs bark.", "Birds sing."]
STATIC = Path(llama_index.core.__file__).parent / "_static"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NLTK_DATA", str(STATIC / "nltk_cache"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(STATIC / "tiktoken_cache"))
    real_connect = socket.socket.connect

    def loopback_only(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test is offline: refused connection to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    Settings.llm = MockLLM(max_tokens=8)
    Settings.embed_model = MockEmbedding(embed_dim=8)
    yield


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    with instrument(m) as handle:
        yield m
        assert handle.open_operations == 0


class UsageLLM(MockLLM):
    """MockLLM whose responses report usage the way OpenAI-backed LLMs do (raw)."""

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(
            text="RAG answer", raw={"model": "mock-4", "usage": {"prompt_tokens": 40, "completion_tokens": 2}}
        )


class FailingEmbedding(MockEmbedding):
    def _get_query_embedding(self, query: str) -> list[float]:
        raise ConnectionError("embedding service down")


def _ops(node: dict[str, Any]) -> tuple[Any, ...]:
    return (node["operation"], *[_ops(c) for c in node["children"]])


def test_query_engine_counts_tree_and_usage(monitor: PerformanceMonitor) -> None:
    index = VectorStoreIndex.from_documents([Document(text=t) for t in DOCS])
    engine = index.as_query_engine(
        llm=UsageLLM(), similarity_top_k=3, node_postprocessors=[SimilarityPostprocessor(similarity_cutoff=0.0)]
    )
    for _ in range(2):
        assert str(engine.query("what is rag")) == "RAG answer"
    stats = monitor.get_all_stats()
    assert stats["query_processing"].total_operations == 2
    assert stats["document_retrieval"].total_operations == 2
    assert stats["reranking"].total_operations == 2
    assert stats["llm_inference"].total_operations == 2
    assert stats["embedding_generation"].total_operations == 1 + 2  # one batch for the index, one per query
    llm = stats["llm_inference"]
    assert (llm.prompt_tokens, llm.completion_tokens) == (80, 4)
    tree = monitor.get_recent_traces(1)[0]
    assert _ops(tree) == (
        "query_processing",
        ("document_retrieval", ("embedding_generation",)),
        ("reranking",),
        ("llm_inference",),
    )
    retrieval, rerank, inference = tree["children"]
    assert retrieval["metadata"] == {"name": "VectorIndexRetriever", "documents": 3}
    assert rerank["metadata"] == {"name": "SimilarityPostprocessor", "documents": 3}
    assert inference["model"] == "mock-4" and inference["tokens"] == 42
    assert inference["metadata"]["token_source"] == "usage"
    index_embedding = monitor.get_recent_traces(3)[0]  # oldest first
    assert index_embedding["operation"] == "embedding_generation"
    assert index_embedding["metadata"]["texts"] == len(DOCS)


def test_streaming_query_has_ttft_and_counted_deltas(monitor: PerformanceMonitor) -> None:
    index = VectorStoreIndex.from_documents([Document(text=t) for t in DOCS])
    response = index.as_query_engine(streaming=True).query("what is rag")
    deltas = list(response.response_gen)
    assert "".join(deltas).split() == ["text"] * 8
    llm = monitor.get_operation_stats("llm_inference")
    assert llm.streams == 1 and llm.time_to_first_token_p50_s is not None
    assert llm.completion_tokens == sum(TokenCounter.count_tokens(d) for d in deltas)
    query = monitor.get_operation_stats("query_processing")
    assert query.streams == 1 and query.time_to_first_token_p50_s is not None
    assert query.total_tokens == 0  # counted once, on the LLM call
    tree = monitor.get_recent_traces(1)[0]
    assert _ops(tree) == ("query_processing", ("document_retrieval", ("embedding_generation",)), ("llm_inference",))
    assert tree["metadata"]["stream_status"] == "completed"


def test_chat_calling_complete_is_one_llm_call(monitor: PerformanceMonitor) -> None:
    llm = MockLLM(max_tokens=3)
    llm.chat([ChatMessage(role="user", content="hi")])
    words = list(llm.stream_complete("hi"))
    assert len(words) == 3
    s = monitor.get_operation_stats("llm_inference")
    assert (s.total_operations, s.streams) == (2, 1)
    assert [t["operation"] for t in monitor.get_recent_traces(5)] == ["llm_inference", "llm_inference"]
    assert all(not t["children"] for t in monitor.get_recent_traces(5))


def test_failures_count_against_every_open_operation(monitor: PerformanceMonitor) -> None:
    index = VectorStoreIndex.from_documents([Document(text=t) for t in DOCS])
    engine = index.as_query_engine(embed_model=FailingEmbedding(embed_dim=8))
    with pytest.raises(ConnectionError):
        engine.query("what is rag")
    stats = monitor.get_all_stats()
    for op in ("query_processing", "document_retrieval", "embedding_generation"):
        assert stats[op].failed_operations == 1, op
        assert dict(stats[op].errors_by_type) == {"ConnectionError": 1}, op
    assert "llm_inference" not in stats
    tree = monitor.get_recent_traces(1)[0]
    assert _ops(tree) == ("query_processing", ("document_retrieval", ("embedding_generation",)))
    assert tree["error_type"] == "ConnectionError"


def test_async_queries_keep_separate_trees(monitor: PerformanceMonitor) -> None:
    index = VectorStoreIndex.from_documents([Document(text=t) for t in DOCS])
    engine = index.as_query_engine(node_postprocessors=[SimilarityPostprocessor(similarity_cutoff=0.0)])

    async def run() -> list[Any]:
        return await asyncio.gather(*(engine.aquery(f"what is rag {i}") for i in range(3)))

    assert len(asyncio.run(run())) == 3
    traces = [t for t in monitor.get_recent_traces(10) if t["operation"] == "query_processing"]
    assert len(traces) == 3
    for tree in traces:
        assert _ops(tree) == (
            "query_processing",
            ("document_retrieval", ("embedding_generation",)),
            ("reranking",),
            ("llm_inference",),
        )


def test_uninstrument_restores_llamaindex() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    original = BaseNodePostprocessor.postprocess_nodes
    handle = instrument(m)
    assert BaseNodePostprocessor.postprocess_nodes is not original
    assert handle.uninstrument() is True and handle.uninstrument() is False
    assert BaseNodePostprocessor.postprocess_nodes is original
    MockLLM(max_tokens=2).complete("hi")
    assert m.get_operation_count() == 0
    with pytest.raises(TypeError, match="dispatcher"):
        instrument(m, dispatcher="root")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="monitor must be"):
        instrument("m")  # type: ignore[arg-type]
    assert os.environ.get("NLTK_DATA", "").endswith("nltk_cache")
