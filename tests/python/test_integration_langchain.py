"""ragperf.integrations.langchain against real langchain-core code: an LCEL
chain retriever | prompt | chat model | parser over an in-memory vector
store, langchain-core's fake LLMs and chat models (plain and streamed), no
network. Checks counts, tokens, time to first token, failures and that the
ragperf trace tree is LangChain's run tree with the unrecorded runs folded
away."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

pytest.importorskip("langchain_core")

from langchain_core.callbacks import CallbackManagerForRetrieverRun  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings.fake import DeterministicFakeEmbedding  # noqa: E402
from langchain_core.language_models.fake import FakeListLLM  # noqa: E402
from langchain_core.language_models.fake_chat_models import (  # noqa: E402
    FakeListChatModel,
    FakeListChatModelError,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage  # noqa: E402
from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from langchain_core.runnables import RunnablePassthrough  # noqa: E402
from langchain_core.tracers.context import collect_runs  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402

from ragperf import PerformanceMonitor, TokenCounter  # noqa: E402
from ragperf.integrations.langchain import (  # noqa: E402
    RagperfCallbackHandler,
    instrument_embeddings,
)

ANSWER = "RAG means retrieval augmented generation"
USAGE = {"input_tokens": 20, "output_tokens": 6, "total_tokens": 26}
TEXTS = ["RAG is retrieval augmented generation", "cats purr", "dogs bark"]


class KeywordRetriever(BaseRetriever):
    """A small in-memory retriever: documents sharing a word with the query."""

    docs: list[str]
    fail: bool = False

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        if self.fail:
            raise LookupError("index offline")
        words = set(query.lower().split())
        return [Document(page_content=d) for d in self.docs if words & set(d.lower().split())]


def chat_model(n: int = 8) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=ANSWER, usage_metadata=USAGE)] * n))  # type: ignore[arg-type]


def rag_chain(retriever: Any, llm: Any) -> Any:
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
    return {"context": retriever, "question": RunnablePassthrough()} | prompt | llm | StrOutputParser()



def _ops(node: dict[str, Any]) -> tuple[Any, ...]:
    """A ragperf trace node as (operation, name, children...)."""
    return (node["operation"], node["metadata"].get("name"), *[_ops(c) for c in node["children"]])


_RECORDED = {"retriever": "document_retrieval", "llm": "llm_inference"}


def _folded(run: Any, root: bool = True) -> list[tuple[Any, ...]]:
    """LangChain's run tree with the runs the handler does not record folded
    into their parents, in ragperf's (operation, name, children...) form."""
    children = [n for c in sorted(run.child_runs, key=lambda r: r.start_time) for n in _folded(c, False)]
    op = "query_processing" if root and run.run_type == "chain" else _RECORDED.get(run.run_type)
    return [(op, run.name, *children)] if op else children


def test_lcel_chain_tree_counts_and_tokens(monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)
    store = InMemoryVectorStore(instrument_embeddings(DeterministicFakeEmbedding(size=16), monitor))
    store.add_texts(TEXTS)
    chain = rag_chain(store.as_retriever(search_kwargs={"k": 2}), chat_model())
    with collect_runs() as runs:
        for _ in range(3):
            assert chain.invoke("what is rag", config={"callbacks": [handler]}) == ANSWER
    assert handler.open_runs == 0

    stats = monitor.get_all_stats()
    assert stats["query_processing"].total_operations == 3
    assert stats["document_retrieval"].total_operations == 3
    assert stats["llm_inference"].total_operations == 3
    assert stats["embedding_generation"].total_operations == 1 + 3  # add_texts, then one query each
    llm = stats["llm_inference"]
    assert (llm.prompt_tokens, llm.completion_tokens, llm.total_tokens) == (60, 18, 78)
    assert llm.streams == 0 and llm.time_to_first_token_p50_s is None

    traces = monitor.get_recent_traces(limit=3)  # oldest first
    langchain_roots = sorted(runs.traced_runs, key=lambda r: r.start_time)
    for tree, run in zip(traces, langchain_roots):
        assert tree["operation"] == "query_processing"
        retrieval, inference = tree["children"]
        # embedding_generation is ragperf's own child of the retriever (LangChain has no run for it)
        assert [c["operation"] for c in retrieval["children"]] == ["embedding_generation"]
        assert retrieval["metadata"]["documents"] == 2
        retrieval["children"] = []
        assert [_ops(tree)] == _folded(run)
        assert inference["tokens"] == 26
        assert retrieval["parent_id"] == inference["parent_id"] == tree["span_id"]


def test_streamed_run_has_ttft_and_counted_tokens(monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)
    chain = rag_chain(KeywordRetriever(docs=TEXTS), chat_model())
    streamed = "".join(chain.stream("what is rag", config={"callbacks": [handler]}))
    assert streamed == ANSWER
    llm = monitor.get_operation_stats("llm_inference")
    assert llm.streams == 1
    assert llm.time_to_first_token_p50_s is not None and llm.time_to_first_token_p50_s > 0
    # GenericFakeChatModel streams words and the spaces between them; no usage on chunks
    expected = sum(TokenCounter.count_tokens(t) for t in re.split(r"(\s)", ANSWER) if t)
    assert llm.completion_tokens == expected
    rec = monitor.get_recent_operations("llm_inference", 1)[0]
    assert rec["metadata"]["token_source"] == "estimate"
    assert rec["time_to_first_token_s"] is not None
    tree = monitor.get_recent_traces(1)[0]
    assert [c["operation"] for c in tree["children"]] == ["document_retrieval", "llm_inference"]
    assert handler.open_runs == 0


