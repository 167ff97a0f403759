"""RAG tracing features of PerformanceMonitor: nested spans (sync, asyncio,
threads, out-of-order exits), recent traces/operations/errors, cold starts,
latency classes, windows, memory snapshots, model initialisation, the report
and its export, exit hooks and the tracker's streaming methods.

Streaming wrappers, logging, usage extraction, queues and Prometheus have
their own test files; cost, prices and caches are in test_rag_costs_caches.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ragperf import PerformanceMonitor


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    yield m
    m.clear_metrics()


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node["children"]:
        yield from _walk(child)


# =================================================================== nesting


def test_three_level_nesting_links_parent_depth_and_trace(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("query_processing") as a:
        assert a.span_id is not None and a.parent_id is None and a.depth == 0
        with monitor.track_operation("document_retrieval") as b:
            with monitor.track_operation("embedding_generation") as c:
                time.sleep(0.001)
            time.sleep(0.001)
        time.sleep(0.001)
    assert len({a.span_id, b.span_id, c.span_id}) == 3
    assert (a.parent_id, a.depth, a.trace_id) == (None, 0, a.span_id)
    assert (b.parent_id, b.depth, b.trace_id) == (a.span_id, 1, a.span_id)
    assert (c.parent_id, c.depth, c.trace_id) == (b.span_id, 2, a.span_id)
    assert a.start_time_s is not None and a.end_time_s is not None
    assert a.start_time_s <= b.start_time_s <= c.start_time_s
    assert c.end_time_s <= b.end_time_s <= a.end_time_s

    traces = monitor.get_recent_traces(1)
    assert len(traces) == 1
    root = traces[0]
    assert root["operation"] == "query_processing"
    assert root["span_id"] == a.span_id and root["trace_id"] == a.span_id
    assert root["parent_id"] is None and root["depth"] == 0
    assert root["share_of_parent"] is None
    assert root["span_count"] == 3 and root["dropped_spans"] == 0
    assert root["duration_s"] == a.duration_s
    assert root["duration_ms"] == pytest.approx(a.duration_s * 1e3)
    assert root["success"] is True and root["error_type"] is None
    [child] = root["children"]
    assert child["operation"] == "document_retrieval"
    assert (child["span_id"], child["parent_id"], child["depth"]) == (b.span_id, a.span_id, 1)
    [grandchild] = child["children"]
    assert grandchild["operation"] == "embedding_generation"
    assert (grandchild["span_id"], grandchild["parent_id"], grandchild["depth"]) == (c.span_id, b.span_id, 2)
    assert grandchild["children"] == []
    for node in (child, grandchild):
        assert 0 < node["share_of_parent"] <= 1
        assert node["trace_id"] == a.span_id
    assert child["share_of_parent"] == pytest.approx(b.duration_s / a.duration_s)
    assert grandchild["share_of_parent"] == pytest.approx(c.duration_s / b.duration_s)


def test_siblings_are_children_of_the_same_parent_in_start_order(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("rag_pipeline", request=7) as root:
        spans = []
        for name in ("embedding_generation", "document_retrieval", "reranking", "llm_inference"):
            with monitor.track_operation(name) as op:
                time.sleep(0.001)
            spans.append(op)
    for op in spans:
        assert op.parent_id == root.span_id and op.depth == 1 and op.trace_id == root.span_id
    tree = monitor.get_recent_traces(1)[0]
    assert tree["metadata"] == {"request": 7}
    assert [n["operation"] for n in tree["children"]] == [
        "embedding_generation",
        "document_retrieval",
        "reranking",
        "llm_inference",
    ]
    starts = [n["start_time_s"] for n in tree["children"]]
    assert starts == sorted(starts)
    shares = [n["share_of_parent"] for n in tree["children"]]
    assert all(0 < s <= 1 for s in shares)
    assert sum(shares) <= 1 + 1e-9
    assert tree["span_count"] == 5


def test_children_are_sorted_by_start_not_by_exit(monitor: PerformanceMonitor) -> None:
    """Two concurrent children: the one that started first ends last."""

    async def slow_first() -> None:
        with monitor.track_operation("first_started"):
            await asyncio.sleep(0.03)

    async def quick_second() -> None:
        await asyncio.sleep(0.01)
        with monitor.track_operation("second_started"):
            pass

    async def main() -> None:
        with monitor.track_operation("root"):
            await asyncio.gather(slow_first(), quick_second())

    asyncio.run(main())
    tree = monitor.get_recent_traces(1)[0]
    assert [n["operation"] for n in tree["children"]] == ["first_started", "second_started"]
    assert tree["children"][0]["start_time_s"] < tree["children"][1]["start_time_s"]
    assert tree["children"][0]["duration_s"] > tree["children"][1]["duration_s"]


def test_exception_inside_a_child_still_links(monitor: PerformanceMonitor) -> None:
    with pytest.raises(ValueError, match="boom"):
        with monitor.track_operation("root") as root:
            with monitor.track_operation("child") as child:
                raise ValueError("boom")
    assert child.parent_id == root.span_id and child.trace_id == root.span_id
    assert child.success is False and child.error_type == "ValueError"
    assert root.success is False and root.error_type == "ValueError"
    tree = monitor.get_recent_traces(1)[0]
    assert tree["success"] is False and tree["error_type"] == "ValueError"
    [node] = tree["children"]
    assert node["operation"] == "child" and node["success"] is False
    assert node["error_type"] == "ValueError"


def test_child_failure_caught_by_the_parent(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("root") as root:
        try:
            with monitor.track_operation("child"):
                raise KeyError("k")
        except KeyError:
            pass
        with monitor.track_operation("fallback") as fallback:
            pass
    assert root.success is True
    assert fallback.parent_id == root.span_id  # the failed child was popped
    tree = monitor.get_recent_traces(1)[0]
    assert [(n["operation"], n["success"]) for n in tree["children"]] == [
        ("child", False),
        ("fallback", True),
    ]


@pytest.mark.parametrize(
    ("limit", "error"),
    [(0, ValueError), (-1, ValueError), ("x", TypeError), (1.5, TypeError), (True, TypeError), (None, TypeError)],
)
def test_recent_traces_limit_validation(monitor: PerformanceMonitor, limit: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="limit"):
        monitor.get_recent_traces(limit)


def test_at_most_100_roots_are_kept_oldest_dropped(monitor: PerformanceMonitor) -> None:
    assert monitor.get_recent_traces(1000) == []
    for i in range(150):
        with monitor.track_operation("request", i=i):
            pass
    traces = monitor.get_recent_traces(1000)
    assert len(traces) == 100
    assert [t["metadata"]["i"] for t in traces] == list(range(50, 150))
    assert [t["metadata"]["i"] for t in monitor.get_recent_traces(3)] == [147, 148, 149]
    assert len(monitor.get_recent_traces()) == 10  # default limit


def test_tree_is_capped_at_1000_descendants(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("root") as root:
        for i in range(1200):
            with monitor.track_operation("child", i=i):
                pass
    assert root.dropped_spans == 200
    tree = monitor.get_recent_traces(1)[0]
    assert tree["span_count"] == 1001
    assert tree["dropped_spans"] == 200
    assert tree["span_count"] - 1 + tree["dropped_spans"] == 1200
    assert len(tree["children"]) == 1000
    # The first 1000 children to finish are kept.
    assert [n["metadata"]["i"] for n in tree["children"]] == list(range(1000))
    # The statistics count every block, kept in the tree or not.
    assert monitor.get_operation_stats("child").total_operations == 1200


def test_descendants_whose_parent_was_dropped_hang_under_the_root(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("root") as root:
        for _ in range(998):
            with monitor.track_operation("leaf"):
                pass
        with monitor.track_operation("parent") as parent:  # finishes 1001st: dropped
            with monitor.track_operation("orphan_a") as a:  # 999th
                pass
            with monitor.track_operation("orphan_b") as b:  # 1000th
                pass
    assert a.parent_id == parent.span_id and b.parent_id == parent.span_id
    tree = monitor.get_recent_traces(1)[0]
    assert tree["span_count"] == 1001 and tree["dropped_spans"] == 1
    ops = [n["operation"] for n in tree["children"]]
    assert "parent" not in ops
    assert ops[-2:] == ["orphan_a", "orphan_b"]
    orphan = tree["children"][-1]
    assert orphan["parent_id"] == parent.span_id  # its real parent, even if not in the tree
    assert orphan["share_of_parent"] == pytest.approx(b.duration_s / root.duration_s)


def test_root_without_children(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("lonely", k="v") as op:
        op.tokens = 3
        op.model = "qwen"
    [tree] = monitor.get_recent_traces(5)
    assert tree["children"] == []
    assert tree["span_count"] == 1 and tree["dropped_spans"] == 0
    assert tree["operation"] == "lonely" and tree["tokens"] == 3 and tree["model"] == "qwen"
    assert tree["metadata"] == {"k": "v"}
    assert tree["span_id"] == tree["trace_id"] == op.span_id


def test_reused_tracker_keeps_one_trace_per_block(monitor: PerformanceMonitor) -> None:
    op = monitor.track_operation("x")
    with op:
        op.metadata["life"] = 1
        with monitor.track_operation("child"):
            pass
    with op:
        op.metadata["life"] = 2
    # The recent operations are copies: both blocks are there.
    assert [r["metadata"]["life"] for r in monitor.get_recent_operations("x")] == [1, 2]
    traces = monitor.get_recent_traces(10)
    assert len({t["span_id"] for t in traces}) == 2
    assert [(t["metadata"]["life"], len(t["children"])) for t in traces] == [(1, 1), (2, 0)]


def test_record_is_not_a_trace(monitor: PerformanceMonitor) -> None:
    monitor.record("reranking", 0.01)
    assert monitor.get_recent_traces(10) == []
    [rec] = monitor.get_recent_operations("reranking")
    assert rec["span_id"] is None and rec["parent_id"] is None and rec["trace_id"] is None


def test_clear_metrics_forgets_traces(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x"):
        pass
    monitor.clear_metrics()
    assert monitor.get_recent_traces(100) == []


# ============================================================== contextvars


def test_asyncio_tasks_nest_under_the_block_they_were_created_in(monitor: PerformanceMonitor) -> None:
    async def worker(i: int) -> tuple[Any, Any]:
        with monitor.track_operation("task_block", i=i) as outer:
            for _ in range(i % 3 + 1):
                await asyncio.sleep(0)
            async with monitor.track_operation("nested", i=i) as inner:
                for _ in range(3 - i % 3):
                    await asyncio.sleep(0)
            await asyncio.sleep(0)
        return outer, inner

    async def main() -> tuple[Any, list[tuple[Any, Any]]]:
        with monitor.track_operation("request") as root:
            results = await asyncio.gather(*(worker(i) for i in range(8)))
        return root, results

    root, results = asyncio.run(main())
    for i, (outer, inner) in enumerate(results):
        assert outer.metadata["i"] == i and inner.metadata["i"] == i
        assert (outer.parent_id, outer.depth, outer.trace_id) == (root.span_id, 1, root.span_id)
        assert (inner.parent_id, inner.depth, inner.trace_id) == (outer.span_id, 2, root.span_id)
    tree = monitor.get_recent_traces(1)[0]
    assert tree["span_count"] == 17
    assert len(tree["children"]) == 8
    for node in tree["children"]:
        assert node["operation"] == "task_block"
        [nested] = node["children"]
        assert nested["operation"] == "nested"
        assert nested["metadata"]["i"] == node["metadata"]["i"]  # never another task's
        assert nested["parent_id"] == node["span_id"]


def test_asyncio_tasks_started_outside_any_block_are_roots(monitor: PerformanceMonitor) -> None:
    async def worker(i: int) -> tuple[Any, Any]:
        async with monitor.track_operation("task_block", i=i) as outer:
            await asyncio.sleep(0)
            with monitor.track_operation("nested", i=i) as inner:
                await asyncio.sleep(0)
        return outer, inner

    async def main() -> list[tuple[Any, Any]]:
        results = await asyncio.gather(*(worker(i) for i in range(8)))
        with monitor.track_operation("after") as after:
            pass
        assert after.parent_id is None and after.depth == 0
        return results

    results = asyncio.run(main())
    for outer, inner in results:
        assert (outer.parent_id, outer.depth, outer.trace_id) == (None, 0, outer.span_id)
        assert (inner.parent_id, inner.depth, inner.trace_id) == (outer.span_id, 1, outer.span_id)
    traces = monitor.get_recent_traces(100)
    assert len(traces) == 9  # 8 task roots + "after"
    for tree in traces[:8]:
        assert tree["operation"] == "task_block"
        [nested] = tree["children"]
        assert nested["metadata"]["i"] == tree["metadata"]["i"]


def test_a_block_in_a_new_thread_is_a_root(monitor: PerformanceMonitor) -> None:
    seen: dict[str, Any] = {}

    def run() -> None:
        with monitor.track_operation("in_thread") as op:
            with monitor.track_operation("in_thread_child") as child:
                pass
        seen["op"], seen["child"] = op, child

    with monitor.track_operation("outer") as outer:
        t = threading.Thread(target=run)
        t.start()
        t.join()
        with monitor.track_operation("after_thread") as after:
            pass
    op, child = seen["op"], seen["child"]
    assert (op.parent_id, op.depth, op.trace_id) == (None, 0, op.span_id)
    assert child.parent_id == op.span_id and child.depth == 1
    assert after.parent_id == outer.span_id  # the thread did not disturb this context
    assert outer.span_id not in (op.trace_id, child.trace_id)


def test_concurrent_threads_never_mix_their_trees(monitor: PerformanceMonitor) -> None:
    n_threads, rounds = 8, 200
    barrier = threading.Barrier(n_threads)
    errors: list[str] = []
    pairs: list[tuple[Any, Any, Any]] = []
    lock = threading.Lock()

    def run(t: int) -> None:
        barrier.wait()
        mine = []
        for r in range(rounds):
            with monitor.track_operation("outer", t=t, r=r) as outer:
                time.sleep(0)  # let other threads interleave
                with monitor.track_operation("inner", t=t, r=r) as inner:
                    time.sleep(0)
                    with monitor.track_operation("innermost", t=t) as innermost:
                        pass
            mine.append((outer, inner, innermost))
        with lock:
            pairs.extend(mine)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(pairs) == n_threads * rounds
    for outer, inner, innermost in pairs:
        assert outer.parent_id is None and outer.depth == 0
        assert inner.parent_id == outer.span_id and inner.depth == 1
        assert innermost.parent_id == inner.span_id and innermost.depth == 2
        assert innermost.trace_id == inner.trace_id == outer.span_id
        assert inner.metadata["t"] == outer.metadata["t"] == innermost.metadata["t"]
    assert len({o.span_id for o, _, _ in pairs}) == n_threads * rounds  # unique span ids
    for tree in monitor.get_recent_traces(100):
        t = tree["metadata"]["t"]
        assert tree["span_count"] == 3
        [inner_node] = tree["children"]
        assert inner_node["metadata"]["t"] == t
        [leaf] = inner_node["children"]
        assert leaf["metadata"]["t"] == t
    assert monitor.get_in_flight_operations() == {}


# ======================================================= out-of-order exits


def test_out_of_order_exit_of_two_trackers(monitor: PerformanceMonitor) -> None:
    a = monitor.track_operation("a")
    b = monitor.track_operation("b")
    a.__enter__()
    b.__enter__()
    assert b.parent_id == a.span_id
    assert a.__exit__(None, None, None) is False  # the wrong order: a first
    assert a.success is True and a.duration_s is not None
    with monitor.track_operation("c") as c:  # b is still active: a valid child of b
        pass
    assert c.parent_id == b.span_id and c.depth == 2
    assert b.__exit__(None, None, None) is False
    assert b.success is True
    with monitor.track_operation("d") as d:  # nothing active any more: a root
        pass
    assert d.parent_id is None and d.depth == 0 and d.trace_id == d.span_id
    assert monitor.get_in_flight_operations() == {}
    for name in "abcd":
        assert monitor.get_operation_stats(name).total_operations == 1
    traces = monitor.get_recent_traces(10)
    assert [t["operation"] for t in traces] == ["a", "d"]
    # b (and c under it) finished after their root; they still join its tree.
    a_tree = traces[0]
    assert [n["operation"] for n in _walk(a_tree)] == ["a", "b", "c"]


def test_out_of_order_exit_in_a_three_level_stack(monitor: PerformanceMonitor) -> None:
    a = monitor.track_operation("a").__enter__()
    b = monitor.track_operation("b").__enter__()
    c = monitor.track_operation("c").__enter__()
    b.__exit__(None, None, None)  # the middle one first
    with monitor.track_operation("under_c") as x:
        pass
    assert x.parent_id == c.span_id  # c is still innermost and active
    c.__exit__(None, None, None)
    with monitor.track_operation("later") as later:
        pass
    # Either a root or a child of the still-active a; never of an ended block.
    assert later.parent_id in (None, a.span_id)
    assert later.depth == (0 if later.parent_id is None else 1)
    a.__exit__(None, None, None)
    with monitor.track_operation("last") as last:
        pass
    assert last.parent_id is None and last.depth == 0
    assert monitor.get_in_flight_operations() == {}


def test_exit_without_enter_and_double_enter_raise(monitor: PerformanceMonitor) -> None:
    op = monitor.track_operation("x")
    with pytest.raises(RuntimeError, match="without __enter__"):
        op.__exit__(None, None, None)
    with op:
        with pytest.raises(RuntimeError, match="already active"):
            op.__enter__()
    with pytest.raises(RuntimeError, match="without __enter__"):
        op.__exit__(None, None, None)
    assert monitor.get_operation_stats("x").total_operations == 1
    assert monitor.get_in_flight_operations() == {}


def test_tracker_exited_in_another_asyncio_task(monitor: PerformanceMonitor) -> None:
    async def main() -> Any:
        holder: dict[str, Any] = {}
        opened = asyncio.Event()
        closed = asyncio.Event()

        async def opener() -> Any:
            op = monitor.track_operation("shared")
            op.__enter__()
            holder["op"] = op
            opened.set()
            await closed.wait()
            # This task's context: the shared block is no longer innermost.
            with monitor.track_operation("opener_after") as after:
                pass
            return after

        async def closer() -> None:
            await opened.wait()
            assert monitor.get_in_flight_operations() == {"shared": 1}
            holder["op"].__exit__(None, None, None)  # must not raise
            closed.set()

        after, _ = await asyncio.gather(opener(), closer())
        with monitor.track_operation("main_after") as main_after:
            pass
        return holder["op"], after, main_after

    op, after, main_after = asyncio.run(main())
    assert op.success is True and op.duration_s is not None and not op.active
    assert after.parent_id is None and after.depth == 0
    assert main_after.parent_id is None
    assert monitor.get_in_flight_operations() == {}
    assert monitor.get_operation_stats("shared").total_operations == 1


# ================================================================ in flight


def test_in_flight_counts_nested_blocks_of_one_operation(monitor: PerformanceMonitor) -> None:
    assert monitor.get_in_flight_operations() == {}
    with monitor.track_operation("retrieval"):
        assert monitor.get_in_flight_operations() == {"retrieval": 1}
        with monitor.track_operation("retrieval"):
            assert monitor.get_in_flight_operations() == {"retrieval": 2}
            with monitor.track_operation("reranking"):
                assert monitor.get_in_flight_operations() == {"retrieval": 2, "reranking": 1}
        assert monitor.get_in_flight_operations() == {"retrieval": 1}
    assert monitor.get_in_flight_operations() == {}
    with pytest.raises(ZeroDivisionError):
        with monitor.track_operation("retrieval"):
            1 / 0
    assert monitor.get_in_flight_operations() == {}
    assert monitor.generate_report()["in_flight"] == {}


def test_in_flight_in_report(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference"):
        assert monitor.generate_report()["in_flight"] == {"llm_inference": 1}


def test_in_flight_of_a_tracker_never_entered(monitor: PerformanceMonitor) -> None:
    op = monitor.track_operation("never")
    assert monitor.get_in_flight_operations() == {}
    del op
    gc.collect()
    assert monitor.get_in_flight_operations() == {}


def test_abandoned_active_tracker_in_a_finished_thread_is_no_longer_in_flight(
    monitor: PerformanceMonitor,
) -> None:
    def run() -> None:
        monitor.track_operation("abandoned").__enter__()  # never exited

    t = threading.Thread(target=run)
    t.start()
    t.join()
    gc.collect()  # the thread's context (which held the block) is gone
    assert monitor.get_in_flight_operations() == {}
    assert monitor.get_operation_stats("abandoned").total_operations == 0


def test_abandoned_active_tracker_in_a_discarded_context(monitor: PerformanceMonitor) -> None:
    def run() -> None:
        monitor.track_operation("abandoned").__enter__()
        assert monitor.get_in_flight_operations() == {"abandoned": 1}

    contextvars.copy_context().run(run)
    gc.collect()
    assert monitor.get_in_flight_operations() == {}


def test_abandoned_active_tracker_stays_innermost_in_a_live_context(monitor: PerformanceMonitor) -> None:
    """While its context lives, the context holds an un-exited block: it stays
    in flight and later blocks of that context nest under it (as with any
    contextvars-based tracer)."""
    ctx = contextvars.copy_context()

    def enter() -> int:
        op = monitor.track_operation("abandoned")
        op.__enter__()
        return op.span_id

    def later() -> Any:
        with monitor.track_operation("later") as op:
            pass
        return op

    span = ctx.run(enter)
    gc.collect()
    assert monitor.get_in_flight_operations() == {"abandoned": 1}
    assert ctx.run(later).parent_id == span
    with monitor.track_operation("elsewhere") as other:  # other contexts are unaffected
        pass
    assert other.parent_id is None
    del ctx
    gc.collect()
    assert monitor.get_in_flight_operations() == {}


# ========================================================= recent operations


class _Opaque:
    def __str__(self) -> str:
        return "<opaque thing>"


def test_recent_operation_record_fields(monitor: PerformanceMonitor) -> None:
    meta: dict[Any, Any] = {"model": "qwen", "s": "text", "i": 3, "f": 1.5, "b": True, "n": None, "obj": _Opaque(), 7: "int key"}
    with monitor.track_operation("llm_inference", meta) as op:
        op.tokens = 100
        time.sleep(0.002)
    with monitor.track_operation("llm_inference") as op2:
        op2.model = "gpt-4o-mini"
        op2.prompt_tokens = 30
        op2.completion_tokens = 12
    first, second = monitor.get_recent_operations("llm_inference", 10)

    assert first["operation"] == "llm_inference"
    assert first["duration_s"] == pytest.approx(op.duration_s)
    assert first["duration_s"] >= 0.002
    assert first["duration_ms"] == pytest.approx(first["duration_s"] * 1e3)
    assert first["tokens"] == 100
    assert first["tokens_per_second"] == pytest.approx(100 / first["duration_s"])
    assert first["model"] == "qwen"
    assert first["metadata"] == {
        "model": "qwen",
        "s": "text",
        "i": 3,
        "f": 1.5,
        "b": True,
        "n": None,
        "obj": "<opaque thing>",
        "7": "int key",
    }
    assert first["success"] is True
    assert first["error_type"] is None and first["error_message"] is None
    assert first["cold_start"] is True
    assert first["cache_hit"] is None and first["time_to_first_token_s"] is None
    assert first["span_id"] == op.span_id and first["trace_id"] == op.span_id
    assert first["parent_id"] is None and first["depth"] == 0
    assert first["timestamp_s"] == pytest.approx(op.end_time_s)

    assert second["cold_start"] is False
    assert second["model"] == "gpt-4o-mini"
    assert second["metadata"] == {}
    assert (second["prompt_tokens"], second["completion_tokens"], second["tokens"]) == (30, 12, 42)
    assert second["timestamp_s"] >= first["timestamp_s"]


def test_op_model_wins_over_metadata_model(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference", model="from-metadata") as op:
        assert op.model == "from-metadata"
        op.model = "explicit"
    assert op.model == "explicit"
    [rec] = monitor.get_recent_operations("llm_inference")
    assert rec["model"] == "explicit"
    assert rec["metadata"]["model"] == "from-metadata"
    with monitor.track_operation("llm_inference", model=123):  # not a str: no model
        pass
    assert monitor.get_recent_operations("llm_inference", 1)[0]["model"] is None


def test_metadata_special_values(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x", big=2**70, nan=float("nan"), inf=float("inf"), neg=-5, text='q"uote\n'):
        pass
    [rec] = monitor.get_recent_operations("x")
    assert rec["metadata"] == {"big": str(2**70), "nan": None, "inf": None, "neg": -5, "text": 'q"uote\n'}


def test_huge_metadata_is_truncated(monitor: PerformanceMonitor) -> None:
    many = {f"key{i:03d}": "v" * 100 for i in range(200)}
    with monitor.track_operation("many", many) as op:
        pass
    [rec] = monitor.get_recent_operations("many")
    assert rec["metadata"]["_truncated"] is True
    kept = [k for k in rec["metadata"] if k != "_truncated"]
    assert 0 < len(kept) < 200
    assert all(rec["metadata"][k] == "v" * 100 for k in kept)
    assert len(op.metadata) == 200  # the tracker keeps everything
    with monitor.track_operation("one_huge", text="x" * 10_000):
        pass
    [rec] = monitor.get_recent_operations("one_huge")
    assert rec["metadata"] == {"_truncated": True}


def test_recent_operations_across_operations_merged_by_time(monitor: PerformanceMonitor) -> None:
    order = ["a", "b", "a", "c", "b"]
    for i, name in enumerate(order):
        with monitor.track_operation(name, i=i):
            pass
        time.sleep(0.001)
    records = monitor.get_recent_operations()
    assert [r["operation"] for r in records] == order
    assert [r["metadata"]["i"] for r in records] == list(range(5))
    stamps = [r["timestamp_s"] for r in records]
    assert stamps == sorted(stamps)
    assert [r["metadata"]["i"] for r in monitor.get_recent_operations(limit=2)] == [3, 4]
    assert [r["metadata"]["i"] for r in monitor.get_recent_operations("a")] == [0, 2]
    assert [r["metadata"]["i"] for r in monitor.get_recent_operations("a", limit=1)] == [2]
    assert monitor.get_recent_operations("unknown") == []


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"limit": 0}, ValueError),
        ({"limit": -3}, ValueError),
        ({"limit": "5"}, TypeError),
        ({"limit": 2.0}, TypeError),
        ({"limit": False}, TypeError),
        ({"operation": 5}, TypeError),
        ({"operation": ""}, ValueError),
    ],
)
def test_recent_operations_validation(monitor: PerformanceMonitor, kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        monitor.get_recent_operations(**kwargs)


def test_max_history_bounds_recent_operations() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False, max_history=5)
    for i in range(8):
        with m.track_operation("x", i=i):
            pass
        m.record("y", 0.001)
    assert [r["metadata"]["i"] for r in m.get_recent_operations("x", 100)] == [3, 4, 5, 6, 7]
    assert len(m.get_recent_operations("y", 100)) == 5
    assert m.get_operation_stats("x").total_operations == 8  # stats keep everything
    # cold_start: the first record was evicted, none of the kept ones is flagged
    assert not any(r["cold_start"] for r in m.get_recent_operations("x", 100))


# ==================================================================== errors


def test_recent_errors_keep_the_last_50(monitor: PerformanceMonitor) -> None:
    for i in range(60):
        with pytest.raises(RuntimeError):
            with monitor.track_operation("llm_inference", {"model": "qwen", "i": i}) as op:
                raise RuntimeError(f"boom {i}")
    errors = monitor.get_recent_errors()
    assert len(errors) == 50
    assert len(monitor.get_recent_errors(1000)) == 50
    assert [e["message"] for e in errors] == [f"boom {i}" for i in range(10, 60)]
    last = errors[-1]
    assert last["operation"] == "llm_inference"
    assert last["error_type"] == "RuntimeError"
    assert last["model"] == "qwen"
    assert last["metadata"] == {"model": "qwen", "i": 59}
    assert last["timestamp_s"] == pytest.approx(op.end_time_s)
    assert last["duration_s"] == pytest.approx(op.duration_s)
    assert last["span_id"] == op.span_id and last["trace_id"] == op.span_id
    assert "tokens" not in last and "tokens_per_second" not in last
    stamps = [e["timestamp_s"] for e in errors]
    assert stamps == sorted(stamps)
    assert [e["message"] for e in monitor.get_recent_errors(3)] == ["boom 57", "boom 58", "boom 59"]
    assert op.error_message == "boom 59"


@pytest.mark.parametrize(("limit", "error"), [(0, ValueError), (-1, ValueError), ("x", TypeError), (None, TypeError)])
def test_recent_errors_limit_validation(monitor: PerformanceMonitor, limit: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="limit"):
        monitor.get_recent_errors(limit)


def test_recorded_failures_appear_in_recent_errors(monitor: PerformanceMonitor) -> None:
    monitor.record("reranking", 0.2, success=False, error_type="TimeoutError")
    monitor.record("reranking", 0.1, success=False)
    monitor.record("reranking", 0.1, success=True, error_type="Ignored")
    errors = monitor.get_recent_errors()
    assert [(e["operation"], e["error_type"], e["message"]) for e in errors] == [
        ("reranking", "TimeoutError", ""),
        ("reranking", "Error", ""),
    ]
    assert errors[0]["metadata"] == {} and errors[0]["model"] is None
    assert errors[0]["span_id"] is None and errors[0]["duration_s"] == 0.2
    stats = monitor.get_operation_stats("reranking")
    assert stats.failed_operations == 2 and stats.total_operations == 3
    assert stats.error_rate == pytest.approx(2 / 3)
    assert dict(stats.errors_by_type) == {"TimeoutError": 1, "Error": 1}
    [r1, r2, r3] = monitor.get_recent_operations("reranking")
    assert (r1["error_type"], r1["error_message"]) == ("TimeoutError", "")
    assert r3["success"] is True and r3["error_type"] is None


def test_long_error_messages_are_cut(monitor: PerformanceMonitor) -> None:
    with pytest.raises(ValueError):
        with monitor.track_operation("x") as op:
            raise ValueError("y" * 5000)
    assert op.error_message == "y" * 5000  # the tracker keeps the whole text
    [err] = monitor.get_recent_errors()
    assert err["message"] == "y" * 1000 + "..."  # cut at 1000 bytes, marked


def test_errors_in_report_and_error_rates(monitor: PerformanceMonitor) -> None:
    for i in range(4):
        try:
            with monitor.track_operation("document_retrieval"):
                if i % 2:
                    raise KeyError("missing")
        except KeyError:
            pass
    with pytest.raises(TimeoutError):
        with monitor.track_operation("llm_inference"):
            raise TimeoutError("slow")
    report = monitor.generate_report()
    errors = report["errors"]
    assert errors["total"] == 3
    assert errors["by_type"] == {"KeyError": 2, "TimeoutError": 1}
    assert [e["error_type"] for e in errors["recent"]] == ["KeyError", "KeyError", "TimeoutError"]
    assert errors["recent"][-1]["message"] == "slow"
    assert errors["recent"][0]["message"] == "'missing'"
    assert report["operations"]["document_retrieval"]["error_rate"] == pytest.approx(0.5)
    assert report["operations"]["llm_inference"]["error_rate"] == 1.0
    assert monitor.get_operation_stats("document_retrieval").error_rate == pytest.approx(0.5)
    monitor.clear_metrics()
    assert monitor.get_recent_errors() == []
    assert monitor.generate_report()["errors"] == {"total": 0, "by_type": {}, "recent": []}


# ================================================================ cold start


def test_cold_start_is_excluded_from_percentiles_only(monitor: PerformanceMonitor) -> None:
    monitor.record("llm_inference", duration_s=0.05)  # model loading
    for _ in range(19):
        monitor.record("llm_inference", duration_s=0.001)
    full = monitor.get_operation_stats("llm_inference")
    warm = monitor.get_operation_stats("llm_inference", exclude_cold_start=True)
    assert full.p99_duration == pytest.approx(0.05, rel=0.01)
    assert warm.p99_duration == pytest.approx(0.001, rel=0.01)
    assert warm.p95_duration == pytest.approx(0.001, rel=0.01)
    assert warm.p50_duration == pytest.approx(0.001, rel=0.01)
    for s in (full, warm):
        assert s.total_operations == 20
        assert s.max_duration == 0.05
        assert s.total_duration == pytest.approx(0.05 + 19 * 0.001)
        assert s.cold_start_duration == 0.05
    assert full.exclude_cold_start is False and warm.exclude_cold_start is True


def test_cold_start_with_many_records() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.record("op", 0.5)
    for _ in range(99):
        m.record("op", 0.01)
    warm = m.get_operation_stats("op", exclude_cold_start=True)
    assert warm.p99_duration == pytest.approx(0.01, rel=0.01)
    assert m.get_operation_stats("op").max_duration == 0.5
    assert warm.max_duration == 0.5


def test_cold_start_single_record_and_unknown(monitor: PerformanceMonitor) -> None:
    assert monitor.get_operation_stats("nothing").cold_start_duration is None
    monitor.record("once", 0.3)
    s = monitor.get_operation_stats("once", exclude_cold_start=True)
    assert s.cold_start_duration == 0.3
    assert s.p99_duration == pytest.approx(0.3, rel=0.01)  # nothing left to exclude it from


def test_cold_start_flag_on_blocks(monitor: PerformanceMonitor) -> None:
    for _ in range(3):
        with monitor.track_operation("embedding_generation"):
            pass
    flags = [r["cold_start"] for r in monitor.get_recent_operations("embedding_generation")]
    assert flags == [True, False, False]
    first = monitor.get_recent_operations("embedding_generation")[0]
    assert monitor.get_operation_stats("embedding_generation").cold_start_duration == pytest.approx(first["duration_s"])


def test_cold_start_argument_validation(monitor: PerformanceMonitor) -> None:
    monitor.record("op", 0.1)
    with pytest.raises(ValueError, match="exclude_cold_start"):
        monitor.get_operation_stats("op", window_minutes=1, exclude_cold_start=True)
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match="exclude_cold_start"):
            monitor.get_operation_stats("op", exclude_cold_start=bad)  # type: ignore[arg-type]


def test_clear_metrics_resets_the_cold_start(monitor: PerformanceMonitor) -> None:
    monitor.record("op", 0.5)
    monitor.record("op", 0.1)
    monitor.clear_metrics()
    assert monitor.get_operation_stats("op").cold_start_duration is None
    monitor.record("op", 0.2)
    monitor.record("op", 0.1)
    assert monitor.get_operation_stats("op").cold_start_duration == 0.2
    assert [r["cold_start"] for r in monitor.get_recent_operations("op")] == [True, False]


def test_cold_start_in_report(monitor: PerformanceMonitor) -> None:
    monitor.record("op", 0.4)
    monitor.record("op", 0.1)
    cold = monitor.generate_report()["operations"]["op"]["cold_start"]
    assert cold["duration_s"] == 0.4


# =========================================================== latency classes


def test_latency_classes_with_default_targets(monitor: PerformanceMonitor) -> None:
    for d in (1.0, 3.0, 6.0):
        monitor.record("llm_inference", d)
    s = monitor.get_operation_stats("llm_inference")
    assert (s.latency_good, s.latency_acceptable, s.latency_investigate) == (1, 1, 1)
    assert (s.latency_good_below_s, s.latency_investigate_above_s) == (2.0, 5.0)
    assert monitor.get_latency_target() == {"good_below_s": 2.0, "investigate_above_s": 5.0}
    assert monitor.get_latency_target("llm_inference") == {"good_below_s": 2.0, "investigate_above_s": 5.0}
    classes = monitor.generate_report()["operations"]["llm_inference"]["latency_classes"]
    assert classes == {
        "good": 1,
        "acceptable": 1,
        "investigate": 1,
        "good_below_s": 2.0,
        "investigate_above_s": 5.0,
    }


def test_latency_targets_apply_retroactively_per_operation_and_default(monitor: PerformanceMonitor) -> None:
    for name in ("retrieval", "other"):
        for d in (1.0, 3.0, 6.0):
            monitor.record(name, d)
    monitor.set_latency_target("retrieval", 0.5, 2)
    s = monitor.get_operation_stats("retrieval")
    assert (s.latency_good, s.latency_acceptable, s.latency_investigate) == (0, 1, 2)
    assert (s.latency_good_below_s, s.latency_investigate_above_s) == (0.5, 2.0)
    assert monitor.get_latency_target("retrieval") == {"good_below_s": 0.5, "investigate_above_s": 2.0}

    monitor.set_latency_target(None, 4, 10)
    o = monitor.get_operation_stats("other")
    assert (o.latency_good, o.latency_acceptable, o.latency_investigate) == (2, 1, 0)
    assert monitor.get_latency_target() == {"good_below_s": 4.0, "investigate_above_s": 10.0}
    s = monitor.get_operation_stats("retrieval")  # keeps its own target
    assert (s.latency_good, s.latency_acceptable, s.latency_investigate) == (0, 1, 2)
    # Windowed stats use the same targets.
    w = monitor.get_operation_stats("retrieval", window_minutes=1)
    assert (w.latency_good, w.latency_acceptable, w.latency_investigate) == (0, 1, 2)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("op", -1.0, 5.0), ValueError),
        (("op", 0.0, 5.0), ValueError),
        (("op", 1.0, -5.0), ValueError),
        (("op", 3.0, 2.0), ValueError),
        (("op", float("nan"), 5.0), ValueError),
        (("op", 1.0, float("nan")), ValueError),
        (("op", 1.0, float("inf")), ValueError),
        (("op", True, 5.0), TypeError),
        (("op", 1.0, False), TypeError),
        (("op", "1", 5.0), TypeError),
        (("op", 1.0, None), TypeError),
        ((5, 1.0, 2.0), TypeError),
        (("", 1.0, 2.0), ValueError),
        ((None, -1.0, 2.0), ValueError),
    ],
)
def test_bad_latency_targets(monitor: PerformanceMonitor, args: tuple[Any, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        monitor.set_latency_target(*args)
    assert monitor.get_latency_target("op") == {"good_below_s": 2.0, "investigate_above_s": 5.0}
    assert monitor.get_latency_target() == {"good_below_s": 2.0, "investigate_above_s": 5.0}


def test_health_warns_when_p95_is_above_the_investigate_target() -> None:
    m = PerformanceMonitor(
        enable_memory_tracking=False,
        memory_threshold_mb=1e9,
        system_memory_percent_threshold=0,
        gpu_memory_percent_threshold=0,
    )
    for _ in range(10):
        m.record("reranking", 1.0)
    assert m.get_health_status()["status"] == "healthy"
    for _ in range(10):
        m.record("slow_reranker", 6.0)
    health = m.get_health_status()
    assert health["status"] == "warning"
    assert any("slow_reranker" in issue for issue in health["issues"])
    assert not any("reranking" in issue and "slow_reranker" not in issue for issue in health["issues"])
    assert m.generate_report()["health"]["status"] == "warning"
    m.set_latency_target("slow_reranker", 5.0, 10.0)  # now acceptable
    assert m.get_health_status()["status"] == "healthy"


# =================================================================== windows


def test_window_requests_per_second(monitor: PerformanceMonitor) -> None:
    for _ in range(10):
        monitor.record("document_retrieval", 0.01)
    core = monitor._core.get_window_stats("document_retrieval", 1)
    w = monitor.get_operation_stats("document_retrieval", window_minutes=1)
    assert w.total_operations == 10 and w.window_minutes == 1
    assert w.requests_per_second > 0
    # The window covers the current partial minute plus one whole minute.
    assert 60 <= core["window_s"] <= 121
    assert w.requests_per_second == pytest.approx(10 / core["window_s"], rel=1e-3)
    assert 10 / 121 <= w.requests_per_second <= 10 / 60


def test_all_time_requests_per_second(monitor: PerformanceMonitor) -> None:
    monitor.record("reranking", 0.01)
    assert monitor.get_operation_stats("reranking").requests_per_second == 0  # one record: no span
    for _ in range(4):
        time.sleep(0.005)
        monitor.record("reranking", 0.01)
    stamps = [r["timestamp_s"] for r in monitor.get_recent_operations("reranking")]
    assert len(set(stamps)) == 5
    rps = monitor.get_operation_stats("reranking").requests_per_second
    assert rps == pytest.approx(5 / (stamps[-1] - stamps[0]), rel=1e-6)
    assert monitor.generate_report()["operations"]["reranking"]["requests_per_second"] == pytest.approx(rps, rel=1e-6)


# ========================================================== memory snapshots


def test_memory_snapshots(monitor: PerformanceMonitor) -> None:
    before = monitor.snapshot_memory("before_index_load")
    assert set(before) == {"label", "timestamp_s", "rss_mb", "vms_mb", "system_used_percent"}
    assert before["label"] == "before_index_load"
    assert before["rss_mb"] > 0 and before["vms_mb"] >= before["rss_mb"]
    assert before["system_used_percent"] is None or 0 <= before["system_used_percent"] <= 100
    assert before["timestamp_s"] == pytest.approx(time.time(), abs=60)
    after = monitor.snapshot_memory("after_index_load")
    snaps = monitor.get_memory_snapshots()
    assert [s["label"] for s in snaps] == ["before_index_load", "after_index_load"]
    assert snaps[0] == before and snaps[1] == after
    assert snaps[0]["timestamp_s"] <= snaps[1]["timestamp_s"]
    snaps[0]["label"] = "mutated"  # a copy
    before["label"] = "mutated too"
    assert monitor.get_memory_snapshots()[0]["label"] == "before_index_load"
    assert monitor.generate_report()["memory_snapshots"] == monitor.get_memory_snapshots()
    monitor.clear_metrics()
    assert monitor.get_memory_snapshots() == []


@pytest.mark.parametrize(("label", "error"), [("", ValueError), ("x" * 201, ValueError), (5, TypeError), (None, TypeError), (b"x", TypeError)])
def test_memory_snapshot_bad_labels(monitor: PerformanceMonitor, label: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="label"):
        monitor.snapshot_memory(label)
    assert monitor.get_memory_snapshots() == []


def test_memory_snapshots_are_bounded(monitor: PerformanceMonitor) -> None:
    for i in range(1005):
        monitor.snapshot_memory(f"s{i}")
    snaps = monitor.get_memory_snapshots()
    assert len(snaps) == 1000
    assert snaps[0]["label"] == "s5" and snaps[-1]["label"] == "s1004"


# ============================================================ initialization


def test_track_initialization_records(monitor: PerformanceMonitor) -> None:
    with monitor.track_initialization("all-MiniLM-L6-v2", from_cache=True, device="cpu") as op:
        assert op.active
        time.sleep(0.001)
    [init] = monitor.get_initializations()
    assert init == {
        "model": "all-MiniLM-L6-v2",
        "duration_s": op.duration_s,
        "from_cache": True,
        "success": True,
        "error_type": None,
        "timestamp_s": op.end_time_s,
    }
    assert init["duration_s"] >= 0.001
    assert op.operation == "model_initialization"
    assert op.metadata == {"loaded_model": "all-MiniLM-L6-v2", "from_cache": True, "device": "cpu"}
    stats = monitor.get_operation_stats("model_initialization")
    assert stats.total_operations == 1 and stats.successful_operations == 1
    assert monitor.generate_report()["initializations"] == [init]
    monitor.get_initializations()[0]["model"] = "mutated"  # a copy
    assert monitor.get_initializations()[0]["model"] == "all-MiniLM-L6-v2"


def test_track_initialization_failure(monitor: PerformanceMonitor) -> None:
    with pytest.raises(OSError, match="no weights"):
        with monitor.track_initialization("bge-large"):
            raise OSError("no weights")
    [init] = monitor.get_initializations()
    assert init["success"] is False and init["error_type"] == "OSError"
    assert init["from_cache"] is None and init["model"] == "bge-large"
    stats = monitor.get_operation_stats("model_initialization")
    assert stats.failed_operations == 1
    assert monitor.get_recent_errors()[-1]["message"] == "no weights"


def test_track_initialization_from_cache_set_inside(monitor: PerformanceMonitor) -> None:
    with monitor.track_initialization("e5") as op:
        op.metadata["from_cache"] = False
    with monitor.track_initialization("e5", from_cache=False) as op:
        op.metadata["from_cache"] = True  # known only now: wins
    assert [i["from_cache"] for i in monitor.get_initializations()] == [False, True]
    monitor.clear_metrics()
    assert monitor.get_initializations() == []


def test_track_initialization_nests_like_any_block(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("startup") as root:
        with monitor.track_initialization("qwen") as op:
            pass
    assert op.parent_id == root.span_id


@pytest.mark.parametrize(
    ("model", "from_cache", "error"),
    [
        (5, None, TypeError),
        (None, None, TypeError),
        ("", None, ValueError),
        ("m" * 201, None, ValueError),
        ("m", "yes", TypeError),
        ("m", 1, TypeError),
    ],
)
def test_track_initialization_bad_arguments(
    monitor: PerformanceMonitor, model: Any, from_cache: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        with monitor.track_initialization(model, from_cache=from_cache):
            pytest.fail("the block must not run")
    assert monitor.get_initializations() == []
    assert monitor.get_operation_count() == 0


# ============================================================ report/export

SEED_KEYS = {"timestamp", "total_operations", "memory", "operations"}
NEW_KEYS = {
    "cost_usd",
    "models",
    "caches",
    "errors",
    "queues",
    "initializations",
    "memory_snapshots",
    "recent_traces",
    "in_flight",
}


def _populate(m: PerformanceMonitor) -> None:
    m.set_model_prices({"qwen": (1.0, 2.0)})
    with m.track_operation("query_processing"):
        with m.track_operation("llm_inference", model="qwen") as op:
            op.prompt_tokens = 100
            op.completion_tokens = 20
            op.cache_hit = False
    with pytest.raises(ValueError):
        with m.track_operation("document_retrieval"):
            raise ValueError("x")
    m.record_cache("embeddings", hit=True, count=3)
    m.snapshot_memory("start")
    q = m.queue("requests")
    q.dequeue(q.enqueue())
    with m.track_initialization("qwen", from_cache=True):
        pass


def test_report_keeps_the_seed_schema_and_adds_keys(monitor: PerformanceMonitor) -> None:
    _populate(monitor)
    report = monitor.generate_report()
    assert SEED_KEYS <= set(report)
    assert NEW_KEYS <= set(report)
    assert isinstance(report["timestamp"], str)
    assert report["total_operations"] == 4
    for key in ("current_rss_mb", "min_rss_mb", "max_rss_mb", "avg_rss_mb"):
        assert isinstance(report["memory"][key], float)
    for name, op in report["operations"].items():
        assert {"total", "successful", "failed", "duration", "tokens"} <= set(op), name
        assert {"min", "max", "avg", "p50", "p95", "p99"} <= set(op["duration"])
        assert {"total", "avg"} <= set(op["tokens"])
        assert op["total"] == op["successful"] + op["failed"]
    llm = report["operations"]["llm_inference"]
    assert llm["tokens"]["total"] == 120 and llm["tokens"]["avg"] == 120.0
    assert report["cost_usd"] == pytest.approx((100 * 1.0 + 20 * 2.0) / 1e6)
    assert report["models"]["qwen"]["prompt_tokens"] == 100
    assert report["models"]["qwen"]["completion_tokens"] == 20
    assert set(report["caches"]) == {"embeddings", "llm_inference"}
    assert report["caches"]["embeddings"]["hits"] == 3
    assert report["caches"]["llm_inference"]["misses"] == 1
    assert report["errors"]["total"] == 1
    assert "requests" in report["queues"]
    assert [i["model"] for i in report["initializations"]] == ["qwen"]
    assert [s["label"] for s in report["memory_snapshots"]] == ["start"]
    assert [t["operation"] for t in report["recent_traces"]] == [
        "query_processing",
        "document_retrieval",
        "model_initialization",
    ]
    assert report["in_flight"] == {}
    json.dumps(report, allow_nan=False)  # serialisable as is


def test_report_of_an_empty_monitor(monitor: PerformanceMonitor) -> None:
    report = monitor.generate_report()
    assert report["total_operations"] == 0 and report["operations"] == {}
    assert report["cost_usd"] is None
    assert report["models"] == {} and report["caches"] == {}
    assert report["recent_traces"] == [] and report["in_flight"] == {}
    assert report["initializations"] == [] and report["memory_snapshots"] == []


def test_export_metrics_json_matches_the_report_and_is_atomic(monitor: PerformanceMonitor, tmp_path: Any) -> None:
    _populate(monitor)
    path = tmp_path / "metrics.json"
    assert monitor.export_metrics_json(path) == str(path)
    with open(path, encoding="utf-8") as f:
        loaded = json.load(f)
    report = monitor.generate_report()
    assert set(loaded) == set(report)
    assert set(loaded["operations"]) == set(report["operations"])
    for name in report["operations"]:
        assert set(loaded["operations"][name]) == set(report["operations"][name])
    assert loaded["total_operations"] == report["total_operations"]
    assert loaded["cost_usd"] == report["cost_usd"]
    assert loaded["errors"] == report["errors"]
    assert loaded["recent_traces"] == json.loads(json.dumps(report["recent_traces"]))
    assert os.listdir(tmp_path) == ["metrics.json"]
    # Overwriting keeps a single complete file.
    with monitor.track_operation("more"):
        pass
    monitor.export_metrics_json(str(path))
    with open(path, encoding="utf-8") as f:
        assert "more" in json.load(f)["operations"]
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_export_errors(monitor: PerformanceMonitor, tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError):
        monitor.export_metrics_json(tmp_path / "missing_dir" / "m.json")
    with pytest.raises(TypeError):
        monitor.export_metrics_json(123)
    with pytest.raises(ValueError):
        monitor.export_metrics_json("")
    assert os.listdir(tmp_path) == []


def test_export_with_non_json_metadata_in_a_trace(monitor: PerformanceMonitor, tmp_path: Any) -> None:
    with monitor.track_operation("x", obj=_Opaque(), nan=float("nan")):
        pass
    monitor.export_metrics_json(tmp_path / "m.json")
    with open(tmp_path / "m.json", encoding="utf-8") as f:
        assert json.load(f)["recent_traces"][0]["metadata"]["obj"] == "<opaque thing>"


# ================================================================ exit hooks


def test_exit_hook_sees_every_finished_tracker(monitor: PerformanceMonitor) -> None:
    seen: list[tuple[Any, str, float | None, bool | None]] = []

    def hook(op: Any) -> None:
        seen.append((op, op.operation, op.duration_s, op.active))

    monitor._add_exit_hook(hook)
    with monitor.track_operation("root") as root:
        with monitor.track_operation("child") as child:
            pass
    assert [s[1] for s in seen] == ["child", "root"]  # in exit order
    assert seen[0][0] is child and seen[1][0] is root
    assert all(s[2] is not None and s[3] is False for s in seen)
    monitor._remove_exit_hook(hook)
    with monitor.track_operation("after"):
        pass
    assert len(seen) == 2
    monitor._remove_exit_hook(hook)  # unknown now: ignored


def test_two_exit_hooks_both_run_in_order(monitor: PerformanceMonitor) -> None:
    calls: list[str] = []

    def first(op: Any) -> None:
        calls.append("first:" + op.operation)

    def second(op: Any) -> None:
        calls.append("second:" + op.operation)

    monitor._add_exit_hook(first)
    monitor._add_exit_hook(second)
    monitor._add_exit_hook(first)  # added once only
    with monitor.track_operation("x"):
        pass
    assert calls == ["first:x", "second:x"]
    monitor._remove_exit_hook(first)
    with monitor.track_operation("y"):
        pass
    assert calls == ["first:x", "second:x", "second:y"]
    monitor._remove_exit_hook(second)
    with monitor.track_operation("z"):
        pass
    assert len(calls) == 3


def test_exit_hook_must_be_callable(monitor: PerformanceMonitor) -> None:
    with pytest.raises(TypeError, match="callable"):
        monitor._add_exit_hook("not callable")  # type: ignore[arg-type]


def test_exit_hook_sees_failures(monitor: PerformanceMonitor) -> None:
    seen: list[tuple[Any, ...]] = []
    monitor._add_exit_hook(lambda op: seen.append((op.success, op.error_type, op.error_message)))
    with pytest.raises(ValueError):
        with monitor.track_operation("x"):
            raise ValueError("bad input")
    with monitor.track_operation("y"):
        pass
    assert seen == [(False, "ValueError", "bad input"), (True, None, None)]


def test_failing_exit_hook_is_counted_logged_once_and_leaves_the_block_alone(
    monitor: PerformanceMonitor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def bad_hook(op: Any) -> None:
        raise RuntimeError(f"hook failed on {op.operation}")

    monitor._add_exit_hook(bad_hook)
    with caplog.at_level(logging.ERROR, logger="ragperf"):
        with monitor.track_operation("ok") as op:
            value = 42
        assert value == 42 and op.success is True
        with pytest.raises(KeyError) as info:
            with monitor.track_operation("fails"):
                raise KeyError("user error")
        assert info.value.args == ("user error",)  # not replaced by the hook's error

        def async_user() -> int:
            async def main() -> int:
                async with monitor.track_operation("async_ok"):
                    return 7

            return asyncio.run(main())

        assert async_user() == 7
    assert reported == []  # no unraisable storm
    assert monitor.get_internal_error_count() == 3
    assert monitor.generate_report()["monitoring"]["internal_errors"] == 3
    errors = [r for r in caplog.records if r.name == "ragperf" and r.levelno == logging.ERROR]
    assert len(errors) == 1  # logged once
    assert "hook failed on ok" in errors[0].getMessage()
    assert "internal error while running an exit hook" in errors[0].getMessage()
    assert monitor.get_operation_stats("ok").total_operations == 1
    assert monitor.get_operation_stats("fails").failed_operations == 1


def test_a_failing_exit_hook_does_not_stop_the_others(monitor: PerformanceMonitor) -> None:
    calls: list[str] = []

    def bad_hook(op: Any) -> None:
        raise RuntimeError("hook failed")

    monitor._add_exit_hook(bad_hook)
    monitor._add_exit_hook(lambda op: calls.append(op.operation))
    with monitor.track_operation("x"):
        pass
    assert monitor.get_internal_error_count() == 1
    assert calls == ["x"]


def test_keyboard_interrupt_inside_an_exit_hook_is_not_swallowed(monitor: PerformanceMonitor) -> None:
    def hook(op: Any) -> None:
        raise KeyboardInterrupt

    monitor._add_exit_hook(hook)
    with pytest.raises(KeyboardInterrupt):
        with monitor.track_operation("x"):
            pass
    monitor._remove_exit_hook(hook)
    assert monitor.get_operation_stats("x").total_operations == 1  # recorded before the hook
    assert monitor.get_internal_error_count() == 0


def test_new_monitor_has_no_internal_errors(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x"):
        pass
    assert monitor.get_internal_error_count() == 0
    assert monitor.generate_report()["monitoring"]["internal_errors"] == 0


# ================================================== streaming on the tracker


def test_streaming_methods_need_an_active_block(monitor: PerformanceMonitor) -> None:
    op = monitor.track_operation("llm_inference")
    with pytest.raises(RuntimeError, match="active block"):
        op.add_tokens()
    with pytest.raises(RuntimeError, match="active block"):
        op.mark_first_token()
    with op:
        op.add_tokens(2)
    with pytest.raises(RuntimeError, match="add_tokens"):
        op.add_tokens(1)
    with pytest.raises(RuntimeError, match="mark_first_token"):
        op.mark_first_token()
    assert op.completion_tokens == 2


@pytest.mark.parametrize(
    ("args", "error"),
    [((-1,), ValueError), ((True,), TypeError), ((1.5,), TypeError), (("3",), TypeError), ((None,), TypeError), ((1, 2), TypeError)],
)
def test_add_tokens_validation(monitor: PerformanceMonitor, args: tuple[Any, ...], error: type[Exception]) -> None:
    with monitor.track_operation("llm_inference") as op:
        with pytest.raises(error):
            op.add_tokens(*args)
        assert op.completion_tokens == 0 and op.time_to_first_token_s is None
    assert monitor.get_operation_stats("llm_inference").streams == 0


def test_add_tokens_zero_is_a_no_op(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference") as op:
        op.add_tokens(0)
        assert op.time_to_first_token_s is None and op.completion_tokens == 0
    s = monitor.get_operation_stats("llm_inference")
    assert s.streams == 0 and s.inter_token_samples == 0
    assert monitor.get_recent_operations("llm_inference")[0]["time_to_first_token_s"] is None


def test_add_tokens_counts_and_inter_token_samples(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference") as op:
        op.prompt_tokens = 50
        time.sleep(0.002)
        op.add_tokens(3)  # the first call: time to first token, no gap
        ttft = op.time_to_first_token_s
        assert ttft is not None and ttft >= 0.002
        op.add_tokens(2)
        op.add_tokens(4)
        op.add_tokens()
        assert op.time_to_first_token_s == ttft
        assert op.completion_tokens == 10 and op.tokens == 60
    assert op.time_to_first_token_s == ttft
    s = monitor.get_operation_stats("llm_inference")
    assert s.streams == 1
    assert s.inter_token_samples == 2 + 4 + 1
    assert s.completion_tokens == 10 and s.total_tokens == 60
    assert s.time_to_first_token_avg_s == pytest.approx(ttft)
    assert s.time_to_first_token_p50_s == pytest.approx(ttft, rel=0.01)
    for value in (s.time_to_first_token_p95_s, s.time_to_first_token_p99_s):
        assert value is not None and value > 0
    for value in (
        s.inter_token_latency_avg_s,
        s.inter_token_latency_p50_s,
        s.inter_token_latency_p95_s,
        s.inter_token_latency_p99_s,
    ):
        assert value is not None and value >= 0
    assert s.output_tokens_per_second is not None and s.output_tokens_per_second > 0
    [rec] = monitor.get_recent_operations("llm_inference")
    assert rec["time_to_first_token_s"] == pytest.approx(ttft)


def test_add_tokens_on_an_explicit_total(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference") as op:
        op.tokens = 5
        op.add_tokens(3)
        assert op.tokens == 8 and op.completion_tokens == 3


def test_mark_first_token_then_add_tokens(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference") as op:
        op.mark_first_token()
        ttft = op.time_to_first_token_s
        assert ttft is not None
        time.sleep(0.002)
        op.mark_first_token()  # only the first mark counts
        op.add_tokens(1)
        assert op.time_to_first_token_s == ttft
    s = monitor.get_operation_stats("llm_inference")
    assert s.streams == 1
    assert s.inter_token_samples == 0  # a single add_tokens has no gap
    assert s.inter_token_latency_p50_s is None


def test_streaming_fields_are_none_without_streams(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("document_retrieval") as op:
        op.tokens = 10
    assert op.time_to_first_token_s is None
    s = monitor.get_operation_stats("document_retrieval")
    assert s.streams == 0 and s.inter_token_samples == 0
    for value in (
        s.time_to_first_token_avg_s,
        s.time_to_first_token_p50_s,
        s.time_to_first_token_p95_s,
        s.time_to_first_token_p99_s,
        s.inter_token_latency_avg_s,
        s.inter_token_latency_p50_s,
        s.inter_token_latency_p95_s,
        s.inter_token_latency_p99_s,
        s.output_tokens_per_second,
    ):
        assert value is None
    assert "streaming" not in monitor.generate_report()["operations"]["document_retrieval"]


def test_streams_mixed_with_plain_blocks(monitor: PerformanceMonitor) -> None:
    for i in range(4):
        with monitor.track_operation("llm_inference") as op:
            if i % 2 == 0:
                op.add_tokens(1)
                op.add_tokens(1)
    s = monitor.get_operation_stats("llm_inference")
    assert s.total_operations == 4 and s.streams == 2 and s.inter_token_samples == 2
    streaming = monitor.generate_report()["operations"]["llm_inference"]["streaming"]
    assert streaming["streams"] == 2
    assert streaming["inter_token_latency_s"]["samples"] == 2
    assert not math.isnan(streaming["output_tokens_per_second"])


def test_initialization_does_not_count_as_model_inference() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    with m.track_initialization("qwen"):
        pass
    with m.track_operation("llm_inference", model="qwen") as op:
        op.completion_tokens = 10
    assert m.get_model_stats()["qwen"]["operations"] == 1


def test_a_context_that_ran_blocks_is_freed_without_the_cyclic_gc(monitor: PerformanceMonitor) -> None:
    """The span stack refers to its context weakly: a context (an asyncio
    task's, a request's) that ran blocks is freed by reference counting when
    it is dropped, not kept for the cyclic GC with everything its variables
    hold (under an ASGI server that made full collections far more frequent)."""
    import weakref

    payload = contextvars.ContextVar("payload")

    def run() -> None:
        payload.set(bytearray(1024))
        with monitor.track_operation("outer"):
            with monitor.track_operation("inner"):
                pass

    gc.disable()
    try:
        ctx = contextvars.copy_context()
        ctx.run(run)
        ref = weakref.ref(ctx)
        del ctx
        assert ref() is None
    finally:
        gc.enable()
    assert monitor.get_operation_stats("inner").total_operations == 1


def test_asyncio_task_contexts_are_freed_without_the_cyclic_gc(monitor: PerformanceMonitor) -> None:
    import weakref

    refs: list[weakref.ref[contextvars.Context]] = []

    async def request(i: int) -> None:
        with monitor.track_operation("http_request", n=i):
            await asyncio.sleep(0)

    async def main() -> None:
        for i in range(20):
            ctx = contextvars.copy_context()
            refs.append(weakref.ref(ctx))
            await asyncio.get_running_loop().create_task(request(i), context=ctx)
            del ctx

    gc.disable()
    try:
        asyncio.run(main())
        assert [r for r in refs if r() is not None] == []
    finally:
        gc.enable()
    assert monitor.get_operation_stats("http_request").total_operations == 20


def test_a_new_context_at_a_dead_contexts_address_gets_its_own_stack(monitor: PerformanceMonitor) -> None:
    """Many short-lived copies of one context: each is a root or nests under
    the block innermost where it was copied, never under a sibling's block
    (addresses of dead contexts are reused; the weak owner reference must
    not match a newcomer)."""
    base = contextvars.copy_context()
    parents = []

    def child() -> None:
        with monitor.track_operation("child") as op:
            parents.append(op.parent_id)

    def spawn_many() -> None:
        for _ in range(200):
            c = contextvars.copy_context()  # a copy holding base's stack
            c.run(child)
            del c

    with monitor.track_operation("unrelated"):
        pass
    base.run(spawn_many)
    assert parents == [None] * 200


def test_unsuccessful_spans_counts_the_kept_descendants_that_failed() -> None:
    """A root's count of kept descendants that raised or were cancelled
    (what lets a trace sampler skip looking through a clean tree)."""
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    root = monitor.track_operation("query")
    for round_ in range(2):  # a root entered again starts from 0
        with root:
            with monitor.track_operation("ok"):
                pass
            with pytest.raises(ValueError):
                with monitor.track_operation("bad"):
                    raise ValueError("x")
            with pytest.raises(asyncio.CancelledError):
                with monitor.track_operation("cancelled"):
                    raise asyncio.CancelledError()
            with monitor.track_operation("parent"):
                with pytest.raises(KeyError):
                    with monitor.track_operation("deep_bad"):
                        raise KeyError("k")
            if round_ == 0:
                with monitor.track_operation("ok_again"):
                    pass
        assert root.unsuccessful_spans == 3
        assert sum(1 for s in root._spans if s.success is False) == 3
    with monitor.track_operation("clean") as clean:
        with monitor.track_operation("child"):
            pass
    assert clean.unsuccessful_spans == 0
