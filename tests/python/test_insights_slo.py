"""SLOs (issue #21): burn rates from the one-minute windows within 25% of
the planted value, and the multi-window fast-burn alert (14.4x over 1 h and
5 min) firing once and resolving once through the alert engine. Records
are placed at chosen timestamps; nothing sleeps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ragperf import PerformanceMonitor
from ragperf.watch.alert_rules import AlertEvent
from _clock_helpers import T0, record_at



def hour_of_traffic(
    monitor: PerformanceMonitor, end_s: float, *, slow: int = 0, failed: int = 0, minutes: int = 60
) -> None:
    """``minutes`` minutes before ``end_s``, 100 calls a minute: ``slow``
    of them 2 s (over a 1 s objective), ``failed`` failed, the rest 0.2 s."""
    for k in range(minutes):
        t = end_s - 60 * minutes + 30 + 60 * k
        record_at(monitor, "llm_inference", 2.0, t, times=slow)
        record_at(monitor, "llm_inference", 0.2, t, success=False, times=failed)
        record_at(monitor, "llm_inference", 0.2, t, times=100 - slow - failed)


def status(monitor: PerformanceMonitor, now: float) -> dict[str, Any]:
    (s,) = monitor.get_slo_status(now=now)
    json.dumps(s)
    return s


@pytest.mark.parametrize(
    ("slow", "failed", "planted"),
    [(3, 0, 3.0), (0, 5, 5.0), (10, 5, 15.0), (20, 0, 20.0)],
)
def test_burn_rate_is_within_25_percent_of_the_planted_value(
    monitor: PerformanceMonitor, slow: int, failed: int, planted: float
) -> None:
    monitor.add_slo("llm_inference", latency_s=1.0, objective=0.99)
    hour_of_traffic(monitor, T0, slow=slow, failed=failed)
    s = status(monitor, T0)
    assert s["records_1h"] == 6000 and s["records_5m"] == 500
    for key in ("burn_rate_1h", "burn_rate_5m"):
        assert abs(s[key] / planted - 1) <= 0.25, (key, s[key], planted)
    assert s["error_budget_remaining"] == pytest.approx(1 - planted)
    assert s["alerting"] is (planted >= 14.4)


def test_fast_burn_fires_once_and_resolves_once(monitor: PerformanceMonitor) -> None:
    events: list[AlertEvent] = []
    monitor.add_slo("llm_inference", latency_s=1.0, objective=0.99, on_alert=events.append)
    hour_of_traffic(monitor, T0, slow=20)
    fired = monitor.check_alerts(now=T0)
    assert [(e.rule, e.state, e.severity) for e in fired] == [("slo:llm_inference", "firing", "critical")]
    assert fired[0].value == pytest.approx(20.0)
    for dt in (1, 10, 30):  # still burning: no second event
        assert monitor.check_alerts(now=T0 + dt) == []
    assert [a.rule for a in monitor.get_active_alerts()] == ["slo:llm_inference"]
    monitor.set_evaluation_clock(lambda: T0 + 31)
    health = monitor.get_health_status()
    assert health["status"] == "critical"
    assert any("slo:llm_inference" in issue for issue in health["issues"])
    # The fix: six minutes of good calls. The 1 h burn is still high, the
    # 5 min one is 0, so the alert resolves.
    for k in range(1, 7):
        record_at(monitor, "llm_inference", 0.2, T0 + 60 * k, times=100)
    resolved = monitor.check_alerts(now=T0 + 6 * 60 + 1)
    assert [(e.state, e.since_s) for e in resolved] == [("resolved", T0)]
    s = status(monitor, T0 + 6 * 60 + 2)
    assert s["burn_rate_1h"] > 14.4 and s["burn_rate_5m"] == 0.0 and not s["alerting"]
    assert monitor.check_alerts(now=T0 + 6 * 60 + 3) == []
    assert [e.state for e in events] == ["firing", "resolved"]


def test_only_one_window_burning_does_not_alert(monitor: PerformanceMonitor) -> None:
    monitor.add_slo("llm_inference", latency_s=1.0, objective=0.99)
    hour_of_traffic(monitor, T0 - 300, minutes=55)  # 55 good minutes
    hour_of_traffic(monitor, T0, slow=30, minutes=5)  # then 5 bad ones
    s = status(monitor, T0)
    assert s["burn_rate_5m"] == pytest.approx(30.0)
    assert s["burn_rate_1h"] == pytest.approx(30.0 * 5 / 60)
    assert s["alerting"] is False
    assert monitor.get_active_alerts() == []


def test_availability_slo_and_report(monitor: PerformanceMonitor) -> None:
    monitor.add_slo("llm_inference", objective=0.999, name="availability")
    hour_of_traffic(monitor, T0, slow=50, failed=2)  # slow calls are fine here
    s = status(monitor, T0)
    assert s["latency_s"] is None and s["burn_rate_1h"] == pytest.approx(20.0)
    monitor.set_evaluation_clock(lambda: T0 + 1)
    report = monitor.generate_report()
    assert [x["name"] for x in report["slos"]] == ["availability"]
    assert report["slos"][0]["alerting"] is True
    assert [a["rule"] for a in report["alerts"]["active"]] == ["availability"]
    assert monitor.remove_slo("availability") is True
    assert monitor.remove_slo("availability") is False
    assert monitor.get_slo_status(now=T0) == [] and monitor.get_active_alerts() == []


def test_no_records_no_burn(monitor: PerformanceMonitor) -> None:
    monitor.add_slo("llm_inference", latency_s=1.0)
    s = status(monitor, T0)
    assert (s["burn_rate_1h"], s["burn_rate_5m"], s["error_budget_remaining"]) == (None, None, None)
    assert s["alerting"] is False


def test_bad_input_raises_clear_errors(monitor: PerformanceMonitor) -> None:
    with pytest.raises(ValueError, match="objective"):
        monitor.add_slo("x", objective=1.0)
    with pytest.raises(TypeError, match="objective"):
        monitor.add_slo("x", objective="99%")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latency_s"):
        monitor.add_slo("x", latency_s=0)
    with pytest.raises(ValueError, match="severity"):
        monitor.add_slo("x", severity="page")
    monitor.add_slo("x", latency_s=1.0)
    with pytest.raises(ValueError, match="exists"):
        monitor.add_slo("x", latency_s=2.0)
    monitor.add_alert_rule("taken", "p95_latency_s", 1.0)
    with pytest.raises(ValueError, match="exists"):
        monitor.add_slo("x", name="taken")
    with pytest.raises(ValueError, match="add_slo"):
        monitor.add_alert_rule("sneaky", "slo_burn_rate", 14.4)
