"""Self-observability: calibrated ns per block, records, bytes held — in
get_monitoring_overhead() and the report's "monitoring" section."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ragperf import PerformanceMonitor, format_report
from ragperf.watch import calibration as overhead


def test_overhead_fields_and_counts() -> None:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    empty = monitor.get_monitoring_overhead()
    for _ in range(30):
        with monitor.track_operation("llm"):
            pass
    for i in range(20):
        monitor.record(f"op{i}", 0.01)
    info = monitor.get_monitoring_overhead()
    assert info["records"] == 50 and info["operations"] == 21
    assert info["internal_errors"] == 0 and info["exit_hooks"] == 0
    assert info["memory_tracking"] is False
    assert info["ns_per_block"] == info["ns_per_block_memory_off"] > 0
    assert info["ns_per_block_memory_on"] > 0
    assert info["calibration_blocks"] == 2000 and info["calibration_runs"] == 3
    assert info["estimated_total_overhead_s"] == pytest.approx(50 * info["ns_per_block"] / 1e9)
    # 21 operations hold more sketches and rings than none.
    assert info["statistics_bytes"] > empty["statistics_bytes"] > 0


def test_calibration_never_records_into_the_users_monitor() -> None:
    monitor = PerformanceMonitor()
    monitor.record("llm", 0.5)
    monitor.get_monitoring_overhead(refresh=True)
    assert monitor.get_operation_count() == 1
    assert [s.operation_type for s in monitor.get_all_stats().values()] == ["llm"]
    assert monitor.get_recent_traces() == []


def test_report_monitoring_section_keeps_internal_errors() -> None:
    monitor = PerformanceMonitor()  # memory tracking on
    monitor.record("llm", 0.5)
    monitor.enable_logging()
    try:
        section = monitor.generate_report()["monitoring"]
    finally:
        monitor.disable_logging()
    assert section["internal_errors"] == 0
    assert section["exit_hooks"] == 1
    assert section["memory_tracking"] is True
    assert section["ns_per_block"] == section["ns_per_block_memory_on"]
    assert section["records"] == 1
    json.dumps(section, allow_nan=False)
    text = format_report({"monitoring": section})
    assert f"Monitoring cost: ~{section['ns_per_block']:,.0f} ns per tracked block, 1 records" in text
    assert "Monitoring cost" not in format_report({"monitoring": {"internal_errors": 0}})


def test_calibration_is_cached_and_refreshed(monkeypatch: pytest.MonkeyPatch) -> None:
    monitor = PerformanceMonitor(max_history=17)  # its own cache entry
    first = monitor.get_monitoring_overhead()["calibrated_at_s"]
    assert monitor.get_monitoring_overhead()["calibrated_at_s"] == first
    assert PerformanceMonitor(max_history=17).get_monitoring_overhead()["calibrated_at_s"] == first
    assert monitor.get_monitoring_overhead(refresh=True)["calibrated_at_s"] >= first
    calls: list[bool] = []
    real = overhead._time_blocks

    def counting(memory: bool, *args: object) -> float:
        calls.append(memory)
        return real(memory, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(overhead, "_time_blocks", counting)
    monitor.get_monitoring_overhead()
    assert calls == []  # fresh: taken from the cache
    monkeypatch.setattr(overhead, "REFRESH_S", 0.0)
    monitor.get_monitoring_overhead()
    assert calls == [False, True]  # stale: measured again, memory off and on
    with pytest.raises(TypeError, match="'yes'"):
        monitor.get_monitoring_overhead(refresh="yes")  # type: ignore[arg-type]


def test_not_calibrated_at_import_or_construction() -> None:
    code = (
        "import ragperf\n"
        "from ragperf import overhead\n"
        "m = ragperf.PerformanceMonitor()\n"
        "m.record('x', 0.1)\n"
        "m.get_health_status()\n"
        "print(len(overhead._cache))\n"
        "m.generate_report()\n"
        "print(len(overhead._cache))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "1"]
