"""Defaults, limits and schema constants are defined once, in the C++ core,
and exported as ``ragperf._core`` constants: this holds together what the C++
core does, the constants, the Python facade's signature defaults and the
table in docs/guide.md ("Defaults and limits")."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import ragperf
from ragperf import PerformanceMonitor, _core
from ragperf._dimensions import OTHER_VALUE
from ragperf.export.persistence import STATE_SCHEMA_VERSION

GUIDE = Path(__file__).parents[2] / "docs" / "guide.md"

# Constructor arguments without a core default (None = no split).
NOT_CORE = {"dimensions"}


def _facade_defaults() -> dict[str, Any]:
    params = inspect.signature(PerformanceMonitor).parameters
    return {name: p.default for name, p in params.items() if name not in NOT_CORE}


def _doc_rows() -> dict[str, str]:
    """`argument` -> the default cell of the guide's defaults table."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Defaults and limits", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| `([^`]+)` \| `(DEFAULT_[A-Z_]+)` \|$", section, re.M)
    assert rows, "no defaults table under '## Defaults and limits' in docs/guide.md"
    out = {}
    for name, value, constant in rows:
        assert constant == f"DEFAULT_{name.upper()}", (name, constant)
        out[name] = value
    return out


def test_every_facade_default_is_the_core_constant() -> None:
    defaults = _facade_defaults()
    assert len(defaults) == 13
    for name, value in defaults.items():
        constant = getattr(_core, f"DEFAULT_{name.upper()}")
        assert value == constant and type(value) is type(constant), name


def test_the_docs_table_lists_every_default_with_its_value() -> None:
    rows = _doc_rows()
    assert set(rows) == set(_facade_defaults())
    for name, cell in rows.items():
        assert cell == repr(getattr(_core, f"DEFAULT_{name.upper()}")), name


def test_the_docs_table_lists_the_limits_and_names() -> None:
    section = GUIDE.read_text(encoding="utf-8").split("## Defaults and limits", 1)[1].split("\n## ", 1)[0]
    expected = {
        "MAX_MEMORY_MAX_AGE_US": f"`{_core.MAX_MEMORY_MAX_AGE_US!r}`",
        "MAX_DURATION_S": f"`{_core.MAX_DURATION_S!r}`",
        "SAMPLER_MIN_INTERVAL_S": f"`{_core.SAMPLER_MIN_INTERVAL_S!r}` to `{_core.SAMPLER_MAX_INTERVAL_S!r}`",
        "OVERFLOW_NAME": f'`"{_core.OVERFLOW_NAME}"`',
        "STATE_SCHEMA_VERSION": f"`{_core.STATE_SCHEMA_VERSION!r}`",
    }
    for constant, cell in expected.items():
        assert re.search(rf"^\| [^|]+ \| {re.escape(cell)} \| `{constant}`", section, re.M), constant


def test_the_core_monitor_applies_the_same_defaults() -> None:
    core = _core.Monitor()  # the binding's own defaults
    monitor = PerformanceMonitor()
    for obj in (core, monitor._core):
        assert obj.memory_tracking is _core.DEFAULT_ENABLE_MEMORY_TRACKING
        assert obj.max_history == _core.DEFAULT_MAX_HISTORY
        assert obj.memory_threshold_mb == _core.DEFAULT_MEMORY_THRESHOLD_MB
        assert obj.error_rate_threshold == _core.DEFAULT_ERROR_RATE_THRESHOLD
        assert obj.memory_max_age_us == _core.DEFAULT_MEMORY_MAX_AGE_US
        assert obj.track_gpu_memory is _core.DEFAULT_TRACK_GPU_MEMORY
        assert obj.system_memory_percent_threshold == _core.DEFAULT_SYSTEM_MEMORY_PERCENT_THRESHOLD
        assert obj.gpu_memory_percent_threshold == _core.DEFAULT_GPU_MEMORY_PERCENT_THRESHOLD
        assert obj.cpu_percent_threshold == _core.DEFAULT_CPU_PERCENT_THRESHOLD
        assert obj.max_operations == _core.DEFAULT_MAX_OPERATIONS
    assert monitor._core.max_dimension_values() == _core.DEFAULT_MAX_DIMENSION_VALUES
    monitor.record("x", 0.1)
    state = monitor.generate_report()["state"]
    assert state["relative_accuracy"] == pytest.approx(_core.DEFAULT_RELATIVE_ACCURACY)
    assert _core.MemoryMonitor().max_history == _core.DEFAULT_MAX_HISTORY
    assert ragperf.MemoryMonitor().max_history == _core.DEFAULT_MAX_HISTORY
    assert ragperf.ResponseTimeTracker().max_history == _core.DEFAULT_MAX_HISTORY


