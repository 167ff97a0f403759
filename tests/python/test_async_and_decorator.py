"""``async with monitor.track_operation(...)`` and the ``@monitor.timed``
decorator on sync and async functions."""

from __future__ import annotations

import asyncio
import functools
import inspect
import traceback
from collections.abc import Iterator

import pytest

from ragperf import OperationType, PerformanceMonitor


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    yield m
    m.clear_metrics()


class PipelineError(Exception):
    pass


# ---------------------------------------------------------------- async with


def test_async_with_records(monitor: PerformanceMonitor) -> None:
    async def main() -> None:
        async with monitor.track_operation(OperationType.EMBEDDING_GENERATION, {"model": "bge"}, batch=8) as op:
            assert op.active
            await asyncio.sleep(0)
            op.tokens = 12
        assert not op.active
        assert op.success is True
        assert op.metadata == {"model": "bge", "batch": 8}

    asyncio.run(main())
    s = monitor.get_operation_stats(OperationType.EMBEDDING_GENERATION)
    assert s.total_operations == 1
    assert s.total_tokens == 12


def test_async_with_returns_the_tracker(monitor: PerformanceMonitor) -> None:
    async def main() -> None:
        tracker = monitor.track_operation("x")
        async with tracker as entered:
            assert entered is tracker

    asyncio.run(main())


