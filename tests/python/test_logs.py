"""ragperf.logs: the [PERF] line, the structured record, JSON lines, the
OperationLogger hook, enable/disable_logging and RAGPERF_DEBUG.

Formatters and the hook are tested with fake finished trackers
(SimpleNamespace); the end-to-end tests run against the real monitor once it
has exit hooks (``_add_exit_hook``)."""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Iterator
from types import SimpleNamespace as NS
from typing import Any, Callable

import pytest

import ragperf
import ragperf.export.logs as logs
from ragperf.export.logs import (
    JsonFormatter,
    OperationLogger,
    debug_from_env,
    disable_logging,
    enable_logging,
    format_operation_line,
    operation_record,
)

HAS_HOOKS = hasattr(ragperf.PerformanceMonitor, "_add_exit_hook")
needs_hooks = pytest.mark.skipif(
    not HAS_HOOKS, reason="PerformanceMonitor has no _add_exit_hook/_remove_exit_hook yet (lead's change pending)"
)


def done(**kw: Any) -> NS:
    """A finished tracker as the exit hook sees it."""
    fields: dict[str, Any] = {
        "operation": "document_retrieval",
        "duration_s": 0.0123,
        "success": True,
        "tokens": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "metadata": {},
        "model": None,
        "error_type": None,
        "error_message": None,
        "time_to_first_token_s": None,
        "span_id": None,
        "parent_id": None,
        "trace_id": None,
        "depth": 0,
        "cost_usd": None,
    }
    fields.update(kw)
    return NS(**fields)


def failed(**kw: Any) -> NS:
    kw.setdefault("error_type", "ValueError")
    kw.setdefault("error_message", "bad input")
    kw.setdefault("duration_s", 0.0031)
    return done(success=False, **kw)


@pytest.fixture(autouse=True)
def restore_ragperf_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("ragperf")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield logger
    for h in list(logger.handlers):
        if h not in saved[0]:
            logger.removeHandler(h)
    logger.setLevel(saved[1])
    logger.propagate = saved[2]


class FakeMonitor:
    def __init__(self) -> None:
        self.hooks: list[Callable[[Any], object]] = []

    def _add_exit_hook(self, hook: Callable[[Any], object]) -> None:
        self.hooks.append(hook)

    def _remove_exit_hook(self, hook: Callable[[Any], object]) -> None:
        self.hooks.remove(hook)

    def finish(self, op: Any) -> None:
        for hook in self.hooks:
            hook(op)


# ------------------------------------------------------------------- the line


def test_line_success() -> None:
    assert format_operation_line(done()) == "[PERF] document_retrieval - DONE in 12.3ms"


def test_line_failure() -> None:
    assert format_operation_line(failed()) == "[PERF] document_retrieval - FAILED (ValueError: bad input) in 3.1ms"
    assert format_operation_line(failed(error_message="")) == "[PERF] document_retrieval - FAILED (ValueError) in 3.1ms"
    assert format_operation_line(failed(error_type=None, error_message=None)) == (
        "[PERF] document_retrieval - FAILED (Error) in 3.1ms"
    )


def test_line_tokens_only_when_positive() -> None:
    assert format_operation_line(done(tokens=150)).endswith(" in 12.3ms - 150 tokens")
    assert "tokens" not in format_operation_line(done(tokens=0))


def test_line_indented_by_depth_as_a_tree() -> None:
    lines = [
        format_operation_line(done(operation="rag_query", depth=0, duration_s=1.5)),
        format_operation_line(done(operation="document_retrieval", depth=1)),
        format_operation_line(done(operation="embedding_generation", depth=2, duration_s=0.0004)),
    ]
    assert lines == [
        "[PERF] rag_query - DONE in 1.50s",
        "  [PERF] document_retrieval - DONE in 12.3ms",
        "    [PERF] embedding_generation - DONE in 0.400ms",
    ]


def test_line_time_to_first_token() -> None:
    line = format_operation_line(done(operation="llm_inference", duration_s=2.0, tokens=40, time_to_first_token_s=0.25))
    assert line == "[PERF] llm_inference - DONE in 2.00s - 40 tokens - first token in 250.0ms"


def test_line_long_multiline_error_is_one_short_line() -> None:
    line = format_operation_line(failed(error_message="first line\nsecond line " + "x" * 500))
    assert "\n" not in line and "first line second line" in line
    assert len(line) < 300 and "..." in line


