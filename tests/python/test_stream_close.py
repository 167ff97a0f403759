"""Closing a tracked stream closes the wrapped stream itself, as closing it
directly would, on every close path; a cancellation ends it as cancelled.

The sources here have the shape of the OpenAI SDK's streams: ``__iter__``
/ ``__aiter__`` is a generator that does not own the resource, only the
stream's ``close()`` frees it (tests/python/test_real_openai.py runs the
real SDK over HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from ragperf import PerformanceMonitor
from ragperf.measure.streaming import track_stream


class SyncSource:
    """Like openai.Stream: close() releases the resource; the generator of
    __iter__ does not."""

    def __init__(self, n: int = 5) -> None:
        self.n = n
        self.closed = 0

    def __iter__(self) -> Iterator[str]:
        for i in range(self.n):
            yield f"w{i} "

    def close(self) -> None:
        self.closed += 1


class AsyncSource:
    """Like openai.AsyncStream: ``await close()``; no aclose()."""

    def __init__(self, n: int = 5) -> None:
        self.n = n
        self.closed = 0

    async def __aiter__(self) -> AsyncIterator[str]:
        for i in range(self.n):
            yield f"w{i} "

    async def close(self) -> None:
        self.closed += 1


@pytest.fixture()
def monitor() -> PerformanceMonitor:
    return PerformanceMonitor(enable_memory_tracking=False)


def _last(monitor: PerformanceMonitor) -> dict[str, object]:
    return monitor.get_recent_operations("llm_inference")[-1]


def test_close_and_with_break_close_the_source(monitor: PerformanceMonitor) -> None:
    src = SyncSource()
    s = track_stream(monitor, src, "llm_inference")
    next(s)
    s.close()
    assert src.closed == 1 and s.status == "abandoned"
    src2 = SyncSource()
    with track_stream(monitor, src2, "llm_inference") as s2:
        for _ in s2:
            break
    assert src2.closed == 1 and s2.status == "abandoned"
    assert monitor.get_in_flight_operations() == {}
    assert [r["metadata"]["stream_status"] for r in monitor.get_recent_operations("llm_inference")] == [
        "abandoned", "abandoned"]


def test_exhausted_stream_closed_by_with_like_the_plain_one(monitor: PerformanceMonitor) -> None:
    src = SyncSource(3)
    with track_stream(monitor, src, "llm_inference") as s:
        assert len(list(s)) == 3
    assert src.closed == 1 and s.status == "completed"  # `with src:` would close it too


def test_failing_count_still_closes_the_source_on_close(monitor: PerformanceMonitor) -> None:
    src = SyncSource()

    def count(chunk: str) -> int:
        raise RuntimeError("bad counter")

    s = track_stream(monitor, src, "llm_inference", count=count)
    with pytest.raises(RuntimeError):
        next(s)
    s.close()
    assert src.closed == 1 and s.status == "error"


def test_keyboard_interrupt_in_the_consumer_is_cancelled(monitor: PerformanceMonitor) -> None:
    src = SyncSource()
    with pytest.raises(KeyboardInterrupt):
        with track_stream(monitor, src, "llm_inference") as s:
            next(s)
            raise KeyboardInterrupt
    assert src.closed == 1 and s.status == "cancelled" and s.tracker.cancelled
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.cancelled_operations, stats.failed_operations) == (1, 0)
    assert monitor.get_recent_traces(1)[0]["status"] == "cancelled"


@pytest.mark.parametrize("path", ["aclose", "close", "async_with_break"])
def test_async_close_paths_close_the_source(monitor: PerformanceMonitor, path: str) -> None:
    async def run() -> tuple[AsyncSource, str | None]:
        src = AsyncSource()
        s = track_stream(monitor, src, "llm_inference")
        if path == "async_with_break":
            async with s:
                async for _ in s:
                    break
        else:
            await s.__anext__()
            await (s.aclose() if path == "aclose" else s.close())
        return src, s.status

    src, status = asyncio.run(run())
    assert src.closed == 1 and status == "abandoned"
    assert monitor.get_in_flight_operations() == {}
    assert _last(monitor)["success"] is True


def test_async_cancelled_task_is_cancelled(monitor: PerformanceMonitor) -> None:
    async def run() -> AsyncSource:
        src = AsyncSource(1000)

        async def consume() -> None:
            async with track_stream(monitor, src, "llm_inference") as s:
                async for _ in s:
                    await asyncio.sleep(0.01)

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return src

    src = asyncio.run(run())
    assert src.closed == 1
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.cancelled_operations, stats.failed_operations, stats.total_operations) == (1, 0, 0)
    node = monitor.get_recent_traces(1)[0]
    assert node["metadata"]["stream_status"] == "cancelled" and node["cancelled_by"] == "CancelledError"
