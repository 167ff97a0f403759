#!/usr/bin/env python3
"""Added cost per framework call of ragperf's integrations.

Each case times the same framework call twice in one process, without and
with ragperf's handler, wrapper or middleware, alternating the two variants
repetition by repetition (so drift in machine load hits both alike). Time
is the CPU time of the process (``time.process_time_ns``, all threads):
on a shared machine other processes' load would swamp wall time. A
repetition is as many calls as take about 20 ms of CPU without ragperf (or
``--calls``); the sample is the CPU time per call. The added cost is best-of-N
with minus best-of-N without (the medians are reported too): many short
samples and the best of them, because the machine is shared.
Everything runs in-process with fakes, so the frameworks' own overhead is
small and ragperf's share is as large as it gets; with a real LLM (tens of
milliseconds or more per call) the same microseconds are a tiny fraction.

Cases (each one call of the framework per sample):

* ``openai_create`` -- ``client.chat.completions.create(...)`` of a fake
  OpenAI-shaped client returning a response with usage, plain vs
  ``ragperf.integrations.openai.instrument(client)``;
* ``openai_stream_20_chunks`` -- the same with ``stream=True``, iterating
  20 chunks (the last one with usage);
* ``langchain_llm_invoke`` -- ``FakeListLLM.invoke("q")``, no callbacks vs
  ``config={"callbacks": [RagperfCallbackHandler(monitor)]}``;
* ``langchain_rag_chain`` -- ``(retriever | prompt | chat model |
  parser).invoke(q)`` over a keyword retriever and ``GenericFakeChatModel``
  (an LCEL chain of 7 runs, 3 of them recorded);
* ``langchain_rag_chain_noop`` -- the same chain with a handler that does
  nothing instead of ragperf's: what LangChain itself spends on calling a
  handler (ragperf's share is the difference between the two rows);
* ``llamaindex_llm_complete`` -- ``MockLLM.complete("q")``, plain vs with
  ``ragperf.integrations.llamaindex.instrument(monitor)``;
* ``llamaindex_query`` -- ``query_engine.query(q)`` over a 4-document
  ``VectorStoreIndex`` (MockEmbedding, MockLLM);
* ``llamaindex_query_noop`` -- the same query with do-nothing event and
  span handlers instead: LlamaIndex's own cost of having handlers;
* ``fastapi_request`` -- one GET through a FastAPI app called directly as an
  ASGI app (no HTTP, no TestClient) inside one event loop, without vs with
  ``RagperfMiddleware``.

A framework that is not installed is skipped (its rows are absent).

Usage:
    .venv/bin/python benchmarks/bench_integrations.py [--repetitions 31] [--calls N]
        [--json benchmarks/results/integrations.json] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
from common import SanityError, log, summarize  # noqa: E402

from ragperf import PerformanceMonitor  # noqa: E402

DEFAULT_JSON = common.RESULTS_DIR / "integrations.json"
DEFAULT_REPETITIONS = 21
SAMPLE_NS = 20e6  # calls per repetition: about 20 ms of the plain call (at least 5)

Switch = Callable[[Callable[[], Any]], Callable[[], Any]]
# (name, call, without, with, count of records, optional wrapper of the "with" batch)
Case = Tuple[Any, ...]


def _monitor() -> PerformanceMonitor:
    return PerformanceMonitor(enable_memory_tracking=False)


# ----------------------------------------------------------------- cases


def openai_cases() -> List[Case]:
    from ragperf.integrations import openai as ragperf_openai

    usage = NS(prompt_tokens=12, completion_tokens=30, total_tokens=42)
    response = NS(model="gpt-4o-mini", choices=[NS(message=NS(content="hi"))], usage=usage)
    chunks = [NS(model="gpt-4o-mini", choices=[NS(delta=NS(content=f"tok{i} "))], usage=None) for i in range(19)]
    chunks.append(NS(model="gpt-4o-mini", choices=[], usage=usage))

    class Completions:
        def create(self, **kw: Any) -> Any:
            return iter(chunks) if kw.get("stream") else response

    plain = NS(chat=NS(completions=Completions()))
    wrapped = NS(chat=NS(completions=Completions()))
    monitor = _monitor()
    ragperf_openai.instrument(wrapped, monitor)
    msgs = [{"role": "user", "content": "q"}]

    def stream(client: Any) -> Callable[[], Any]:
        return lambda: sum(1 for _ in client.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True))

    return [
        ("openai_create", "client.chat.completions.create(...)",
         lambda: plain.chat.completions.create(model="gpt-4o-mini", messages=msgs),
         lambda: wrapped.chat.completions.create(model="gpt-4o-mini", messages=msgs),
         lambda: monitor.get_operation_count("llm_inference")),
        ("openai_stream_20_chunks", "create(..., stream=True) + iterate 20 chunks",
         stream(plain), stream(wrapped), lambda: monitor.get_operation_count("llm_inference")),
    ]


def langchain_cases() -> List[Case]:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.language_models.fake import FakeListLLM
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import RunnablePassthrough

    from ragperf.integrations.langchain import RagperfCallbackHandler

    class Keyword(BaseRetriever):
        def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> List[Document]:
            return [Document(page_content="RAG is retrieval augmented generation")]

    class Forever:
        def __iter__(self) -> "Forever":
            return self

        def __next__(self) -> AIMessage:
            return AIMessage(content="an answer", usage_metadata={"input_tokens": 9, "output_tokens": 2, "total_tokens": 11})

    from langchain_core.callbacks import BaseCallbackHandler

    class NoOp(BaseCallbackHandler):
        """Receives every callback and does nothing: LangChain's own cost of
        having a handler, for comparison."""

        run_inline = True
        chains = 0

        def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
            NoOp.chains += 1

    monitor = _monitor()
    config = {"callbacks": [RagperfCallbackHandler(monitor)]}
    noop = {"callbacks": [NoOp()]}
    llm = FakeListLLM(responses=["an answer"])
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQ: {question}")
    chain = {"context": Keyword(), "question": RunnablePassthrough()} | prompt | GenericFakeChatModel(messages=Forever()) | StrOutputParser()
    return [
        ("langchain_llm_invoke", "FakeListLLM.invoke(q)",
         lambda: llm.invoke("q"), lambda: llm.invoke("q", config=config),  # type: ignore[arg-type]
         lambda: monitor.get_operation_count("llm_inference")),
        ("langchain_rag_chain", "(retriever | prompt | chat model | parser).invoke(q)",
         lambda: chain.invoke("q"), lambda: chain.invoke("q", config=config),  # type: ignore[arg-type]
         lambda: monitor.get_operation_count("query_processing")),
        ("langchain_rag_chain_noop", "the same chain with a do-nothing handler instead (LangChain's share)",
         lambda: chain.invoke("q"), lambda: chain.invoke("q", config=noop),  # type: ignore[arg-type]
         lambda: NoOp.chains),
    ]


def llamaindex_cases() -> List[Case]:
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import MockLLM

    from ragperf.integrations import llamaindex

    Settings.llm = MockLLM(max_tokens=8)
    Settings.embed_model = MockEmbedding(embed_dim=8)
    llm = MockLLM(max_tokens=8)
    engine = VectorStoreIndex.from_documents([Document(text=t) for t in ("RAG", "cats", "dogs", "birds")]).as_query_engine()
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.span import BaseSpan
    from llama_index.core.instrumentation.span_handlers import BaseSpanHandler

    seen = [0]  # events the do-nothing handler received

    class NoOpEvents(BaseEventHandler):
        def handle(self, event: Any, **kwargs: Any) -> None:
            seen[0] += 1

    class NoOpSpans(BaseSpanHandler[BaseSpan]):
        def new_span(self, *args: Any, **kwargs: Any) -> None:
            return None

        def prepare_to_exit_span(self, *args: Any, **kwargs: Any) -> None:
            return None

        def prepare_to_drop_span(self, *args: Any, **kwargs: Any) -> None:
            return None

    monitor = _monitor()
    handle = llamaindex.instrument(monitor)
    handle.uninstrument()
    root = get_dispatcher()
    noop_events, noop_spans = NoOpEvents(), NoOpSpans()

    def instrumented(fn: Callable[[], Any]) -> Callable[[], Any]:
        # LlamaIndex's instrumentation is process-wide: switched on for the
        # "with" variant only (re-adding the same handlers: cheap, and the
        # switch is amortised over the repetition's calls).
        def run() -> Any:
            handle._start()
            try:
                return fn()
            finally:
                handle.uninstrument()

        return run

    def with_noop(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            root.add_event_handler(noop_events)
            root.add_span_handler(noop_spans)
            try:
                return fn()
            finally:
                root.event_handlers = [h for h in root.event_handlers if h is not noop_events]
                root.span_handlers = [h for h in root.span_handlers if h is not noop_spans]

        return run

    query = lambda: engine.query("what is rag")  # noqa: E731
    return [
        ("llamaindex_llm_complete", "MockLLM.complete(q)",
         lambda: llm.complete("q"), lambda: llm.complete("q"),
         lambda: monitor.get_operation_count("llm_inference"), instrumented),
        ("llamaindex_query", "query_engine.query(q) over a 4-document VectorStoreIndex",
         query, query, lambda: monitor.get_operation_count("query_processing"), instrumented),
        ("llamaindex_query_noop", "the same query with do-nothing event and span handlers instead (LlamaIndex's share)",
         query, query, lambda: seen[0], with_noop),
    ]


def fastapi_cases() -> List[Case]:
    from fastapi import FastAPI

    from ragperf.integrations.fastapi import RagperfMiddleware

    def app(with_middleware: bool, monitor: PerformanceMonitor) -> Any:
        a = FastAPI()
        if with_middleware:
            a.add_middleware(RagperfMiddleware, monitor=monitor)

        @a.get("/items/{item_id}")
        async def item(item_id: int) -> Dict[str, int]:
            return {"id": item_id}

        return a

    monitor = _monitor()
    plain, wrapped = app(False, monitor), app(True, monitor)
    loop = asyncio.new_event_loop()
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/items/3", "raw_path": b"/items/3", "root_path": "", "query_string": b"", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}

    async def receive() -> Dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Dict[str, Any]) -> None:
        pass

    def call(asgi: Any) -> Callable[[], Any]:
        return lambda: loop.run_until_complete(asgi(dict(scope), receive, send))

    return [
        ("fastapi_request", "GET /items/{item_id} through the ASGI app (no HTTP)",
         call(plain), call(wrapped), lambda: monitor.get_operation_count("http_request")),
    ]


# ---------------------------------------------------------------- timing


def cpu_ns(fn: Callable[[], Any]) -> float:
    """CPU time of this process (all its threads) spent in one call of
    ``fn``: on a shared machine, other processes' load does not count, as
    it would in wall time."""
    t0 = time.process_time_ns()
    fn()
    return float(time.process_time_ns() - t0)


def calibrate(fn: Callable[[], Any], target_ns: float) -> int:
    """How many calls of ``fn`` take about ``target_ns`` (at least 5):
    short samples, many of them, so best-of-N finds the quiet moments of a
    shared machine."""
    n, elapsed = 0, 0.0
    while elapsed < target_ns or n < 5:
        elapsed += cpu_ns(fn)
        n += 1
    return n


def measure(case: Case, reps: int, calls: Optional[int]) -> Dict[str, Any]:
    name, what, without, with_, count = case[:5]
    switch: Optional[Switch] = case[5] if len(case) > 5 else None
    n = calls if calls is not None else calibrate(without, SAMPLE_NS)

    def batch(fn: Callable[[], Any]) -> Callable[[], Any]:
        return lambda: [fn() for _ in range(n)]

    plain, instrumented = batch(without), batch(with_)
    if switch is not None:
        instrumented = switch(instrumented)
    plain()
    before = count()
    instrumented()  # warm-up; also checks that ragperf recorded every call
    if count() - before < n:
        raise SanityError(f"{name}: {count() - before} of {n} calls recorded")
    a: List[float] = []
    b: List[float] = []
    for i in range(reps):
        pair = ((plain, a), (instrumented, b)) if i % 2 == 0 else ((instrumented, b), (plain, a))
        for fn, out in pair:
            out.append(cpu_ns(fn) / n)
    wo, wi = summarize(a, 1e3, "us"), summarize(b, 1e3, "us")
    added_best = wi["min"] - wo["min"]
    return {
        "name": name,
        "call": what,
        "calls_per_repetition": n,
        "without": wo,
        "with": wi,
        "added_us_best": added_best,
        "added_us_median": wi["median"] - wo["median"],
        "added_percent_best": 100.0 * added_best / wo["min"] if wo["min"] > 0 else None,
    }


def render(rows: List[Dict[str, Any]], reps: int) -> str:
    lines = [
        f"ragperf integrations: added cost per framework call (best of {reps}, us per call)",
        "",
        f"{'case':<26} {'without':>10} {'with':>10} {'added':>9} {'added %':>8}   call",
    ]
    for r in rows:
        pct = r["added_percent_best"]
        lines.append(
            f"{r['name']:<26} {r['without']['min']:>10.1f} {r['with']['min']:>10.1f} "
            f"{r['added_us_best']:>9.1f} {('%.1f' % pct) if pct is not None else '-':>8}   {r['call']}"
        )
    return "\n".join(lines)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_output_args(p, DEFAULT_JSON, f"{common.MIN_REPETITIONS} repetitions (a smoke run)")
    p.add_argument("--repetitions", type=int, default=None, help=f"repetitions per variant (default {DEFAULT_REPETITIONS})")
    p.add_argument("--calls", type=int, default=None,
                   help="calls per repetition (default: as many as take about 20 ms without ragperf)")
    args = p.parse_args(argv)
    common.resolve_repetitions(p, args, DEFAULT_REPETITIONS)
    if args.calls is not None and args.calls < 1:
        p.error("--calls must be >= 1")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    command = common.command_line(None if argv is None else [sys.argv[0], *argv])
    start = common.run_start()
    t_run = time.perf_counter()
    rows: List[Dict[str, Any]] = []
    skipped: List[str] = []
    groups: List[Tuple[str, Callable[[], Any]]] = [
        ("openai", openai_cases), ("langchain", langchain_cases),
        ("llamaindex", llamaindex_cases), ("fastapi", fastapi_cases),
    ]
    try:
        for framework, make in groups:
            try:
                made = make()
            except ImportError as exc:
                skipped.append(f"{framework}: {exc}")
                log(f"skipped {framework}: {exc}")
                continue
            for case in made:
                rows.append(measure(case, args.repetitions, args.calls))
                log(f"{case[0]}: +{rows[-1]['added_us_best']:.1f} us per call")
    except SanityError as exc:
        print(f"bench_integrations: sanity check failed: {exc}", file=sys.stderr)
        return 2
    env = common.environment(
        **start,
        command=command,
        quick=args.quick,
        repetitions=args.repetitions,
        calls_per_repetition=args.calls or "calibrated: about 20 ms of the plain call, at least 5",
        memory_tracking=False,
        frameworks={n: common.dist_version(n) for n in ("langchain-core", "llama-index-core", "fastapi", "starlette")},
        aggregate="best (min) of the repetitions; medians in the JSON too",
        timer="time.process_time_ns (CPU time of the whole process, all threads)",
        runtime_seconds=time.perf_counter() - t_run,
    )
    notes = ["Variants alternate repetition by repetition; added = best(with) - best(without)."]
    if common.core_replaced(env):
        notes.append(common.CORE_REPLACED_NOTE)
    print(render(rows, args.repetitions))
    return common.finish(args.json, {"context": env, "benchmarks": rows, "skipped": skipped, "notes": notes})


if __name__ == "__main__":
    sys.exit(main())
