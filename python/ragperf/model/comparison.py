"""The result of comparing two metrics reports (:func:`ragperf.model.compare.compare_reports`):
one :class:`MetricDelta` per metric of an operation, one :class:`OperationDelta`
per operation, the :class:`Comparison` of all. ``ragperf.compare`` exports
them under the same names.

Example:
    >>> d = MetricDelta("llm_inference", "p95_ms", 100.0, 130.0, 30.0, 0.3, regression=True)
    >>> Comparison([OperationDelta("llm_inference", "compared", 20, 20, (d,))], 0.1).has_regressions
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Comparison", "MetricDelta", "OperationDelta", "Status"]

Status = Literal["compared", "added", "removed", "skipped"]


@dataclass(frozen=True)
class MetricDelta:
    """One metric of one operation, before and after.

    ``before`` / ``after`` are in the unit the ``metric`` name says (``_ms``
    milliseconds, ``error_rate`` a fraction 0..1, ``tokens_per_second``,
    ``cost_usd_per_call`` US dollars); ``None`` when a report lacks it.
    ``change`` is ``after - before`` and ``relative_change`` is ``change /
    before`` (``None`` when either side is missing or ``before`` is 0).

    Example:
        >>> d = MetricDelta("llm_inference", "p95_ms", 100.0, 130.0, 30.0, 0.3, regression=True)
        >>> d.regression, f"{d.relative_change:+.0%}"
        (True, '+30%')
    """

    operation: str
    metric: str
    before: float | None
    after: float | None
    change: float | None
    relative_change: float | None
    regression: bool = False
    improved: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The delta as a JSON-serialisable dict.

        Example:
            >>> MetricDelta("x", "p50_ms", 1.0, 1.0, 0.0, 0.0).to_dict()["regression"]
            False
        """
        return {
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "change": self.change,
            "relative_change": self.relative_change,
            "regression": self.regression,
            "improved": self.improved,
        }


@dataclass(frozen=True)
class OperationDelta:
    """The comparison of one operation.

    ``status`` is ``"compared"``, ``"added"`` (only in the after report),
    ``"removed"`` (only in before) or ``"skipped"`` (fewer than ``min_count``
    records on a side: the changes are listed but not judged). ``metrics`` is
    empty for added and removed operations.

    Example:
        >>> op = OperationDelta("reranking", "added", None, 12)
        >>> op.status, op.has_regressions
        ('added', False)
    """

    operation: str
    status: Status
    before_count: int | None
    after_count: int | None
    metrics: tuple[MetricDelta, ...] = ()

    @property
    def regressions(self) -> list[MetricDelta]:
        """The metrics of this operation that regressed.

        Example:
            >>> OperationDelta("x", "removed", 3, None).regressions
            []
        """
        return [m for m in self.metrics if m.regression]

    @property
    def has_regressions(self) -> bool:
        """Whether any metric of this operation regressed.

        Example:
            >>> OperationDelta("x", "removed", 3, None).has_regressions
            False
        """
        return any(m.regression for m in self.metrics)

    def metric(self, name: str) -> MetricDelta:
        """The delta of one metric by name (one of :data:`ragperf.model.compare.METRICS`).

        Raises KeyError for a name not compared.

        Example:
            >>> c = compare_reports(before_report, after_report)   # doctest: +SKIP
            >>> c.operation("llm_inference").metric("p95_ms").after # doctest: +SKIP
            2010.0
        """
        for m in self.metrics:
            if m.metric == name:
                return m
        raise KeyError(f"operation {self.operation!r} has no compared metric {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The operation's comparison as a JSON-serialisable dict.

        Example:
            >>> OperationDelta("x", "added", None, 5).to_dict()["after_count"]
            5
        """
        return {
            "operation": self.operation,
            "status": self.status,
            "before_count": self.before_count,
            "after_count": self.after_count,
            "regression": self.has_regressions,
            "metrics": {m.metric: m.to_dict() for m in self.metrics},
        }


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare_reports`: one :class:`OperationDelta` per
    operation present in either report (before's order, then added ones).

    Example:
        >>> c = compare_reports(before_report, after_report, threshold=0.2)  # doctest: +SKIP
        >>> c.has_regressions, [r.metric for r in c.regressions]            # doctest: +SKIP
        (True, ['p95_ms', 'p99_ms'])
        >>> json.dumps(c.to_dict())                                          # doctest: +SKIP
    """

    operations: list[OperationDelta]
    threshold: float
    min_count: int = 1
    before_name: str = "before"
    after_name: str = "after"
    _index: dict[str, OperationDelta] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {op.operation: op for op in self.operations})

    @property
    def regressions(self) -> list[MetricDelta]:
        """Every regressed metric, over all operations (each names its operation).

        Example:
            >>> [(r.operation, r.metric) for r in c.regressions]  # doctest: +SKIP
            [('llm_inference', 'p95_ms')]
        """
        return [m for op in self.operations for m in op.metrics if m.regression]

    @property
    def has_regressions(self) -> bool:
        """Whether any metric of any operation regressed beyond the threshold.

        Example:
            >>> compare_reports(report, report).has_regressions  # doctest: +SKIP
            False
        """
        return any(op.has_regressions for op in self.operations)

    @property
    def added(self) -> list[str]:
        """Operations only in the after report.

        Example:
            >>> c.added  # doctest: +SKIP
            ['reranking']
        """
        return [op.operation for op in self.operations if op.status == "added"]

    @property
    def removed(self) -> list[str]:
        """Operations only in the before report.

        Example:
            >>> c.removed  # doctest: +SKIP
            []
        """
        return [op.operation for op in self.operations if op.status == "removed"]

    def operation(self, name: str) -> OperationDelta:
        """The comparison of one operation by name; KeyError if in neither report.

        Example:
            >>> c.operation("llm_inference").status  # doctest: +SKIP
            'compared'
        """
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"operation {name!r} is in neither report") from None

    def to_dict(self) -> dict[str, Any]:
        """The comparison as a JSON-serialisable dict (what ``ragperf compare --json`` prints).

        Example:
            >>> sorted(c.to_dict())  # doctest: +SKIP
            ['after', 'before', 'has_regressions', 'min_count', 'operations', 'regressions', 'threshold']
        """
        return {
            "before": self.before_name,
            "after": self.after_name,
            "threshold": self.threshold,
            "min_count": self.min_count,
            "has_regressions": self.has_regressions,
            "regressions": [{"operation": r.operation, **r.to_dict()} for r in self.regressions],
            "operations": [op.to_dict() for op in self.operations],
        }
