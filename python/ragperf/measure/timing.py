"""ResponseTimeTracker: the seed's per-operation duration tracker, backed by
the C++ sketch-based tracker."""

from __future__ import annotations

from typing import Any

from .. import _core
from .._validate import check_duration, check_positive_int, operation_name
from ..model.stats_fields import report_subset
from ..operation_type import OperationType
from ..stats import PerformanceStats

__all__ = ["ResponseTimeTracker"]

#: The seed's get_stats() durations, keyed as in the report's "duration" object.
_SEED_DURATIONS = ("min_duration", "max_duration", "avg_duration", "p50_duration", "p95_duration", "p99_duration")


class ResponseTimeTracker:
    """Records durations per operation and answers count/min/max/avg/p50/p95/p99.

    Thread-safe. Percentiles come from a relative-error sketch (0.5%) over all
    records, not from the last ``max_history`` samples.

    Example:
        >>> tracker = ResponseTimeTracker(max_history=1000)
        >>> tracker.record_duration(OperationType.LLM_INFERENCE, 1.5)
        >>> tracker.get_stats(OperationType.LLM_INFERENCE)["count"]
        1
    """

    def __init__(self, max_history: int = _core.DEFAULT_MAX_HISTORY) -> None:
        self._core = _core.ResponseTimeTracker(check_positive_int(max_history, "max_history"))

    @property
    def max_history(self) -> int:
        """Recent raw records kept per operation."""
        return int(self._core.max_history)

    def record_duration(self, operation: OperationType | str, duration_s: float) -> None:
        """Records one successful operation of ``duration_s`` seconds.

        Example:
            >>> ResponseTimeTracker().record_duration("reranking", 0.01)
        """
        self._core.record_duration(operation_name(operation), check_duration(duration_s))

    def get_stats(self, operation: OperationType | str) -> dict[str, Any]:
        """``{count, min, max, avg, p50, p95, p99, total}`` in seconds
        (``total`` is the sum of durations); zeros for an unknown operation.

        Example:
            >>> ResponseTimeTracker().get_stats("reranking")["count"]
            0
        """
        name = operation_name(operation)
        s = PerformanceStats._from_core(self._core.get_stats(name), name)
        durations = report_subset(s, _SEED_DURATIONS)["duration"]  # {"min": ..., "p99": ...}
        return {"count": s.total_operations, **durations, "total": s.total_duration}

    def get_count(self, operation: OperationType | str | None = None) -> int:
        """Records of one operation, or of all.

        Example:
            >>> ResponseTimeTracker().get_count()
            0
        """
        return int(self._core.count("" if operation is None else operation_name(operation)))

    def clear(self) -> None:
        """Forgets every record.

        Example:
            >>> ResponseTimeTracker().clear()
        """
        self._core.clear()
