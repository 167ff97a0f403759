"""Alert rules: a threshold on a metric of an operation (or of every
operation, or of the process) over a time window, evaluated on demand.

A rule such as "p95 latency of llm_inference > 5 s over the last 5 minutes"
is checked by :meth:`PerformanceMonitor.check_alerts`, by every
``get_health_status()`` / ``generate_report()``, and by the optional
background evaluator. Each (rule, operation) pair is a small state machine —
``ok`` -> ``pending`` (condition true, waiting ``for_s``) -> ``firing`` ->
``ok`` — so an alert fires once and resolves once however often it is
checked. Firing logs a WARNING on the ``ragperf`` logger, resolving an INFO,
and both call the rule's callback with an :class:`AlertEvent`.

Nothing here runs on the ``track_operation`` hot path: rules read the
windowed statistics (merged one-minute sketches) when they are checked.

Example:
    >>> monitor.add_alert_rule("slow_llm", "p95_latency_s", 5.0,
    ...                        operation="llm_inference", window_minutes=5)  # doctest: +SKIP
    >>> monitor.check_alerts()                                               # doctest: +SKIP
    []
"""

from __future__ import annotations

import logging
import math
import operator
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from .._validate import check_name, check_positive_int, check_real, check_window_minutes, operation_name
from ..stats import PerformanceStats

__all__ = [
    "METRICS",
    "PROCESS_METRICS",
    "PROVIDED_METRICS",
    "AlertRule",
    "AlertEvent",
    "AlertEngine",
    "metric_value",
]

_log = logging.getLogger("ragperf")

#: Metrics a rule can watch, with their meaning (per operation, over the window).
METRICS: dict[str, str] = {
    "p50_latency_s": "median duration (s)",
    "p95_latency_s": "95th percentile duration (s)",
    "p99_latency_s": "99th percentile duration (s)",
    "avg_latency_s": "mean duration (s)",
    "error_rate": "failed / total records (0..1)",
    "tokens_per_second": "total tokens / total duration",
    "output_tokens_per_second": "completion tokens per second (streams: after the first token)",
    "requests_per_second": "records per second over the window",
    "process_rss_mb": "process resident memory now (MB); not per operation",
    "slo_burn_rate": "an SLO's fast-burn rate: the lower of its 1 h and 5 min burn rates (rules made by add_slo)",
}
#: Metrics whose values a provider computes (see :meth:`AlertEngine.set_provider`).
PROVIDED_METRICS = frozenset({"slo_burn_rate"})
#: Metrics of the whole process: their rules take no operation and no window.
PROCESS_METRICS = frozenset({"process_rss_mb"})
#: Metrics that are judged even with fewer than ``min_count`` records.
_COUNT_FREE = frozenset({"requests_per_second"}) | PROCESS_METRICS

_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_SEVERITIES = ("warning", "critical")
ALL_OPERATIONS = "*"

AlertCallback = Callable[["AlertEvent"], object]
#: Computes a provided metric for a rule at ``now_s``: ``[(operation, value, count), ...]``.
MetricProvider = Callable[["AlertRule", float], "list[tuple[str, float | None, int | None]]"]


def metric_value(metric: str, stats: PerformanceStats) -> float | None:
    """The value of a per-operation ``metric`` in ``stats``; None when the
    window holds nothing to judge it by (no records, no tokens).

    Example:
        >>> metric_value("error_rate", monitor.get_operation_stats("x", window_minutes=5))  # doctest: +SKIP
        0.25
    """
    if metric == "requests_per_second":
        return stats.requests_per_second
    if metric in PROVIDED_METRICS:
        return None  # computed by its provider, not from one operation's stats
    if stats.total_operations == 0:
        return None
    if metric == "error_rate":
        return stats.error_rate
    if metric == "tokens_per_second":
        return stats.tokens_per_second if stats.total_tokens > 0 and stats.total_duration > 0 else None
    if metric == "output_tokens_per_second":
        if stats.output_tokens_per_second is not None:
            return stats.output_tokens_per_second
        if stats.completion_tokens > 0 and stats.total_duration > 0:
            return stats.completion_tokens / stats.total_duration
        return None
    field_name = {
        "p50_latency_s": "p50_duration",
        "p95_latency_s": "p95_duration",
        "p99_latency_s": "p99_duration",
        "avg_latency_s": "avg_duration",
    }[metric]
    return float(getattr(stats, field_name))