def test_line_tolerates_missing_attributes() -> None:
    assert format_operation_line(NS(operation="x", duration_s=0.002, success=True)) == "[PERF] x - DONE in 2.0ms"
    assert format_operation_line(NS(operation="x", duration_s=None, success=False)) == "[PERF] x - FAILED (Error) in ?"


# ---------------------------------------------------------------- the record


def test_record_fields() -> None:
    op = done(
        operation="llm_inference",
        duration_s=0.5,
        tokens=30,
        prompt_tokens=10,
        completion_tokens=20,
        model="qwen",
        metadata={"k": "v"},
        span_id=3,
        parent_id=2,
        trace_id=1,
        depth=1,
        time_to_first_token_s=0.125,
        cost_usd=0.0042,
    )
    assert operation_record(op) == {
        "level": "INFO",
        "operation": "llm_inference",
        "duration_ms": 500.0,
        "tokens": 30,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "success": True,
        "cancelled": False,
        "error": None,
        "model": "qwen",
        "metadata": {"k": "v"},
        "span_id": 3,
        "parent_id": 2,
        "trace_id": 1,
        "depth": 1,
        "time_to_first_token_ms": 125.0,
        "cost_usd": 0.0042,
    }


def test_record_failure() -> None:
    r = operation_record(failed())
    assert r["level"] == "WARNING" and r["success"] is False
    assert r["error"] == {"type": "ValueError", "message": "bad input"}
    assert operation_record(failed(), logging.ERROR)["level"] == "ERROR"
    assert operation_record(done(), logging.DEBUG)["level"] == "DEBUG"


def test_record_missing_attributes_and_odd_metadata_are_json_safe() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing"

    op = NS(operation="x", duration_s=float("nan"), success=True,
            metadata={"nan": math.inf, "obj": Thing(), 3: (1, {2}), "nested": {"a": [None, 1.5]}})
    r = operation_record(op)
    assert r["duration_ms"] is None and r["model"] is None and r["span_id"] is None and r["tokens"] == 0
    assert r["metadata"] == {"nan": None, "obj": "thing", "3": [1, [2]], "nested": {"a": [None, 1.5]}}
    json.loads(json.dumps(r, allow_nan=False))


# ------------------------------------------------------------ JsonFormatter


def make_record(msg: str = "hello", level: int = logging.INFO, **extra: Any) -> logging.LogRecord:
    logger = logging.getLogger("ragperf.test")
    return logger.makeRecord(logger.name, level, __file__, 1, msg, (), None, extra=extra or None)


def test_json_formatter_operation_record() -> None:
    op = done(tokens=5, metadata={"k": 1})
    rec = make_record(format_operation_line(op), ragperf=operation_record(op))
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    data = json.loads(line)
    assert data["logger"] == "ragperf.test" and data["level"] == "INFO"
    assert data["timestamp"].endswith("+00:00")
    assert data["operation"] == "document_retrieval" and data["duration_ms"] == pytest.approx(12.3)
    assert data["tokens"] == 5 and data["metadata"] == {"k": 1} and data["success"] is True
    assert data["message"] == "[PERF] document_retrieval - DONE in 12.3ms - 5 tokens"
    assert list(data)[:3] == ["timestamp", "logger", "level"]


def test_json_formatter_level_is_the_records() -> None:
    rec = make_record("x", logging.ERROR, ragperf=operation_record(failed()))
    assert json.loads(JsonFormatter().format(rec))["level"] == "ERROR"


def test_json_formatter_other_records() -> None:
    data = json.loads(JsonFormatter().format(make_record("plain %s")))
    assert data["message"] == "plain %s" and "operation" not in data
    logger = logging.getLogger("ragperf.test")
    rec = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "v=%d", (3,), None)
    assert json.loads(JsonFormatter().format(rec))["message"] == "v=3"


def test_json_formatter_exception() -> None:
    try:
        raise RuntimeError("kaput")
    except RuntimeError:
        import sys

        logger = logging.getLogger("ragperf.test")
        rec = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    data = json.loads(JsonFormatter().format(rec))
    assert "RuntimeError: kaput" in data["exception"]


# ----------------------------------------------------------- OperationLogger


def test_operation_logger_logs_line_and_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ragperf")
    hook = OperationLogger()
    hook(done(tokens=150))
    hook(failed())
    ok, bad = caplog.records
    assert ok.name == "ragperf" and ok.levelno == logging.INFO
    assert ok.getMessage() == "[PERF] document_retrieval - DONE in 12.3ms - 150 tokens"
    assert ok.ragperf["tokens"] == 150  # type: ignore[attr-defined]
    assert bad.levelno == logging.WARNING
    assert bad.getMessage() == "[PERF] document_retrieval - FAILED (ValueError: bad input) in 3.1ms"
    assert bad.ragperf["error"] == {"type": "ValueError", "message": "bad input"}  # type: ignore[attr-defined]


