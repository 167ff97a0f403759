"""Dimensions: an operation's statistics split by the value of declared
metadata keys (``PerformanceMonitor(dimensions=["model"])``).

Every block whose metadata has a declared key is recorded once more, into
the series (operation, key, value), with the same statistics an operation
has: counts, p50/p95/p99 from the sketch, tokens/s, error rate, cost,
windows. ``"model"`` also takes ``op.model`` (set explicitly or by
``op.set_usage``). Values are compared as ``str(value)``; ``None`` or a
missing key is not recorded for that dimension. Each (operation, dimension)
keeps at most ``max_dimension_values`` values (default 100); later values are
recorded as ``"__other__"``, so a dimension fed with unbounded values (user
ids) keeps memory bounded. Undeclared metadata costs nothing: with no
dimensions the hot path tests one pointer.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> monitor = PerformanceMonitor(dimensions=["model"])
    >>> with monitor.track_operation("llm_inference", model="qwen"):
    ...     pass
    >>> monitor.get_operation_stats("llm_inference", model="qwen").total_operations
    1
    >>> sorted(monitor.get_breakdown("llm_inference", by="model"))
    ['qwen']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ._component import Component, ReportSection
from ._core import OVERFLOW_NAME
from ._validate import check_name, check_positive_int, check_window_minutes, operation_name
from .model.stats_fields import csv_column, csv_values, field, report_subset
from .stats import PerformanceStats

if TYPE_CHECKING:
    from ._core import HotPath
    from ._core import Monitor as CoreMonitor

__all__ = [
    "OTHER_VALUE",
    "MAX_DIMENSIONS",
    "BREAKDOWN_COLUMNS",
    "Dimensions",
    "check_dimensions",
]

#: The value that stands for every value beyond ``max_dimension_values``
#: (the core's overflow name, ``_core.OVERFLOW_NAME``).
OTHER_VALUE: Final = OVERFLOW_NAME
#: At most this many declared dimensions (each costs one more record per block).
MAX_DIMENSIONS: Final = 16

#: The statistics of a breakdown CSV row (:meth:`Dimensions.export_csv`).
_BREAKDOWN_ATTRIBUTES: Final = (
    "total_operations",
    "failed_operations",
    "error_rate",
    "p50_duration",
    "p95_duration",
    "p99_duration",
    "total_tokens",
    "tokens_per_second",
    "cost_usd",
)

#: Columns of :meth:`Dimensions.export_csv`, in order (the statistics' CSV
#: columns derived from the field table).
BREAKDOWN_COLUMNS: Final = ("operation", "dimension", "value") + tuple(
    csv_column(field(a)) for a in _BREAKDOWN_ATTRIBUTES
)


def check_dimensions(dimensions: Any) -> tuple[str, ...]:
    """Validated dimension names (an iterable of distinct non-empty str).

    Example:
        >>> check_dimensions(["model", "tenant"])
        ('model', 'tenant')
    """
    if dimensions is None:
        return ()
    if isinstance(dimensions, (str, bytes)) or not isinstance(dimensions, Iterable):
        raise TypeError(f"dimensions must be a list of str, got {dimensions!r}")
    names = tuple(check_name(d, "dimension name") for d in dimensions)
    if len(set(names)) != len(names):
        raise ValueError(f"dimensions must be distinct, got {list(names)!r}")
    if len(names) > MAX_DIMENSIONS:
        raise ValueError(f"at most {MAX_DIMENSIONS} dimensions, got {len(names)}")
    return names


def _window(window_minutes: int | None) -> int:
    return 0 if window_minutes is None else check_window_minutes(window_minutes)


class Dimensions(Component):
    """The declared dimensions of one monitor and their statistics
    (``monitor.dimensions``); writes ``operations.<op>.dimensions`` of the
    report.

    Example:
        >>> monitor.dimensions.names()  # doctest: +SKIP
        ['model']
    """

    def __init__(
        self, core: CoreMonitor, hot: HotPath, dimensions: Any, max_dimension_values: Any
    ) -> None:
        self._core = core
        self._hot = hot
        self._core.set_max_dimension_values(
            check_positive_int(max_dimension_values, "max_dimension_values")
        )
        self._dimensions: tuple[str, ...] = ()
        if dimensions is not None:
            self.set(dimensions)

    def set(self, dimensions: Iterable[str] | None) -> None:
        """Declares the metadata keys that split every operation's statistics
        (replacing the previous declaration; ``None`` or ``[]`` = none).
        Blocks recorded before a key was declared are not in its breakdown.

        Example:
            >>> monitor.set_dimensions(["model", "tenant"])  # doctest: +SKIP
        """
        names = check_dimensions(dimensions)
        self._hot.set_dimensions(names or None)
        self._dimensions = names

    def names(self) -> list[str]:
        """The declared dimensions, in declaration order.

        Example:
            >>> monitor.get_dimensions()  # doctest: +SKIP
            ['model']
        """
        return list(self._dimensions)

    def breakdown(
        self, operation: Any, by: str, window_minutes: int | None = None
    ) -> dict[str, PerformanceStats]:
        """Statistics of ``operation`` per value of the dimension ``by``
        (all-time or over the last ``window_minutes``), sorted by value;
        ``"__other__"`` holds the values beyond the cap. ValueError when
        ``by`` is not declared.

        Example:
            >>> monitor.get_breakdown("llm_inference", by="model")["qwen"].p95_duration  # doctest: +SKIP
            0.84
        """
        name = operation_name(operation)
        dimension = self._declared(by)
        minutes = _window(window_minutes)
        return {
            value: self._dimension_stats(name, dimension, value, minutes)
            for value in self._core.dimension_values(name, dimension)
        }

    def export_csv(self, path: Any) -> str:
        """Every declared dimension's breakdown as CSV (one row per
        operation, dimension and value; :data:`BREAKDOWN_COLUMNS`; durations
        in ms), written atomically. Returns the path.

        Example:
            >>> monitor.export_breakdown_csv("breakdown.csv")  # doctest: +SKIP
            'breakdown.csv'
        """
        from .export.csv_tables import _csv_text, _write_text

        rows = []
        for operation, dimension in self._core.dimension_pairs():
            for value in self._core.dimension_values(operation, dimension):
                s = self._dimension_stats(operation, dimension, value, 0)
                rows.append(
                    {
                        "operation": operation,
                        "dimension": dimension,
                        "value": value,
                        **csv_values(s, _BREAKDOWN_ATTRIBUTES),
                    }
                )
        return _write_text(path, _csv_text(BREAKDOWN_COLUMNS, rows))

    def _declared(self, dimension: Any) -> str:
        key = check_name(dimension, "dimension name")
        if key not in self._dimensions:
            raise ValueError(
                f"{key!r} is not a declared dimension (declared: {list(self._dimensions)}); "
                "declare it with PerformanceMonitor(dimensions=[...]) or set_dimensions()"
            )
        return key

    def _dimension_stats(
        self, operation: str, dimension: str, value: str, minutes: int
    ) -> PerformanceStats:
        stats = self._core.dimension_stats(operation, dimension, value, minutes)
        return PerformanceStats._from_core(
            stats, operation, window_minutes=minutes if minutes else None
        )

    def stats_for_value(
        self, operation: str, filters: Mapping[str, Any], window_minutes: int | None
    ) -> PerformanceStats:
        """Statistics of ``operation`` for one dimension value:
        ``get_operation_stats(op, **{dimension: value})``.

        Example:
            >>> monitor.dimensions.stats_for_value("llm_inference", {"model": "qwen"}, None)  # doctest: +SKIP
        """
        if len(filters) != 1:
            raise ValueError(
                "get_operation_stats() takes one dimension filter (e.g. model='qwen'), "
                f"got {sorted(filters)!r}: combinations are not tracked"
            )
        ((key, value),) = filters.items()
        dimension = self._declared(key)
        if value is None:
            raise ValueError(f"{dimension}=None: blocks without a value are not recorded per value")
        return self._dimension_stats(operation, dimension, str(value), _window(window_minutes))

    def contribute_report(self, section: ReportSection) -> None:
        """Writes ``operations.<op>.dimensions`` for every operation with a split."""
        for operation, dimensions in self._dimensions_report().items():
            section.add_to_operation(operation, "dimensions", dimensions)

    def _dimensions_report(self) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
        """{operation: {dimension: {value: summary}}} for the report."""
        out: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
        for operation, dimension in self._core.dimension_pairs():
            out.setdefault(operation, {})[dimension] = {
                value: _summary(self._dimension_stats(operation, dimension, value, 0))
                for value in self._core.dimension_values(operation, dimension)
            }
        return out


#: The statistics of a dimension value in the report, nested as in an
#: operation's entry (the field table gives each one's place).
_SUMMARY_ATTRIBUTES = (
    "total_operations",
    "failed_operations",
    "error_rate",
    "avg_duration",
    "p50_duration",
    "p95_duration",
    "p99_duration",
    "max_duration",
    "total_tokens",
    "tokens_per_second",
    "cost_usd",
)


def _summary(s: PerformanceStats) -> dict[str, Any]:
    return report_subset(s, _SUMMARY_ATTRIBUTES)
