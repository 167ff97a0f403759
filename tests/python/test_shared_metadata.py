"""Shared (interned) metadata, issue #20: a call site that passes the same
key and value objects (literals) every time gives its blocks one shared,
immutable copy of the pairs, their JSON text and their model. Every block
must still behave as if it had its own: edits, reads, models, prices,
dimensions and records are per block, and a block outliving the cache's
entry keeps its metadata."""

from __future__ import annotations

import gc
from typing import Any, Dict, List

import pytest

from ragperf import PerformanceMonitor



def recent(monitor: PerformanceMonitor, name: str = "x") -> List[Dict[str, Any]]:
    return list(monitor.get_recent_operations(name))


def test_editing_one_block_of_a_call_site_leaves_the_others_alone(monitor: PerformanceMonitor) -> None:
    for i in range(6):
        with monitor.track_operation("x", model="qwen", tenant="acme", k=3) as op:
            if i == 2:
                op.metadata["tenant"] = "other"  # this block's copy only
            if i == 4:
                assert op.metadata == {"model": "qwen", "tenant": "acme", "k": 3}
    tenants = [r["metadata"]["tenant"] for r in recent(monitor)]
    assert tenants == ["acme", "acme", "other", "acme", "acme", "acme"]
    assert all(r["model"] == "qwen" for r in recent(monitor))


def test_replacing_and_deleting_a_shared_blocks_metadata(monitor: PerformanceMonitor) -> None:
    for i in range(4):
        with monitor.track_operation("x", model="qwen", k=1) as op:
            if i == 1:
                op.metadata = {"model": "llama"}
            if i == 2:
                del op.metadata
    rows = recent(monitor)
    assert [r["metadata"] for r in rows] == [{"model": "qwen", "k": 1}, {"model": "llama"}, {}, {"model": "qwen", "k": 1}]
    assert [r["model"] for r in rows] == ["qwen", "llama", None, "qwen"]


def test_blocks_outlive_the_cache_entries_they_share() -> None:
    """More live call-site texts than the cache holds (8): entries are
    replaced while blocks still use them."""
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    values = [f"value-{i}" for i in range(20)]  # distinct objects
    for _ in range(2):
        ops = [monitor.track_operation("x", model="qwen", v=value) for value in values]
        for op in ops:
            op.__enter__()
        gc.collect()
        assert [op.metadata for op in ops[::7]] == [{"model": "qwen", "v": values[i]} for i in range(0, 20, 7)]
        for op in reversed(ops):
            op.__exit__(None, None, None)
    rows = recent(monitor)
    assert sorted(r["metadata"]["v"] for r in rows[-20:]) == sorted(values)


def test_a_small_positional_dict_literal_shares_too(monitor: PerformanceMonitor) -> None:
    caller = {"model": "qwen", "k": 1}
    for i in range(4):
        with monitor.track_operation("x", {"model": "qwen", "k": 1}):
            pass
        with monitor.track_operation("y", caller):
            caller["k"] = i + 2  # after the call: not this block's
    assert [r["metadata"] for r in recent(monitor)] == [{"model": "qwen", "k": 1}] * 4
    assert [r["metadata"]["k"] for r in recent(monitor, "y")] == [1, 2, 3, 4]


def test_the_model_of_shared_metadata_is_priced_and_totalled(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"qwen": {"input": 1.0, "output": 2.0}})
    for _ in range(3):
        with monitor.track_operation("x", model="qwen", tenant="acme") as op:
            op.prompt_tokens = 1_000_000
            op.completion_tokens = 500_000
    stats = monitor.get_model_stats()["qwen"]
    assert stats["operations"] == 3
    assert stats["prompt_tokens"] == 3_000_000
    assert stats["cost_usd"] == pytest.approx(3 * 2.0)
    assert [r["cost_usd"] for r in recent(monitor)] == [pytest.approx(2.0)] * 3


def test_explicit_and_response_models_still_win_over_shared_metadata(monitor: PerformanceMonitor) -> None:
    for i in range(4):
        with monitor.track_operation("x", model="qwen", k=1) as op:
            if i == 1:
                op.model = "explicit"
            if i == 2:
                op.response_model = "qwen-2025-01-01"
            op.prompt_tokens = 10
    rows = recent(monitor)
    assert [r["model"] for r in rows] == ["qwen", "explicit", "qwen", "qwen"]
    assert [r["response_model"] for r in rows] == [None, None, "qwen-2025-01-01", None]
    models = monitor.get_model_stats()
    assert models["qwen"]["operations"] == 3
    assert models["explicit"]["operations"] == 1