def test_operation_logger_level_and_failures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ragperf")
    OperationLogger(level=logging.DEBUG)(done())
    OperationLogger(level=logging.ERROR)(failed())
    assert [r.levelno for r in caplog.records] == [logging.DEBUG, logging.ERROR]


def test_operation_logger_does_no_work_when_disabled(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger="ragperf")

    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("formatted although the level is disabled")

    monkeypatch.setattr(logs, "operation_record", boom)
    monkeypatch.setattr(logs, "format_operation_line", boom)
    OperationLogger(level=logging.INFO)(done())
    assert caplog.records == []


def test_operation_logger_structured_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ragperf")
    OperationLogger(structured=True)(done(tokens=3))
    (rec,) = caplog.records
    assert json.loads(rec.getMessage())["tokens"] == 3


def test_operation_logger_custom_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    OperationLogger("myapp.perf")(done())
    OperationLogger(logging.getLogger("myapp.other"))(done())
    assert [r.name for r in caplog.records] == ["myapp.perf", "myapp.other"]


def test_operation_logger_bad_arguments() -> None:
    with pytest.raises(TypeError, match="level"):
        OperationLogger(level="INFO")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="structured"):
        OperationLogger(structured=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="logger"):
        OperationLogger(logger=42)  # type: ignore[arg-type]
    assert "level=INFO" in repr(OperationLogger())


# ------------------------------------------------------- enable / disable


def test_enable_and_disable_logging(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ragperf")
    m = FakeMonitor()
    hook = enable_logging(m)
    assert m.hooks == [hook] and isinstance(hook, OperationLogger)
    m.finish(done())
    assert len(caplog.records) == 1
    hook2 = enable_logging(m, level=logging.DEBUG)
    assert m.hooks == [hook2], "enabling again replaces the previous hook"
    assert disable_logging(m) is True
    assert m.hooks == []
    assert disable_logging(m) is False
    m.finish(done())
    assert len(caplog.records) == 1


def test_enable_logging_with_handler_structured(restore_ragperf_logger: logging.Logger) -> None:
    logger = restore_ragperf_logger
    logger.setLevel(logging.WARNING)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    m = FakeMonitor()
    enable_logging(m, level=logging.INFO, structured=True, handler=handler)
    enable_logging(m, level=logging.INFO, structured=True, handler=handler)
    assert logger.handlers.count(handler) == 1
    assert isinstance(handler.formatter, JsonFormatter)
    assert logger.level == logging.INFO, "lowered so the records are not dropped"
    m.finish(done(tokens=7))
    m.finish(failed())
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(x) for x in lines)
    assert first["tokens"] == 7 and first["level"] == "INFO" and first["logger"] == "ragperf"
    assert second["level"] == "WARNING" and second["error"]["type"] == "ValueError"


def test_enable_logging_keeps_a_handlers_formatter() -> None:
    handler = logging.StreamHandler(io.StringIO())
    fmt = logging.Formatter("%(message)s")
    handler.setFormatter(fmt)
    enable_logging(FakeMonitor(), structured=True, handler=handler)
    assert handler.formatter is fmt


def test_enable_logging_adds_stderr_handler_only_without_any(
    restore_ragperf_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = restore_ragperf_logger
    for h in list(logger.handlers):
        logger.removeHandler(h)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    enable_logging(FakeMonitor())
    assert len(logger.handlers) == 1 and isinstance(logger.handlers[0], logging.StreamHandler)
    enable_logging(FakeMonitor())
    assert len(logger.handlers) == 1


def test_enable_logging_respects_configured_handlers(monkeypatch: pytest.MonkeyPatch,
                                                      restore_ragperf_logger: logging.Logger) -> None:
    logger = restore_ragperf_logger
    for h in list(logger.handlers):
        logger.removeHandler(h)
    monkeypatch.setattr(logging.getLogger(), "handlers", [logging.NullHandler()])
    enable_logging(FakeMonitor())
    assert logger.handlers == []


def test_enable_logging_bad_handler() -> None:
    with pytest.raises(TypeError, match="handler"):
        enable_logging(FakeMonitor(), handler="stderr")  # type: ignore[arg-type]


# ----------------------------------------------------------- RAGPERF_DEBUG


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "Yes", " on "])
def test_debug_from_env_on(
    value: str, monkeypatch: pytest.MonkeyPatch, restore_ragperf_logger: logging.Logger
) -> None:
    logger = restore_ragperf_logger
    for h in list(logger.handlers):
        logger.removeHandler(h)
    monkeypatch.setenv("RAGPERF_DEBUG", value)
    m = FakeMonitor()
    assert debug_from_env(m) is True
    assert logger.level == logging.DEBUG
    assert len(logger.handlers) == 1
    (hook,) = m.hooks
    assert isinstance(hook, OperationLogger) and hook.level == logging.DEBUG
    handler = logger.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    # the handler writes to the current stderr
    stream = io.StringIO()
    handler.setStream(stream)
    m.finish(done())
    assert "[PERF] document_retrieval - DONE in 12.3ms" in stream.getvalue()


