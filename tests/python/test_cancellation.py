"""Cancelled blocks: KeyboardInterrupt, SystemExit, GeneratorExit and
asyncio.CancelledError end a block as *cancelled* (not failed); the
exception always propagates unchanged."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragperf import PerformanceMonitor


@pytest.fixture()
def monitor() -> PerformanceMonitor:
    return PerformanceMonitor(enable_memory_tracking=False)


class _Stop(BaseException):
    """A user BaseException that is not an Exception: a cancellation too."""


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit, _Stop])
def test_base_exceptions_are_cancelled_not_failed(
    monitor: PerformanceMonitor, exc_type: type[BaseException]
) -> None:
    raised = exc_type("stop")
    with pytest.raises(exc_type) as info:
        with monitor.track_operation("llm_inference") as op:
            raise raised
    assert info.value is raised  # propagated unchanged
    assert op.cancelled is True and op.success is False
    assert op.error_type == exc_type.__name__ and op.duration_s is not None
    s = monitor.get_operation_stats("llm_inference")
    assert (s.cancelled_operations, s.total_operations, s.failed_operations) == (1, 0, 0)
    assert s.error_rate == 0.0 and s.errors_by_type == {}
    assert monitor.get_recent_errors() == []


def test_exceptions_still_fail_and_cancellations_do_not_touch_percentiles(
    monitor: PerformanceMonitor,
) -> None:
    with monitor.track_operation("retrieval") as ok:
        pass
    with pytest.raises(ValueError):
        with monitor.track_operation("retrieval") as bad:
            raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt):
        with monitor.track_operation("retrieval") as cut:
            raise KeyboardInterrupt
    assert (ok.cancelled, bad.cancelled, cut.cancelled) == (False, False, True)
    s = monitor.get_operation_stats("retrieval")
    assert (s.total_operations, s.failed_operations, s.cancelled_operations) == (2, 1, 1)
    assert s.error_rate == 0.5
    assert s.max_duration == pytest.approx(max(ok.duration_s or 0, bad.duration_s or 0))


def test_generator_exit_inside_a_block_is_cancelled(monitor: PerformanceMonitor) -> None:
    def tokens() -> Iterator[str]:
        with monitor.track_operation("llm_inference"):
            yield "a"
            yield "b"

    gen = tokens()
    assert next(gen) == "a"
    gen.close()  # raises GeneratorExit at the yield
    s = monitor.get_operation_stats("llm_inference")
    assert (s.cancelled_operations, s.total_operations) == (1, 0)


# asyncio.CancelledError: test_async_and_decorator.py::test_cancelled_task_counts_as_cancelled_not_failed


def test_cancelled_in_window_report_csv_and_saved_state(
    monitor: PerformanceMonitor, tmp_path: Path
) -> None:
    with monitor.track_operation("embedding_generation"):
        pass
    for _ in range(3):
        with pytest.raises(KeyboardInterrupt):
            with monitor.track_operation("embedding_generation"):
                raise KeyboardInterrupt
    assert monitor.get_operation_stats("embedding_generation", window_minutes=5).cancelled_operations == 3
    report = monitor.generate_report()
    assert report["operations"]["embedding_generation"]["cancelled"] == 3
    path = tmp_path / "m.json"
    monitor.export_metrics_json(str(path))
    loaded = PerformanceMonitor.load(str(path))
    s = loaded.get_operation_stats("embedding_generation")
    assert (s.cancelled_operations, s.total_operations) == (3, 1)
    csv_path = tmp_path / "m.csv"
    monitor.export_metrics_csv(str(csv_path))
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["cancelled_operations"] == "3"


def test_snapshot_without_cancelled_key_still_loads(
    monitor: PerformanceMonitor, tmp_path: Path
) -> None:
    with monitor.track_operation("reranking"):
        pass
    path = tmp_path / "old.json"
    monitor.export_metrics_json(str(path))
    data = json.loads(path.read_text())
    for op in data["state"]["operations"].values():
        del op["cancelled"]
    path.write_text(json.dumps(data))
    s = PerformanceMonitor.load(str(path)).get_operation_stats("reranking")
    assert (s.total_operations, s.cancelled_operations) == (1, 0)


def test_log_line_says_cancelled(
    monitor: PerformanceMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    monitor.enable_logging()
    try:
        with caplog.at_level(logging.INFO, logger="ragperf"):
            with pytest.raises(KeyboardInterrupt):
                with monitor.track_operation("document_retrieval"):
                    raise KeyboardInterrupt
    finally:
        monitor.disable_logging()
    assert any("document_retrieval - CANCELLED (KeyboardInterrupt)" in r.getMessage() for r in caplog.records)
