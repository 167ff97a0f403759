"""Exceptions inside tracked blocks propagate unchanged and are counted; bad
arguments everywhere raise TypeError/ValueError naming the bad value."""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from ragperf import (
    MemoryMonitor,
    OperationType,
    PerformanceMonitor,
    QuantileSketch,
    ResponseTimeTracker,
    TokenCounter,
)


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    yield m
    m.clear_metrics()


class RetrievalError(Exception):
    """A user's own exception class."""


class NestedError(RetrievalError):
    pass


def _raise_in_helper(exc: BaseException) -> None:
    raise exc


# ------------------------------------------- exceptions inside tracked blocks


@pytest.mark.parametrize("memory_tracking", [False, True])
@pytest.mark.parametrize(
    "exc",
    [ValueError("bad value"), KeyError("k"), RetrievalError("custom"), NestedError("sub"), ZeroDivisionError()],
    ids=lambda e: type(e).__name__,
)
def test_exception_propagates_unchanged_and_is_counted(exc: Exception, memory_tracking: bool) -> None:
    m = PerformanceMonitor(enable_memory_tracking=memory_tracking)
    with pytest.raises(type(exc)) as info:
        with m.track_operation(OperationType.DOCUMENT_RETRIEVAL, {"q": 1}) as op:
            _raise_in_helper(exc)
    assert info.value is exc
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert "_raise_in_helper" in frames, frames
    assert frames[-1] == "_raise_in_helper"
    assert op.success is False

    name = type(exc).__name__
    stats = m.get_operation_stats(OperationType.DOCUMENT_RETRIEVAL)
    assert stats.total_operations == 1
    assert stats.failed_operations == 1
    assert stats.successful_operations == 0
    assert stats.errors_by_type == {name: 1}
    assert stats.error_rate == 1.0

    report_op = m.generate_report()["operations"]["document_retrieval"]
    assert report_op["failed"] == 1
    assert report_op["errors_by_type"] == {name: 1}


def test_exception_context_and_cause_are_untouched(monitor: PerformanceMonitor) -> None:
    cause = OSError("disk")
    with pytest.raises(RetrievalError) as info:
        with monitor.track_operation("x"):
            try:
                raise cause
            except OSError as e:
                raise RetrievalError("wrapped") from e
    assert info.value.__cause__ is cause
    assert info.value.__suppress_context__ is True


def test_exception_raised_directly_in_block_keeps_its_frame(monitor: PerformanceMonitor) -> None:
    def inner() -> None:
        with monitor.track_operation("x"):
            raise RuntimeError("here")

    with pytest.raises(RuntimeError) as info:
        inner()
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].name == "inner"
    assert 'raise RuntimeError("here")' in (frames[-1].line or "")


def test_errors_by_type_counts_each_type(monitor: PerformanceMonitor) -> None:
    plan: list[type[Exception] | None] = [ValueError, ValueError, KeyError, RetrievalError, None, None, None]
    for exc_type in plan:
        try:
            with monitor.track_operation("mixed"):
                if exc_type is not None:
                    raise exc_type("x")
        except Exception:
            pass
    stats = monitor.get_operation_stats("mixed")
    assert stats.total_operations == 7
    assert stats.failed_operations == 4
    assert stats.successful_operations == 3
    assert dict(stats.errors_by_type) == {"ValueError": 2, "KeyError": 1, "RetrievalError": 1}
    assert stats.error_rate == pytest.approx(4 / 7)
    report = monitor.generate_report()
    assert report["operations"]["mixed"]["errors_by_type"] == {"ValueError": 2, "KeyError": 1, "RetrievalError": 1}