def test_async_with_concurrent_tasks_counts_exact(monitor: PerformanceMonitor) -> None:
    n_tasks, per_task = 200, 25

    async def worker(i: int) -> int:
        total = 0
        for j in range(per_task):
            async with monitor.track_operation("embedding_generation") as op:
                await asyncio.sleep(0)  # interleave with the other tasks
                op.prompt_tokens = 1
                op.completion_tokens = i % 3
                total += 1 + i % 3
            async with monitor.track_operation(f"task_{i % 4}"):
                await asyncio.sleep(0)
        return total

    async def main() -> list[int]:
        return await asyncio.gather(*(worker(i) for i in range(n_tasks)))

    totals = asyncio.run(main())
    s = monitor.get_operation_stats("embedding_generation")
    assert s.total_operations == n_tasks * per_task
    assert s.successful_operations == n_tasks * per_task
    assert s.total_tokens == sum(totals)
    assert s.prompt_tokens == n_tasks * per_task
    for k in range(4):
        assert monitor.get_operation_count(f"task_{k}") == (n_tasks // 4) * per_task
    assert monitor.get_operation_count() == 2 * n_tasks * per_task


def test_async_with_exception_propagates_unchanged(monitor: PerformanceMonitor) -> None:
    exc = PipelineError("llm down")

    async def fail() -> None:
        await asyncio.sleep(0)
        raise exc

    async def main() -> None:
        async with monitor.track_operation(OperationType.LLM_INFERENCE):
            await fail()

    with pytest.raises(PipelineError) as info:
        asyncio.run(main())
    assert info.value is exc
    assert "fail" in [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    s = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    assert s.failed_operations == 1
    assert dict(s.errors_by_type) == {"PipelineError": 1}


def test_async_gather_with_some_failures(monitor: PerformanceMonitor) -> None:
    async def job(i: int) -> int:
        async with monitor.track_operation("job"):
            await asyncio.sleep(0)
            if i % 5 == 0:
                raise PipelineError(i)
            return i

    async def main() -> list[int | BaseException]:
        return await asyncio.gather(*(job(i) for i in range(100)), return_exceptions=True)

    results = asyncio.run(main())
    failures = [r for r in results if isinstance(r, PipelineError)]
    assert len(failures) == 20
    s = monitor.get_operation_stats("job")
    assert s.total_operations == 100
    assert s.failed_operations == 20
    assert dict(s.errors_by_type) == {"PipelineError": 20}


def test_cancelled_task_counts_as_cancelled_not_failed(monitor: PerformanceMonitor) -> None:
    async def main() -> None:
        started = asyncio.Event()

        async def slow() -> None:
            async with monitor.track_operation("slow"):
                started.set()
                await asyncio.sleep(3600)

        task = asyncio.ensure_future(slow())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    s = monitor.get_operation_stats("slow")
    assert (s.cancelled_operations, s.total_operations, s.failed_operations) == (1, 0, 0)
    assert dict(s.errors_by_type) == {}


def test_nested_async_with(monitor: PerformanceMonitor) -> None:
    async def main() -> None:
        async with monitor.track_operation(OperationType.QUERY_PROCESSING) as outer:
            async with monitor.track_operation(OperationType.DOCUMENT_RETRIEVAL) as inner:
                await asyncio.sleep(0)
            with monitor.track_operation(OperationType.RERANKING):  # sync inside async
                pass
        assert outer.duration_s is not None and inner.duration_s is not None
        assert outer.duration_s >= inner.duration_s

    asyncio.run(main())
    assert monitor.get_operation_count() == 3


# -------------------------------------------------------------- @timed (sync)


def test_timed_sync_named(monitor: PerformanceMonitor) -> None:
    @monitor.timed("reranking")
    def rerank(docs: list[str], *, reverse: bool = False) -> list[str]:
        """Sorts documents."""
        return sorted(docs, reverse=reverse)

    assert rerank(["b", "a", "c"]) == ["a", "b", "c"]
    assert rerank(["b", "a"], reverse=True) == ["b", "a"]
    assert monitor.get_operation_count(OperationType.RERANKING) == 2
    assert monitor.get_operation_stats("reranking").successful_operations == 2


def test_timed_with_operation_type_and_metadata(monitor: PerformanceMonitor) -> None:
    @monitor.timed(OperationType.LLM_INFERENCE, {"model": "qwen"}, temperature=0.1)
    def generate(prompt: str) -> str:
        return prompt.upper()

    assert generate("hi") == "HI"
    assert monitor.get_operation_count(OperationType.LLM_INFERENCE) == 1
    assert OperationType.LLM_INFERENCE in monitor.get_all_stats()


def test_timed_bare_uses_function_name(monitor: PerformanceMonitor) -> None:
    @monitor.timed
    def load_pdf(path: str) -> int:
        return len(path)

    assert load_pdf("abc.pdf") == 7
    assert load_pdf("x") == 1
    assert monitor.get_operation_count("load_pdf") == 2


def test_timed_empty_call_uses_function_name(monitor: PerformanceMonitor) -> None:
    @monitor.timed()
    def chunk_text(text: str) -> list[str]:
        return text.split()

    assert chunk_text("a b") == ["a", "b"]
    assert monitor.get_operation_count("chunk_text") == 1


def test_timed_sync_exception_passes_through(monitor: PerformanceMonitor) -> None:
    exc = PipelineError("x")

    @monitor.timed("fails")
    def fails() -> None:
        raise exc

    with pytest.raises(PipelineError) as info:
        fails()
    assert info.value is exc
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "fails"
    s = monitor.get_operation_stats("fails")
    assert s.failed_operations == 1
    assert dict(s.errors_by_type) == {"PipelineError": 1}


def test_timed_preserves_function_metadata(monitor: PerformanceMonitor) -> None:
    def original(a: int, b: str = "x", *args: int, c: float, **kw: object) -> str:
        """Original docstring."""
        return f"{a}{b}{c}"

    original.custom_attr = "kept"  # type: ignore[attr-defined]
    for wrapped in (monitor.timed(original), monitor.timed("op")(original), monitor.timed()(original)):
        assert wrapped.__name__ == "original"
        assert wrapped.__qualname__ == original.__qualname__
        assert wrapped.__doc__ == "Original docstring."
        assert wrapped.__module__ == original.__module__
        assert wrapped.__wrapped__ is original  # type: ignore[attr-defined]
        assert wrapped.custom_attr == "kept"  # type: ignore[attr-defined]
        assert inspect.signature(wrapped) == inspect.signature(original)
        assert wrapped.__annotations__ == original.__annotations__
        assert wrapped(1, c=2.0) == "1x2.0"


def test_timed_method(monitor: PerformanceMonitor) -> None:
    class Retriever:
        def __init__(self) -> None:
            self.calls = 0

        @monitor.timed(OperationType.DOCUMENT_RETRIEVAL)
        def retrieve(self, query: str) -> list[str]:
            self.calls += 1
            return [query]

    r = Retriever()
    assert r.retrieve("q") == ["q"]
    assert r.calls == 1
    assert monitor.get_operation_count(OperationType.DOCUMENT_RETRIEVAL) == 1


def test_timed_recursion_counts_every_call(monitor: PerformanceMonitor) -> None:
    @monitor.timed
    def fact(n: int) -> int:
        return 1 if n <= 1 else n * fact(n - 1)

    assert fact(6) == 720
    assert monitor.get_operation_count("fact") == 6


def test_timed_rejects_bad_operation_at_decoration(monitor: PerformanceMonitor) -> None:
    with pytest.raises(TypeError, match="42"):
        monitor.timed(42)  # type: ignore[call-overload]
    with pytest.raises(ValueError):
        monitor.timed("")


# ------------------------------------------------------------- @timed (async)


def test_timed_async(monitor: PerformanceMonitor) -> None:
    @monitor.timed("embedding_generation")
    async def embed(text: str) -> list[float]:
        """Embeds text."""
        await asyncio.sleep(0)
        return [float(len(text))]

    assert inspect.iscoroutinefunction(embed)
    assert embed.__name__ == "embed"
    assert embed.__doc__ == "Embeds text."

    async def main() -> list[list[float]]:
        return await asyncio.gather(*(embed("x" * i) for i in range(50)))

    results = asyncio.run(main())
    assert results == [[float(i)] for i in range(50)]
    assert monitor.get_operation_count(OperationType.EMBEDDING_GENERATION) == 50


def test_timed_async_bare(monitor: PerformanceMonitor) -> None:
    @monitor.timed
    async def fetch_docs(n: int) -> int:
        await asyncio.sleep(0)
        return n * 2

    assert inspect.iscoroutinefunction(fetch_docs)
    assert asyncio.run(fetch_docs(4)) == 8
    assert monitor.get_operation_count("fetch_docs") == 1


def test_timed_async_exception_passes_through(monitor: PerformanceMonitor) -> None:
    exc = PipelineError("async")

    @monitor.timed(OperationType.LLM_INFERENCE)
    async def generate() -> None:
        await asyncio.sleep(0)
        raise exc

    with pytest.raises(PipelineError) as info:
        asyncio.run(generate())
    assert info.value is exc
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "generate"
    s = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    assert s.failed_operations == 1
    assert dict(s.errors_by_type) == {"PipelineError": 1}


def test_timed_async_times_the_await_not_the_call(monitor: PerformanceMonitor) -> None:
    @monitor.timed("deferred")
    async def deferred() -> int:
        return 1

    coro = deferred()
    # Creating the coroutine records nothing; awaiting it records once.
    assert monitor.get_operation_count("deferred") == 0
    assert asyncio.run(coro) == 1
    assert monitor.get_operation_count("deferred") == 1


def test_timed_works_with_functools_partial(monitor: PerformanceMonitor) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    timed_add = monitor.timed("add")(functools.partial(add, 1))
    assert timed_add(2) == 3
    assert monitor.get_operation_count("add") == 1


# --- generators: the whole iteration is timed --------------------------------


def test_timed_generator_times_the_iteration() -> None:
    import time as _time

    from ragperf import PerformanceMonitor as _PM

    m = _PM(enable_memory_tracking=False)

    @m.timed("stream")
    def tokens(n: int):  # type: ignore[no-untyped-def]
        for i in range(n):
            _time.sleep(0.002)
            yield i

    gen = tokens(5)
    assert m.get_operation_count("stream") == 0  # creating it is not a call
    assert list(gen) == [0, 1, 2, 3, 4]
    stats = m.get_operation_stats("stream")
    assert stats.total_operations == 1
    assert stats.min_duration >= 0.009
    assert tokens.__name__ == "tokens"


def test_timed_async_generator_times_the_iteration() -> None:
    import asyncio as _asyncio

    from ragperf import PerformanceMonitor as _PM

    m = _PM(enable_memory_tracking=False)

    @m.timed("astream")
    async def chunks(n: int):  # type: ignore[no-untyped-def]
        for i in range(n):
            await _asyncio.sleep(0.002)
            yield i

    async def consume() -> list[int]:
        return [c async for c in chunks(4)]

    assert _asyncio.run(consume()) == [0, 1, 2, 3]
    stats = m.get_operation_stats("astream")
    assert stats.total_operations == 1
    assert stats.min_duration >= 0.007


def test_timed_generator_error_counts_failed() -> None:
    from ragperf import PerformanceMonitor as _PM

    m = _PM(enable_memory_tracking=False)

    @m.timed("bad_stream")
    def broken():  # type: ignore[no-untyped-def]
        yield 1
        raise KeyError("gone")

    with pytest.raises(KeyError):
        list(broken())
    s = m.get_operation_stats("bad_stream")
    assert s.failed_operations == 1
    assert s.errors_by_type == {"KeyError": 1}