@dataclass(frozen=True)
class AlertRule:
    """A threshold on a metric: the alert is active while
    ``metric <comparison> threshold`` holds (for ``for_s`` seconds first).

    Args:
        name: unique name of the rule (1..200 characters).
        metric: one of :data:`METRICS`.
        threshold: a finite number in the metric's unit.
        operation: an operation name (or OperationType), or ``"*"`` for every
            operation, each with its own alert; ``"*"`` for process metrics.
        window_minutes: 1..60, the window of the statistics.
        comparison: ``">"``, ``">="``, ``"<"`` or ``"<="``.
        severity: ``"warning"`` or ``"critical"`` (the health status while active).
        for_s: seconds the condition must hold before the alert fires.
        min_count: records the window needs before the rule judges it (fewer:
            the state is kept; none at all: an active alert resolves).
        callback: called with an :class:`AlertEvent` on firing and resolving.

    Example:
        >>> rule = AlertRule("errors", "error_rate", 0.1, operation="*", min_count=20)
        >>> rule.comparison
        '>'
    """

    name: str
    metric: str
    threshold: float
    operation: str = ALL_OPERATIONS
    window_minutes: int = 5
    comparison: str = ">"
    severity: str = "warning"
    for_s: float = 0.0
    min_count: int = 1
    callback: AlertCallback | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_name(self.name, "alert rule name")
        if not isinstance(self.metric, str) or self.metric not in METRICS:
            raise ValueError(f"unknown alert metric {self.metric!r}; known: {', '.join(METRICS)}")
        threshold = check_real(self.threshold, "threshold")
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite number, got {self.threshold!r}")
        op = self.operation
        if self.metric in PROCESS_METRICS and op != ALL_OPERATIONS:
            raise ValueError(f"{self.metric} is a process metric: operation must be '*', got {op!r}")
        op = ALL_OPERATIONS if op == ALL_OPERATIONS else operation_name(op)
        window = check_window_minutes(self.window_minutes)
        if self.comparison not in _COMPARISONS:
            raise ValueError(f"comparison must be one of {', '.join(_COMPARISONS)}, got {self.comparison!r}")
        if self.severity not in _SEVERITIES:
            raise ValueError(f"severity must be 'warning' or 'critical', got {self.severity!r}")
        for_s = check_real(self.for_s, "for_s", "a number of seconds")
        if not (0 <= for_s < math.inf):
            raise ValueError(f"for_s must be a finite number of seconds >= 0, got {self.for_s!r}")
        min_count = check_positive_int(self.min_count, "min_count")
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable, got {self.callback!r}")
        for name, value in (
            ("operation", op),
            ("threshold", threshold),
            ("window_minutes", window),
            ("for_s", for_s),
            ("min_count", min_count),
        ):
            object.__setattr__(self, name, value)

    @property
    def is_process_metric(self) -> bool:
        """Whether the metric describes the process, not an operation."""
        return self.metric in PROCESS_METRICS

    def holds(self, value: float) -> bool:
        """Whether ``value`` breaks the threshold.

        Example:
            >>> AlertRule("r", "error_rate", 0.1).holds(0.2)
            True
        """
        return _COMPARISONS[self.comparison](value, self.threshold)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (the callback is only named).

        Example:
            >>> AlertRule("r", "error_rate", 0.1).to_dict()["metric"]
            'error_rate'
        """
        return {
            "name": self.name,
            "metric": self.metric,
            "threshold": self.threshold,
            "operation": self.operation,
            "window_minutes": None if self.is_process_metric else self.window_minutes,
            "comparison": self.comparison,
            "severity": self.severity,
            "for_s": self.for_s,
            "min_count": self.min_count,
            "has_callback": self.callback is not None,
        }


@dataclass(frozen=True)
class AlertEvent:
    """One transition of an alert: ``state`` is ``"firing"`` or
    ``"resolved"``. ``operation`` is the concrete operation (``"*"`` for
    process metrics); ``value`` the metric when it was checked (None when the
    window had no data); ``count`` the records in the window; ``since_s``
    when the alert started firing.

    Example:
        >>> event = monitor.get_active_alerts()[0]   # doctest: +SKIP
        >>> event.describe()                          # doctest: +SKIP
        'alert slow_llm: p95_latency_s of llm_inference = 6.2 > 5 (last 5 min, 40 records)'
    """

    rule: str
    metric: str
    operation: str
    state: str
    value: float | None
    threshold: float
    comparison: str
    severity: str
    window_minutes: int | None
    count: int | None
    timestamp_s: float
    since_s: float

    def describe(self) -> str:
        """A one-line message (used in logs and health issues).

        Example:
            >>> monitor.get_active_alerts()[0].describe()   # doctest: +SKIP
        """
        subject = "process" if self.metric in PROCESS_METRICS else self.operation
        value = "no data" if self.value is None else f"{self.value:.4g}"
        where = "" if self.window_minutes is None else f"last {self.window_minutes} min, "
        counted = "" if self.count is None else f"{self.count} records"
        detail = f" ({where}{counted})".replace(", )", ")") if where or counted else ""
        if self.state == "resolved":
            return f"alert {self.rule} resolved: {self.metric} of {subject} = {value}{detail}"
        return (
            f"alert {self.rule}: {self.metric} of {subject} = {value} "
            f"{self.comparison} {self.threshold:g}{detail}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields plus ``message`` (:meth:`describe`).

        Example:
            >>> monitor.get_active_alerts()[0].to_dict()["severity"]   # doctest: +SKIP
            'warning'
        """
        return {
            "rule": self.rule,
            "metric": self.metric,
            "operation": self.operation,
            "state": self.state,
            "value": self.value,
            "threshold": self.threshold,
            "comparison": self.comparison,
            "severity": self.severity,
            "window_minutes": self.window_minutes,
            "count": self.count,
            "timestamp_s": self.timestamp_s,
            "since_s": self.since_s,
            "message": self.describe(),
        }


