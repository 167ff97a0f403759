"""Service level objectives and their burn rates (``monitor.slos``;
``monitor.add_slo``, ``monitor.get_slo_status``).

An SLO says "at least ``objective`` of the calls of ``operation`` are good",
where a good call succeeded and (with ``latency_s``) took at most
``latency_s``. Its **error budget** is ``1 - objective`` (1% for 0.99). The
**burn rate** over a window is the fraction of bad calls in it divided by
the budget: 1 spends the budget exactly over the SLO period, 14.4 spends 2%
of a 30-day budget in one hour.

**Alerting** follows the multi-window fast-burn rule of Google's SRE
workbook ("Alerting on SLOs"): alert while the burn rate is at least 14.4
over the last hour *and* over the last 5 minutes (the long window proves it
is significant, the short one that it is still happening, so the alert
resolves within minutes of a fix). Each SLO is an alert rule of the
monitor's alert engine (metric ``slo_burn_rate``, value = the lower of the
two burn rates, ``>= 14.4``): it fires once and resolves once, logs on the
``ragperf`` logger, calls ``on_alert(event)``, shows in
``get_active_alerts()``, the report's ``alerts`` and the health (critical by
default), and the background alert evaluator checks it.

**Data.** The windows are the monitor's one-minute windows (the current
partial minute plus 60, resp. 5, whole minutes). The calls over
``latency_s`` come from the window's merged duration sketch (to its
resolution, 0.5% by default); failed calls from the window's counts. A
failed call slower than ``latency_s`` counts as two bad calls (the windows
keep no joint count), capped at the window's total: the burn rate errs high,
never low. ``error_budget_remaining`` is ``1 - bad fraction / budget`` over
every record since the monitor started or was cleared (ragperf keeps no
30-day window); below 0 the budget is spent.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> monitor = PerformanceMonitor()
    >>> slo = monitor.add_slo("llm_inference", latency_s=2.0, objective=0.99)
    >>> slo["name"], slo["burn_rate_threshold"]
    ('slo:llm_inference', 14.4)
    >>> monitor.get_slo_status()[0]["alerting"]
    False
"""

from __future__ import annotations

import math
import threading
from typing import Any, Final

from .. import _core
from .._component import Component, ReportSection
from .._core import Monitor as CoreMonitor
from .._validate import check_name, check_positive_int, check_real, operation_name
from .alert_rules import AlertCallback, AlertEvent, AlertRule
from .alerts import Alerts
from .clock import EvaluationClock

__all__ = ["FAST_BURN_RATE", "LONG_WINDOW_MINUTES", "SHORT_WINDOW_MINUTES", "Slos", "burn_rate"]

#: The SRE workbook's fast-burn threshold (2% of a 30-day budget in 1 h).
FAST_BURN_RATE: Final = 14.4
#: The two windows of the fast-burn rule.
LONG_WINDOW_MINUTES: Final = 60
SHORT_WINDOW_MINUTES: Final = 5
_METRIC: Final = "slo_burn_rate"


def burn_rate(total: int, bad: int, objective: float) -> float | None:
    """``(bad / total) / (1 - objective)``; None without records.

    Example:
        >>> round(burn_rate(1000, 150, 0.99), 6)
        15.0
    """
    if total <= 0:
        return None
    return (min(bad, total) / total) / (1.0 - objective)


