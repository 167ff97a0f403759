"""What the Streamlit panel shows, as plain data: report dict in, rows and
numbers out. No Streamlit here, so the figures can be unit-tested and reused
(``ragperf.streamlit`` renders them; the file dashboard uses the same code).

Inputs are the report dict (``PerformanceMonitor.generate_report()`` or a
metrics JSON written by ``export_metrics_json``) and the dicts of
``get_recent_operations()`` / ``get_recent_errors()``. Durations in the
report are seconds; every row here is in milliseconds.

Example:
    >>> report = monitor.generate_report()                    # doctest: +SKIP
    >>> headline(report).total_operations                     # doctest: +SKIP
    42
    >>> operation_rows(report)[0]["p95 ms"]                   # doctest: +SKIP
    12.5
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..model.report_view import Headline, headline
from ..model.report_view import operation_entries as _operations
from ..model.report_view import operation_stats as _stats
from ..model.stats_fields import csv_row
from ..watch.calibration import overhead_summary as monitoring_caption

__all__ = [
    "OPERATION_TABLE_COLUMNS",
    "PanelSource",
    "Headline",
    "headline",
    "operation_rows",
    "percentile_rows",
    "report_stats_rows",
    "stats_csv_text",
    "report_json_text",
    "recent_operation_rows",
    "trace_operations",
    "error_rows",
    "report_errors",
    "latency_points",
    "history_point",
    "add_history_point",
    "latency_history_rows",
    "memory_rows",
    "format_mb",
    "format_percent",
    "format_rate",
    "format_cost",
    "watch_rows",
    "bottleneck_rows",
    "monitoring_caption",
]

#: Columns of :func:`operation_rows`, in display order.
OPERATION_TABLE_COLUMNS: tuple[str, ...] = (
    "operation",
    "count",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "tokens/s",
    "errors",
    "error %",
)

_PERCENTILES = ("p50", "p95", "p99")


def _ms(seconds: Any) -> float | None:
    return None if seconds is None else float(seconds) * 1e3


def _time(timestamp_s: Any) -> datetime | None:
    """Unix seconds as a local naive datetime (the report's ``timestamp``
    convention); None for a missing or non-finite value."""
    if not isinstance(timestamp_s, (int, float)) or not math.isfinite(timestamp_s):
        return None
    return datetime.fromtimestamp(float(timestamp_s))


def format_mb(mb: float | None) -> str:
    """``"123.4 MB"``, or ``"n/a"``.

    Example:
        >>> format_mb(123.44)
        '123.4 MB'
    """
    return "n/a" if mb is None else f"{mb:,.1f} MB"


def format_percent(fraction: float) -> str:
    """A fraction as a percentage with two decimals.

    Example:
        >>> format_percent(0.0125)
        '1.25%'
    """
    return f"{fraction * 100:.2f}%"


def format_rate(per_second: float | None) -> str:
    """A per-second rate with one decimal, or ``"n/a"``.

    Example:
        >>> format_rate(1234.56)
        '1,234.6'
    """
    return "n/a" if per_second is None else f"{per_second:,.1f}"


def format_cost(usd: float | None) -> str:
    """Dollars with four decimals, or ``"n/a"`` when no price was known.

    Example:
        >>> format_cost(0.01234), format_cost(None)
        ('$0.0123', 'n/a')
    """
    return "n/a" if usd is None else f"${usd:,.4f}"


# ------------------------------------------------------------- tables


def operation_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per operation (sorted by name) with the
    :data:`OPERATION_TABLE_COLUMNS`: count, p50/p95/p99 in ms, tokens/s,
    failed operations (``errors``) and the error rate in percent.

    Example:
        >>> operation_rows({"operations": {"x": {"total": 2, "failed": 1,
        ...     "error_rate": 0.5, "duration": {"p50": 0.1, "p95": 0.2, "p99": 0.2},
        ...     "tokens": {"per_second": 0.0}}}})[0]["p95 ms"]
        200.0
    """
    return [
        {
            "operation": s.operation_type,
            "count": s.total_operations,
            "p50 ms": s.p50_duration_ms,
            "p95 ms": s.p95_duration_ms,
            "p99 ms": s.p99_duration_ms,
            "tokens/s": s.tokens_per_second,
            "errors": s.failed_operations,
            "error %": s.error_rate * 100,
        }
        for s in _stats(report)
    ]