@pytest.mark.parametrize(
    "model, expected",
    [("qwén-λ", "qwén-λ"), (3, None), (None, None), ("", None)],
)
def test_what_model_shared_metadata_gives(monitor: PerformanceMonitor, model: Any, expected: Any) -> None:
    for _ in range(3):
        with monitor.track_operation("x", model=model, k=1.5, on=True, off=None):
            pass
    rows = recent(monitor)
    assert [r["model"] for r in rows] == [expected] * 3
    assert rows[-1]["metadata"] == {"model": model, "k": 1.5, "on": True, "off": None}


def test_dimensions_read_shared_metadata(monitor: PerformanceMonitor) -> None:
    monitor.set_dimensions(["tenant"])
    for tenant in ("acme", "acme", "beta"):
        for _ in range(2):
            with monitor.track_operation("x", model="qwen", tenant=tenant):
                pass
    breakdown = monitor.get_breakdown("x", by="tenant")
    assert {value: stats.total_operations for value, stats in breakdown.items()} == {"acme": 4, "beta": 2}


def test_a_finished_shared_block_still_reads_its_metadata(monitor: PerformanceMonitor) -> None:
    kept = []
    for i in range(3):
        with monitor.track_operation("x", model="qwen", step="s") as op:
            pass
        kept.append(op)
    gc.collect()
    assert [op.metadata for op in kept] == [{"model": "qwen", "step": "s"}] * 3
    kept[0].metadata["late"] = 1  # after the block: its own copy, nobody else's
    assert kept[1].metadata == {"model": "qwen", "step": "s"}


def test_keywords_that_are_not_all_pairs_are_not_shared_wrongly(monitor: PerformanceMonitor) -> None:
    for i in range(3):
        with monitor.track_operation(operation="x", model="qwen"):
            pass
        with monitor.track_operation("x", metadata={"a": 1}, model="qwen"):
            pass
    rows = recent(monitor)
    assert [r["metadata"] for r in rows] == [{"model": "qwen"}, {"a": 1, "model": "qwen"}] * 3


def test_blocks_tracked_by_a_finalizer_during_tracking() -> None:
    """A collection can run finalizers while a block is being created; a
    finalizer that tracks blocks from other call sites replaces the cache's
    entries under the block being made."""
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    values = [f"f{i}" for i in range(12)]

    class Churn:
        def __init__(self) -> None:
            self.cycle = self

        def __del__(self) -> None:
            for value in values:
                with monitor.track_operation("fin", model="m", v=value):
                    pass

    old = gc.get_threshold()
    gc.set_threshold(1, 1, 1)
    try:
        for i in range(200):
            Churn()
            with monitor.track_operation("x", model="qwen", k=7) as op:
                op.prompt_tokens = 1
    finally:
        gc.set_threshold(*old)
    gc.collect()
    rows = recent(monitor)
    assert rows and all(r["metadata"] == {"model": "qwen", "k": 7} for r in rows)
    assert monitor.get_model_stats()["qwen"]["operations"] == 200


def test_many_call_sites_with_their_own_keywords(monitor: PerformanceMonitor) -> None:
    # More keyword sets than the hot path remembers (8), cycling: each call
    # site's keywords still name the operation, the metadata dict and the
    # pairs correctly when its remembered entry was replaced meanwhile.
    t = monitor.track_operation
    sites = [
        lambda i: t("a", index="docs", k=i),
        lambda i: t("b", top_n=i),
        lambda i: t(operation="c", model="qwen", n=i),
        lambda i: t(operation_type="d", tenant="acme", n=i),
        lambda i: t("e", {"from_dict": i}, extra=1),
        lambda i: t("f", metadata={"dict_kw": i}, extra=2),
        lambda i: t("g", model="m1", temperature=0.5, top_p=i),
        lambda i: t("h", a=1, b=2, c=3, d=i),
        lambda i: t("i", a=1, b=2, c=3, d=4, e=i),  # more than the inline pairs
        lambda i: t("j", user="u", n=i),
    ]
    for i in range(30):
        for site in sites:
            with site(i):
                pass
    expect = {
        "a": {"index": "docs", "k": 29},
        "b": {"top_n": 29},
        "c": {"model": "qwen", "n": 29},
        "d": {"tenant": "acme", "n": 29},
        "e": {"from_dict": 29, "extra": 1},
        "f": {"dict_kw": 29, "extra": 2},
        "g": {"model": "m1", "temperature": 0.5, "top_p": 29},
        "h": {"a": 1, "b": 2, "c": 3, "d": 29},
        "i": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 29},
        "j": {"user": "u", "n": 29},
    }
    for name, metadata in expect.items():
        assert monitor.get_operation_count(name) == 30, name
        assert recent(monitor, name)[-1]["metadata"] == metadata, name