def test_debug_from_env_keeps_existing_handler(
    monkeypatch: pytest.MonkeyPatch, restore_ragperf_logger: logging.Logger
) -> None:
    own = logging.NullHandler()
    restore_ragperf_logger.addHandler(own)
    monkeypatch.setenv("RAGPERF_DEBUG", "1")
    assert debug_from_env(FakeMonitor()) is True
    assert restore_ragperf_logger.handlers[-1] is own


@pytest.mark.parametrize("value", [None, "", "0", "false", "no", "off", "debug"])
def test_debug_from_env_off(value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv("RAGPERF_DEBUG", raising=False)
    else:
        monkeypatch.setenv("RAGPERF_DEBUG", value)
    m = FakeMonitor()
    assert debug_from_env(m) is False
    assert m.hooks == []


# ======================================================= real monitor (hooks)


@pytest.fixture
def monitor(monkeypatch: pytest.MonkeyPatch) -> Iterator[ragperf.PerformanceMonitor]:
    monkeypatch.delenv("RAGPERF_DEBUG", raising=False)
    m = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    yield m
    disable_logging(m)  # type: ignore[arg-type]
    m.clear_metrics()


@needs_hooks
def test_real_monitor_logs_each_block(monitor: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ragperf")
    enable_logging(monitor)
    with monitor.track_operation("document_retrieval", k="v") as op:
        op.tokens = 150
    with pytest.raises(ValueError):
        with monitor.track_operation("reranking"):
            raise ValueError("bad input")
    ok, bad = caplog.records
    assert ok.getMessage().startswith("[PERF] document_retrieval - DONE in ")
    assert ok.getMessage().endswith(" - 150 tokens")
    assert ok.ragperf["metadata"] == {"k": "v"}  # type: ignore[attr-defined]
    assert bad.levelno == logging.WARNING
    assert bad.getMessage().startswith("[PERF] reranking - FAILED (ValueError")
    disable_logging(monitor)
    with monitor.track_operation("document_retrieval"):
        pass
    assert len(caplog.records) == 2
    assert monitor.get_operation_count() == 3


@needs_hooks
def test_real_monitor_nested_blocks_read_as_a_tree(monitor: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ragperf")
    enable_logging(monitor)
    with monitor.track_operation("rag_query"):
        with monitor.track_operation("document_retrieval"):
            pass
    inner, outer = (r.getMessage() for r in caplog.records)
    if not hasattr(ragperf.OperationTracker, "depth"):
        pytest.skip("the tracker has no depth yet (nested spans pending)")
    assert inner.startswith("  [PERF] document_retrieval")
    assert outer.startswith("[PERF] rag_query")


@needs_hooks
def test_real_monitor_json_lines(monitor: Any) -> None:
    stream = io.StringIO()
    enable_logging(monitor, structured=True, handler=logging.StreamHandler(stream))
    for i in range(3):
        with monitor.track_operation("embedding_generation", batch=i) as op:
            op.tokens = i
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["metadata"]["batch"] for r in records] == [0, 1, 2]
    assert all(r["operation"] == "embedding_generation" and r["duration_ms"] >= 0 for r in records)


@needs_hooks
def test_real_monitor_ragperf_debug_env(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("RAGPERF_DEBUG", "1")
    m = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    try:
        caplog.set_level(logging.DEBUG, logger="ragperf")
        with m.track_operation("query_processing"):
            pass
        msgs = [r.getMessage() for r in caplog.records if r.name == "ragperf"]
        if not msgs:
            pytest.skip("PerformanceMonitor.__init__ does not call debug_from_env yet")
        assert msgs[-1].startswith("[PERF] query_processing - DONE in ")
    finally:
        disable_logging(m)  # type: ignore[arg-type]