def test_base_exceptions_propagate_and_count(monitor: PerformanceMonitor) -> None:
    with pytest.raises(KeyboardInterrupt):
        with monitor.track_operation("interrupted"):
            raise KeyboardInterrupt
    exit_exc = SystemExit(3)
    with pytest.raises(SystemExit) as info:
        with monitor.track_operation("interrupted"):
            raise exit_exc
    assert info.value is exit_exc
    stats = monitor.get_operation_stats("interrupted")
    # Cancellations, not failures (docs/guide.md "Errors and cancellations").
    assert (stats.cancelled_operations, stats.failed_operations, stats.total_operations) == (2, 0, 0)
    assert dict(stats.errors_by_type) == {}


def test_generator_exit_and_stop_iteration_style_exceptions(monitor: PerformanceMonitor) -> None:
    def gen() -> Iterator[int]:
        with monitor.track_operation("gen_block"):
            yield 1
            yield 2

    g = gen()
    assert next(g) == 1
    g.close()  # GeneratorExit inside the block
    stats = monitor.get_operation_stats("gen_block")
    assert (stats.cancelled_operations, stats.total_operations) == (1, 0)
    assert dict(stats.errors_by_type) == {}


def test_exception_in_block_with_tokens_still_records_tokens(monitor: PerformanceMonitor) -> None:
    with pytest.raises(ValueError):
        with monitor.track_operation("llm") as op:
            op.tokens = 42
            raise ValueError
    assert monitor.get_operation_stats("llm").total_tokens == 42


# ------------------------------------------------------------- bad operations


BAD_OPERATIONS: list[tuple[Any, type[Exception]]] = [
    (42, TypeError),
    (None, TypeError),
    (b"x", TypeError),
    ("", ValueError),
    (3.5, TypeError),
    (["llm_inference"], TypeError),
    ("a" * 201, ValueError),
]


@pytest.mark.parametrize(("bad", "exc_type"), BAD_OPERATIONS, ids=repr)
def test_track_operation_rejects_bad_operation(monitor: PerformanceMonitor, bad: Any, exc_type: type[Exception]) -> None:
    with pytest.raises(exc_type) as info:
        monitor.track_operation(bad)
    assert repr(bad) in str(info.value)
    assert monitor.get_operation_count() == 0


@pytest.mark.parametrize(("bad", "exc_type"), BAD_OPERATIONS, ids=repr)
def test_readers_reject_bad_operation(monitor: PerformanceMonitor, bad: Any, exc_type: type[Exception]) -> None:
    calls = [
        lambda: monitor.get_operation_stats(bad),
        lambda: monitor.get_operation_stats(bad, window_minutes=5),
        lambda: monitor.record(bad, 0.1),
    ]
    if bad is not None:  # None means "all operations" / "the function's name" there
        calls += [lambda: monitor.get_operation_count(bad), lambda: monitor.timed(bad)]
    for call in calls:
        with pytest.raises(exc_type) as info:
            call()
        assert repr(bad) in str(info.value)
    assert monitor.get_operation_count() == 0


def test_track_operation_missing_operation(monitor: PerformanceMonitor) -> None:
    with pytest.raises(TypeError):
        monitor.track_operation()  # type: ignore[call-arg]


def test_track_operation_too_many_positional(monitor: PerformanceMonitor) -> None:
    with pytest.raises(TypeError):
        monitor.track_operation("x", {}, {})  # type: ignore[call-arg]


# --------------------------------------------------------------- bad tokens


@pytest.mark.parametrize("field", ["tokens", "prompt_tokens", "completion_tokens"])
@pytest.mark.parametrize(
    ("bad", "exc_type"),
    [(-1, ValueError), ("3", TypeError), (1.5, TypeError), (True, TypeError), (None, TypeError), (2**63, ValueError)],
    ids=repr,
)
def test_bad_token_values(monitor: PerformanceMonitor, field: str, bad: Any, exc_type: type[Exception]) -> None:
    op = monitor.track_operation("x")
    with pytest.raises(exc_type) as info:
        setattr(op, field, bad)
    assert repr(bad) in str(info.value)
    assert field in str(info.value)
    assert getattr(op, field) == 0


