"""get_health_status: statuses, issues and thresholds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ragperf import MemoryMonitor, OperationType, PerformanceMonitor

HIGH_LIMIT_MB = 1e9  # far above any real RSS


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False, memory_threshold_mb=HIGH_LIMIT_MB)
    yield m
    m.clear_metrics()


def check_shape(health: dict[str, object]) -> None:
    assert set(health) >= {"status", "memory_mb", "total_operations", "issues"}
    assert health["status"] in ("healthy", "warning")
    assert isinstance(health["memory_mb"], float)
    assert type(health["total_operations"]) is int
    assert isinstance(health["issues"], list)
    assert all(isinstance(i, str) for i in health["issues"])
    assert (health["status"] == "healthy") == (health["issues"] == [])


def test_default_monitor_is_healthy() -> None:
    rss = MemoryMonitor().get_current_usage()["rss_mb"]
    if rss >= 900:
        pytest.skip(f"this test process already uses {rss:.0f} MB, near the default 1000 MB limit")
    m = PerformanceMonitor()
    health = m.get_health_status()
    check_shape(health)
    assert health == {
        "status": "healthy",
        "memory_mb": health["memory_mb"],
        "total_operations": 0,
        "issues": [],
    }
    assert health["memory_mb"] > 0
    assert m.memory_threshold_mb == 1000.0
    assert m.error_rate_threshold == pytest.approx(0.10)


def test_healthy_with_successful_operations(monitor: PerformanceMonitor) -> None:
    for _ in range(10):
        with monitor.track_operation(OperationType.LLM_INFERENCE):
            pass
    health = monitor.get_health_status()
    check_shape(health)
    assert health["status"] == "healthy"
    assert health["total_operations"] == 10


def test_error_rate_above_ten_percent_warns(monitor: PerformanceMonitor) -> None:
    for i in range(9):
        monitor.record("flaky_retriever", 0.1, success=i != 0)  # 1 of 9 = 11.1%
    for _ in range(20):
        monitor.record("solid_step", 0.1)
    health = monitor.get_health_status()
    check_shape(health)
    assert health["status"] == "warning"
    assert health["total_operations"] == 29
    assert len(health["issues"]) == 1
    assert "flaky_retriever" in health["issues"][0]
    assert "solid_step" not in " ".join(health["issues"])


def test_error_rate_exactly_at_threshold_is_healthy(monitor: PerformanceMonitor) -> None:
    for i in range(10):
        monitor.record("edge", 0.1, success=i != 0)  # exactly 10%, not above
    assert monitor.get_health_status()["status"] == "healthy"


def test_failures_from_blocks_warn(monitor: PerformanceMonitor) -> None:
    for i in range(4):
        try:
            with monitor.track_operation(OperationType.RERANKING):
                if i % 2:
                    raise ValueError
        except ValueError:
            pass
    health = monitor.get_health_status()
    assert health["status"] == "warning"
    assert any("reranking" in issue for issue in health["issues"])


def test_one_issue_per_failing_operation(monitor: PerformanceMonitor) -> None:
    monitor.record("a_step", 0.1, success=False)
    monitor.record("b_step", 0.1, success=False)
    monitor.record("c_step", 0.1)
    issues = monitor.get_health_status()["issues"]
    assert len(issues) == 2
    assert any("a_step" in i for i in issues)
    assert any("b_step" in i for i in issues)


def test_low_memory_threshold_warns(monitor: PerformanceMonitor) -> None:
    monitor.memory_threshold_mb = 1.0
    health = monitor.get_health_status()
    check_shape(health)
    assert health["status"] == "warning"
    assert len(health["issues"]) == 1
    assert "memory" in health["issues"][0].lower()
    monitor.memory_threshold_mb = HIGH_LIMIT_MB
    assert monitor.get_health_status()["status"] == "healthy"


def test_memory_threshold_via_constructor() -> None:
    m = PerformanceMonitor(memory_threshold_mb=0.5)
    health = m.get_health_status()
    assert health["status"] == "warning"
    assert any("memory" in i.lower() for i in health["issues"])


def test_memory_and_error_issues_together(monitor: PerformanceMonitor) -> None:
    monitor.memory_threshold_mb = 1.0
    monitor.record("broken", 0.1, success=False)
    issues = monitor.get_health_status()["issues"]
    assert len(issues) == 2
    assert any("memory" in i.lower() for i in issues)
    assert any("broken" in i for i in issues)


def test_error_rate_threshold_is_configurable(monitor: PerformanceMonitor) -> None:
    for i in range(4):
        monitor.record("half", 0.1, success=i % 2 == 0)  # 50%
    assert monitor.get_health_status()["status"] == "warning"
    monitor.error_rate_threshold = 0.5
    assert monitor.error_rate_threshold == 0.5
    assert monitor.get_health_status()["status"] == "healthy"
    monitor.error_rate_threshold = 0.0
    monitor.record("rare", 0.1)
    issues = monitor.get_health_status()["issues"]
    assert any("half" in i for i in issues)
    assert not any("rare" in i for i in issues)
    m = PerformanceMonitor(error_rate_threshold=1.0, memory_threshold_mb=HIGH_LIMIT_MB)
    m.record("all_fail", 0.1, success=False)
    assert m.get_health_status()["status"] == "healthy"


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_memory_threshold_validation(monitor: PerformanceMonitor, bad: float) -> None:
    with pytest.raises(ValueError):
        monitor.memory_threshold_mb = bad
    with pytest.raises(ValueError):
        PerformanceMonitor(memory_threshold_mb=bad)
    assert monitor.memory_threshold_mb == HIGH_LIMIT_MB


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("nan")])
def test_error_rate_threshold_validation(monitor: PerformanceMonitor, bad: float) -> None:
    with pytest.raises(ValueError):
        monitor.error_rate_threshold = bad
    with pytest.raises(ValueError):
        PerformanceMonitor(error_rate_threshold=bad)
    assert monitor.error_rate_threshold == pytest.approx(0.10)


def test_clear_metrics_restores_health(monitor: PerformanceMonitor) -> None:
    monitor.record("broken", 0.1, success=False)
    assert monitor.get_health_status()["status"] == "warning"
    monitor.clear_metrics()
    health = monitor.get_health_status()
    assert health["status"] == "healthy"
    assert health["total_operations"] == 0


def test_seed_health_check_loop(monitor: PerformanceMonitor) -> None:
    # seed "Monitor Health" snippet
    monitor.record(OperationType.LLM_INFERENCE, 0.1, success=False)
    logged: list[str] = []
    health = monitor.get_health_status()
    if health["status"] == "warning":
        logged.append(f"Health issues: {health['issues']}")
    assert logged and "llm_inference" in logged[0]
    if health["status"] != "healthy":
        pass
