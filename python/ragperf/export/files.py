"""File exporters: the report as JSON and the statistics as CSV, written
atomically (temporary file in the same directory, fsync, rename).

Example:
    >>> JsonFileExporter("metrics.json").export(monitor)      # doctest: +SKIP
    'metrics.json'
    >>> CsvFileExporter("ops.csv", table="operations").export(monitor)  # doctest: +SKIP
    'ops.csv'
"""

from __future__ import annotations

import json
from typing import Any, Final, Mapping

from .. import _core
from .._validate import check_path
from .csv_tables import export_metrics_csv, export_operations_csv

__all__ = ["CSV_TABLES", "CsvFileExporter", "JsonFileExporter", "write_report_json"]

#: The tables :class:`CsvFileExporter` writes: per-operation statistics,
#: recent operations, dimension breakdowns.
CSV_TABLES: Final = ("stats", "operations", "breakdown")


def write_report_json(report: Mapping[str, Any], path: Any) -> str:
    """Writes ``report`` as indented JSON (no NaN) to ``path`` atomically;
    returns the path. Raises OSError naming the path.

    Example:
        >>> write_report_json(monitor.generate_report(), "metrics.json")  # doctest: +SKIP
        'metrics.json'
    """
    target = check_path(path)
    text = json.dumps(report, indent=2, allow_nan=False) + "\n"
    _core.Monitor.write_file_atomically(target, text)
    return target


class JsonFileExporter:
    """Writes ``monitor.export_metrics_json(path)``: the report, atomically.

    Example:
        >>> JsonFileExporter("metrics.json").export(monitor)  # doctest: +SKIP
        'metrics.json'
    """

    def __init__(self, path: Any) -> None:
        self.path = check_path(path)

    def export(self, monitor: Any) -> str:
        """Writes the report of ``monitor``; returns the path."""
        return str(monitor.export_metrics_json(self.path))

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"JsonFileExporter({self.path!r})"


class CsvFileExporter:
    """Writes one CSV table of a monitor, atomically: ``"stats"`` (one row
    per operation, :func:`ragperf.export.csv_tables.export_metrics_csv`),
    ``"operations"`` (recent operations) or ``"breakdown"`` (every declared
    dimension's values).

    Example:
        >>> CsvFileExporter("stats.csv").export(monitor)  # doctest: +SKIP
        'stats.csv'
    """

    def __init__(self, path: Any, table: str = "stats") -> None:
        if table not in CSV_TABLES:
            raise ValueError(f"table must be one of {CSV_TABLES}, got {table!r}")
        self.path = check_path(path)
        self.table = table

    def export(self, monitor: Any) -> str:
        """Writes the table of ``monitor``; returns the path."""
        if self.table == "stats":
            return export_metrics_csv(monitor, self.path)
        if self.table == "operations":
            return export_operations_csv(monitor, self.path)
        return str(monitor.export_breakdown_csv(self.path))

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"CsvFileExporter({self.path!r}, table={self.table!r})"