def test_bad_token_value_inside_block_fails_the_block(monitor: PerformanceMonitor) -> None:
    with pytest.raises(ValueError, match="-5"):
        with monitor.track_operation("x") as op:
            op.tokens = -5
    stats = monitor.get_operation_stats("x")
    assert stats.failed_operations == 1
    assert stats.total_tokens == 0


# ------------------------------------------------------------- bad metadata


@pytest.mark.parametrize("bad", [[("a", 1)], "a=1", 5, ("a", 1)], ids=repr)
def test_positional_metadata_must_be_a_dict(monitor: PerformanceMonitor, bad: Any) -> None:
    with pytest.raises(TypeError) as info:
        monitor.track_operation("x", bad)
    assert repr(bad) in str(info.value)


def test_metadata_keyword_must_be_a_dict(monitor: PerformanceMonitor) -> None:
    # ``metadata=`` is accepted as the metadata dict (the seed's keyword), so a
    # non-dict passed the same way must be rejected like the positional form,
    # not silently stored as a metadata entry named "metadata".
    bad = [("model", "qwen")]
    with pytest.raises(TypeError) as info:
        monitor.track_operation("x", metadata=bad)
    assert repr(bad) in str(info.value)


def test_timed_rejects_bad_metadata_at_call_or_decoration(monitor: PerformanceMonitor) -> None:
    with pytest.raises(TypeError):

        @monitor.timed("x", [1])  # type: ignore[call-overload]
        def f() -> None:
            pass

        f()


# ---------------------------------------------------------------- record()


@pytest.mark.parametrize(
    ("bad", "exc_type"),
    [
        (-1, ValueError),
        (-0.001, ValueError),
        (float("nan"), ValueError),
        (float("inf"), ValueError),
        (float("-inf"), ValueError),
        ("0.1", TypeError),
        (None, TypeError),
        (True, TypeError),
    ],
    ids=repr,
)
def test_record_rejects_bad_duration(monitor: PerformanceMonitor, bad: Any, exc_type: type[Exception]) -> None:
    with pytest.raises(exc_type) as info:
        monitor.record("x", bad)
    assert repr(bad) in str(info.value)
    assert monitor.get_operation_count() == 0


@pytest.mark.parametrize("field", ["tokens", "prompt_tokens", "completion_tokens"])
@pytest.mark.parametrize(
    ("bad", "exc_type"), [(-1, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)], ids=repr
)
def test_record_rejects_bad_tokens(monitor: PerformanceMonitor, field: str, bad: Any, exc_type: type[Exception]) -> None:
    with pytest.raises(exc_type) as info:
        monitor.record("x", 0.1, **{field: bad})
    assert repr(bad) in str(info.value)
    assert monitor.get_operation_count() == 0


@pytest.mark.parametrize(
    ("kwargs", "exc_type", "shown"),
    [
        ({"success": "yes"}, TypeError, "'yes'"),
        ({"success": 1}, TypeError, "1"),
        ({"memory_delta_mb": "1"}, TypeError, "'1'"),
        ({"memory_delta_mb": float("nan")}, ValueError, "nan"),
        ({"memory_delta_mb": float("inf")}, ValueError, "inf"),
        ({"error_type": 3, "success": False}, TypeError, "3"),
    ],
    ids=repr,
)
def test_record_rejects_other_bad_arguments(
    monitor: PerformanceMonitor, kwargs: dict[str, Any], exc_type: type[Exception], shown: str
) -> None:
    with pytest.raises(exc_type) as info:
        monitor.record("x", 0.1, **kwargs)
    assert shown in str(info.value)
    assert monitor.get_operation_count() == 0


def test_record_accepts_negative_memory_delta(monitor: PerformanceMonitor) -> None:
    monitor.record("x", 0.1, memory_delta_mb=-3.5)
    assert monitor.get_operation_stats("x").total_memory_delta_mb == -3.5


# ----------------------------------------------------- windows and settings


