"""Persistence: the export's state section, PerformanceMonitor.load and merge_from."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragperf import PerformanceMonitor
from ragperf.export.persistence import STATE_SCHEMA_VERSION, StateError


def exact_quantile(values: np.ndarray, q: float) -> float:
    ordered = np.sort(values)
    rank = max(int(np.ceil(q * len(ordered))) - 1, 0)
    return float(ordered[rank])


def filled_monitor(seed: int, n: int = 2000) -> tuple[PerformanceMonitor, np.ndarray]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.set_model_prices({"gpt": {"input": 1.0, "output": 2.0}})
    xs = np.random.default_rng(seed).lognormal(-3, 1, n)
    for x in xs:
        m.record("retrieval", duration_s=float(x), tokens=3)
    m.record("retrieval", duration_s=0.5, success=False, error_type="TimeoutError")
    with m.track_operation("llm", model="gpt") as op:
        op.prompt_tokens = 100
        op.add_tokens(3)
        op.add_tokens(2)
        op.cache_hit = True
    m.record_cache("embeddings", hit=False, count=4)
    return m, xs


def test_export_has_schema_version_and_state(tmp_path: Path) -> None:
    m, _ = filled_monitor(1)
    path = m.export_metrics_json(tmp_path / "m.json")
    data = json.loads(Path(path).read_text())
    assert data["schema_version"] == STATE_SCHEMA_VERSION
    state = data["state"]
    assert state["schema_version"] == STATE_SCHEMA_VERSION
    assert set(state["operations"]) == {"retrieval", "llm"}
    assert state["operations"]["retrieval"]["total"] == 2001
    assert isinstance(state["operations"]["retrieval"]["sketch"], str)
    assert state["models"]["gpt"]["operations"] == 1
    assert state["caches"]["embeddings"] == {"hits": 0, "misses": 4}
    # The seed schema is still there, unchanged.
    assert data["operations"]["retrieval"]["total"] == 2001
    assert set(data["operations"]["retrieval"]["duration"]) >= {"min", "max", "avg", "p50", "p95", "p99"}


def test_load_rebuilds_identical_statistics(tmp_path: Path) -> None:
    m, _ = filled_monitor(2)
    path = m.export_metrics_json(tmp_path / "m.json")
    restored = PerformanceMonitor.load(path)
    for op in ("retrieval", "llm"):
        a, b = m.get_operation_stats(op), restored.get_operation_stats(op)
        for field in (
            "total_operations", "failed_operations", "min_duration", "max_duration",
            "p50_duration", "p95_duration", "p99_duration", "total_tokens",
            "prompt_tokens", "completion_tokens", "cost_usd", "streams",
            "inter_token_samples", "time_to_first_token_p50_s", "cache_hits",
            "cold_start_duration", "errors_by_type", "latency_good",
        ):
            assert getattr(a, field) == getattr(b, field), (op, field)
        assert b.avg_duration == pytest.approx(a.avg_duration, rel=1e-12)
    assert restored.get_model_stats()["gpt"]["cost_usd"] == m.get_model_stats()["gpt"]["cost_usd"]
    assert restored.get_cache_stats() == m.get_cache_stats()


def test_merge_from_adds_and_keeps_percentile_accuracy(tmp_path: Path) -> None:
    parts = [filled_monitor(seed) for seed in range(4)]
    merged = PerformanceMonitor(enable_memory_tracking=False)
    for i, (m, _) in enumerate(parts):
        merged.merge_from(m.export_metrics_json(tmp_path / f"w{i}.json"))
    s = merged.get_operation_stats("retrieval")
    assert s.total_operations == 4 * 2001
    assert s.failed_operations == 4
    assert s.errors_by_type == {"TimeoutError": 4}
    everything = np.concatenate([xs for _, xs in parts] + [np.full(4, 0.5)])
    for q, got in ((0.5, s.p50_duration), (0.95, s.p95_duration), (0.99, s.p99_duration)):
        exact = exact_quantile(everything, q)
        assert abs(got - exact) / exact <= 0.01, (q, got, exact)
    assert merged.get_cache_stats()["embeddings"]["misses"] == 16
    assert merged.get_model_stats()["gpt"]["operations"] == 4


def test_merge_from_a_report_dict_and_into_a_running_monitor() -> None:
    m, _ = filled_monitor(3)
    running = PerformanceMonitor(enable_memory_tracking=False)
    running.record("retrieval", duration_s=0.001)
    running.merge_from(m.generate_report())
    assert running.get_operation_count("retrieval") == 2002


def test_missing_file_is_an_oserror_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.json"):
        PerformanceMonitor.load(tmp_path / "nope.json")


def test_corrupt_files_name_the_file_and_change_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(StateError, match="bad.json"):
        PerformanceMonitor.load(bad)

    m, _ = filled_monitor(4)
    report = m.generate_report()
    target = PerformanceMonitor(enable_memory_tracking=False)

    def broken(edit: Any) -> dict[str, Any]:
        data = json.loads(json.dumps(report))
        edit(data)
        return data

    cases = [
        lambda d: d.pop("state"),
        lambda d: d["state"].update(schema_version=STATE_SCHEMA_VERSION + 1),
        lambda d: d["state"].update(schema_version="1"),
        lambda d: d["state"]["operations"]["llm"].update(sketch="%%%"),
        lambda d: d["state"]["operations"]["llm"].update(sketch="AAAA"),
        lambda d: d["state"]["operations"]["llm"].pop("total"),
        lambda d: d["state"]["operations"]["llm"].update(total="many"),
        lambda d: d["state"]["operations"]["retrieval"].update(total=5),  # != sketch count
        lambda d: d["state"]["caches"]["embeddings"].update(hits=-1),
    ]
    for edit in cases:
        with pytest.raises(StateError):
            target.merge_from(broken(edit))
    # A bad snapshot changes nothing, even when its first operation was fine.
    assert target.get_operation_count() == 0
    assert target.get_cache_stats() == {}


def test_newer_schema_message_says_upgrade(tmp_path: Path) -> None:
    m, _ = filled_monitor(5)
    data = m.generate_report()
    data["state"]["schema_version"] = 99
    path = tmp_path / "future.json"
    path.write_text(json.dumps(data))
    with pytest.raises(StateError, match=r"future\.json.*99.*upgrade"):
        PerformanceMonitor().merge_from(path)


def test_different_accuracy_is_refused(tmp_path: Path) -> None:
    m, _ = filled_monitor(6)
    path = m.export_metrics_json(tmp_path / "m.json")
    with pytest.raises(StateError, match="relative accuracy"):
        PerformanceMonitor(relative_accuracy=0.01).merge_from(path)


def test_bad_source_type() -> None:
    with pytest.raises(TypeError):
        PerformanceMonitor().merge_from(42)


def test_export_is_atomic_no_temp_files_left(tmp_path: Path) -> None:
    m, _ = filled_monitor(7, n=10)
    for _ in range(3):
        m.export_metrics_json(tmp_path / "m.json")
    assert os.listdir(tmp_path) == ["m.json"]
