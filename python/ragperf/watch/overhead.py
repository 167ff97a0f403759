"""What monitoring costs, as a component of the monitor
(``monitor.overhead``): the calibrated cost per block, records, statistics
bytes, exit hooks and internal errors; the report's ``monitoring`` section.
The calibration is :mod:`ragperf.watch.calibration`.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> PerformanceMonitor().overhead.internal_errors()
    0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import calibration as overhead
from .._component import Component, ReportSection
from .._core import HotPath
from .._core import Monitor as CoreMonitor

__all__ = ["Overhead"]


class Overhead(Component):
    """Self-observability of one monitor (see each method).

    Args:
        core: the monitor's C++ monitor.
        hot: its hot path (internal errors are counted there).
        exit_hooks: how many exit hooks are installed now.

    Example:
        >>> monitor.overhead.report()["ns_per_block"] > 0  # doctest: +SKIP
        True
    """

    def __init__(self, core: CoreMonitor, hot: HotPath, exit_hooks: Callable[[], int]) -> None:
        self._core = core
        self._hot = hot
        self._exit_hooks = exit_hooks

    def report(self, refresh: bool = False) -> dict[str, Any]:
        """What monitoring costs: ``ns_per_block`` (a calibrated
        ``with track_operation(...)`` block at this monitor's settings; also
        ``ns_per_block_memory_off`` / ``_on``), ``records``, ``operations``,
        ``estimated_total_overhead_s`` (records x ns_per_block),
        ``statistics_bytes`` (held by the C++ statistics), ``exit_hooks``,
        ``internal_errors`` and when it was calibrated. The calibration runs on
        a private monitor on first use and at most every 10 minutes (or now
        with ``refresh=True``). Also the report's ``monitoring`` section.

        Example:
            >>> monitor.get_monitoring_overhead()["ns_per_block"] > 0
            True
        """
        if not isinstance(refresh, bool):
            raise TypeError(f"refresh must be a bool, got {refresh!r}")
        return overhead.overhead_report(
            self._core,
            memory_tracking=bool(self._core.memory_tracking),
            exit_hooks=self._exit_hooks(),
            internal_errors=int(self._hot.internal_errors()),
            refresh=refresh,
        )

    def internal_errors(self) -> int:
        """Problems of ragperf itself on the hot path since the monitor was
        created: a failing exit hook (the logging or OpenTelemetry one, e.g. a
        broken exporter) or a failed allocation while recording. They never
        reach the tracked code; the first one is logged on the ``ragperf``
        logger (ERROR), later ones are only counted. Also in the report as
        ``monitoring.internal_errors``.

        Example:
            >>> monitor.get_internal_error_count()  # doctest: +SKIP
            0
        """
        return int(self._hot.internal_errors())

    def contribute_report(self, section: ReportSection) -> None:
        """Writes ``monitoring`` (:meth:`report`)."""
        section.add("monitoring", self.report())