@pytest.mark.parametrize(
    ("bad", "exc_type"),
    [(0, ValueError), (61, ValueError), (-1, ValueError), (1.5, TypeError), ("5", TypeError), (True, TypeError)],
    ids=repr,
)
def test_window_minutes_validation(monitor: PerformanceMonitor, bad: Any, exc_type: type[Exception]) -> None:
    monitor.record("x", 0.1)
    with pytest.raises(exc_type) as info:
        monitor.get_operation_stats("x", window_minutes=bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "exc_type", "shown"),
    [
        ({"max_history": 0}, ValueError, "0"),
        ({"max_history": -5}, ValueError, "-5"),
        ({"max_history": "10"}, TypeError, "'10'"),
        ({"max_history": 10.0}, TypeError, "10.0"),
        ({"max_history": True}, TypeError, "True"),
        ({"max_history": None}, TypeError, "None"),
        ({"enable_memory_tracking": "yes"}, TypeError, "'yes'"),
        ({"enable_memory_tracking": 1}, TypeError, "1"),
        ({"enable_memory_tracking": None}, TypeError, "None"),
        ({"memory_threshold_mb": 0}, ValueError, "0"),
        ({"memory_threshold_mb": -1.0}, ValueError, "-1"),
        ({"memory_threshold_mb": float("nan")}, ValueError, "nan"),
        ({"memory_threshold_mb": "100"}, TypeError, "'100'"),
        ({"error_rate_threshold": 1.5}, ValueError, "1.5"),
        ({"error_rate_threshold": -0.1}, ValueError, "-0.1"),
        ({"error_rate_threshold": None}, TypeError, "None"),
        ({"relative_accuracy": 0}, ValueError, "0"),
        ({"relative_accuracy": 1.0}, ValueError, "1"),
        ({"relative_accuracy": "0.01"}, TypeError, "'0.01'"),
    ],
    ids=repr,
)
def test_performance_monitor_constructor_validation(kwargs: dict[str, Any], exc_type: type[Exception], shown: str) -> None:
    with pytest.raises(exc_type) as info:
        PerformanceMonitor(**kwargs)
    assert shown in str(info.value)


def test_setting_validation(monitor: PerformanceMonitor) -> None:
    with pytest.raises(TypeError, match="'yes'"):
        monitor.enable_memory_tracking = "yes"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="-1"):
        monitor.memory_threshold_mb = -1
    with pytest.raises(TypeError, match="'1'"):
        monitor.memory_threshold_mb = "1"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="2"):
        monitor.error_rate_threshold = 2
    with pytest.raises(TypeError, match="True"):
        monitor.error_rate_threshold = True
    with pytest.raises(AttributeError):
        monitor.max_history = 5  # type: ignore[misc]
    # failed sets leave the previous values
    assert monitor.enable_memory_tracking is False
    assert monitor.memory_threshold_mb == 1000.0
    assert monitor.error_rate_threshold == pytest.approx(0.10)


def test_export_path_validation(monitor: PerformanceMonitor) -> None:
    for bad in (None, 3, 1.5):
        with pytest.raises(TypeError) as info:
            monitor.export_metrics_json(bad)
        assert repr(bad) in str(info.value)
    with pytest.raises(ValueError):
        monitor.export_metrics_json("")


# ------------------------------------------------------- other classes' args


@pytest.mark.parametrize("cls", [MemoryMonitor, ResponseTimeTracker])
@pytest.mark.parametrize(
    ("bad", "exc_type"), [(0, ValueError), (-1, ValueError), ("10", TypeError), (1.5, TypeError), (True, TypeError)], ids=repr
)
def test_max_history_validation(cls: type, bad: Any, exc_type: type[Exception]) -> None:
    with pytest.raises(exc_type) as info:
        cls(max_history=bad)
    assert repr(bad) in str(info.value)


