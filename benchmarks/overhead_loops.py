"""The timed loops of bench_overhead.py. Each is a module-level function whose
hot objects are locals (LOAD_FAST), and each block is written exactly as a
user would write it; each returns the elapsed nanoseconds of ``n`` blocks."""

from __future__ import annotations

from itertools import repeat
from time import perf_counter_ns
from typing import Any, Callable

from ragperf import OperationType


def _loop_nullcontext(n: int, cm: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with cm:
            pass
    return perf_counter_ns() - t0


def _loop_prometheus(n: int, hist: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with hist.time():
            pass
    return perf_counter_ns() - t0


def _loop_prometheus_labels(n: int, hist: Any) -> int:
    # The child is looked up per block, as users write it.
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with hist.labels(operation="op").time():
            pass
    return perf_counter_ns() - t0


def _loop_otel_span(n: int, tracer: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with tracer.start_as_current_span("op"):
            pass
    return perf_counter_ns() - t0


def _loop_record(n: int, monitor: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        monitor.record("op", duration_s=0.001)
    return perf_counter_ns() - t0


def _loop_track(n: int, monitor: Any) -> int:
    # Same source for ragperf and the seed-style monitor.
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with monitor.track_operation("op"):
            pass
    return perf_counter_ns() - t0


def _loop_track_optype_tokens(n: int, monitor: Any) -> int:
    kind = OperationType.LLM_INFERENCE
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        with monitor.track_operation(kind) as op:
            op.tokens = 1
    return perf_counter_ns() - t0


async def _aloop_nullcontext(n: int, cm: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        async with cm:
            pass
    return perf_counter_ns() - t0


async def _aloop_track(n: int, monitor: Any) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        async with monitor.track_operation("op"):
            pass
    return perf_counter_ns() - t0


def _loop_call(n: int, fn: Callable[[], Any]) -> int:
    t0 = perf_counter_ns()
    for _ in repeat(None, n):
        fn()
    return perf_counter_ns() - t0


def _empty() -> None:
    pass
