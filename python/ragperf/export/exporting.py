"""File exports: a periodic JSON/CSV writer and CSV tables of the statistics
and of the recent operations (for spreadsheets and pandas).

Every file is written atomically (temporary file in the same directory,
fsync, rename): a reader sees the previous file or the new one, never a
partial one.

Example:
    >>> exporter = start_periodic_export(monitor, "metrics.json", interval_s=60)  # doctest: +SKIP
    >>> export_metrics_csv(monitor, "stats.csv")                                    # doctest: +SKIP
    'stats.csv'
    >>> exporter.stop()          # writes metrics.json once more               # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import threading
from datetime import datetime, timezone
from typing import Any, Mapping, Protocol, Sequence

from .. import _core
from ._runner import MAX_INTERVAL_S, MIN_INTERVAL_S, PeriodicRunner  # noqa: F401 (bounds kept importable here)
from .._validate import check_path, check_positive_int
from .base import Exporter
from .csv_tables import (  # noqa: F401 (the CSV tables' historical home)
    OPERATION_COLUMNS,
    STATS_COLUMNS,
    _check_monitor,
    _csv_text,
    _Monitor,
    _write_text,
    export_metrics_csv,
    export_operations_csv,
    operation_rows,
    stats_rows,
)
from .files import CsvFileExporter, JsonFileExporter

__all__ = [
    "PeriodicExporter",
    "start_periodic_export",
    "STATS_COLUMNS",
    "OPERATION_COLUMNS",
    "stats_rows",
    "export_metrics_csv",
    "operation_rows",
    "export_operations_csv",
]

_log = logging.getLogger("ragperf")

_FORMATS = ("json", "csv")


# --------------------------------------------------------- periodic export


class PeriodicExporter(PeriodicRunner):
    """Writes a monitor's metrics to ``path`` every ``interval_s`` seconds
    from a daemon thread, and once more on ``stop()`` and at interpreter exit.

    ``fmt="json"`` writes ``monitor.export_metrics_json(path)``, ``"csv"``
    :func:`export_metrics_csv`; ``exporter=`` runs any
    :class:`ragperf.export.base.Exporter` instead (e.g.
    :class:`~ragperf.export.prometheus_text.PrometheusTextExporter`; ``path``
    then defaults to the exporter's). Every write is atomic. A failed write is
    logged (logger ``ragperf``, WARNING, with the path) and counted in
    ``errors`` / ``last_error``; the thread keeps going. It is an
    :class:`~ragperf.export.base.Exporter` itself: ``export()`` writes now,
    ``close()`` is ``stop()``.

    After ``os.fork()`` the child has no exporter thread: its exporters report
    ``running == False``, do not write at the child's exit, and ``stop()`` is a
    no-op there. A child that wants periodic files starts its own exporter
    (with its own path). The thread, ``start``/``stop``, the fork reset and
    the exit flush are :class:`ragperf.export._runner.PeriodicRunner`'s.

    Example:
        >>> with PeriodicExporter(monitor, "metrics.json", interval_s=60) as exporter:  # doctest: +SKIP
        ...     serve()
        >>> exporter.exports      # doctest: +SKIP
        3
    """

    def __init__(
        self,
        monitor: _Monitor,
        path: Any = None,
        interval_s: float = 300.0,
        *,
        fmt: str = "json",
        exporter: Exporter | None = None,
    ) -> None:
        if exporter is not None and not isinstance(exporter, Exporter):
            raise TypeError(f"exporter must have export(monitor) and close(), got {exporter!r}")
        if path is None and exporter is not None:
            path = getattr(exporter, "path", None)
        self._path = check_path(path)
        super().__init__(interval_s, thread_name=f"ragperf-export:{self._path}", stop_at_exit=True)
        if not isinstance(fmt, str):
            raise TypeError(f"fmt must be 'json' or 'csv', got {fmt!r} ({type(fmt).__name__})")
        if fmt not in _FORMATS:
            raise ValueError(f"fmt must be 'json' or 'csv', got {fmt!r}")
        _check_monitor(monitor, "export_metrics_json" if fmt == "json" else "get_all_stats")
        self._monitor = monitor
        self._fmt = fmt
        self._exporter: Exporter = (
            exporter if exporter is not None
            else JsonFileExporter(self._path) if fmt == "json" else CsvFileExporter(self._path)
        )
        self._exports = 0
        self._errors = 0
        self._last_error: BaseException | None = None
        self._write_lock = threading.Lock()

    # ------------------------------------------------------------ properties

    @property
    def path(self) -> str:
        """The file written."""
        return self._path

    @property
    def fmt(self) -> str:
        """``"json"`` or ``"csv"``."""
        return self._fmt

    @property
    def exports(self) -> int:
        """Successful writes so far (periodic and final)."""
        return self._exports

    @property
    def errors(self) -> int:
        """Failed writes so far."""
        return self._errors

    @property
    def last_error(self) -> BaseException | None:
        """The exception of the latest failed write, None if none failed."""
        return self._last_error

    # ------------------------------------------------------------- the runs

    def _tick(self) -> None:
        self._write()

    def _final(self) -> None:
        self._write()

    def export(self, monitor: Any = None) -> str:
        """Writes now (of ``monitor``, default the exporter's own), counted
        like a periodic write; returns the path. Never raises.

        Example:
            >>> exporter.export()  # doctest: +SKIP
            'metrics.json'
        """
        self._write(self._monitor if monitor is None else monitor)
        return self._path

    def close(self) -> None:
        """:meth:`stop` with its last write (idempotent)."""
        self.stop(flush=True)

    def _write(self, monitor: Any = None) -> None:
        with self._write_lock:
            try:
                self._exporter.export(self._monitor if monitor is None else monitor)
            except Exception as exc:  # never kill the thread
                self._errors += 1
                self._last_error = exc
                _log.warning("ragperf: periodic export to %s failed: %s", self._path, exc)
            else:
                self._exports += 1

    def _reset_after_fork(self) -> None:
        super()._reset_after_fork()
        self._write_lock = threading.Lock()  # a parent thread may have held it

    def __repr__(self) -> str:
        state = f"running every {self._interval:g} s" if self._running else "stopped"
        return (
            f"<ragperf PeriodicExporter {self._fmt} -> {self._path!r} {state}, "
            f"{self._exports} exports, {self._errors} errors>"
        )


def start_periodic_export(
    monitor: _Monitor, path: Any, interval_s: float = 300.0, *, fmt: str = "json"
) -> PeriodicExporter:
    """Creates and starts a :class:`PeriodicExporter`: ``path`` is written
    every ``interval_s`` seconds (0.05 to 86400), on ``stop()`` and at
    interpreter exit.

    Example:
        >>> exporter = start_periodic_export(monitor, "metrics.json", interval_s=300)  # doctest: +SKIP
        >>> exporter.stop()   # final write                                             # doctest: +SKIP
    """
    return PeriodicExporter(monitor, path, interval_s, fmt=fmt).start()