@pytest.mark.parametrize(
    ("bad", "exc_type"), [(-1.0, ValueError), (float("nan"), ValueError), (float("inf"), ValueError), ("1", TypeError), (True, TypeError)], ids=repr
)
def test_response_time_tracker_bad_duration(bad: Any, exc_type: type[Exception]) -> None:
    t = ResponseTimeTracker()
    with pytest.raises(exc_type) as info:
        t.record_duration("x", bad)
    assert repr(bad) in str(info.value)
    assert t.get_count() == 0


def test_response_time_tracker_bad_operation() -> None:
    t = ResponseTimeTracker()
    for bad in (42, None, b"x"):
        with pytest.raises(TypeError, match=re.escape(repr(bad))):
            t.record_duration(bad, 0.1)
    with pytest.raises(ValueError):
        t.get_stats("")


def test_memory_monitor_bad_delta_args() -> None:
    mm = MemoryMonitor()
    with pytest.raises(TypeError):
        mm.get_memory_delta()
    with pytest.raises(TypeError, match="42"):
        mm.get_memory_delta(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="vms_mb"):
        mm.get_memory_delta({"vms_mb": 1.0})


def test_token_counter_bad_args() -> None:
    with pytest.raises(TypeError, match="123"):
        TokenCounter.count_tokens(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="None"):
        TokenCounter.count_tokens(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"b'abc'"):
        TokenCounter.count_tokens(b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TokenCounter.count_tokens_in_list("a single string")
    with pytest.raises(TypeError, match="7"):
        TokenCounter.count_tokens_in_list(["ok", 7])  # type: ignore[list-item]


def test_sketch_bad_args() -> None:
    s = QuantileSketch()
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            s.add(bad)
    with pytest.raises(ValueError):
        s.quantile(1.5)
    assert s.count == 0


def test_error_messages_are_single_exceptions_not_chained(monitor: PerformanceMonitor) -> None:
    # Argument errors come straight from validation, not wrapped in another.
    with pytest.raises(TypeError) as info:
        monitor.track_operation(42)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def test_unencodable_operation_name_is_a_value_error_everywhere(monitor: PerformanceMonitor) -> None:
    # A lone surrogate cannot be stored as UTF-8. track_operation()/record()
    # raise UnicodeEncodeError (a ValueError) naming it; every other entry
    # point taking an operation must reject it the same way, not with
    # pybind11's internal "incompatible function arguments" TypeError.
    bad = "op\ud800"
    calls = {
        "track_operation": lambda: monitor.track_operation(bad),
        "record": lambda: monitor.record(bad, 0.1),
        "get_operation_stats": lambda: monitor.get_operation_stats(bad),
        "get_operation_stats(window)": lambda: monitor.get_operation_stats(bad, window_minutes=5),
        "get_operation_count": lambda: monitor.get_operation_count(bad),
        "ResponseTimeTracker.record_duration": lambda: ResponseTimeTracker().record_duration(bad, 0.1),
        "ResponseTimeTracker.get_stats": lambda: ResponseTimeTracker().get_stats(bad),
    }
    wrong: list[str] = []
    for label, call in calls.items():
        try:
            call()
        except ValueError:
            continue
        except Exception as e:  # noqa: BLE001 - collected and reported below
            wrong.append(f"{label}: {type(e).__name__}: {str(e).splitlines()[0]}")
        else:
            wrong.append(f"{label}: accepted")
    assert wrong == []


@pytest.mark.parametrize(
    "make_exc",
    [
        lambda: __import__("json").JSONDecodeError("msg", "doc", 0),
        lambda: __import__("zlib").error("C-level exception type"),
        lambda: type("Fehlerß", (Exception,), {})("unicode class name"),
    ],
)
def test_errors_by_type_uses_the_class_name(monitor: PerformanceMonitor, make_exc: Any) -> None:
    exc = make_exc()
    with pytest.raises(type(exc)):
        with monitor.track_operation("typed"):
            raise exc
    assert dict(monitor.get_operation_stats("typed").errors_by_type) == {type(exc).__name__: 1}
    assert monitor.generate_report()["operations"]["typed"]["errors_by_type"] == {type(exc).__name__: 1}
