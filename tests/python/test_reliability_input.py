"""Issue #8 item 4: bad input that earlier tests did not cover.

(Durations, tokens and operation types are covered in test_errors.py.)
Here: the cap on distinct operation names, metadata that is not JSON,
exports that cannot be written, and damaged snapshot files."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ragperf import PerformanceMonitor
from ragperf.export.persistence import StateError

# ------------------------------------------------------- operation name cap


def test_default_cap_is_1000_and_overflow_goes_to_other(caplog: pytest.LogCaptureFixture) -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    assert m.max_operations == 1000
    for i in range(1000):
        with m.track_operation(f"user_{i}"):
            pass
    assert "__other__" not in m.get_all_stats()
    with caplog.at_level(logging.WARNING, logger="ragperf"):
        for i in range(1000, 1500):
            with m.track_operation(f"user_{i}"):
                pass
        m.record("user_1500", 0.5)  # the record() path is capped too
    stats = m.get_all_stats()
    assert len(stats) == 1001
    assert stats["__other__"].total_operations == 501
    assert m.overflow_operation_names == 501
    warnings = [r for r in caplog.records if r.name == "ragperf" and "__other__" in r.getMessage()]
    assert len(warnings) == 1, "exactly one warning"
    assert "'user_1000'" in warnings[0].getMessage() and "1000" in warnings[0].getMessage()


def test_known_names_keep_their_own_statistics_after_overflow() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False, max_operations=3)
    for name in ("a", "b", "c", "d", "e", "a", "b"):
        m.record(name, 0.25)
    stats = m.get_all_stats()
    assert sorted(stats) == ["__other__", "a", "b", "c"]
    assert stats["a"].total_operations == 2
    assert stats["__other__"].total_operations == 2
    assert stats["__other__"].avg_duration == 0.25


@pytest.mark.parametrize(("bad", "exc_type"), [(0, ValueError), (-5, ValueError), ("10", TypeError), (2.5, TypeError)])
def test_max_operations_validation(bad: Any, exc_type: type[Exception]) -> None:
    with pytest.raises(exc_type, match=f"max_operations.*{bad!r}"):
        PerformanceMonitor(max_operations=bad)


def test_statistics_memory_is_bounded_past_the_cap() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False, max_operations=50)
    for i in range(50):
        m.record(f"op_{i}", 0.01)
    at_cap = m._core.memory_bytes()
    for i in range(50, 20_050):
        m.record(f"op_{i}", 0.01)
    # 20,000 more names cost one operation ("__other__"), not 20,000.
    assert m._core.memory_bytes() <= at_cap * 1.1 + 65536
    assert m.get_operation_stats("__other__").total_operations == 20_000


def test_merging_a_snapshot_with_more_names_than_the_cap(tmp_path: Path) -> None:
    src = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(10):
        src.record(f"op_{i}", 0.125)
    path = src.export_metrics_json(tmp_path / "many.json")
    dst = PerformanceMonitor(enable_memory_tracking=False, max_operations=4)
    dst.merge_from(path)
    stats = dst.get_all_stats()
    assert sorted(stats) == ["__other__", "op_0", "op_1", "op_2", "op_3"]
    assert stats["__other__"].total_operations == 6
    assert dst.get_operation_count() == 10


# ------------------------------------------------ metadata that is not JSON


class _BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_unserialisable_metadata_is_exported_as_strings(tmp_path: Path) -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    metadata = {
        "obj": object(),
        "bytes": b"\xff\x00",
        "set": {1},
        "bad_str": _BadStr(),
        "nan": float("nan"),
        "nested": {"deep": [1, object()]},
        3: "int key",
    }
    with m.track_operation("x", metadata):
        pass
    with pytest.raises(ValueError), m.track_operation("y", metadata):
        raise ValueError("fails with the same metadata")
    path = m.export_metrics_json(tmp_path / "m.json")
    report = json.loads(Path(path).read_text(encoding="utf-8"))  # valid JSON
    error = report["errors"]["recent"][-1]
    meta = error["metadata"]
    assert meta["obj"].startswith("<object object at")
    assert meta["bytes"] == str(b"\xff\x00")
    assert meta["set"] == "{1}"
    assert meta["bad_str"] == "<_BadStr>"
    assert meta["3"] == "int key"
    recent = m.get_recent_operations("x", limit=1)[0]
    assert recent["metadata"]["set"] == "{1}"


# ---------------------------------------------------------- unwritable path


_WRITE_FAILS = textwrap.dedent(
    """
    import resource, signal, sys
    from ragperf import PerformanceMonitor

    target = sys.argv[1]
    m = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(50):
        m.record(f"op_{i}", 0.01)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))
    for export in (m.export_metrics_json, m.export_metrics_csv):
        try:
            export(target)
        except OSError as exc:
            print(type(exc).__name__, exc)
        else:
            print("no error")
    """
)


def test_failed_export_raises_oserror_and_keeps_the_previous_file(tmp_path: Path) -> None:
    # A full disk, simulated with RLIMIT_FSIZE (works as root, unlike chmod).
    target = tmp_path / "metrics.json"
    target.write_text("previous export")
    proc = subprocess.run(
        [sys.executable, "-c", _WRITE_FAILS, str(target)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and all(not line.startswith("no error") for line in lines), lines
    assert all("metrics.json" in line for line in lines), lines
    assert target.read_text() == "previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"], "no temp file left"


def test_export_into_a_missing_or_non_directory_raises_oserror(tmp_path: Path) -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for bad in (tmp_path / "missing" / "m.json", blocker / "m.json"):
        with pytest.raises(OSError, match="m.json"):
            m.export_metrics_json(bad)
    assert blocker.read_text() == "x"


# ------------------------------------------------------ damaged snapshots


def _snapshot(tmp_path: Path) -> Path:
    m = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(20):
        m.record("llm", 0.01 * (i + 1), tokens=i)
    return Path(m.export_metrics_json(tmp_path / "snap.json"))


@pytest.mark.parametrize(
    "damage",
    ["truncated", "empty", "not_utf8", "deeply_nested", "future_version", "list"],
)
def test_damaged_snapshot_is_a_value_error_naming_the_file(tmp_path: Path, damage: str) -> None:
    path = _snapshot(tmp_path)
    good = path.read_bytes()
    if damage == "truncated":
        data = good[: len(good) // 2]
    elif damage == "empty":
        data = b""
    elif damage == "not_utf8":
        data = good.replace(b'"llm"', b'"\xff\xfe"', 1)
    elif damage == "deeply_nested":
        data = b"[" * 100_000 + b"]" * 100_000
    elif damage == "future_version":
        doc = json.loads(good)
        doc["state"]["schema_version"] = 2
        data = json.dumps(doc).encode()
    else:
        data = b"[1, 2]"
    path.write_bytes(data)
    target = PerformanceMonitor(enable_memory_tracking=False)
    target.record("kept", 0.5)
    with pytest.raises(ValueError, match="snap.json") as info:
        target.merge_from(path)
    assert isinstance(info.value, StateError)
    with pytest.raises(StateError, match="snap.json"):
        PerformanceMonitor.load(path)
    assert path.read_bytes() == data, "the snapshot file was modified"
    assert target.get_operation_count() == 1 and list(target.get_all_stats()) == ["kept"]


def test_name_lookup_cache_is_bounded_past_the_cap() -> None:
    """The hot path's name -> id cache does not keep overflowing names."""
    import tracemalloc

    m = PerformanceMonitor(enable_memory_tracking=False, max_operations=5)
    for i in range(5):
        with m.track_operation(f"op_{i}"):
            pass
    with m.track_operation("user_warmup"):  # the shared "__other__" entry
        pass
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for i in range(5000):
            with m.track_operation(f"user_{i}_{'x' * 40}"):
                pass
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    # Caching 5,000 names of ~50 characters would hold > 400 KB.
    assert grown < 100_000, grown
    assert m._hot.resolve("user_1")[1] == "__other__"
    assert m.get_operation_stats("__other__").total_operations == 5001
