"""The one table of an operation's statistics (ragperf.model.stats_fields,
from _core.STATS_FIELDS): every consumer's names are held to it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from ragperf import PerformanceMonitor, PerformanceStats, _core
from ragperf.export.exporting import STATS_COLUMNS, stats_rows
from ragperf.model import stats_fields
from ragperf.model.stats_fields import STATS_FIELDS, csv_column, field


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    """Every kind of statistic: errors, tokens, memory, cost, cache, streams, cold start."""
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.set_model_prices({"qwen": (1.0, 2.0)})
    m.record("plain", 0.5, tokens=10)
    m.record("plain", 1.5, tokens=20, success=False, error_type="ValueError")
    m.record("plain", 3.5, prompt_tokens=5, completion_tokens=7, memory_delta_mb=2.0)
    for i in range(3):
        with m.track_operation("stream", model="qwen") as op:
            time.sleep(0.001)
            op.mark_first_token()
            op.add_tokens(2)
            op.add_tokens(3)
            op.prompt_tokens = 3
            op.cache_hit = i == 1
    yield m
    m.clear_metrics()


def leaf_paths(entry: Mapping[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for key, value in entry.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and key != "errors_by_type":
            out |= leaf_paths(value, path + ".")
        else:
            out.add(path)
    return out


def test_the_table_is_the_cores() -> None:
    assert [tuple(f) for f in STATS_FIELDS] == [tuple(row) for row in _core.STATS_FIELDS]
    for name in ("core_key", "attribute", "report_path"):
        names = [getattr(f, name) for f in STATS_FIELDS if getattr(f, name) is not None]
        assert len(names) == len(set(names)), f"a {name} stands twice"
    p95 = field("p95_duration")
    assert (p95.core_key, p95.report_path, p95.unit, p95.type, p95.optional) == (
        "p95_s", "duration.p95", "s", "float", False,
    )
    with pytest.raises(KeyError):
        field("p95_s")


def test_performance_stats_declares_exactly_the_tables_fields() -> None:
    declared = [f.name for f in dataclasses.fields(PerformanceStats)]
    table = [f.attribute for f in STATS_FIELDS if f.attribute is not None and f.type != "derived"]
    assert sorted(declared) == sorted(table + list(stats_fields.QUERY_ATTRIBUTES))
    for f in STATS_FIELDS:
        if f.attribute is not None:
            assert hasattr(PerformanceStats("x"), f.attribute), f.attribute
    for f in STATS_FIELDS:  # an optional field is None by default, a required one a number
        if f.attribute is not None and f.type in ("int", "float"):
            assert (getattr(PerformanceStats("x"), f.attribute) is None) == f.optional, f.attribute


def test_the_core_dict_has_exactly_the_tables_keys(monitor: PerformanceMonitor) -> None:
    d = monitor._core.get_stats("stream")
    assert set(d) == {f.core_key for f in STATS_FIELDS if f.core_key is not None} | {"name"}
    for f in STATS_FIELDS:
        if f.core_key is not None and f.optional and d["streams"] > 0 and f.known_if == "streams":
            assert d[f.core_key] is not None, f.core_key


def test_the_report_entry_has_exactly_the_tables_paths(monitor: PerformanceMonitor) -> None:
    entry = monitor.generate_report()["operations"]["stream"]
    paths = {f.report_path for f in STATS_FIELDS if f.report_path is not None}
    assert leaf_paths(entry) == paths
    entry = monitor.generate_report()["operations"]["plain"]  # no stream, no cache: no such sections
    assert leaf_paths(entry) == {p for p in paths if not p.startswith(("streaming.", "cache."))}


@pytest.mark.parametrize("name", ["plain", "stream"])
def test_from_report_equals_the_live_statistics(monitor: PerformanceMonitor, name: str) -> None:
    live = monitor.get_operation_stats(name)
    entry = monitor.generate_report()["operations"][name]
    read = PerformanceStats.from_report(name, entry)
    for f in dataclasses.fields(PerformanceStats):
        expected = getattr(live, f.name)
        got = getattr(read, f.name)
        if isinstance(expected, float):
            assert got == pytest.approx(expected, rel=1e-12), f.name
        else:
            assert got == expected, f.name
    assert read.cache_hit_rate == live.cache_hit_rate


def test_from_report_of_a_seed_schema_entry_keeps_the_defaults() -> None:
    s = PerformanceStats.from_report("x", {"total": 4, "failed": 1, "duration": {"p95": 0.5}})
    assert (s.operation_type, s.total_operations, s.failed_operations, s.p95_duration_ms) == ("x", 4, 1, 500.0)
    assert (s.p50_duration, s.cost_usd, s.time_to_first_token_p95_s, s.cold_start_duration) == (0.0, None, None, None)
    assert (s.latency_good_below_s, s.latency_investigate_above_s) == (2.0, 5.0)  # PerformanceStats' defaults


def test_from_report_unknown_where_the_core_says_unknown() -> None:
    """A streaming section written for inter-token gaps alone: its time to
    first token is 0 in the report, unknown (None) in the statistics."""
    entry = {
        "total": 1,
        "streaming": {
            "streams": 0,
            "time_to_first_token_s": {"avg": 0.0, "p50": 0.0, "p95": 0.0, "p99": 0.0},
            "inter_token_latency_s": {"samples": 2, "avg": 0.1, "p50": 0.1, "p95": 0.1, "p99": 0.1},
            "output_tokens_per_second": 0.0,
        },
    }
    s = PerformanceStats.from_report("x", entry)
    assert (s.time_to_first_token_p50_s, s.output_tokens_per_second) == (None, None)
    assert (s.inter_token_samples, s.inter_token_latency_p95_s) == (2, 0.1)


def test_from_report_refuses_a_value_that_is_not_a_number() -> None:
    with pytest.raises(ValueError):
        stats_fields.values_from_report({"total": "many"})
    with pytest.raises(TypeError):
        stats_fields.values_from_report({"duration": {"p95": [1]}})


def test_csv_columns_are_derived_from_the_attributes(monitor: PerformanceMonitor) -> None:
    assert STATS_COLUMNS == ("operation",) + tuple(csv_column(field(a)) for a in stats_fields.CSV_ATTRIBUTES)
    assert csv_column(field("p95_duration")) == "p95_duration_ms"
    assert csv_column(field("time_to_first_token_p95_s")) == "time_to_first_token_p95_ms"
    assert csv_column(field("tokens_per_second")) == "tokens_per_second"
    row = {r["operation"]: r for r in stats_rows(monitor)}["plain"]
    assert row["p95_duration_ms"] == monitor.get_operation_stats("plain").p95_duration * 1e3
    assert row["time_to_first_token_p50_ms"] is None


def test_duration_quantiles_and_report_subset() -> None:
    assert stats_fields.DURATION_QUANTILES == (
        (0.5, "p50_duration"), (0.9, "p90_duration"), (0.95, "p95_duration"), (0.99, "p99_duration"),
    )
    s = PerformanceStats("x", total_operations=3, p95_duration=0.2, total_tokens=9, cost_usd=None)
    assert stats_fields.report_subset(s, ("total_operations", "p95_duration", "total_tokens", "cost_usd")) == {
        "total": 3, "duration": {"p95": 0.2}, "tokens": {"total": 9}, "cost_usd": None,
    }
