"""The evaluation clock shared by alert checks and regression detection,
and what they read from the C++ monitor.

Example:
    >>> clock = EvaluationClock()
    >>> clock.set(lambda: 1_700_000_000.0)
    >>> clock.now()
    1700000000.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._component import Component
from .._core import Monitor as CoreMonitor
from .._validate import check_real
from .alert_rules import wall_clock
from ..stats import PerformanceStats

__all__ = ["Clock", "EvaluationClock", "MonitorSource"]

Clock = Callable[[], float]


class EvaluationClock(Component):
    """"Now" (unix seconds) for alert checks and regression detection when
    none is passed: ``time.time`` unless :meth:`set` replaced it.

    Example:
        >>> EvaluationClock().now(1_700_000_000)
        1700000000.0
    """

    def __init__(self) -> None:
        self._clock: Clock = wall_clock

    def set(self, clock: Clock | None = None) -> None:
        """The clock (unix seconds) that alert checks and regression
        detection use for "now" when none is passed — by default
        ``time.time``; ``None`` restores it. Tests pass a fake clock; the
        records themselves keep their real timestamps.

        Example:
            >>> monitor.set_evaluation_clock(lambda: 1_700_000_000.0)
            >>> monitor.set_evaluation_clock(None)
        """
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be callable or None, got {clock!r}")
        self._clock = wall_clock if clock is None else clock

    def now(self, now: float | None = None) -> float:
        """``now`` validated (a positive finite unix time), or the clock's time when None.

        Example:
            >>> EvaluationClock().now() > 1.7e9
            True
        """
        if now is None:
            return float(self._clock())
        value = check_real(now, "now", "a unix time in seconds")
        if not value > 0 or value == float("inf"):
            raise ValueError(f"now must be a positive finite unix time, got {now!r}")
        return value


class MonitorSource:
    """What the alert engine and regression detection read, from the C++ monitor.

    Example:
        >>> MonitorSource(monitor._core).operations()  # doctest: +SKIP
        ['llm_inference']
    """

    def __init__(self, core: CoreMonitor) -> None:
        self._core = core

    def operations(self) -> list[str]:
        """Names of the operations recorded so far."""
        return [str(d["name"]) for d in self._core.get_all_stats()]

    def window_stats(self, operation: str, window_minutes: int, now_s: float) -> PerformanceStats:
        """Statistics of ``operation`` over the ``window_minutes`` before ``now_s``."""
        return PerformanceStats._from_core(
            self._core.get_window_stats(operation, window_minutes, now_s),
            operation,
            window_minutes=window_minutes,
        )

    def rss_mb(self) -> float:
        """The process RSS now (MB)."""
        return float(self._core.memory_stats()["current_rss_mb"])

    def all_stats(self) -> list[dict[str, Any]]:
        """The core's all-time statistics dicts."""
        return list(self._core.get_all_stats())
