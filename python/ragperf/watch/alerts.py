"""Alerts as a component of the monitor (``monitor.alerts``): the rules,
their checks, the background evaluator, the report's ``alerts`` section and
the health issues of active alerts. The rules and the engine are
:mod:`ragperf.watch.alert_rules`.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> monitor = PerformanceMonitor()
    >>> rule = monitor.alerts.add_rule("slow", "p95_latency_s", 5.0)
    >>> [r.name for r in monitor.alerts.rules()]
    ['slow']
"""

from __future__ import annotations

from typing import Any

from .._component import Component, HealthIssue, ReportSection
from .alert_evaluator import AlertEvaluator
from .alert_rules import ALL_OPERATIONS, PROVIDED_METRICS, AlertCallback, AlertEngine, AlertEvent, AlertRule
from .clock import EvaluationClock, MonitorSource

__all__ = ["Alerts"]


class Alerts(Component):
    """The alert rules of one monitor and their state (see each method).

    Example:
        >>> monitor.alerts.check()  # doctest: +SKIP
        []
    """

    def __init__(self, source: MonitorSource, clock: EvaluationClock) -> None:
        self._engine = AlertEngine(source)
        self._clock = clock

    @property
    def engine(self) -> AlertEngine:
        """The :class:`~ragperf.watch.alert_rules.AlertEngine` holding the rules and their state."""
        return self._engine

    def add_rule(
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
        if rule.metric in PROVIDED_METRICS:
            raise ValueError(f"{rule.metric} rules are made by add_slo(), not add_alert_rule()")
        self._engine.add(rule)
        return rule

    def remove_rule(self, name: str) -> bool:
        """Removes a rule and its active alerts (no resolve event); True if it existed.

        Example:
            >>> monitor.remove_alert_rule("no_such_rule")
            False
        """
        return self._engine.remove(name)

    def rules(self) -> list[AlertRule]:
        """The registered rules, oldest first.

        Example:
            >>> [r.name for r in monitor.get_alert_rules()]   # doctest: +SKIP
            ['slow_llm']
        """
        return self._engine.rules()

    def active(self) -> list[AlertEvent]:
        """Alerts firing as of the last check (state ``"firing"``, latest value).

        Example:
            >>> [a.rule for a in monitor.get_active_alerts()]   # doctest: +SKIP
            ['slow_llm']
        """
        return self._engine.active()

    def check(self, now: float | None = None) -> list[AlertEvent]:
        """Checks every rule at ``now`` (unix seconds; default: the
        evaluation clock) and returns this check's transitions: alerts that
        fired and alerts that resolved. ``get_health_status()`` and
        ``generate_report()`` call it too.

        Example:
            >>> monitor.check_alerts()
            []
        """
        return self._engine.evaluate(self._clock.now(now))

    def start_evaluator(self, interval_s: float = 30.0) -> AlertEvaluator:
        """Checks the alert rules every ``interval_s`` seconds from a daemon
        thread; returns a handle whose ``stop()`` ends it. A forked child
        must start its own.

        Example:
            >>> evaluator = monitor.start_alert_evaluator(interval_s=30)   # doctest: +SKIP
            >>> evaluator.stop()                                           # doctest: +SKIP
        """
        return AlertEvaluator(self, interval_s).start()

    def check_alerts(self, now: float | None = None) -> list[AlertEvent]:
        """:meth:`check` under the name :class:`AlertEvaluator` calls."""
        return self.check(now)

    # ----------------------------------------------------- report & health

    def _active_at(self, now_s: float) -> list[AlertEvent]:
        self._engine.evaluate(now_s)
        return self._engine.active()

    @staticmethod
    def _issues(active: list[AlertEvent]) -> list[HealthIssue]:
        return [HealthIssue(a.describe(), "critical" if a.severity == "critical" else "warning") for a in active]

    def health_issues(self, now_s: float) -> list[HealthIssue]:
        """Checks the rules at ``now_s``; one issue per active alert
        (critical for a critical rule)."""
        return self._issues(self._active_at(now_s))

    def contribute_report(self, section: ReportSection) -> None:
        """Checks the rules; writes ``alerts`` (``active``, ``rules``,
        ``callback_errors``) and the active alerts' health issues."""
        active = self._active_at(section.now_s)
        section.add_health_issues(self._issues(active))
        section.add(
            "alerts",
            {
                "active": [a.to_dict() for a in active],
                "rules": [r.to_dict() for r in self._engine.rules()],
                "callback_errors": self._engine.callback_errors,
            },
        )
