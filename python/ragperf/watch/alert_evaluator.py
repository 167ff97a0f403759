"""A daemon thread that checks a monitor's alert rules every ``interval_s``
seconds, so alerts fire even when nobody reads the health or the report.

After ``os.fork()`` the child has no evaluator thread: its evaluators report
``running == False`` and ``stop()`` is a no-op there (a child that wants one
starts its own).

Example:
    >>> evaluator = monitor.start_alert_evaluator(interval_s=30)  # doctest: +SKIP
    >>> evaluator.stop()                                          # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ..export._runner import MAX_INTERVAL_S, MIN_INTERVAL_S, PeriodicRunner  # noqa: F401 (bounds kept importable here)

__all__ = ["AlertEvaluator"]

_log = logging.getLogger("ragperf")


class _Checks(Protocol):
    def check_alerts(self, now: float | None = None) -> Any: ...


class AlertEvaluator(PeriodicRunner):
    """Calls ``monitor.check_alerts()`` every ``interval_s`` seconds (0.05 to
    86400) from a daemon thread. A failing check is logged (WARNING, once)
    and counted in ``errors``; the thread keeps going. Also a context manager.
    The thread, ``start``/``stop`` and the fork reset are
    :class:`ragperf.export._runner.PeriodicRunner`'s; ``stop()`` runs no final check.

    Example:
        >>> with AlertEvaluator(monitor, interval_s=10):   # doctest: +SKIP
        ...     serve()
    """

    def __init__(self, monitor: _Checks, interval_s: float = 30.0) -> None:
        super().__init__(interval_s, thread_name="ragperf-alerts")
        self._monitor = monitor
        self.checks = 0
        self.errors = 0

    def _tick(self) -> None:
        try:
            self._monitor.check_alerts()
        except Exception as exc:  # never kill the thread
            self.errors += 1
            if self.errors == 1:
                _log.warning("ragperf: alert check failed: %s (later failures are only counted)", exc)
        else:
            self.checks += 1

    def __repr__(self) -> str:
        state = f"every {self._interval:g} s" if self.running else "stopped"
        return f"<ragperf AlertEvaluator {state}, {self.checks} checks, {self.errors} errors>"