class Slos(Component):
    """The SLOs of one monitor (see the module). Report key ``slos``; the
    alerts and their health issues are the alert engine's.

    Example:
        >>> monitor.slos.status()  # doctest: +SKIP
        []
    """

    def __init__(self, core: CoreMonitor, alerts: Alerts, clock: EvaluationClock) -> None:
        self._core = core
        self._alerts = alerts
        self._clock = clock
        self._slos: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        alerts.engine.set_provider(_METRIC, self._observe)

    def add(
        self,
        operation: Any,
        latency_s: float | None = None,
        objective: float = 0.99,
        *,
        on_alert: AlertCallback | None = None,
        name: str | None = None,
        severity: str = "critical",
        min_count: int = 1,
    ) -> dict[str, Any]:
        """Adds an SLO: at least ``objective`` (0 < objective < 1) of the
        calls of ``operation`` succeed and, with ``latency_s``, take at most
        ``latency_s`` seconds. It alerts (``severity``; ``on_alert(event)``
        on firing and on resolving) while the burn rate is >= 14.4 over the
        last hour and the last 5 minutes, judged with at least ``min_count``
        records in the last hour. ``name`` defaults to
        ``"slo:<operation>"`` (the alert rule's name). Returns the SLO's
        description; ValueError for a taken name or a bad value.

        Example:
            >>> monitor.add_slo("document_retrieval", latency_s=0.5, objective=0.999)["objective"]  # doctest: +SKIP
            0.999
        """
        op = operation_name(operation)
        goal = check_real(objective, "objective")
        if not 0 < goal < 1:
            raise ValueError(f"objective must be between 0 and 1 (exclusive), got {objective!r}")
        limit: float | None = None
        if latency_s is not None:
            limit = check_real(latency_s, "latency_s", "a number of seconds")
            if not (limit > 0 and math.isfinite(limit)):
                raise ValueError(f"latency_s must be a positive finite number of seconds, got {latency_s!r}")
        slo_name = check_name(f"slo:{op}" if name is None else name, "SLO name")
        rule = AlertRule(
            name=slo_name,
            metric=_METRIC,
            threshold=FAST_BURN_RATE,
            operation=op,
            window_minutes=LONG_WINDOW_MINUTES,
            comparison=">=",
            severity=severity,
            min_count=check_positive_int(min_count, "min_count"),
            callback=on_alert,
        )
        slo = {
            "name": slo_name,
            "operation": op,
            "objective": goal,
            "latency_s": limit,
            "burn_rate_threshold": FAST_BURN_RATE,
            "windows_minutes": [LONG_WINDOW_MINUTES, SHORT_WINDOW_MINUTES],
            "severity": severity,
        }
        with self._lock:
            if slo_name in self._slos:
                raise ValueError(f"an SLO named {slo_name!r} exists; remove it first")
            self._alerts.engine.add(rule)  # ValueError when an alert rule has the name
            self._slos[slo_name] = slo
        return dict(slo)

    def remove(self, name: str) -> bool:
        """Removes an SLO and its alert (no resolve event); True if it existed.

        Example:
            >>> monitor.remove_slo("slo:llm_inference")  # doctest: +SKIP
            True
        """
        with self._lock:
            if self._slos.pop(name, None) is None:
                return False
        self._alerts.engine.remove(name)
        return True

    def _window(self, slo: dict[str, Any], minutes: int, now_s: float) -> tuple[int, int]:
        """(records, bad records) of ``slo`` over a window (0 = all time)."""
        op = slo["operation"]
        if minutes:
            stats = self._core.get_window_stats(op, minutes, now_s)
        else:
            stats = self._core.get_stats(op)
        total, failed = int(stats["total"]), int(stats["failed"])
        slow = 0
        if slo["latency_s"] is not None and total:
            sketch = _core.QuantileSketch.deserialize(self._core.get_sketch(op, minutes, now_s))
            slow = int(sketch.count) - int(sketch.count_at_most(slo["latency_s"]))
        return total, min(total, failed + slow)

    def _status(self, slo: dict[str, Any], now_s: float, active: dict[str, AlertEvent]) -> dict[str, Any]:
        goal = slo["objective"]
        long_n, long_bad = self._window(slo, LONG_WINDOW_MINUTES, now_s)
        short_n, short_bad = self._window(slo, SHORT_WINDOW_MINUTES, now_s)
        all_n, all_bad = self._window(slo, 0, now_s)
        event = active.get(slo["name"])
        return {
            **slo,
            "burn_rate_1h": burn_rate(long_n, long_bad, goal),
            "burn_rate_5m": burn_rate(short_n, short_bad, goal),
            "records_1h": long_n,
            "bad_1h": long_bad,
            "records_5m": short_n,
            "bad_5m": short_bad,
            "error_budget_remaining": None if all_n == 0 else 1.0 - (all_bad / all_n) / (1.0 - goal),
            "alerting": event is not None,
            "alerting_since_s": None if event is None else event.since_s,
            "evaluated_at_s": now_s,
        }

    def _observe(self, rule: AlertRule, now_s: float) -> list[tuple[str, float | None, int | None]]:
        with self._lock:
            slo = self._slos.get(rule.name)
        if slo is None:
            return []
        long_n, long_bad = self._window(slo, LONG_WINDOW_MINUTES, now_s)
        short_n, short_bad = self._window(slo, SHORT_WINDOW_MINUTES, now_s)
        rates = (burn_rate(long_n, long_bad, slo["objective"]), burn_rate(short_n, short_bad, slo["objective"]))
        value = None if rates[0] is None or rates[1] is None else min(rates[0], rates[1])
        return [(slo["operation"], value, long_n)]

    def _all_status(self, now_s: float) -> list[dict[str, Any]]:
        with self._lock:
            slos = [dict(s) for s in self._slos.values()]
        active = {a.rule: a for a in self._alerts.engine.active()}
        return [self._status(slo, now_s, active) for slo in slos]

    def status(self, now: float | None = None) -> list[dict[str, Any]]:
        """Checks the alert rules (the SLOs' too) at ``now`` (default: the
        evaluation clock) and returns one dict per SLO: its definition plus
        ``burn_rate_1h``, ``burn_rate_5m`` (None without records),
        ``records_1h``/``bad_1h``, ``records_5m``/``bad_5m``,
        ``error_budget_remaining`` (all records so far), ``alerting`` and
        ``alerting_since_s``.

        Example:
            >>> [s["burn_rate_1h"] for s in monitor.get_slo_status()]  # doctest: +SKIP
            [0.4]
        """
        now_s = self._clock.now(now)
        self._alerts.engine.evaluate(now_s)
        return self._all_status(now_s)

    def contribute_report(self, section: ReportSection) -> None:
        """Writes ``slos`` (the status of every SLO at the report's time;
        the alerts component has checked the rules)."""
        section.add("slos", self._all_status(section.now_s))
