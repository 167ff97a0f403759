"""Typed views of a report dict (``PerformanceMonitor.generate_report()`` or
a loaded metrics JSON): its operations as :class:`~ragperf.PerformanceStats`
(read through the one field table) and its headline numbers. The panel,
the file dashboard and the CLI read reports through them.

Example:
    >>> h = headline({"operations": {"x": {"total": 4, "failed": 1}}, "total_operations": 4})
    >>> h.total_operations, h.error_rate
    (4, 0.25)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..stats import PerformanceStats

__all__ = ["Headline", "headline", "operation_entries", "operation_stats"]


def operation_entries(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The ``(name, entry)`` pairs of a report's ``operations``, sorted by
    name; ValueError naming a non-object entry (or ``operations``).

    Example:
        >>> operation_entries({"operations": {"b": {}, "a": {"total": 1}}})
        [('a', {'total': 1}), ('b', {})]
    """
    ops = report.get("operations")
    if not isinstance(ops, Mapping):
        raise ValueError(f"report['operations'] must be an object, got {type(ops).__name__}")
    pairs = []
    for name, entry in ops.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"operation {name!r}: expected an object, got {type(entry).__name__}")
        pairs.append((str(name), entry))
    pairs.sort(key=lambda p: p[0])
    return pairs


def operation_stats(report: Mapping[str, Any]) -> list[PerformanceStats]:
    """The operations of a report as typed statistics
    (:meth:`PerformanceStats.from_report`), sorted by name.

    Example:
        >>> operation_stats({"operations": {"x": {"total": 2}}})[0].total_operations
        2
    """
    return [PerformanceStats.from_report(name, entry) for name, entry in operation_entries(report)]


@dataclass(frozen=True)
class Headline:
    """The panel's headline numbers.

    ``tokens_per_second`` is all tokens divided by the summed duration of the
    operations that recorded tokens (None when none did); ``cost_usd`` is
    None when no operation had a known price.

    Example:
        >>> h = headline(monitor.generate_report())  # doctest: +SKIP
        >>> h.status, h.total_operations             # doctest: +SKIP
        ('healthy', 42)
    """

    status: str
    issues: list[str] = field(default_factory=list)
    memory_mb: float | None = None
    total_operations: int = 0
    total_failed: int = 0
    error_rate: float = 0.0
    tokens_per_second: float | None = None
    cost_usd: float | None = None
    timestamp: str = ""


def headline(report: Mapping[str, Any]) -> Headline:
    """The headline numbers of a report: health status and issues, current
    RSS (MB), total and failed operations, error rate, tokens/s and cost.

    Example:
        >>> headline({"operations": {}, "total_operations": 0}).status
        'unknown'
    """
    ops = operation_stats(report)
    health = report.get("health") or {}
    memory = report.get("memory") or {}
    total = int(report.get("total_operations", 0))
    failed = int(report.get("total_failed", sum(s.failed_operations for s in ops)))
    tokens = sum(s.total_tokens for s in ops if s.total_tokens > 0)
    token_seconds = sum(s.total_duration for s in ops if s.total_tokens > 0)
    cost = report.get("cost_usd")
    rss = memory.get("current_rss_mb", health.get("memory_mb"))
    return Headline(
        status=str(health.get("status", "unknown")),
        issues=[str(i) for i in health.get("issues", [])],
        memory_mb=None if rss is None else float(rss),
        total_operations=total,
        total_failed=failed,
        error_rate=failed / total if total else 0.0,
        tokens_per_second=tokens / token_seconds if tokens and token_seconds > 0 else None,
        cost_usd=None if cost is None else float(cost),
        timestamp=str(report.get("timestamp", "")),
    )
