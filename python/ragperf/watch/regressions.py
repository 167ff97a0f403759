"""Live regression detection as a component of the monitor
(``monitor.regressions``): the baseline, the detection, the report's
``regressions`` and ``regression_baseline`` sections and the health issues
of regressed operations. The baseline and the comparison are
:mod:`ragperf.watch.regression_check`.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> monitor = PerformanceMonitor()
    >>> monitor.regressions.set_baseline(factor=2.0).factor
    2.0
"""

from __future__ import annotations

import threading
from typing import Any

from .._component import Component, HealthIssue, ReportSection
from .._validate import check_positive_int, check_window_minutes, operation_name
from .regression_check import (
    BaselineEntry,
    RegressionBaseline,
    RegressionFinding,
    baseline_from_exports,
    check_factor,
    find_regressions,
)
from ..stats import PerformanceStats
from .clock import EvaluationClock, MonitorSource

__all__ = ["Regressions"]


class Regressions(Component):
    """The regression baseline of one monitor and its detection (see each method).

    Example:
        >>> monitor.regressions.baseline() is None  # doctest: +SKIP
        True
    """

    def __init__(self, source: MonitorSource, clock: EvaluationClock) -> None:
        self._source = source
        self._clock = clock
        self._baseline: RegressionBaseline | None = None
        self._lock = threading.Lock()

    def set_baseline(
        self,
        source: Any = None,
        *,
        baseline_window_minutes: int | None = None,
        window_minutes: int = 5,
        factor: float = 1.5,
        min_count: int = 20,
        now: float | None = None,
    ) -> RegressionBaseline:
        """Sets what live regression detection compares with. ``source``
        None: this monitor's p95 per operation now — all-time, or over the
        last ``baseline_window_minutes``; otherwise an export path / report
        dict, or a list of them (their sketches merge). Later,
        :meth:`detect_regressions` (also run by the health and the report)
        flags operations whose p95 over the last ``window_minutes`` exceeds
        ``factor`` x the baseline, both sides having ``min_count`` records.

        Example:
            >>> monitor.set_regression_baseline(factor=2.0).factor
            2.0
        """
        window = check_window_minutes(window_minutes)
        max_factor = check_factor(factor)
        count = check_positive_int(min_count, "min_count")
        now_s = self._clock.now(now)
        if source is None:
            entries, name = self._baseline_from_self(baseline_window_minutes, now_s)
        else:
            if baseline_window_minutes is not None:
                raise ValueError("baseline_window_minutes applies to this monitor, not to an export")
            sources = list(source) if isinstance(source, (list, tuple)) else [source]
            entries, name = baseline_from_exports(sources)
        baseline = RegressionBaseline(
            source=name,
            captured_at_s=now_s,
            operations=entries,
            factor=max_factor,
            min_count=count,
            window_minutes=window,
        )
        with self._lock:
            self._baseline = baseline
        return baseline

    def _baseline_from_self(
        self, minutes: int | None, now_s: float
    ) -> tuple[dict[str, BaselineEntry], str]:
        if minutes is None:
            stats = [PerformanceStats._from_core(d, str(d["name"])) for d in self._source.all_stats()]
            return (
                {s.operation_type: BaselineEntry(s.total_operations, s.p95_duration) for s in stats},
                "all-time",
            )
        window = check_window_minutes(minutes)
        entries = {}
        for op in self._source.operations():
            s = self._source.window_stats(op, window, now_s)
            if s.total_operations:
                entries[op] = BaselineEntry(s.total_operations, s.p95_duration)
        return entries, f"last {window} min"

    def baseline(self) -> RegressionBaseline | None:
        """The baseline set by :meth:`set_regression_baseline` (None if none).

        Example:
            >>> monitor.get_regression_baseline() is None   # doctest: +SKIP
            True
        """
        return self._baseline

    def clear_baseline(self) -> None:
        """Stops regression detection.

        Example:
            >>> monitor.clear_regression_baseline()
        """
        with self._lock:
            self._baseline = None

    def detect(
        self,
        operation: Any = None,
        *,
        window_minutes: int | None = None,
        factor: float | None = None,
        min_count: int | None = None,
        now: float | None = None,
    ) -> list[RegressionFinding]:
        """Operations (or just ``operation``) whose p95 over the last
        ``window_minutes`` exceeds ``factor`` x the baseline's p95, largest
        first; arguments left None come from :meth:`set_regression_baseline`.
        ValueError when no baseline is set.

        Example:
            >>> [f.operation for f in monitor.detect_regressions()]   # doctest: +SKIP
            ['llm_inference']
        """
        baseline = self._baseline
        if baseline is None:
            raise ValueError("no regression baseline: call set_regression_baseline() first")
        if operation is not None:
            name = operation_name(operation)
            kept = {k: v for k, v in baseline.operations.items() if k == name}
            baseline = RegressionBaseline(
                baseline.source, baseline.captured_at_s, kept, baseline.factor,
                baseline.min_count, baseline.window_minutes,
            )
        count = baseline.min_count if min_count is None else check_positive_int(min_count, "min_count")
        return find_regressions(
            baseline,
            self._source.window_stats,
            self._clock.now(now),
            window_minutes=baseline.window_minutes if window_minutes is None else check_window_minutes(window_minutes),
            factor=baseline.factor if factor is None else check_factor(factor),
            min_count=count,
        )

    # ----------------------------------------------------- report & health

    def _findings(self, now_s: float) -> list[RegressionFinding]:
        return self.detect(now=now_s) if self._baseline is not None else []

    def health_issues(self, now_s: float) -> list[HealthIssue]:
        """One warning per operation regressed at ``now_s`` (none without a baseline)."""
        return [HealthIssue(f.describe()) for f in self._findings(now_s)]

    def contribute_report(self, section: ReportSection) -> None:
        """Writes ``regressions`` (the findings) and ``regression_baseline``,
        and the findings' health issues."""
        baseline = self._baseline
        findings = self._findings(section.now_s)
        section.add_health_issues(HealthIssue(f.describe()) for f in findings)
        section.add("regressions", [f.to_dict() for f in findings])
        section.add("regression_baseline", None if baseline is None else baseline.to_dict())