def test_max_resource_samples_default_bounds_the_history() -> None:
    monitor = PerformanceMonitor()
    for _ in range(_core.DEFAULT_MAX_RESOURCE_SAMPLES + 5):
        monitor._core.sample_resources()
    assert len(monitor.get_resource_history()) == _core.DEFAULT_MAX_RESOURCE_SAMPLES


def test_memory_max_age_range_is_the_constant() -> None:
    monitor = PerformanceMonitor()
    monitor.memory_max_age_us = _core.MAX_MEMORY_MAX_AGE_US
    assert monitor.memory_max_age_us == _core.MAX_MEMORY_MAX_AGE_US
    message = f"memory_max_age_us must be between 0 and {_core.MAX_MEMORY_MAX_AGE_US:.0f}"
    for bad in (_core.MAX_MEMORY_MAX_AGE_US * 1.001, -0.5, float("nan")):
        with pytest.raises(ValueError, match=message):
            monitor.memory_max_age_us = bad
        with pytest.raises(ValueError, match=message):
            PerformanceMonitor(memory_max_age_us=bad)
        with pytest.raises(ValueError, match=message):
            _core.Monitor(memory_max_age_us=bad)


def test_sampler_interval_range_is_the_constant() -> None:
    monitor = PerformanceMonitor()
    for good in (_core.SAMPLER_MIN_INTERVAL_S, _core.SAMPLER_MAX_INTERVAL_S):
        with monitor.start_sampler(good) as handle:
            assert handle.interval_s == pytest.approx(good)
    for bad in (_core.SAMPLER_MIN_INTERVAL_S * 0.9, _core.SAMPLER_MAX_INTERVAL_S * 1.1):
        with pytest.raises(ValueError, match="interval"):
            monitor.start_sampler(bad)


def test_overflow_name_is_what_the_core_records() -> None:
    assert OTHER_VALUE == _core.OVERFLOW_NAME == "__other__"
    monitor = PerformanceMonitor(max_operations=1, dimensions=["model"], max_dimension_values=1)
    with monitor.track_operation("first", model="a"):
        pass
    with monitor.track_operation("first", model="b"):
        pass
    with monitor.track_operation("second"):
        pass
    assert set(monitor.get_all_stats()) == {"first", _core.OVERFLOW_NAME}
    assert set(monitor.get_breakdown("first", "model")) == {"a", _core.OVERFLOW_NAME}


def test_state_schema_version_is_what_the_core_writes() -> None:
    assert STATE_SCHEMA_VERSION == _core.STATE_SCHEMA_VERSION
    monitor = PerformanceMonitor()
    monitor.record("x", 0.1)
    assert monitor.generate_report()["state"]["schema_version"] == _core.STATE_SCHEMA_VERSION


def test_dead_export_json_binding_is_gone() -> None:
    # PerformanceMonitor.export_metrics_json writes through write_file_atomically.
    assert not hasattr(_core.Monitor, "export_json")


def test_the_duration_limit_is_the_cores_in_both_validators() -> None:
    from ragperf._validate import MAX_DURATION_S, check_duration

    assert MAX_DURATION_S == _core.MAX_DURATION_S == 1e9
    assert check_duration(_core.MAX_DURATION_S) == _core.MAX_DURATION_S
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    monitor.record("op", _core.MAX_DURATION_S)  # the core's validator accepts the same limit
    for check in (check_duration, lambda v: monitor.record("op", v)):
        with pytest.raises(ValueError, match="duration_s"):
            check(_core.MAX_DURATION_S * 1.001)