class StatsSource(Protocol):
    """What the engine reads: the monitor's operations, windowed stats and RSS
    (the monitor provides one; tests may pass their own).

    Example:
        >>> engine = AlertEngine(source)   # doctest: +SKIP
    """

    def operations(self) -> list[str]: ...
    def window_stats(self, operation: str, window_minutes: int, now_s: float) -> PerformanceStats: ...
    def rss_mb(self) -> float: ...


@dataclass
class _State:
    pending_since: float | None = None
    firing: AlertEvent | None = None


class AlertEngine:
    """The rules of one monitor and the state of their alerts. Thread-safe;
    callbacks run outside the engine's lock (they may read the monitor).

    Example:
        >>> engine = monitor.alerts.engine         # doctest: +SKIP
        >>> engine.evaluate(now_s=time.time())     # doctest: +SKIP
        []
    """

    def __init__(self, source: StatsSource) -> None:
        self._source = source
        self._rules: dict[str, AlertRule] = {}
        self._states: dict[tuple[str, str], _State] = {}
        self._lock = threading.Lock()
        self._failed_callbacks: set[str] = set()
        self.callback_errors = 0
        self.evaluations = 0
        self._providers: dict[str, MetricProvider] = {}

    def set_provider(self, metric: str, provider: MetricProvider) -> None:
        """Lets ``provider(rule, now_s)`` compute the values of a metric of
        :data:`PROVIDED_METRICS` for rules that watch it (e.g. the SLO
        component's burn rates); its rules then fire and resolve like any.

        Example:
            >>> engine.set_provider("slo_burn_rate", lambda rule, now_s: [])   # doctest: +SKIP
        """
        if metric not in PROVIDED_METRICS:
            raise ValueError(f"{metric!r} is not a provided metric")
        with self._lock:
            self._providers[metric] = provider

    def add(self, rule: AlertRule) -> None:
        """Registers ``rule``; ValueError when its name is taken.

        Example:
            >>> engine.add(AlertRule("errors", "error_rate", 0.1))   # doctest: +SKIP
        """
        with self._lock:
            if rule.name in self._rules:
                raise ValueError(f"an alert rule named {rule.name!r} exists; remove it first")
            self._rules[rule.name] = rule

    def remove(self, name: str) -> bool:
        """Forgets the rule ``name`` and its alerts (no resolve event); True if it existed.

        Example:
            >>> engine.remove("errors")   # doctest: +SKIP
            True
        """
        with self._lock:
            if self._rules.pop(name, None) is None:
                return False
            for key in [k for k in self._states if k[0] == name]:
                del self._states[key]
            return True

    def rules(self) -> list[AlertRule]:
        """The registered rules, in the order they were added.

        Example:
            >>> [r.name for r in engine.rules()]   # doctest: +SKIP
            ['errors']
        """
        with self._lock:
            return list(self._rules.values())

    def active(self) -> list[AlertEvent]:
        """The alerts firing now (as of the last evaluation).

        Example:
            >>> engine.active()   # doctest: +SKIP
            []
        """
        with self._lock:
            return [s.firing for s in self._states.values() if s.firing is not None]

    def evaluate(self, now_s: float) -> list[AlertEvent]:
        """Checks every rule at ``now_s`` and returns the transitions (fired
        and resolved alerts) of this check; logs them and calls the callbacks.

        Example:
            >>> engine.evaluate(time.time())   # doctest: +SKIP
            []
        """
        with self._lock:
            rules = list(self._rules.values())
        if not rules:
            return []
        operations: list[str] | None = None
        observations: list[tuple[AlertRule, str, float | None, int | None]] = []
        for rule in rules:
            if rule.is_process_metric:
                observations.append((rule, ALL_OPERATIONS, self._source.rss_mb(), None))
                continue
            if rule.metric in PROVIDED_METRICS:
                provider = self._providers.get(rule.metric)
                for op, value, count in provider(rule, now_s) if provider is not None else []:
                    if not (count and count < rule.min_count):
                        observations.append((rule, op, value, count))
                continue
            if rule.operation == ALL_OPERATIONS:
                if operations is None:
                    operations = self._source.operations()
                with self._lock:
                    held = {op for (name, op) in self._states if name == rule.name}
                targets = sorted(set(operations) | held)
            else:
                targets = [rule.operation]
            for op in targets:
                stats = self._source.window_stats(op, rule.window_minutes, now_s)
                count = stats.total_operations
                if count and count < rule.min_count and rule.metric not in _COUNT_FREE:
                    continue  # too few records to judge: keep the current state
                observations.append((rule, op, metric_value(rule.metric, stats), count))
        events = self._advance(observations, now_s)
        for event in events:
            self._announce(event)
        return events

    def _advance(
        self, observations: Iterable[tuple[AlertRule, str, float | None, int | None]], now_s: float
    ) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        with self._lock:
            self.evaluations += 1
            for rule, op, value, count in observations:
                if self._rules.get(rule.name) is not rule:
                    continue  # removed (or replaced) while we were reading
                key = (rule.name, op)
                state = self._states.get(key) or _State()
                breaking = value is not None and rule.holds(value)
                if breaking:
                    if state.pending_since is None:
                        state.pending_since = now_s
                    if state.firing is None and now_s - state.pending_since >= rule.for_s:
                        state.firing = self._event(rule, op, "firing", value, count, now_s, now_s)
                        events.append(state.firing)
                    elif state.firing is not None:
                        # Still firing: keep the latest value for health and report.
                        state.firing = self._event(
                            rule, op, "firing", value, count, now_s, state.firing.since_s
                        )
                    self._states[key] = state
                elif state.firing is not None:
                    events.append(
                        self._event(rule, op, "resolved", value, count, now_s, state.firing.since_s)
                    )
                    self._states.pop(key, None)
                else:
                    self._states.pop(key, None)
        return events

    @staticmethod
    def _event(
        rule: AlertRule,
        op: str,
        state: str,
        value: float | None,
        count: int | None,
        now_s: float,
        since_s: float,
    ) -> AlertEvent:
        return AlertEvent(
            rule=rule.name,
            metric=rule.metric,
            operation=op,
            state=state,
            value=value,
            threshold=rule.threshold,
            comparison=rule.comparison,
            severity=rule.severity,
            window_minutes=None if rule.is_process_metric else rule.window_minutes,
            count=count,
            timestamp_s=now_s,
            since_s=since_s,
        )

    def _announce(self, event: AlertEvent) -> None:
        if event.state == "firing":
            _log.warning("ragperf: %s", event.describe())
        else:
            _log.info("ragperf: %s", event.describe())
        with self._lock:
            rule = self._rules.get(event.rule)
        if rule is None or rule.callback is None:
            return
        try:
            rule.callback(event)
        except Exception:  # a user's callback must never break the caller
            with self._lock:
                self.callback_errors += 1
                first = event.rule not in self._failed_callbacks
                self._failed_callbacks.add(event.rule)
            if first:
                _log.exception(
                    "ragperf: the callback of alert rule %r failed (later failures are only counted)",
                    event.rule,
                )


def wall_clock() -> float:
    """The default evaluation clock (unix seconds).

    Example:
        >>> wall_clock() > 1.7e9
        True
    """
    return time.time()