def percentile_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Long-format rows for the latency-percentile chart: one
    ``{"operation", "percentile", "ms"}`` per operation and p50/p95/p99.

    Example:
        >>> percentile_rows({"operations": {"x": {"duration": {"p50": 0.001,
        ...     "p95": 0.002, "p99": 0.003}}}})[2]
        {'operation': 'x', 'percentile': 'p99', 'ms': 3.0}
    """
    return [
        {"operation": s.operation_type, "percentile": p, "ms": float(getattr(s, f"{p}_duration_ms"))}
        for s in _stats(report)
        for p in _PERCENTILES
    ]


def report_stats_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``ragperf.exporting.stats_rows`` (same
    ``STATS_COLUMNS``, durations in ms, None when unknown) computed from a
    report dict, so that a saved metrics JSON can be downloaded as the same
    CSV that ``export_metrics_csv`` writes for a live monitor.

    Example:
        >>> report_stats_rows(monitor.generate_report())[0]["p95_duration_ms"]  # doctest: +SKIP
        12.5
    """
    return [csv_row(s) for s in _stats(report)]


def stats_csv_text(report: Mapping[str, Any]) -> str:
    """:func:`report_stats_rows` as CSV text with the ``STATS_COLUMNS``
    header, formatted exactly like ``export_metrics_csv``.

    Example:
        >>> stats_csv_text(monitor.generate_report()).splitlines()[0]  # doctest: +SKIP
        'operation,total_operations,...'
    """
    from ..export.csv_tables import STATS_COLUMNS, _csv_text  # the CSV writer export_metrics_csv uses

    return _csv_text(STATS_COLUMNS, report_stats_rows(report))


def report_json_text(report: Mapping[str, Any]) -> str:
    """The report as indented JSON text (what the JSON download holds).

    Example:
        >>> json.loads(report_json_text({"operations": {}, "total_operations": 0}))["total_operations"]
        0
    """
    return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"


# ------------------------------------------------- recent operations, errors


def recent_operation_rows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Display rows for recent operations, newest first: time, operation,
    duration (ms), success, tokens, model, error type. ``records`` are the
    dicts of ``monitor.get_recent_operations()`` or of :func:`trace_operations`.

    Example:
        >>> recent_operation_rows([{"operation": "x", "timestamp_s": 0.0,
        ...     "duration_s": 0.25, "success": True}])[0]["duration ms"]
        250.0
    """
    return _newest_first(
        records,
        lambda rec: {
            "duration ms": _ms(rec.get("duration_s")),
            "success": rec.get("success"),
            "tokens": rec.get("tokens"),
            "model": rec.get("model") or None,
            "error": rec.get("error_type") or None,
        },
    )


def trace_operations(traces: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every span of recent trace trees (``report["recent_traces"]``,
    ``get_recent_traces()``) as a flat record with ``timestamp_s`` = its start
    time, oldest first: a saved metrics JSON has no per-record history, but
    it does keep the last traces.

    Example:
        >>> trace_operations([{"operation": "q", "start_time_s": 1.0, "duration_s": 2.0,
        ...     "children": [{"operation": "r", "start_time_s": 1.5, "duration_s": 0.5,
        ...     "children": []}]}])[1]["operation"]
        'r'
    """
    out: list[dict[str, Any]] = []
    stack = list(traces)
    while stack:
        node = stack.pop()
        record = {k: v for k, v in node.items() if k != "children"}
        record["timestamp_s"] = node.get("start_time_s")
        out.append(record)
        stack.extend(node.get("children") or [])
    out.sort(key=lambda r: r["timestamp_s"] if isinstance(r["timestamp_s"], (int, float)) else 0.0)
    return out


