"""ragperf.streaming.track_stream: sync and async streams, first token,
token counting (text estimate, reported usage, count=), how the operation
ends (completed / abandoned / error), exactly once.

The first part drives the wrappers with a fake tracker (the contract of the
C tracker's streaming methods); the second part runs against the real
monitor once the C tracker has add_tokens / mark_first_token / set_usage."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace as NS
from types import TracebackType
from typing import Any

import pytest

import ragperf
from ragperf import TokenCounter
from ragperf.measure.streaming import AsyncTrackedStream, TrackedStream, track_stream
from ragperf.measure.usage import extract_usage

HAS_STREAMING_TRACKER = hasattr(ragperf.OperationTracker, "add_tokens")
needs_streaming_tracker = pytest.mark.skipif(
    not HAS_STREAMING_TRACKER,
    reason="the C OperationTracker has no add_tokens/mark_first_token/set_usage yet (lead's C change pending)",
)

# ----------------------------------------------------------------- fakes


class FakeTracker:
    """Implements the tracker methods the stream wrapper uses and records calls."""

    def __init__(self, operation: Any, metadata: dict[str, Any] | None = None) -> None:
        self.operation = operation
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.active = False
        self.enters = 0
        self.exits: list[type[BaseException] | None] = []
        self.first_token_marks = 0
        self.added: list[int] = []
        self.usage_calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.model: str | None = None

    def __enter__(self) -> FakeTracker:
        self.active = True
        self.enters += 1
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        assert self.active, "exited twice"
        self.active = False
        self.exits.append(exc_type)
        return False

    def mark_first_token(self) -> None:
        self.first_token_marks += 1

    def add_tokens(self, n: int = 1) -> None:
        self.added.append(n)
        self.completion_tokens += n

    def set_usage(self, response: object) -> bool:
        usage = extract_usage(response)
        if usage is None:
            return False
        self.usage_calls += 1
        self.prompt_tokens = usage.prompt_tokens
        self.completion_tokens = usage.completion_tokens
        self.model = usage.model
        return True


class FakeMonitor:
    def __init__(self) -> None:
        self.trackers: list[FakeTracker] = []

    def track_operation(self, operation: Any, metadata: Any = None, /, **kwargs: Any) -> FakeTracker:
        t = FakeTracker(operation, {**(metadata or {}), **kwargs})
        self.trackers.append(t)
        return t


@pytest.fixture
def fm() -> FakeMonitor:
    return FakeMonitor()


WORDS = ["Hello", ", ", "world", "", "! How are you today?"]


def words(log: list[str] | None = None) -> Iterator[str]:
    try:
        yield from WORDS
    finally:
        if log is not None:
            log.append("closed")


async def awords(delay: float = 0.0) -> AsyncIterator[str]:
    for w in WORDS:
        await asyncio.sleep(delay)
        yield w


def expected_added(chunks: list[str]) -> list[int]:
    return [n for n in (TokenCounter.count_tokens(c) for c in chunks) if n > 0]


def openai_chunks(texts: list[str], usage: tuple[int, int] | None = (7, 3)) -> list[NS]:
    """ChatCompletionChunk look-alikes: a role chunk, content chunks, a finish
    chunk, and (include_usage) a final usage chunk with choices=[]."""
    def c(content: str | None, finish: str | None = None) -> NS:
        delta = NS(role="assistant" if content == "" else None, content=content, tool_calls=None)
        return NS(id="c1", object="chat.completion.chunk", model="gpt-4o", usage=None,
                  choices=[NS(index=0, delta=delta, finish_reason=finish)])
    out = [c("")] + [c(t) for t in texts] + [c(None, "stop")]
    if usage is not None:
        out.append(NS(id="c1", object="chat.completion.chunk", model="gpt-4o", choices=[],
                      usage=NS(prompt_tokens=usage[0], completion_tokens=usage[1], total_tokens=sum(usage))))
    return out


# ------------------------------------------------------ fake: sync streams


def test_sync_generator_completed(fm: FakeMonitor) -> None:
    s = track_stream(fm, words(), "llm_inference", model="qwen")  # type: ignore[arg-type]
    assert isinstance(s, TrackedStream)
    (t,) = fm.trackers
    assert t.enters == 1 and t.active, "the operation starts when track_stream is called"
    assert t.metadata == {"model": "qwen"}
    assert t.first_token_marks == 0
    assert list(s) == WORDS
    assert t.first_token_marks == 1
    assert t.added == expected_added(WORDS)
    assert t.exits == [None]
    assert t.metadata["stream_status"] == "completed" and s.status == "completed"
    assert s.tracker is t
    # Exactly once: nothing more on close, exhaustion or collection.
    s.close()
    assert list(s) == []
    del s
    gc.collect()
    assert t.exits == [None]


def test_metadata_dict_and_keywords(fm: FakeMonitor) -> None:
    list(track_stream(fm, iter(["a"]), "op", metadata={"a": 1}, b=2))  # type: ignore[arg-type]
    assert fm.trackers[0].metadata == {"a": 1, "b": 2, "stream_status": "completed"}


def test_early_break_then_close(fm: FakeMonitor) -> None:
    log: list[str] = []
    s = track_stream(fm, words(log), "llm_inference")  # type: ignore[arg-type]
    for chunk in s:
        if chunk == "world":
            break
    (t,) = fm.trackers
    assert t.exits == [] and s.status is None
    s.close()
    assert log == ["closed"], "the wrapped generator is closed"
    assert t.exits == [None]
    assert t.metadata["stream_status"] == "abandoned"
    assert t.added == expected_added(["Hello", ", ", "world"])
    s.close()
    assert t.exits == [None]
    with pytest.raises(StopIteration):
        next(s)


def test_break_out_of_a_for_loop_ends_at_once(fm: FakeMonitor) -> None:
    for chunk in track_stream(fm, words(), "llm_inference"):  # type: ignore[arg-type]
        break
    (t,) = fm.trackers
    assert t.exits == [None]  # the temporary wrapper is released after the loop
    assert t.metadata["stream_status"] == "abandoned"
    assert t.added == expected_added(["Hello"])


def test_abandoned_via_del_and_gc(fm: FakeMonitor) -> None:
    s = track_stream(fm, words(), "llm_inference")  # type: ignore[arg-type]
    next(s)
    cycle: list[Any] = [s]
    cycle.append(cycle)  # only the cycle collector can free it
    del s, cycle
    (t,) = fm.trackers
    assert t.exits == []
    gc.collect()
    assert t.exits == [None]
    assert t.metadata["stream_status"] == "abandoned"


def test_never_iterated_and_dropped(fm: FakeMonitor) -> None:
    track_stream(fm, words(), "llm_inference")  # type: ignore[arg-type]
    gc.collect()
    (t,) = fm.trackers
    assert t.exits == [None] and t.first_token_marks == 0 and t.added == []
    assert t.metadata["stream_status"] == "abandoned"


def test_exception_mid_stream(fm: FakeMonitor) -> None:
    def failing() -> Iterator[str]:
        yield "one two"
        yield "three"
        raise ConnectionError("peer reset")

    s = track_stream(fm, failing(), "llm_inference")  # type: ignore[arg-type]
    got = []
    with pytest.raises(ConnectionError, match="peer reset"):
        for chunk in s:
            got.append(chunk)
    (t,) = fm.trackers
    assert got == ["one two", "three"]
    assert t.exits == [ConnectionError]
    assert t.metadata["stream_status"] == "error"
    assert t.added == expected_added(got)
    s.close()
    del s
    gc.collect()
    assert t.exits == [ConnectionError]


def test_exception_on_first_chunk(fm: FakeMonitor) -> None:
    def failing() -> Iterator[str]:
        raise TimeoutError("no answer")
        yield "never"  # pragma: no cover

    with pytest.raises(TimeoutError):
        list(track_stream(fm, failing(), "llm_inference"))  # type: ignore[arg-type]
    (t,) = fm.trackers
    assert t.exits == [TimeoutError] and t.first_token_marks == 0


def test_iter_failing_ends_the_operation(fm: FakeMonitor) -> None:
    class Broken:
        def __iter__(self) -> Iterator[str]:
            raise RuntimeError("cannot iterate")

    with pytest.raises(RuntimeError, match="cannot iterate"):
        track_stream(fm, Broken(), "llm_inference")  # type: ignore[arg-type]
    assert fm.trackers[0].exits == [RuntimeError]


def test_context_manager(fm: FakeMonitor) -> None:
    with track_stream(fm, words(), "llm_inference") as s:  # type: ignore[arg-type]
        assert next(s) == "Hello"
    (t,) = fm.trackers
    assert t.exits == [None] and s.status == "abandoned"

    with track_stream(fm, words(), "llm_inference") as s:  # type: ignore[arg-type]
        assert list(s) == WORDS
    assert fm.trackers[1].exits == [None] and s.status == "completed"


def test_context_manager_block_raises(fm: FakeMonitor) -> None:
    log: list[str] = []
    with pytest.raises(KeyError):
        with track_stream(fm, words(log), "llm_inference") as s:  # type: ignore[arg-type]
            next(s)
            raise KeyError("consumer bug")
    (t,) = fm.trackers
    assert t.exits == [KeyError] and s.status == "error"
    assert log == ["closed"]


# ------------------------------------------------------- fake: token counts


def test_openai_chunks_with_usage_in_final_chunk(fm: FakeMonitor) -> None:
    chunks = openai_chunks(["Hel", "lo there", " friend"], usage=(7, 3))
    s = track_stream(fm, iter(chunks), "llm_inference")  # type: ignore[arg-type]
    assert list(s) == chunks
    (t,) = fm.trackers
    assert t.first_token_marks == 1
    assert t.added == expected_added(["Hel", "lo there", " friend"])  # role/finish chunks: 0
    assert t.usage_calls == 1
    assert (t.prompt_tokens, t.completion_tokens, t.model) == (7, 3, "gpt-4o")


def test_nothing_counted_after_usage(fm: FakeMonitor) -> None:
    chunks: list[Any] = openai_chunks(["a"], usage=(1, 1)) + ["late text after usage", NS(x=1)]
    list(track_stream(fm, iter(chunks), "llm_inference"))  # type: ignore[arg-type]
    (t,) = fm.trackers
    assert t.added == [1] and t.usage_calls == 1
    assert t.completion_tokens == 1


def test_openai_chunks_without_usage_are_estimated(fm: FakeMonitor) -> None:
    chunks = openai_chunks(["abcd", "efgh ijkl"], usage=None)
    list(track_stream(fm, iter(chunks), "llm_inference"))  # type: ignore[arg-type]
    assert fm.trackers[0].added == [1, 3] and fm.trackers[0].usage_calls == 0


def test_dict_chunks(fm: FakeMonitor) -> None:
    chunks = [
        {"choices": [{"delta": {"role": "assistant", "content": ""}}], "usage": None},
        {"choices": [{"delta": {"content": "abcdefgh"}}], "usage": None},
        {"choices": [{"text": "abcd"}]},  # legacy completions
        {"model": "m", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}},
    ]
    list(track_stream(fm, iter(chunks), "llm_inference"))  # type: ignore[arg-type]
    t = fm.trackers[0]
    assert t.added == [2, 1] and (t.prompt_tokens, t.completion_tokens, t.model) == (4, 3, "m")


def test_anthropic_events(fm: FakeMonitor) -> None:
    events = [
        NS(type="message_start", message=NS(model="claude", usage=NS(input_tokens=10, output_tokens=1))),
        NS(type="content_block_start", index=0, content_block=NS(type="text", text="")),
        NS(type="content_block_delta", index=0, delta=NS(type="text_delta", text="Hello there")),
        NS(type="content_block_delta", index=0, delta=NS(type="text_delta", text="!")),
        NS(type="content_block_stop", index=0),
        NS(type="message_delta", delta=NS(stop_reason="end_turn"), usage=NS(input_tokens=10, output_tokens=4)),
        NS(type="message_stop"),
    ]
    list(track_stream(fm, iter(events), "llm_inference"))  # type: ignore[arg-type]
    t = fm.trackers[0]
    assert t.added == [3, 1]
    assert (t.prompt_tokens, t.completion_tokens) == (10, 4) and t.usage_calls == 1


def test_openai_responses_events(fm: FakeMonitor) -> None:
    events = [
        NS(type="response.created", response=NS(model="gpt-4.1", usage=None)),
        NS(type="response.output_text.delta", delta="Hello wor"),
        NS(type="response.output_text.delta", delta="ld"),
        NS(type="response.completed",
           response=NS(model="gpt-4.1", usage=NS(input_tokens=5, output_tokens=2, total_tokens=7))),
    ]
    list(track_stream(fm, iter(events), "llm_inference"))  # type: ignore[arg-type]
    t = fm.trackers[0]
    assert t.added == [3, 1]
    assert (t.prompt_tokens, t.completion_tokens, t.model) == (5, 2, "gpt-4.1")


def test_unknown_chunks_count_one(fm: FakeMonitor) -> None:
    list(track_stream(fm, iter([101, 7592, b"raw", NS(token_id=3)]), "llm_inference"))  # type: ignore[arg-type]
    assert fm.trackers[0].added == [1, 1, 1, 1]


def test_malformed_usage_is_ignored(fm: FakeMonitor) -> None:
    chunks = ["abcd", {"choices": [], "usage": {"prompt_tokens": -1}}]
    list(track_stream(fm, iter(chunks), "llm_inference"))  # type: ignore[arg-type]
    t = fm.trackers[0]
    assert t.exits == [None] and t.usage_calls == 0 and t.added == [1]


def test_count_callable(fm: FakeMonitor) -> None:
    chunks = openai_chunks(["a b c", "d e"], usage=(9, 9))
    seen: list[Any] = []

    def count(chunk: Any) -> int:
        seen.append(chunk)
        return len(chunk.choices[0].delta.content.split()) if chunk.choices and chunk.choices[0].delta.content else 0

    list(track_stream(fm, iter(chunks), "llm_inference", count=count))  # type: ignore[arg-type]
    t = fm.trackers[0]
    assert seen == chunks
    assert t.added == [3, 2]
    assert t.usage_calls == 0, "count= replaces the built-in counting, usage included"


@pytest.mark.parametrize(("bad", "error"), [(-1, ValueError), (True, TypeError), (1.5, TypeError), (None, TypeError)])
def test_count_returning_a_bad_value_fails_the_stream(fm: FakeMonitor, bad: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="count"):
        list(track_stream(fm, iter(["a"]), "llm_inference", count=lambda c: bad))  # type: ignore[arg-type]
    assert fm.trackers[0].exits == [error]


# ------------------------------------------------------ fake: active tracker


def test_active_tracker_is_fed_not_closed(fm: FakeMonitor) -> None:
    outer = fm.track_operation("llm_inference")
    with outer as op:
        s = track_stream(fm, words(), op, request="r1")  # type: ignore[arg-type]
        assert list(s) == WORDS
        assert op.exits == [] and op.active
        assert op.added == expected_added(WORDS) and op.first_token_marks == 1
        assert op.metadata == {"request": "r1", "stream_status": "completed"}
    assert outer.exits == [None]
    assert len(fm.trackers) == 1, "no new operation opened"


def test_active_tracker_abandoned_and_error(fm: FakeMonitor) -> None:
    with fm.track_operation("llm_inference") as op:
        for _ in track_stream(fm, words(), op):  # type: ignore[arg-type]
            break
        assert op.exits == [] and op.metadata["stream_status"] == "abandoned"

    def failing() -> Iterator[str]:
        yield "x"
        raise ValueError("boom")

    with pytest.raises(ValueError):
        with fm.track_operation("llm_inference") as op2:
            for _ in track_stream(fm, failing(), op2):  # type: ignore[arg-type]
                pass
    assert op2.exits == [ValueError] and op2.metadata["stream_status"] == "error"


def test_inactive_tracker_is_rejected(fm: FakeMonitor) -> None:
    op = fm.track_operation("llm_inference")
    with pytest.raises(ValueError, match="not active"):
        track_stream(fm, words(), op)  # type: ignore[arg-type]


# ----------------------------------------------------------- fake: async


def test_async_generator(fm: FakeMonitor) -> None:
    async def main() -> list[str]:
        s = track_stream(fm, awords(), "llm_inference")  # type: ignore[arg-type]
        assert isinstance(s, AsyncTrackedStream)
        return [chunk async for chunk in s]

    assert asyncio.run(main()) == WORDS
    (t,) = fm.trackers
    assert t.exits == [None] and t.first_token_marks == 1 and t.added == expected_added(WORDS)
    assert t.metadata["stream_status"] == "completed"


def test_async_early_break_aclose_and_context_manager(fm: FakeMonitor) -> None:
    closed: list[str] = []

    async def agen() -> AsyncIterator[str]:
        try:
            for w in WORDS:
                yield w
        finally:
            closed.append("closed")

    async def main() -> None:
        s = track_stream(fm, agen(), "llm_inference")  # type: ignore[arg-type]
        async for _ in s:
            break
        await s.aclose()
        await s.aclose()
        assert closed == ["closed"]
        async with track_stream(fm, agen(), "llm_inference") as s2:  # type: ignore[arg-type]
            await s2.__anext__()
        assert s2.status == "abandoned" and closed == ["closed", "closed"]
        with pytest.raises(KeyError):
            async with track_stream(fm, agen(), "llm_inference") as s3:  # type: ignore[arg-type]
                await s3.__anext__()
                raise KeyError("consumer")

    asyncio.run(main())
    assert [t.exits for t in fm.trackers] == [[None], [None], [KeyError]]
    assert [t.metadata["stream_status"] for t in fm.trackers] == ["abandoned", "abandoned", "error"]


def test_async_exception_and_gc(fm: FakeMonitor) -> None:
    async def failing() -> AsyncIterator[str]:
        yield "abcd"
        raise ConnectionError("reset")

    async def main() -> None:
        with pytest.raises(ConnectionError):
            async for _ in track_stream(fm, failing(), "llm_inference"):  # type: ignore[arg-type]
                pass
        s = track_stream(fm, awords(), "llm_inference")  # type: ignore[arg-type]
        await s.__anext__()
        del s
        gc.collect()

    asyncio.run(main())
    assert [t.exits for t in fm.trackers] == [[ConnectionError], [None]]
    assert [t.metadata["stream_status"] for t in fm.trackers] == ["error", "abandoned"]


def test_async_wrapper_of_an_object_with_async_close(fm: FakeMonitor) -> None:
    class AsyncStreamLike:  # like openai.AsyncStream: __aiter__ and async close()
        def __init__(self) -> None:
            self.closed = False

        def __aiter__(self) -> AsyncStreamLike:
            return self

        async def __anext__(self) -> str:
            return "tok"

        async def close(self) -> None:
            self.closed = True

    src = AsyncStreamLike()

    async def main() -> None:
        async with track_stream(fm, src, "llm_inference") as s:  # type: ignore[arg-type]
            await s.__anext__()

    asyncio.run(main())
    assert src.closed and fm.trackers[0].exits == [None]


def test_async_concurrent_tasks_have_their_own_counts(fm: FakeMonitor) -> None:
    async def producer(i: int) -> AsyncIterator[str]:
        for _ in range(i + 1):
            await asyncio.sleep(0)
            yield "abcd" * (i + 1)

    async def consume(i: int) -> tuple[int, FakeTracker]:
        s = track_stream(fm, producer(i), f"op{i}")  # type: ignore[arg-type]
        async for _ in s:
            await asyncio.sleep(0)
        return i, s.tracker

    async def main() -> list[tuple[int, FakeTracker]]:
        return await asyncio.gather(*(consume(i) for i in range(8)))

    for i, t in asyncio.run(main()):
        assert t.operation == f"op{i}"
        assert t.added == [i + 1] * (i + 1)
        assert t.exits == [None] and t.first_token_marks == 1


# ----------------------------------------------------------- bad arguments


def test_bad_arguments(fm: FakeMonitor) -> None:
    with pytest.raises(TypeError, match="count must be a callable"):
        track_stream(fm, words(), "op", count=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="stream must be an iterable"):
        track_stream(fm, 42, "op")  # type: ignore[arg-type, call-overload]
    with pytest.raises(TypeError, match="stream must be an iterable"):
        track_stream(fm, "a string", "op")  # type: ignore[arg-type]
    assert fm.trackers == [], "no operation opened for bad arguments"


# ===================================================== real monitor (C tracker)


@pytest.fixture
def monitor() -> Iterator[ragperf.PerformanceMonitor]:
    m = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    yield m
    m.clear_metrics()


def slow_words(delay: float = 0.01) -> Iterator[str]:
    for w in WORDS:
        time.sleep(delay)
        yield w


@needs_streaming_tracker
def test_real_sync_stream(monitor: ragperf.PerformanceMonitor) -> None:
    s = track_stream(monitor, slow_words(0.01), "llm_inference", model="qwen")
    assert list(s) == WORDS
    op = s.tracker
    assert op.success is True and op.active is False
    assert op.completion_tokens == sum(expected_added(WORDS))
    assert op.tokens == op.completion_tokens
    assert op.time_to_first_token_s is not None and op.time_to_first_token_s >= 0.009
    assert op.time_to_first_token_s <= op.duration_s
    assert op.metadata["model"] == "qwen" and op.metadata["stream_status"] == "completed"
    stats = monitor.get_operation_stats("llm_inference")
    assert stats.total_operations == 1 and stats.successful_operations == 1
    assert stats.completion_tokens == sum(expected_added(WORDS))


@needs_streaming_tracker
def test_real_exception_and_abandon(monitor: ragperf.PerformanceMonitor) -> None:
    def failing() -> Iterator[str]:
        yield "abcd"
        raise ConnectionError("reset")

    with pytest.raises(ConnectionError):
        list(track_stream(monitor, failing(), "llm_inference"))
    s = track_stream(monitor, words(), "llm_inference")
    next(s)
    del s
    gc.collect()
    stats = monitor.get_operation_stats("llm_inference")
    assert stats.total_operations == 2
    assert stats.failed_operations == 1 and stats.errors_by_type == {"ConnectionError": 1}
    assert stats.completion_tokens == 1 + TokenCounter.count_tokens("Hello")


@needs_streaming_tracker
def test_real_usage_in_final_chunk_counted_once(monitor: ragperf.PerformanceMonitor) -> None:
    chunks = openai_chunks(["Hel", "lo there", " friend"], usage=(7, 3))
    s = track_stream(monitor, iter(chunks), "llm_inference")
    list(s)
    op = s.tracker
    assert (op.prompt_tokens, op.completion_tokens, op.tokens) == (7, 3, 10)
    assert op.model == "gpt-4o"
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.prompt_tokens, stats.completion_tokens, stats.total_tokens) == (7, 3, 10)


@needs_streaming_tracker
def test_real_count_callable(monitor: ragperf.PerformanceMonitor) -> None:
    s = track_stream(monitor, iter(["a b", "c d e"]), "llm_inference", count=lambda c: len(c.split()))
    list(s)
    assert s.tracker.completion_tokens == 5


@needs_streaming_tracker
def test_real_active_tracker(monitor: ragperf.PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference") as op:
        op.prompt_tokens = 12
        s = track_stream(monitor, slow_words(0.005), op)
        assert list(s) == WORDS
        assert op.active
    assert op.success is True
    assert op.time_to_first_token_s is not None
    assert (op.prompt_tokens, op.completion_tokens) == (12, sum(expected_added(WORDS)))
    assert monitor.get_operation_count("llm_inference") == 1


@needs_streaming_tracker
def test_real_async_concurrent_tasks(monitor: ragperf.PerformanceMonitor) -> None:
    async def producer(i: int) -> AsyncIterator[str]:
        for _ in range(i + 1):
            await asyncio.sleep(0.001)
            yield "abcd" * (i + 1)

    async def consume(i: int) -> Any:
        s = track_stream(monitor, producer(i), "llm_inference", task=i)
        async for _ in s:
            await asyncio.sleep(0)
        return s.tracker

    async def main() -> list[Any]:
        return await asyncio.gather(*(consume(i) for i in range(8)))

    trackers = asyncio.run(main())
    for i, op in enumerate(trackers):
        assert op.metadata["task"] == i
        assert op.completion_tokens == (i + 1) * (i + 1)
        assert op.time_to_first_token_s is not None
    stats = monitor.get_operation_stats("llm_inference")
    assert stats.total_operations == 8
    assert stats.completion_tokens == sum((i + 1) ** 2 for i in range(8))


@needs_streaming_tracker
@pytest.mark.skipif(
    not hasattr(ragperf.PerformanceStats, "__dataclass_fields__")
    or "time_to_first_token_p50_s" not in ragperf.PerformanceStats.__dataclass_fields__,
    reason="PerformanceStats has no streaming fields yet (lead's stats.py change pending)",
)
def test_real_streaming_stats(monitor: ragperf.PerformanceMonitor) -> None:
    for _ in range(3):
        list(track_stream(monitor, slow_words(0.005), "llm_inference"))
    stats: Any = monitor.get_operation_stats("llm_inference")
    assert stats.streams == 3
    assert stats.time_to_first_token_p50_s >= 0.004
    assert stats.time_to_first_token_p95_s >= stats.time_to_first_token_p50_s
    assert stats.inter_token_latency_p50_s > 0
    assert stats.output_tokens_per_second > 0