def test_completion_llm_and_nesting_under_the_callers_block(monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)
    chain = PromptTemplate.from_template("Q: {q}") | FakeListLLM(responses=["an answer"])
    with monitor.track_operation("http_request"):
        assert chain.invoke({"q": "x"}, config={"callbacks": [handler]}) == "an answer"
    tree = monitor.get_recent_traces(1)[0]
    assert _ops(tree) == ("http_request", None, ("query_processing", "RunnableSequence", ("llm_inference", "FakeListLLM")))
    # FakeListLLM reports no usage and was not streamed: no tokens invented
    assert monitor.get_operation_stats("llm_inference").total_tokens == 0


def test_failures_are_counted_with_their_type(monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)
    broken = rag_chain(KeywordRetriever(docs=TEXTS, fail=True), chat_model())
    with pytest.raises(LookupError):
        broken.invoke("what is rag", config={"callbacks": [handler]})
    llm = FakeListChatModel(responses=["abcdef"], error_on_chunk_number=3)
    with pytest.raises(FakeListChatModelError):
        for _ in llm.stream("hi", config={"callbacks": [handler]}):
            pass
    stats = monitor.get_all_stats()
    assert dict(stats["document_retrieval"].errors_by_type) == {"LookupError": 1}
    assert dict(stats["query_processing"].errors_by_type) == {"LookupError": 1}
    assert stats["llm_inference"].failed_operations == 1
    assert dict(stats["llm_inference"].errors_by_type) == {"FakeListChatModelError": 1}
    # the streamed run failed after three chunks: its first token was seen
    assert monitor.get_recent_operations("llm_inference", 1)[0]["time_to_first_token_s"] is not None
    assert monitor.get_recent_errors(1)[0]["error_type"] == "FakeListChatModelError"
    assert handler.open_runs == 0


def test_threads_and_async_tasks_keep_separate_trees(monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor)
    chain = rag_chain(KeywordRetriever(docs=TEXTS), chat_model(16))
    questions = [f"what is rag {i}" for i in range(4)]
    assert chain.batch(questions, config={"callbacks": [handler], "max_concurrency": 4}) == [ANSWER] * 4

    async def run() -> list[str]:
        return await asyncio.gather(*(chain.ainvoke(q, config={"callbacks": [handler]}) for q in questions))

    assert asyncio.run(run()) == [ANSWER] * 4
    assert handler.open_runs == 0
    traces = monitor.get_recent_traces(limit=20)
    assert len(traces) == 8
    for tree in traces:
        assert tree["operation"] == "query_processing" and tree["span_count"] == 3
        assert [c["operation"] for c in tree["children"]] == ["document_retrieval", "llm_inference"]
        assert {c["trace_id"] for c in tree["children"]} == {tree["span_id"]}
    assert monitor.get_operation_stats("llm_inference").total_tokens == 8 * 26


def test_nested_chain_operation_records_lcel_steps(monitor: PerformanceMonitor) -> None:
    handler = RagperfCallbackHandler(monitor, nested_chain_operation="chain_step")
    chain = rag_chain(KeywordRetriever(docs=TEXTS), chat_model())
    chain.invoke("what is rag", config={"callbacks": [handler]})
    tree = monitor.get_recent_traces(1)[0]
    names = [(c["operation"], c["metadata"]["name"]) for c in tree["children"]]
    assert names == [
        ("chain_step", "RunnableParallel<context,question>"),
        ("chain_step", "ChatPromptTemplate"),
        ("llm_inference", "GenericFakeChatModel"),
        ("chain_step", "StrOutputParser"),
    ]
    parallel = tree["children"][0]
    assert sorted(c["operation"] for c in parallel["children"]) == ["chain_step", "document_retrieval"]


def test_async_embeddings_and_bad_arguments(monitor: PerformanceMonitor) -> None:
    emb = instrument_embeddings(DeterministicFakeEmbedding(size=4), monitor)
    vectors = asyncio.run(emb.aembed_documents(["a", "b"]))
    assert len(vectors) == 2 and emb.size == 4  # other attributes are the wrapped object's
    asyncio.run(emb.aembed_query("a"))
    s = monitor.get_operation_stats("embedding_generation")
    assert s.total_operations == 2
    assert sorted(r["metadata"]["texts"] for r in monitor.get_recent_operations("embedding_generation")) == [1, 2]
    with pytest.raises(TypeError, match="monitor must be"):
        RagperfCallbackHandler("monitor")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Embeddings"):
        instrument_embeddings(object(), monitor)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RagperfCallbackHandler(monitor, nested_chain_operation="")