def report_errors(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The recent errors saved in a report (``report["errors"]["recent"]``),
    oldest first, with ``timestamp_s`` like ``get_recent_errors()``.

    Example:
        >>> report_errors({"errors": {"recent": [{"operation": "x",
        ...     "timestamp_unix_s": 5.0}]}})[0]["timestamp_s"]
        5.0
    """
    recent = (report.get("errors") or {}).get("recent") or []
    out = []
    for entry in recent:
        e = dict(entry)
        e.setdefault("timestamp_s", e.get("timestamp_unix_s"))
        out.append(e)
    return out


def error_rows(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Display rows for recent errors, newest first: time, operation, error
    type, message, duration (ms), model. ``errors`` are the dicts of
    ``monitor.get_recent_errors()`` or of :func:`report_errors`.

    Example:
        >>> error_rows([{"operation": "llm", "error_type": "TimeoutError",
        ...     "message": "slow", "timestamp_s": 0.0, "duration_s": 30.0}])[0]["error"]
        'TimeoutError'
    """
    return _newest_first(
        errors,
        lambda e: {
            "error": str(e.get("error_type")),
            "message": str(e.get("message") or ""),
            "duration ms": _ms(e.get("duration_s")),
            "model": e.get("model") or None,
        },
    )


def watch_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Display rows for a report's active alerts, then its regressions:
    ``kind``, ``name``, ``operation``, ``severity``, ``value``, ``limit``,
    ``message``. Empty for a report without either (or from an older ragperf).

    Example:
        >>> watch_rows({"regressions": [{"operation": "llm", "current_p95_s": 0.9,
        ...     "baseline_p95_s": 0.3, "factor": 3.0, "max_factor": 1.5,
        ...     "message": "regression"}]})[0]["kind"]
        'regression'
    """
    rows = [
        {
            "kind": "alert",
            "name": str(a.get("rule")),
            "operation": str(a.get("operation")),
            "severity": str(a.get("severity")),
            "value": a.get("value"),
            "limit": f"{a.get('comparison')} {a.get('threshold')}",
            "message": str(a.get("message", "")),
        }
        for a in (report.get("alerts") or {}).get("active") or []
    ]
    rows += [
        {
            "kind": "regression",
            "name": f"p95 x{float(r.get('factor', 0.0)):.2f}",
            "operation": str(r.get("operation")),
            "severity": "warning",
            "value": r.get("current_p95_s"),
            "limit": f"> {r.get('max_factor')} x {r.get('baseline_p95_s')}",
            "message": str(r.get("message", "")),
        }
        for r in report.get("regressions") or []
    ]
    return rows


def bottleneck_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Display rows of "where the time goes" (the report's
    ``insights.bottlenecks``): ``root``, ``stage`` (``"<root> (self)"`` for
    the root's own time), ``share %``, ``ms per root``, ``calls``, largest
    share first per root. Empty for a report without insights.

    Example:
        >>> bottleneck_rows({"insights": {"bottlenecks": [{"root": "q", "operation": "llm",
        ...     "share": 0.7, "avg_self_time_s": 0.07, "calls_per_root": 1.0, "is_root": False}]}})[0]["share %"]
        70.0
    """
    rows: list[dict[str, Any]] = [
        {
            "root": str(b.get("root")),
            "stage": f"{b.get('operation')} (self)" if b.get("is_root") else str(b.get("operation")),
            "share %": 100.0 * float(b.get("share", 0.0)),
            "ms per root": 1e3 * float(b.get("avg_self_time_s", 0.0)),
            "calls": float(b.get("calls_per_root", 0.0)),
        }
        for b in (report.get("insights") or {}).get("bottlenecks") or []
    ]
    rows.sort(key=lambda r: (r["root"], -r["share %"]))
    return rows


def _newest_first(
    items: Iterable[Mapping[str, Any]], details: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows of ``time``, ``operation`` and ``details(item)``, newest first."""
    rows = [
        {"time": _time(i.get("timestamp_s")), "operation": str(i.get("operation")), **details(i)}
        for i in items
    ]
    rows.sort(key=lambda r: r["time"] or datetime.min, reverse=True)
    return rows


# ------------------------------------------------------------- over time


def latency_points(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``{"time", "operation", "ms"}`` per recent record with a timestamp,
    oldest first: the points of the latency-over-time chart.

    Example:
        >>> latency_points([{"operation": "x", "timestamp_s": 0.0, "duration_s": 0.002}])[0]["ms"]
        2.0
    """
    points: list[dict[str, Any]] = []
    for rec in records:
        when = _time(rec.get("timestamp_s"))
        ms = _ms(rec.get("duration_s"))
        if when is not None and ms is not None:
            points.append({"time": when, "operation": str(rec.get("operation")), "ms": ms})
    points.sort(key=lambda p: p["time"])
    return points


def history_point(report: Mapping[str, Any]) -> dict[str, Any]:
    """What the panel remembers of one report for its over-time charts:
    ``timestamp_s``, ``rss_mb``, ``total_operations`` and ``p95_ms`` per
    operation. Small, so that a bounded history of them is cheap to keep.

    Example:
        >>> history_point({"timestamp_unix_s": 1.0, "total_operations": 0,
        ...     "memory": {"current_rss_mb": 30.0}, "operations": {}})["rss_mb"]
        30.0
    """
    memory = report.get("memory") or {}
    rss = memory.get("current_rss_mb")
    return {
        "timestamp_s": report.get("timestamp_unix_s"),
        "rss_mb": None if rss is None else float(rss),
        "total_operations": int(report.get("total_operations", 0)),
        "p95_ms": {s.operation_type: s.p95_duration_ms for s in _stats(report)},
    }


def add_history_point(
    history: Sequence[dict[str, Any]], report: Mapping[str, Any], max_points: int
) -> list[dict[str, Any]]:
    """``history`` plus :func:`history_point` of ``report``, keeping the last
    ``max_points``. A report with the same timestamp as the last point (a
    rerun without new data, an unchanged file) is not added twice.

    Example:
        >>> r = {"timestamp_unix_s": 1.0, "operations": {}, "total_operations": 0}
        >>> len(add_history_point(add_history_point([], r, 10), r, 10))
        1
    """
    if max_points < 1:
        raise ValueError(f"max_points must be at least 1, got {max_points!r}")
    point = history_point(report)
    points = list(history)
    if points and points[-1]["timestamp_s"] == point["timestamp_s"]:
        points[-1] = point
    else:
        points.append(point)
    return points[-max_points:]


def latency_history_rows(history: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``{"time", "operation", "p95 ms"}`` for every history point and
    operation: how each operation's p95 moved between refreshes.

    Example:
        >>> latency_history_rows([{"timestamp_s": 0.0, "p95_ms": {"x": 2.0}}])[0]["p95 ms"]
        2.0
    """
    rows = []
    for point in history:
        when = _time(point.get("timestamp_s"))
        if when is None:
            continue
        for name, ms in (point.get("p95_ms") or {}).items():
            if ms is not None:
                rows.append({"time": when, "operation": name, "p95 ms": ms})
    return rows


def memory_rows(
    history: Iterable[Mapping[str, Any]] = (),
    snapshots: Iterable[Mapping[str, Any]] = (),
    resources: Iterable[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """``{"time", "rss MB", "source"}`` rows for the memory-over-time chart,
    oldest first, from three sources: the panel's own history (``panel``),
    labelled ``snapshot_memory()`` snapshots (``snapshot``) and the
    background sampler's ``get_resource_history()`` (``sampler``).

    Example:
        >>> memory_rows(snapshots=[{"timestamp_s": 0.0, "rss_mb": 31.5, "label": "x"}])[0]["source"]
        'snapshot'
    """
    rows: list[dict[str, Any]] = []
    for source, items in (("panel", history), ("snapshot", snapshots), ("sampler", resources)):
        for item in items:
            when = _time(item.get("timestamp_s"))
            rss = item.get("rss_mb")
            if when is not None and isinstance(rss, (int, float)):
                rows.append({"time": when, "rss MB": float(rss), "source": source})
    rows.sort(key=lambda r: r["time"])
    return rows


# ------------------------------------------------------------- sources

#: How many recent records the latency-over-time chart reads from a live monitor.
RECENT_LIMIT = 500


@dataclass
class PanelSource:
    """Everything one panel render reads, taken at one moment: the report
    and the recent records, from a live monitor or from a saved report.

    A saved metrics JSON has no per-record history, so its recent operations
    are the spans of its ``recent_traces`` (tracked blocks only, not
    ``monitor.record()`` calls) and it has no sampler history.

    Example:
        >>> src = PanelSource.from_report({"operations": {}, "total_operations": 0})
        >>> src.live, src.recent_operations
        (False, [])
    """

    report: dict[str, Any]
    recent_operations: list[dict[str, Any]] = field(default_factory=list)
    recent_errors: list[dict[str, Any]] = field(default_factory=list)
    memory_snapshots: list[dict[str, Any]] = field(default_factory=list)
    resource_history: list[dict[str, Any]] = field(default_factory=list)
    monitor: Any = None

    @property
    def live(self) -> bool:
        """True when the numbers come from a monitor (reset is possible).

        Example:
            >>> PanelSource.from_report({"operations": {}}).live
            False
        """
        return self.monitor is not None

    @classmethod
    def from_monitor(cls, monitor: Any) -> PanelSource:
        """Reads a ``PerformanceMonitor`` (or anything with its reading
        methods) now.

        Example:
            >>> PanelSource.from_monitor(monitor).report["total_operations"]  # doctest: +SKIP
            42
        """
        needed = ("generate_report", "get_recent_operations", "get_recent_errors")
        missing = [m for m in needed if not callable(getattr(monitor, m, None))]
        if missing:
            raise TypeError(
                f"monitor must be a PerformanceMonitor or a report dict (missing "
                f"{', '.join(missing)}), got {monitor!r} ({type(monitor).__name__})"
            )
        snapshots = getattr(monitor, "get_memory_snapshots", None)
        resources = getattr(monitor, "get_resource_history", None)
        return cls(
            report=dict(monitor.generate_report()),
            recent_operations=list(monitor.get_recent_operations(None, RECENT_LIMIT)),
            recent_errors=list(monitor.get_recent_errors(50)),
            memory_snapshots=list(snapshots()) if callable(snapshots) else [],
            resource_history=list(resources(RECENT_LIMIT)) if callable(resources) else [],
            monitor=monitor,
        )

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> PanelSource:
        """Reads a report dict (``generate_report()`` or a loaded metrics
        JSON). Raises ValueError naming the part that has the wrong shape.

        Example:
            >>> PanelSource.from_report(json.load(open("metrics.json"))).live  # doctest: +SKIP
            False
        """
        if not isinstance(report, Mapping):
            raise TypeError(f"report must be a dict, got {type(report).__name__}")
        _operations(report)  # shape check up front, with a message naming the bad entry
        traces = report.get("recent_traces") or []
        snapshots = report.get("memory_snapshots") or []
        return cls(
            report=dict(report),
            recent_operations=trace_operations(traces) if isinstance(traces, list) else [],
            recent_errors=report_errors(report),
            memory_snapshots=list(snapshots) if isinstance(snapshots, list) else [],
        )
