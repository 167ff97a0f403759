"""A monitor's exporters as a component (``monitor.exporters``): its exit
hooks (the block exporters: logging, OpenTelemetry) and its export methods
(CSV files, periodic export, logging on/off).

Example:
    >>> from ragperf import PerformanceMonitor
    >>> monitor = PerformanceMonitor()
    >>> monitor.exporters.hook_count()
    0
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from .._component import Component
from .._core import HotPath

if TYPE_CHECKING:
    from .exporting import PeriodicExporter
    from .csv_tables import _Monitor
    from .logs import HookedMonitor

__all__ = ["ExitHook", "Exporters"]

ExitHook = Callable[[Any], object]


class Exporters(Component):
    """The exit hooks and export methods of one monitor (see each method).

    Args:
        monitor: the monitor (held weakly: the component does not keep it alive).
        hot: its hot path, which calls the installed hooks after every block.

    Example:
        >>> monitor.exporters.metrics_csv("stats.csv")  # doctest: +SKIP
        'stats.csv'
    """

    def __init__(self, monitor: object, hot: HotPath) -> None:
        self._monitor_ref = weakref.ref(monitor)
        self._hot = hot
        self.hooks: list[ExitHook] = []
        self._lock = threading.Lock()

    def _monitor(self) -> Any:
        monitor = self._monitor_ref()
        if monitor is None:
            raise RuntimeError("the monitor of these exporters no longer exists")
        return monitor

    # ---------------------------------------------------------- exit hooks

    def add_hook(self, hook: ExitHook) -> None:
        """Calls ``hook(tracker)`` after every block (logging, OpenTelemetry).
        A failing hook never reaches the block: it is an internal error
        (counted by :meth:`get_internal_error_count`, the first one logged)."""
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {hook!r}")
        with self._lock:
            if hook not in self.hooks:
                self.hooks.append(hook)
            self._install_hooks()

    def remove_hook(self, hook: ExitHook) -> None:
        """Stops calling ``hook``; unknown hooks are ignored."""
        with self._lock:
            if hook in self.hooks:
                self.hooks.remove(hook)
            self._install_hooks()

    def hook_count(self) -> int:
        """How many exit hooks are installed.

        Example:
            >>> monitor.exporters.hook_count()  # doctest: +SKIP
            0
        """
        return len(self.hooks)

    def _install_hooks(self) -> None:
        hooks = tuple(self.hooks)
        # A hook whose function has ``roots_only = True`` (span export) needs
        # only root blocks and blocks finishing after their root; when every
        # hook is such, the others are not called at all.
        self._hot.set_exit_hook_roots_only(
            bool(hooks) and all(getattr(hook, "roots_only", False) for hook in hooks)
        )
        if not hooks:
            self._hot.set_exit_hook(None)
        elif len(hooks) == 1:
            self._hot.set_exit_hook(hooks[0])
        else:

            def run_all(op: Any) -> None:
                # Every hook runs even if one fails; the first failure is
                # then counted (and logged once) by the tracker.
                failure: BaseException | None = None
                for hook in hooks:
                    try:
                        hook(op)
                    except Exception as exc:  # noqa: BLE001
                        failure = failure or exc
                if failure is not None:
                    raise failure

            self._hot.set_exit_hook(run_all)

    # ------------------------------------------------------------- logging

    def enable_logging(self, level: int = 20, structured: bool = False) -> Any:
        """Logs every block on the ``ragperf`` logger (``[PERF] op - DONE in
        12.3ms``; ``structured=True`` for JSON records). See
        :func:`ragperf.export.logs.enable_logging`; ``RAGPERF_DEBUG=1`` turns it on
        at DEBUG without code changes.

        Example:
            >>> monitor.enable_logging()  # doctest: +SKIP
        """
        from .logs import enable_logging

        return enable_logging(cast("HookedMonitor", self._monitor()), level=level, structured=structured)

    def disable_logging(self) -> bool:
        """Stops per-block logging; True if it was on.

        Example:
            >>> monitor.disable_logging()  # doctest: +SKIP
            False
        """
        from .logs import disable_logging

        return disable_logging(cast("HookedMonitor", self._monitor()))

    # -------------------------------------------------------------- files

    def start_periodic(
        self, path: Any, interval_s: float = 300.0, *, fmt: str = "json"
    ) -> PeriodicExporter:
        """Writes the report (``fmt="json"``, atomically) or the per-operation
        CSV (``fmt="csv"``) to ``path`` every ``interval_s`` seconds from a
        background thread, and once more at interpreter exit. Returns a handle
        whose ``stop()`` ends it (with a last write). See
        :mod:`ragperf.export.exporting`.

        Example:
            >>> handle = monitor.start_periodic_export("metrics.json", interval_s=60)  # doctest: +SKIP
            >>> handle.stop()                                                        # doctest: +SKIP
        """
        from . import exporting

        return exporting.start_periodic_export(
            cast("_Monitor", self._monitor()), path, interval_s, fmt=fmt
        )

    def metrics_csv(self, path: Any) -> str:
        """Per-operation statistics as CSV (one row per operation; durations
        in ms), written atomically. Returns the path.

        Example:
            >>> monitor.export_metrics_csv("stats.csv")  # doctest: +SKIP
            'stats.csv'
        """
        from . import exporting

        return exporting.export_metrics_csv(cast("_Monitor", self._monitor()), path)

    def operations_csv(self, path: Any, operation: Any = None, limit: int = 1000) -> str:
        """Recent operations (see :meth:`get_recent_operations`) as CSV,
        written atomically. Returns the path.

        Example:
            >>> monitor.export_operations_csv("operations.csv", "llm_inference")  # doctest: +SKIP
            'operations.csv'
        """
        from . import exporting

        return exporting.export_operations_csv(
            cast("_Monitor", self._monitor()), path, operation, limit
        )
