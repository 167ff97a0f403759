"""Python ``logging`` for tracked operations (logger name ``"ragperf"``).

Off by default and free when off: the monitor calls its exit hooks only when
one is installed, so no log work happens per block until
:func:`enable_logging` (or ``RAGPERF_DEBUG=1``, see :func:`debug_from_env`)
installs an :class:`OperationLogger`. Each finished block then becomes one
record: a readable line as the message and the structured fields
(:func:`operation_record`) in ``record.ragperf``, which :class:`JsonFormatter`
writes as one JSON line.

Example:
    >>> import logging, ragperf
    >>> from ragperf.export.logs import enable_logging, disable_logging
    >>> monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)  # doctest: +SKIP
    >>> hook = enable_logging(monitor, level=logging.INFO)                   # doctest: +SKIP
    >>> with monitor.track_operation("document_retrieval"):                 # doctest: +SKIP
    ...     pass
    INFO ragperf: [PERF] document_retrieval - DONE in 0.0ms
    >>> disable_logging(monitor)                                            # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import threading
import weakref
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

__all__ = [
    "LOGGER_NAME",
    "JsonFormatter",
    "OperationLogger",
    "debug_from_env",
    "disable_logging",
    "enable_logging",
    "format_operation_line",
    "operation_record",
]

LOGGER_NAME = "ragperf"
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MAX_MESSAGE_CHARS = 200
_TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


class HookedMonitor(Protocol):
    """A monitor that calls exit hooks with each finished tracker
    (:class:`ragperf.PerformanceMonitor`)."""

    def _add_exit_hook(self, hook: Callable[[Any], object], /) -> None: ...

    def _remove_exit_hook(self, hook: Callable[[Any], object], /) -> None: ...


# ------------------------------------------------------------- formatting


def _attr(op: object, name: str, default: Any = None) -> Any:
    """``op.name`` or ``default`` (trackers of older builds, fakes)."""
    return getattr(op, name, default)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _ms(seconds: object) -> float | None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return None
    return round(float(seconds) * 1000.0, 6) if math.isfinite(seconds) else None


def _format_duration(seconds: object) -> str:
    ms = _ms(seconds)
    if ms is None:
        return "?"
    if ms >= 1000.0:
        return f"{ms / 1000.0:.2f}s"
    if ms >= 1.0:
        return f"{ms:.1f}ms"
    return f"{ms:.3f}ms"


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[: _MAX_MESSAGE_CHARS - 3] + "..."


def _failed(op: object) -> bool:
    return _attr(op, "success", True) is False and _attr(op, "cancelled", False) is not True


def _cancelled(op: object) -> bool:
    return _attr(op, "cancelled", False) is True


def _error(op: object) -> dict[str, str | None] | None:
    if not _failed(op):
        return None
    error_type = _attr(op, "error_type")
    message = _attr(op, "error_message")
    return {
        "type": str(error_type) if error_type is not None else "Error",
        "message": str(message) if message is not None else None,
    }


def format_operation_line(op: object) -> str:
    """One readable line for a finished tracked block.

    ``[PERF] <operation> - DONE in <duration>`` or ``... - FAILED (<type>:
    <message>) in <duration>``, then ``- N tokens`` when tokens > 0 and
    ``- first token in <t>`` for streams; indented by two spaces per nesting
    level (``op.depth``) so nested blocks read as a tree. Durations below one
    second are in ms, longer ones in s.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> format_operation_line(NS(operation="document_retrieval", duration_s=0.0123, success=True, tokens=150))
        '[PERF] document_retrieval - DONE in 12.3ms - 150 tokens'
        >>> format_operation_line(NS(operation="reranking", duration_s=0.0031, success=False, depth=1,
        ...                          error_type="ValueError", error_message="bad input"))
        '  [PERF] reranking - FAILED (ValueError: bad input) in 3.1ms'
    """
    depth = _int(_attr(op, "depth", 0))
    parts = [f"{'  ' * depth}[PERF] {_attr(op, 'operation', '?')}"]
    error = _error(op)
    if _cancelled(op):
        status = f"CANCELLED ({_attr(op, 'error_type', 'cancelled')})"
    elif error is None:
        status = "DONE"
    elif error["message"]:
        status = f"FAILED ({error['type']}: {_one_line(error['message'])})"
    else:
        status = f"FAILED ({error['type']})"
    parts.append(f"{status} in {_format_duration(_attr(op, 'duration_s'))}")
    tokens = _int(_attr(op, "tokens", 0))
    if tokens > 0:
        parts.append(f"{tokens} tokens")
    ttft = _attr(op, "time_to_first_token_s")
    if ttft is not None:
        parts.append(f"first token in {_format_duration(ttft)}")
    return " - ".join(parts)


def _jsonable(value: object, depth: int = 0) -> Any:
    """``value`` made JSON-safe: containers recursively, non-finite floats
    as None, anything else as its str."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth < 8:
        if isinstance(value, dict):
            return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [_jsonable(v, depth + 1) for v in value]
    return str(value)


