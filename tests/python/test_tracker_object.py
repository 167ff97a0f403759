"""The object returned by ``PerformanceMonitor.track_operation`` (C hot path):
operation names, metadata, tokens, nesting, re-entry and its attributes."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from types import MappingProxyType

import pytest

import ragperf
from ragperf import OperationType, PerformanceMonitor


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    yield m
    m.clear_metrics()


# ------------------------------------------------------------ operation names


@pytest.mark.parametrize("op", list(OperationType))
def test_every_operation_type_is_accepted(monitor: PerformanceMonitor, op: OperationType) -> None:
    with monitor.track_operation(op) as t:
        pass
    assert t.operation == op.value
    assert type(t.operation) is str
    assert monitor.get_operation_count(op) == 1
    assert monitor.get_operation_count(op.value) == 1


@pytest.mark.parametrize(
    "name",
    ["custom_step", "x", "with space", "日本語の操作", "a" * 200, "emoji 😀", "dotted.name/with:chars"],
)
def test_any_string_is_an_operation(monitor: PerformanceMonitor, name: str) -> None:
    with monitor.track_operation(name) as t:
        pass
    assert t.operation == name
    assert monitor.get_operation_count(name) == 1
    assert monitor.get_operation_stats(name).total_operations == 1


def test_operation_type_and_its_string_are_the_same_operation(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation(OperationType.RERANKING):
        pass
    with monitor.track_operation("reranking"):
        pass
    assert monitor.get_operation_count(OperationType.RERANKING) == 2
    assert monitor.get_operation_count("reranking") == 2
    assert list(monitor.get_all_stats()) == [OperationType.RERANKING]


def test_str_subclass_name_is_recorded_as_plain_str(monitor: PerformanceMonitor) -> None:
    class Name(str):
        pass

    with monitor.track_operation(Name("sub_op")) as t:
        pass
    assert type(t.operation) is str
    assert t.operation == "sub_op"
    assert monitor.get_operation_count("sub_op") == 1


def test_user_defined_str_enum_is_accepted(monitor: PerformanceMonitor) -> None:
    class Step(str, enum.Enum):
        PARSE = "parse_step"

    class PlainStep(enum.Enum):
        LOAD = "load_step"

    with monitor.track_operation(Step.PARSE):
        pass
    with monitor.track_operation(PlainStep.LOAD):
        pass
    assert monitor.get_operation_count("parse_step") == 1
    assert monitor.get_operation_count(Step.PARSE) == 1
    assert monitor.get_operation_count("load_step") == 1
    assert monitor.get_operation_count(PlainStep.LOAD) == 1


def test_operation_may_be_passed_by_keyword(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation(operation="kw_op"):
        pass
    with monitor.track_operation(operation_type=OperationType.PDF_LOADING):  # the seed's parameter name
        pass
    assert monitor.get_operation_count("kw_op") == 1
    assert monitor.get_operation_count(OperationType.PDF_LOADING) == 1


def test_is_an_operation_tracker(monitor: PerformanceMonitor) -> None:
    t = monitor.track_operation("x")
    assert isinstance(t, ragperf.OperationTracker)
    assert "x" in repr(t)


def test_creating_a_tracker_without_entering_records_nothing(monitor: PerformanceMonitor) -> None:
    t = monitor.track_operation("never_entered", {"a": 1})
    del t
    assert monitor.get_operation_count("never_entered") == 0
    assert monitor.get_operation_count() == 0
    assert monitor.get_all_stats() == {}
    assert monitor.generate_report()["operations"] == {}


# ------------------------------------------------------------------ metadata


def test_metadata_positional_dict(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
        assert op.metadata == {"model": "qwen"}
    assert op.metadata == {"model": "qwen"}


def test_metadata_kwargs(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x", model="qwen", top_k=5) as op:
        pass
    assert op.metadata == {"model": "qwen", "top_k": 5}


def test_metadata_keyword_wins_over_positional(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x", {"model": "a", "only_pos": 1}, model="b", only_kw=2) as op:
        pass
    assert op.metadata == {"model": "b", "only_pos": 1, "only_kw": 2}


def test_metadata_keyword_named_metadata_with_a_dict(monitor: PerformanceMonitor) -> None:
    # The seed's signature was track_operation(operation_type, metadata=None).
    with monitor.track_operation(OperationType.DOCUMENT_RETRIEVAL, metadata={"top_k": 5}) as op:
        pass
    assert op.metadata == {"top_k": 5}


def test_metadata_is_lazy_and_stable(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x") as op:
        md = op.metadata
        assert md == {}
        assert op.metadata is md
        op.metadata["k"] = "v"
    assert op.metadata == {"k": "v"}
    assert op.metadata is md


def test_metadata_is_a_copy_of_the_passed_dict(monitor: PerformanceMonitor) -> None:
    passed = {"a": 1}
    with monitor.track_operation("x", passed) as op:
        passed["a"] = 2
        passed["b"] = 3
    assert op.metadata == {"a": 1}
    op.metadata["c"] = 4
    assert passed == {"a": 2, "b": 3}


def test_metadata_assignment_copies_and_none_clears(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x", {"a": 1}) as op:
        new = {"z": 26}
        op.metadata = new
        new["y"] = 25
        assert op.metadata == {"z": 26}
        op.metadata = None
        assert op.metadata == {}


def test_metadata_assignment_rejects_non_dict(monitor: PerformanceMonitor) -> None:
    op = monitor.track_operation("x")
    with pytest.raises(TypeError, match=r"\[1, 2\]"):
        op.metadata = [1, 2]  # type: ignore[assignment]


def test_metadata_separate_per_block(monitor: PerformanceMonitor) -> None:
    shared = {"n": 0}
    with monitor.track_operation("x", shared) as a:
        a.metadata["n"] = 1
    with monitor.track_operation("x", shared) as b:
        pass
    assert a.metadata == {"n": 1}
    assert b.metadata == {"n": 0}
    assert shared == {"n": 0}


def test_metadata_accepts_any_mapping_as_annotated(monitor: PerformanceMonitor) -> None:
    # PerformanceMonitor.track_operation is annotated
    # ``metadata: Mapping[str, Any] | None``, so a type-checked caller may pass
    # any Mapping; the runtime must accept what the annotation promises.
    with monitor.track_operation("x", MappingProxyType({"model": "qwen"})) as op:
        pass
    assert op.metadata == {"model": "qwen"}


# -------------------------------------------------------------------- tokens


def test_tokens_default_zero(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x") as op:
        assert op.tokens == 0
        assert op.prompt_tokens == 0
        assert op.completion_tokens == 0
    assert monitor.get_operation_stats("x").total_tokens == 0


def test_tokens_explicit(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation(OperationType.LLM_INFERENCE) as op:
        op.tokens = 150
    assert op.tokens == 150
    s = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    assert s.total_tokens == 150
    assert s.avg_tokens == 150.0


def test_tokens_default_to_prompt_plus_completion(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm") as op:
        op.prompt_tokens = 100
        op.completion_tokens = 50
        assert op.tokens == 150
    s = monitor.get_operation_stats("llm")
    assert s.total_tokens == 150
    assert s.prompt_tokens == 100
    assert s.completion_tokens == 50


def test_explicit_tokens_override_the_sum(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm") as op:
        op.prompt_tokens = 100
        op.completion_tokens = 50
        op.tokens = 7
    assert op.tokens == 7
    s = monitor.get_operation_stats("llm")
    assert s.total_tokens == 7
    assert s.prompt_tokens == 100
    assert s.completion_tokens == 50


def test_token_totals_over_many_blocks(monitor: PerformanceMonitor) -> None:
    for i in range(1, 11):
        with monitor.track_operation("llm") as op:
            op.prompt_tokens = i
            op.completion_tokens = 2 * i
    s = monitor.get_operation_stats("llm")
    assert s.total_operations == 10
    assert s.prompt_tokens == 55
    assert s.completion_tokens == 110
    assert s.total_tokens == 165
    assert s.avg_tokens == pytest.approx(16.5)


def test_tokens_set_to_zero_explicitly_overrides_the_sum(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm") as op:
        op.prompt_tokens = 10
        op.tokens = 0
    assert op.tokens == 0
    assert monitor.get_operation_stats("llm").total_tokens == 0


def test_tokens_cannot_be_deleted(monitor: PerformanceMonitor) -> None:
    op = monitor.track_operation("x")
    with pytest.raises(AttributeError):
        del op.tokens


# ------------------------------------------------------- state and attributes


def test_attributes_before_during_and_after(monitor: PerformanceMonitor) -> None:
    op = monitor.track_operation("x")
    assert op.active is False
    assert op.duration_s is None
    assert op.success is None
    assert op.memory_delta_mb is None
    with op as entered:
        assert entered is op
        assert op.active is True
        assert op.duration_s is None
        assert op.success is None
    assert op.active is False
    assert isinstance(op.duration_s, float)
    assert op.duration_s >= 0.0
    assert op.success is True
    assert op.memory_delta_mb is None  # memory tracking is off


def test_success_false_after_exception(monitor: PerformanceMonitor) -> None:
    with pytest.raises(ValueError):
        with monitor.track_operation("x") as op:
            raise ValueError("boom")
    assert op.success is False
    assert isinstance(op.duration_s, float)


def test_memory_delta_is_a_float_when_tracking_is_on() -> None:
    m = PerformanceMonitor(enable_memory_tracking=True)
    with m.track_operation("x") as op:
        assert op.memory_delta_mb is None
    assert isinstance(op.memory_delta_mb, float)


def test_duration_matches_stats(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x") as op:
        sum(range(1000))
    s = monitor.get_operation_stats("x")
    assert op.duration_s is not None
    assert s.min_duration == pytest.approx(op.duration_s, rel=1e-9)
    assert s.max_duration == pytest.approx(op.duration_s, rel=1e-9)
    assert s.total_duration == pytest.approx(op.duration_s, rel=1e-9)


def test_nested_blocks_of_different_operations(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation(OperationType.QUERY_PROCESSING) as outer:
        with monitor.track_operation(OperationType.DOCUMENT_RETRIEVAL) as retrieve:
            retrieve.tokens = 10
        with monitor.track_operation(OperationType.LLM_INFERENCE) as llm:
            llm.tokens = 20
            with monitor.track_operation("tokenize") as tok:
                tok.tokens = 1
        outer.tokens = 31
        assert outer.active and not retrieve.active and not llm.active
    assert monitor.get_operation_count() == 4
    for t in (retrieve, llm, tok):
        assert outer.duration_s is not None and t.duration_s is not None
        assert outer.duration_s >= t.duration_s
    assert llm.duration_s is not None and tok.duration_s is not None
    assert llm.duration_s >= tok.duration_s
    stats = monitor.get_all_stats()
    assert stats[OperationType.QUERY_PROCESSING].total_tokens == 31
    assert stats[OperationType.DOCUMENT_RETRIEVAL].total_tokens == 10
    assert stats[OperationType.LLM_INFERENCE].total_tokens == 20
    assert stats["tokenize"].total_tokens == 1


def test_nested_blocks_of_the_same_operation(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("recursive") as a:
        with monitor.track_operation("recursive") as b:
            pass
    assert monitor.get_operation_count("recursive") == 2
    assert a.duration_s is not None and b.duration_s is not None
    assert a.duration_s >= b.duration_s


def test_inner_failure_does_not_fail_outer_when_handled(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("outer") as outer:
        try:
            with monitor.track_operation("inner"):
                raise KeyError("k")
        except KeyError:
            pass
    assert outer.success is True
    assert monitor.get_operation_stats("outer").failed_operations == 0
    assert monitor.get_operation_stats("inner").failed_operations == 1


def test_reentering_an_active_tracker_raises(monitor: PerformanceMonitor) -> None:
    tracker = monitor.track_operation("re")
    with tracker:
        with pytest.raises(RuntimeError, match=r"'re'.*already active"):
            with tracker:
                pass  # pragma: no cover - never reached
        assert tracker.active
    assert tracker.success is True
    assert monitor.get_operation_count("re") == 1


def test_reentering_an_active_tracker_raises_async(monitor: PerformanceMonitor) -> None:
    import asyncio

    async def main() -> None:
        tracker = monitor.track_operation("are")
        async with tracker:
            with pytest.raises(RuntimeError):
                async with tracker:
                    pass  # pragma: no cover - never reached

    asyncio.run(main())
    assert monitor.get_operation_count("are") == 1


def test_exit_without_enter_raises(monitor: PerformanceMonitor) -> None:
    tracker = monitor.track_operation("x")
    with pytest.raises(RuntimeError):
        tracker.__exit__(None, None, None)
    assert monitor.get_operation_count("x") == 0


def test_exit_does_not_suppress(monitor: PerformanceMonitor) -> None:
    tracker = monitor.track_operation("x")
    tracker.__enter__()
    assert tracker.__exit__(ValueError, ValueError("v"), None) is False
    assert monitor.get_operation_stats("x").errors_by_type == {"ValueError": 1}


def test_class_method_form_works_too(monitor: PerformanceMonitor) -> None:
    # The documented method on the class (replaced per instance by the C
    # factory) must behave the same when called through the class.
    with PerformanceMonitor.track_operation(monitor, "via_class", {"a": 1}, b=2) as op:
        op.tokens = 3
    assert op.metadata == {"a": 1, "b": 2}
    assert monitor.get_operation_stats("via_class").total_tokens == 3


def test_tracker_outlives_its_monitor() -> None:
    import gc

    m = PerformanceMonitor(enable_memory_tracking=True)
    tracker = m.track_operation("orphan", {"a": 1})
    del m
    gc.collect()
    with tracker as op:
        op.tokens = 1
    assert op.success is True
    assert op.metadata == {"a": 1}


def test_many_trackers_do_not_leak_references(monitor: PerformanceMonitor) -> None:
    import gc
    import sys

    value = object()
    passed = {"k": value}
    name = "refcheck_operation"
    with monitor.track_operation(name, passed, x=value):
        pass
    monitor._hot.clear_traces()  # the last 100 root blocks are kept on purpose
    gc.collect()
    before = (sys.getrefcount(value), sys.getrefcount(passed), sys.getrefcount(name))

    def run(blocks: int) -> int:
        for _ in range(blocks):
            with monitor.track_operation(name, passed, x=value) as op:
                op.metadata["y"] = value
            try:
                with monitor.track_operation(OperationType.RERANKING, passed):
                    raise ValueError(value)
            except ValueError:
                pass
        gc.collect()
        return sys.getrefcount(value)

    # Retention is bounded by the recent-traces ring, not by the block count.
    assert run(2000) == run(4000)
    monitor._hot.clear_traces()
    gc.collect()
    after = (sys.getrefcount(value), sys.getrefcount(passed), sys.getrefcount(name))
    assert after[:2] == before[:2]
    # The monitor keeps one reference to the last operation object it resolved
    # (a one-entry cache); the loop ended on RERANKING, so `name` may have one
    # reference fewer, never more.
    assert before[2] - 1 <= after[2] <= before[2]


def test_numpy_integers_and_floats_are_accepted() -> None:
    import numpy as np

    from ragperf import PerformanceMonitor as _PM

    m = _PM(enable_memory_tracking=False)
    with m.track_operation("np") as op:
        op.tokens = np.int64(7)
        op.prompt_tokens = np.int32(3)
    assert op.tokens == 7 and op.prompt_tokens == 3
    m.record("np", np.float32(0.25), tokens=np.int64(5))
    s = m.get_operation_stats("np")
    assert s.total_tokens == 12
    assert s.max_duration == pytest.approx(0.25)


def test_token_sum_saturates_instead_of_wrapping() -> None:
    from ragperf import PerformanceMonitor as _PM

    m = _PM(enable_memory_tracking=False)
    big = 2**63 - 1
    with m.track_operation("huge") as op:
        op.prompt_tokens = big
        op.completion_tokens = big
    assert op.tokens == big
    m.record("huge", 0.1, prompt_tokens=big, completion_tokens=5)
    assert m.get_operation_stats("huge").total_tokens == big


def test_same_name_as_str_and_as_plain_enum_shares_one_entry() -> None:
    """A plain (non-str) Enum naming the same operation as a str must reuse the
    cached entry, never replace it (the one-entry cache holds onto it)."""
    import enum
    import gc

    from ragperf import PerformanceMonitor as _PM

    class Step(enum.Enum):
        RETRIEVAL = "retrieval"

    m = _PM(enable_memory_tracking=False)
    for _ in range(3):
        with m.track_operation("retrieval") as op:
            pass
        assert op.operation == "retrieval"
        with m.track_operation(Step.RETRIEVAL) as op:
            pass
        assert op.operation == "retrieval"
        gc.collect()
        junk = [("x", i) for i in range(1000)]  # reuse freed memory, if any
        with m.track_operation("retrieval") as op:
            pass
        assert op.operation == "retrieval"
        del junk
    assert m.get_operation_count("retrieval") == 9
    assert m.get_operation_count(Step.RETRIEVAL) == 9


def test_non_enum_object_with_value_is_rejected() -> None:
    from ragperf import PerformanceMonitor as _PM

    class Fake:
        value = "retrieval"

    m = _PM(enable_memory_tracking=False)
    with pytest.raises(TypeError, match="Fake"):
        m.track_operation(Fake())
    with pytest.raises(TypeError, match="Fake"):
        m.get_operation_stats(Fake())  # type: ignore[arg-type]


def test_subclass_overrides_are_honoured() -> None:
    from ragperf import PerformanceMonitor as _PM

    calls: list[str] = []

    class Audited(_PM):
        def track_operation(self, operation, metadata=None, /, **kwargs):  # type: ignore[no-untyped-def,override]
            calls.append("track")
            return super().track_operation(operation, metadata, **kwargs)

        def record(self, operation, duration_s, tokens=None, success=True, **kw):  # type: ignore[no-untyped-def,override]
            calls.append("record")
            return super().record(operation, duration_s, tokens, success, **kw)

    m = Audited(enable_memory_tracking=False)
    with m.track_operation("x", k=1) as op:
        op.tokens = 2
    m.record("x", 0.5, prompt_tokens=3)
    assert calls == ["track", "record"]
    s = m.get_operation_stats("x")
    assert s.total_operations == 2 and s.total_tokens == 5
    # The plain class still binds the C methods on the instance.
    plain = _PM(enable_memory_tracking=False)
    assert "track_operation" in vars(plain) and "record" in vars(plain)


# --- the with-statement protocol ------------------------------------------------
# `with` binds __enter__/__exit__ to the instance; a tracker is its own bound
# __enter__/__exit__ (no bound-method objects per block), while the class keeps
# ordinary method descriptors. These tests pin the protocol users rely on.


def test_exit_stack_uses_the_class_methods(monitor: PerformanceMonitor) -> None:
    import contextlib

    with contextlib.ExitStack() as stack:
        op = stack.enter_context(monitor.track_operation("stacked"))
        assert op.active
        op.tokens = 3
    assert not op.active
    stats = monitor.get_operation_stats("stacked")
    assert (stats.total_operations, stats.total_tokens) == (1, 3)


def test_exit_stack_records_a_failure(monitor: PerformanceMonitor) -> None:
    import contextlib

    with pytest.raises(KeyError):
        with contextlib.ExitStack() as stack:
            stack.enter_context(monitor.track_operation("stacked_fail"))
            raise KeyError("k")
    stats = monitor.get_operation_stats("stacked_fail")
    assert (stats.total_operations, stats.failed_operations) == (1, 1)
    assert stats.errors_by_type == {"KeyError": 1}


def test_explicit_enter_and_exit_calls(monitor: PerformanceMonitor) -> None:
    op = monitor.track_operation("manual")
    assert op.__enter__() is op
    assert op.__exit__(None, None, None) is False
    unbound = type(op)
    op2 = monitor.track_operation("manual")
    assert unbound.__enter__(op2) is op2
    assert unbound.__exit__(op2, ValueError, ValueError("v"), None) is False
    stats = monitor.get_operation_stats("manual")
    assert (stats.total_operations, stats.failed_operations) == (2, 1)


def test_class_attributes_are_documented_methods() -> None:
    cls = ragperf._core.OperationTracker
    assert "Start timing" in (cls.__enter__.__doc__ or "")
    assert "never suppresses" in (cls.__exit__.__doc__ or "")
    assert cls.__enter__.__name__ == "__enter__"


def test_bound_exit_rejects_other_argument_counts(monitor: PerformanceMonitor) -> None:
    op = monitor.track_operation("manual_bad")
    with op:
        with pytest.raises(TypeError, match="got 1 positional and 0 keyword"):
            op.__exit__(None)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="got 0 positional and 1 keyword"):
            op.__enter__(x=1)  # type: ignore[call-arg]
    assert monitor.get_operation_stats("manual_bad").total_operations == 1


def test_class_method_rejects_a_foreign_object() -> None:
    with pytest.raises(TypeError):
        ragperf._core.OperationTracker.__enter__(object())  # type: ignore[arg-type]
