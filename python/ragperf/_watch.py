"""Alerts, live regression detection and self-observability of
PerformanceMonitor: a mixin so monitor.py stays about recording and reading.
Everything here runs when asked (a check, the health, the report), never on
the ``track_operation`` hot path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from . import overhead
from ._core import HotPath
from ._core import Monitor as CoreMonitor
from ._validate import check_positive_int, check_real, check_window_minutes, operation_name
from .alert_evaluator import AlertEvaluator
from .alerts import ALL_OPERATIONS, AlertCallback, AlertEngine, AlertEvent, AlertRule, wall_clock
from .regressions import (
    BaselineEntry,
    RegressionBaseline,
    RegressionFinding,
    baseline_from_exports,
    check_factor,
    find_regressions,
)
from .stats import PerformanceStats

__all__ = ["WatchMixin"]

Clock = Callable[[], float]


class _MonitorSource:
    """What the alert engine reads, from the C++ monitor."""

    def __init__(self, core: CoreMonitor) -> None:
        self._core = core

    def operations(self) -> list[str]:
        return [str(d["name"]) for d in self._core.get_all_stats()]

    def window_stats(self, operation: str, window_minutes: int, now_s: float) -> PerformanceStats:
        return PerformanceStats._from_core(
            self._core.get_window_stats(operation, window_minutes, now_s),
            operation,
            window_minutes=window_minutes,
        )

    def rss_mb(self) -> float:
        return float(self._core.memory_stats()["current_rss_mb"])


class WatchMixin:
    """Methods PerformanceMonitor gets from this module (see each docstring)."""

    _core: CoreMonitor
    _hot: HotPath
    _exit_hooks: list[Any]

    def _init_watch(self) -> None:
        self._watch_source = _MonitorSource(self._core)
        self._alerts = AlertEngine(self._watch_source)
        self._clock: Clock = wall_clock
        self._baseline: RegressionBaseline | None = None
        self._watch_lock = threading.Lock()

    def _now(self, now: float | None) -> float:
        if now is None:
            return float(self._clock())
        value = check_real(now, "now", "a unix time in seconds")
        if not value > 0 or value == float("inf"):
            raise ValueError(f"now must be a positive finite unix time, got {now!r}")
        return value

    def set_evaluation_clock(self, clock: Clock | None = None) -> None:
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

    # --------------------------------------------------------------- alerts

    def add_alert_rule(
        self,
        name: str | AlertRule,
        metric: str | None = None,
        threshold: float | None = None,
        *,
        operation: Any = ALL_OPERATIONS,
        window_minutes: int = 5,
        comparison: str = ">",
        severity: str = "warning",
        for_s: float = 0.0,
        min_count: int = 1,
        callback: AlertCallback | None = None,
    ) -> AlertRule:
        """Registers an alert: active while ``metric`` of ``operation`` (or
        of each operation, ``"*"``) over the last ``window_minutes`` is
        ``comparison`` ``threshold`` — after holding for ``for_s`` seconds,
        judged only with at least ``min_count`` records in the window.
        Metrics: ``p50_latency_s``, ``p95_latency_s``, ``p99_latency_s``,
        ``avg_latency_s``, ``error_rate``, ``tokens_per_second``,
        ``output_tokens_per_second``, ``requests_per_second``,
        ``process_rss_mb`` (process-wide: operation ``"*"``). Firing logs a
        WARNING on the ``ragperf`` logger and calls ``callback(event)``;
        resolving logs INFO and calls it again (see :class:`AlertEvent`).
        Also accepts a ready :class:`AlertRule`. Returns the rule; a taken
        name, unknown metric or bad threshold raise ValueError/TypeError.

        Example:
            >>> rule = monitor.add_alert_rule("slow_llm", "p95_latency_s", 5.0,
            ...                               operation="llm_inference", window_minutes=5)
            >>> monitor.remove_alert_rule("slow_llm")
            True
        """
        if isinstance(name, AlertRule):
            if metric is not None or threshold is not None:
                raise TypeError("pass either an AlertRule or name, metric and threshold, not both")
            rule = name
        else:
            if metric is None or threshold is None:
                raise TypeError("add_alert_rule needs a metric and a threshold")
            rule = AlertRule(
                name=name,
                metric=metric,
                threshold=threshold,
                operation=operation,
                window_minutes=window_minutes,
                comparison=comparison,
                severity=severity,
                for_s=for_s,
                min_count=min_count,
                callback=callback,
            )
        self._alerts.add(rule)
        return rule

    def remove_alert_rule(self, name: str) -> bool:
        """Removes a rule and its active alerts (no resolve event); True if it existed.

        Example:
            >>> monitor.remove_alert_rule("no_such_rule")
            False
        """
        return self._alerts.remove(name)

    def get_alert_rules(self) -> list[AlertRule]:
        """The registered rules, oldest first.

        Example:
            >>> [r.name for r in monitor.get_alert_rules()]   # doctest: +SKIP
            ['slow_llm']
        """
        return self._alerts.rules()

    def get_active_alerts(self) -> list[AlertEvent]:
        """Alerts firing as of the last check (state ``"firing"``, latest value).

        Example:
            >>> [a.rule for a in monitor.get_active_alerts()]   # doctest: +SKIP
            ['slow_llm']
        """
        return self._alerts.active()

    def check_alerts(self, now: float | None = None) -> list[AlertEvent]:
        """Checks every rule at ``now`` (unix seconds; default: the
        evaluation clock) and returns this check's transitions: alerts that
        fired and alerts that resolved. ``get_health_status()`` and
        ``generate_report()`` call it too.

        Example:
            >>> monitor.check_alerts()
            []
        """
        return self._alerts.evaluate(self._now(now))

    def start_alert_evaluator(self, interval_s: float = 30.0) -> AlertEvaluator:
        """Checks the alert rules every ``interval_s`` seconds from a daemon
        thread; returns a handle whose ``stop()`` ends it. A forked child
        must start its own.

        Example:
            >>> evaluator = monitor.start_alert_evaluator(interval_s=30)   # doctest: +SKIP
            >>> evaluator.stop()                                           # doctest: +SKIP
        """
        return AlertEvaluator(self, interval_s).start()

    # ----------------------------------------------------------- regressions

    def set_regression_baseline(
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
        now_s = self._now(now)
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
        with self._watch_lock:
            self._baseline = baseline
        return baseline

    def _baseline_from_self(
        self, minutes: int | None, now_s: float
    ) -> tuple[dict[str, BaselineEntry], str]:
        if minutes is None:
            stats = self._core.get_all_stats()
            return (
                {str(d["name"]): BaselineEntry(int(d["total"]), float(d["p95_s"])) for d in stats},
                "all-time",
            )
        window = check_window_minutes(minutes)
        entries = {}
        for op in self._watch_source.operations():
            s = self._watch_source.window_stats(op, window, now_s)
            if s.total_operations:
                entries[op] = BaselineEntry(s.total_operations, s.p95_duration)
        return entries, f"last {window} min"

    def get_regression_baseline(self) -> RegressionBaseline | None:
        """The baseline set by :meth:`set_regression_baseline` (None if none).

        Example:
            >>> monitor.get_regression_baseline() is None   # doctest: +SKIP
            True
        """
        return self._baseline

    def clear_regression_baseline(self) -> None:
        """Stops regression detection.

        Example:
            >>> monitor.clear_regression_baseline()
        """
        with self._watch_lock:
            self._baseline = None

    def detect_regressions(
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
            self._watch_source.window_stats,
            self._now(now),
            window_minutes=baseline.window_minutes if window_minutes is None else check_window_minutes(window_minutes),
            factor=baseline.factor if factor is None else check_factor(factor),
            min_count=count,
        )

    # -------------------------------------------------------------- overhead

    def get_monitoring_overhead(self, refresh: bool = False) -> dict[str, Any]:
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
            exit_hooks=len(self._exit_hooks),
            internal_errors=int(self._hot.internal_errors()),
            refresh=refresh,
        )

    # ------------------------------------------------- health & report hooks

    def _watch_findings(self) -> tuple[list[AlertEvent], list[RegressionFinding]]:
        now_s = self._now(None)
        self._alerts.evaluate(now_s)
        findings = self.detect_regressions(now=now_s) if self._baseline is not None else []
        return self._alerts.active(), findings

    @staticmethod
    def _add_to_health(
        health: dict[str, Any], alerts: list[AlertEvent], findings: list[RegressionFinding]
    ) -> dict[str, Any]:
        issues = list(health.get("issues", []))
        issues += [a.describe() for a in alerts] + [f.describe() for f in findings]
        health["issues"] = issues
        if any(a.severity == "critical" for a in alerts):
            health["status"] = "critical"
        elif issues and health.get("status") == "healthy":
            health["status"] = "warning"
        return health

    def _watch_health(self, health: dict[str, Any]) -> dict[str, Any]:
        """Adds active alerts and regressions to a health dict."""
        alerts, findings = self._watch_findings()
        return self._add_to_health(health, alerts, findings)

    def _watch_report(self, report: dict[str, Any]) -> None:
        """Adds ``alerts``, ``regressions`` and the overhead to a report."""
        alerts, findings = self._watch_findings()
        self._add_to_health(report.setdefault("health", {}), alerts, findings)
        baseline = self._baseline
        report["alerts"] = {
            "active": [a.to_dict() for a in alerts],
            "rules": [r.to_dict() for r in self._alerts.rules()],
            "callback_errors": self._alerts.callback_errors,
        }
        report["regressions"] = [f.to_dict() for f in findings]
        report["regression_baseline"] = None if baseline is None else baseline.to_dict()
        report["monitoring"] = self.get_monitoring_overhead()