def operation_record(op: object, level: int = logging.INFO) -> dict[str, Any]:
    """The structured fields of a finished tracked block, JSON-safe.

    Keys: ``level`` (the log level name used for it: ``level``, or WARNING
    for a failure), ``operation``, ``duration_ms``, ``tokens``,
    ``prompt_tokens``, ``completion_tokens``, ``success``, ``error``
    (``{"type", "message"}`` or None), ``model``, ``metadata``, ``span_id``,
    ``parent_id``, ``trace_id``, ``depth``, ``time_to_first_token_ms``,
    ``cost_usd``. Attributes the tracker does not have are None (0 for
    token counts).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> op = NS(operation="llm_inference", duration_s=0.5, success=True, tokens=30,
        ...         prompt_tokens=10, completion_tokens=20, model="qwen", metadata={"k": "v"})
        >>> r = operation_record(op)
        >>> r["duration_ms"], r["tokens"], r["model"], r["error"]
        (500.0, 30, 'qwen', None)
    """
    failed = _failed(op)
    if failed and level < logging.WARNING:
        level = logging.WARNING
    metadata = _attr(op, "metadata")
    cost = _attr(op, "cost_usd")
    return {
        "level": logging.getLevelName(level),
        "operation": str(_attr(op, "operation", "?")),
        "duration_ms": _ms(_attr(op, "duration_s")),
        "tokens": _int(_attr(op, "tokens", 0)),
        "prompt_tokens": _int(_attr(op, "prompt_tokens", 0)),
        "completion_tokens": _int(_attr(op, "completion_tokens", 0)),
        "success": not failed and not _cancelled(op),
        "cancelled": _cancelled(op),
        "error": _error(op),
        "model": _jsonable(_attr(op, "model")),
        "metadata": _jsonable(metadata) if isinstance(metadata, dict) else {},
        "span_id": _jsonable(_attr(op, "span_id")),
        "parent_id": _jsonable(_attr(op, "parent_id")),
        "trace_id": _jsonable(_attr(op, "trace_id")),
        "depth": _int(_attr(op, "depth", 0)),
        "time_to_first_token_ms": _ms(_attr(op, "time_to_first_token_s")),
        "cost_usd": _jsonable(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
    }


class JsonFormatter(logging.Formatter):
    """Formats each log record as one JSON line.

    Always ``timestamp`` (UTC, ISO 8601), ``logger``, ``level``; then the
    fields of :func:`operation_record` for ragperf operation records (those
    with a ``record.ragperf`` dict) and ``message`` for every record, plus
    ``exception`` when the record has exception info.

    Example:
        >>> import logging
        >>> handler = logging.StreamHandler()
        >>> handler.setFormatter(JsonFormatter())
        >>> logging.getLogger("ragperf").addHandler(handler)  # doctest: +SKIP
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON.

        Example:
            >>> import logging
            >>> rec = logging.LogRecord("app", logging.INFO, __file__, 1, "hello", None, None)
            >>> JsonFormatter().format(rec).count('"message": "hello"')
            1
        """
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(),
            "logger": record.name,
            "level": record.levelname,
        }
        fields = getattr(record, "ragperf", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if key not in payload:
                    payload[key] = _jsonable(value)
        payload["message"] = record.getMessage()
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


# ----------------------------------------------------------------- hooks


class OperationLogger:
    """An exit hook that logs every finished tracked block.

    Calling it with a finished tracker logs :func:`format_operation_line` at
    ``level`` (failures at WARNING, or ``level`` if higher) with the
    structured fields of :func:`operation_record` in ``extra={"ragperf":
    ...}``. With ``structured=True`` the message is that record as compact
    JSON instead, for handlers whose formatter is not a
    :class:`JsonFormatter`. Nothing is computed when the logger is not
    enabled for the level.

    Args:
        logger: a Logger, a logger name, or None for the ``"ragperf"`` logger.
        level: log level of successful blocks (default INFO).
        structured: log the JSON record as the message.

    Example:
        >>> import logging
        >>> hook = OperationLogger(level=logging.DEBUG)
        >>> monitor._add_exit_hook(hook)  # doctest: +SKIP
    """

    __slots__ = ("logger", "level", "structured")

    def __init__(
        self,
        logger: logging.Logger | str | None = None,
        level: int = logging.INFO,
        structured: bool = False,
    ) -> None:
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(f"level must be a logging level int (e.g. logging.INFO), got {level!r}")
        if not isinstance(structured, bool):
            raise TypeError(f"structured must be a bool, got {structured!r}")
        if logger is None or isinstance(logger, str):
            logger = logging.getLogger(logger if logger is not None else LOGGER_NAME)
        elif not isinstance(logger, logging.Logger):
            raise TypeError(f"logger must be a logging.Logger, a name or None, got {logger!r}")
        self.logger: logging.Logger = logger
        self.level: int = level
        self.structured: bool = structured

    def close(self) -> None:
        """Uninstalls this logger from every monitor :func:`enable_logging`
        installed it on (the close of ragperf's exporter interface: an
        OperationLogger is a :class:`ragperf.export.base.BlockExporter`).
        Idempotent.

        Example:
            >>> enable_logging(monitor).close()  # doctest: +SKIP
        """
        with _installed_lock:
            for monitor, hook in list(_installed.items()):
                if hook is self:
                    del _installed[monitor]
                    monitor._remove_exit_hook(self)

    def __call__(self, op: object) -> None:
        """Logs one finished block (``op``: the finished OperationTracker).

        Example:
            >>> from types import SimpleNamespace as NS
            >>> OperationLogger()(NS(operation="x", duration_s=0.001, success=True))
        """
        level = self.level
        if _failed(op) and level < logging.WARNING:
            level = logging.WARNING
        logger = self.logger
        if not logger.isEnabledFor(level):
            return
        record = operation_record(op, level)
        message = json.dumps(record, ensure_ascii=False, default=str) if self.structured else format_operation_line(op)
        logger.log(level, message, extra={"ragperf": record})

    def __repr__(self) -> str:
        return (
            f"OperationLogger(logger={self.logger.name!r}, "
            f"level={logging.getLevelName(self.level)}, structured={self.structured})"
        )


# One OperationLogger per monitor, so enabling twice does not log twice.
_installed: weakref.WeakKeyDictionary[Any, OperationLogger] = weakref.WeakKeyDictionary()
_installed_lock = threading.Lock()


def enable_logging(
    monitor: HookedMonitor,
    level: int = logging.INFO,
    structured: bool = False,
    handler: logging.Handler | None = None,
) -> OperationLogger:
    """Logs every block the monitor tracks to the ``"ragperf"`` logger.

    Installs an :class:`OperationLogger` as an exit hook of ``monitor``
    (replacing the one a previous call installed) and returns it.
    ``handler`` is added to the ``"ragperf"`` logger (once), with a
    :class:`JsonFormatter` when ``structured`` and it has no formatter yet;
    without ``handler``, a stderr handler is added only if no logger on the
    way to the root has one (so ``logging.basicConfig`` and friends are
    respected). The logger's level is lowered to ``level`` if it would drop
    those records.

    Example:
        >>> import logging
        >>> enable_logging(monitor, level=logging.INFO, structured=True,   # doctest: +SKIP
        ...                handler=logging.FileHandler("ops.jsonl"))
        OperationLogger(logger='ragperf', level=INFO, structured=True)
    """
    logger = logging.getLogger(LOGGER_NAME)
    hook = OperationLogger(logger, level, structured)
    if handler is not None:
        if not isinstance(handler, logging.Handler):
            raise TypeError(f"handler must be a logging.Handler, got {handler!r}")
        if structured and handler.formatter is None:
            handler.setFormatter(JsonFormatter())
        if handler not in logger.handlers:
            logger.addHandler(handler)
    elif not logger.hasHandlers():
        _add_stderr_handler(logger, structured)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    with _installed_lock:
        previous = _installed.get(monitor)
        if previous is not None:
            monitor._remove_exit_hook(previous)
        monitor._add_exit_hook(hook)
        _installed[monitor] = hook
    return hook


def disable_logging(monitor: HookedMonitor) -> bool:
    """Removes the hook :func:`enable_logging` installed on ``monitor``;
    returns whether there was one. Handlers stay attached to the logger.

    Example:
        >>> disable_logging(monitor)  # doctest: +SKIP
        True
    """
    with _installed_lock:
        hook = _installed.pop(monitor, None)
        if hook is None:
            return False
        monitor._remove_exit_hook(hook)
    return True


def _add_stderr_handler(logger: logging.Logger, structured: bool = False) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if structured else logging.Formatter(_TEXT_FORMAT))
    logger.addHandler(handler)
    return handler


def debug_from_env(monitor: HookedMonitor) -> bool:
    """Turns on DEBUG logging of every block when ``RAGPERF_DEBUG`` is
    ``1``/``true``/``yes``/``on`` (any case); returns whether it did.

    Then the ``"ragperf"`` logger is set to DEBUG, gets a stderr handler if
    it has none of its own, and ``monitor`` logs every block (successes at
    DEBUG, failures at WARNING). ``PerformanceMonitor()`` calls this.

    Example:
        >>> import os
        >>> os.environ["RAGPERF_DEBUG"] = "1"   # doctest: +SKIP
        >>> debug_from_env(monitor)             # doctest: +SKIP
        True
    """
    if os.environ.get("RAGPERF_DEBUG", "").strip().lower() not in _TRUE_VALUES:
        return False
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        _add_stderr_handler(logger)
    logger.setLevel(logging.DEBUG)
    enable_logging(monitor, level=logging.DEBUG)
    return True
