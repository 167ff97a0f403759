"""CSV tables of the statistics (one row per operation, columns from the
field table) and of the recent operations, for spreadsheets and pandas;
written atomically.

Example:
    >>> export_metrics_csv(monitor, "stats.csv")       # doctest: +SKIP
    'stats.csv'
    >>> operation_rows(monitor, limit=10)[0]["duration_ms"]  # doctest: +SKIP
    12.5
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol, Sequence

from .. import _core
from .._validate import check_path, check_positive_int
from ..model import stats_fields as _stats_fields
from ..stats import PerformanceStats

__all__ = [
    "STATS_COLUMNS",
    "OPERATION_COLUMNS",
    "stats_rows",
    "export_metrics_csv",
    "operation_rows",
    "export_operations_csv",
]

class _Monitor(Protocol):
    """What the exports read from a monitor (``PerformanceMonitor`` has it)."""

    def export_metrics_json(self, path: Any) -> str: ...

    def get_all_stats(self) -> Mapping[Any, PerformanceStats]: ...

    def get_recent_operations(self, operation: Any = None, limit: int = 100) -> list[dict[str, Any]]: ...


# --------------------------------------------------------------------- CSV

STATS_COLUMNS: tuple[str, ...] = _stats_fields.STATS_COLUMNS
"""Columns of :func:`export_metrics_csv`, in order (derived from the
statistics' field table, :mod:`ragperf.model.stats_fields`)."""

OPERATION_COLUMNS: tuple[str, ...] = (
    "operation",
    "timestamp",
    "timestamp_s",
    "duration_ms",
    "success",
    "error_type",
    "error_message",
    "tokens",
    "prompt_tokens",
    "completion_tokens",
    "tokens_per_second",
    "model",
    "cost_usd",
    "time_to_first_token_ms",
    "cache_hit",
    "cold_start",
    "span_id",
    "parent_id",
    "trace_id",
    "depth",
    "metadata",
)
"""Columns of :func:`export_operations_csv`, in order."""


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else float(seconds) * 1e3


def _check_monitor(monitor: Any, *methods: str) -> None:
    missing = [m for m in methods if not callable(getattr(monitor, m, None))]
    if missing:
        raise TypeError(
            f"monitor must be a PerformanceMonitor (missing {', '.join(missing)}), "
            f"got {monitor!r} ({type(monitor).__name__})"
        )


def stats_rows(monitor: _Monitor) -> list[dict[str, Any]]:
    """One row per operation from ``monitor.get_all_stats()``, with the
    :data:`STATS_COLUMNS` keys; durations in milliseconds; ``cost_usd`` and
    the time-to-first-token columns are None when unknown.

    Example:
        >>> [r["operation"] for r in stats_rows(monitor)]  # doctest: +SKIP
        ['embedding_generation', 'llm_inference']
    """
    _check_monitor(monitor, "get_all_stats")
    rows = [_stats_fields.csv_row(s) for s in monitor.get_all_stats().values()]
    rows.sort(key=lambda r: str(r["operation"]))
    return rows


def _iso_utc(timestamp_s: float) -> str:
    return datetime.fromtimestamp(timestamp_s, tz=timezone.utc).isoformat(timespec="microseconds")


def operation_rows(
    monitor: _Monitor, operation: Any = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """Rows of ``monitor.get_recent_operations(operation, limit)`` (oldest
    first) with the :data:`OPERATION_COLUMNS` keys: ``timestamp`` is ISO 8601
    in UTC, durations in milliseconds, ``metadata`` is JSON text; None where
    a value is unknown.

    Example:
        >>> operation_rows(monitor, "llm_inference", limit=1)[0]["model"]  # doctest: +SKIP
        'qwen'
    """
    _check_monitor(monitor, "get_recent_operations")
    n = check_positive_int(limit, "limit")
    rows = []
    for rec in monitor.get_recent_operations(operation, n):
        ts = float(rec["timestamp_s"])
        rows.append(
            {
                "operation": rec["operation"],
                "timestamp": _iso_utc(ts),
                "timestamp_s": ts,
                "duration_ms": float(rec["duration_s"]) * 1e3,
                "success": rec.get("success"),
                "error_type": rec.get("error_type"),
                "error_message": rec.get("error_message"),
                "tokens": rec.get("tokens"),
                "prompt_tokens": rec.get("prompt_tokens"),
                "completion_tokens": rec.get("completion_tokens"),
                "tokens_per_second": rec.get("tokens_per_second"),
                "model": rec.get("model"),
                "cost_usd": rec.get("cost_usd"),
                "time_to_first_token_ms": _ms(rec.get("time_to_first_token_s")),
                "cache_hit": rec.get("cache_hit"),
                "cold_start": rec.get("cold_start"),
                "span_id": rec.get("span_id"),
                "parent_id": rec.get("parent_id"),
                "trace_id": rec.get("trace_id"),
                "depth": rec.get("depth"),
                "metadata": json.dumps(
                    rec.get("metadata") or {}, ensure_ascii=False, sort_keys=True, default=str
                ),
            }
        )
    return rows


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return value


def _csv_text(columns: Sequence[str], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)  # RFC 4180: "\r\n" rows, quotes where needed
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def _write_text(path: Any, text: str) -> str:
    target = check_path(path)
    _core.Monitor.write_file_atomically(target, text)
    return target


def export_metrics_csv(monitor: _Monitor, path: Any) -> str:
    """Writes :func:`stats_rows` as CSV (UTF-8, header row, one row per
    operation) to ``path`` atomically. Returns the path. Raises OSError
    naming the path when it cannot be written.

    Example:
        >>> export_metrics_csv(monitor, "stats.csv")     # doctest: +SKIP
        'stats.csv'
        >>> pandas.read_csv("stats.csv").set_index("operation")  # doctest: +SKIP
    """
    target = check_path(path)
    return _write_text(target, _csv_text(STATS_COLUMNS, stats_rows(monitor)))


def export_operations_csv(
    monitor: _Monitor, path: Any, operation: Any = None, limit: int = 1000
) -> str:
    """Writes :func:`operation_rows` as CSV (UTF-8, header row, one row per
    recent operation, oldest first) to ``path`` atomically. Returns the path.

    Example:
        >>> export_operations_csv(monitor, "ops.csv", "llm_inference")  # doctest: +SKIP
        'ops.csv'
        >>> pandas.read_csv("ops.csv", parse_dates=["timestamp"])        # doctest: +SKIP
    """
    target = check_path(path)
    return _write_text(target, _csv_text(OPERATION_COLUMNS, operation_rows(monitor, operation, limit)))
