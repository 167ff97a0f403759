"""Saved exports from a newer ragperf are refused by every loader: a file whose
top-level ``schema_version`` (not only ``state.schema_version``) is newer than
``STATE_SCHEMA_VERSION`` raises one error, ``SchemaVersionError`` (a
``StateError``, so a ``ValueError``), naming the file and both versions, from
``PerformanceMonitor.load``, ``merge_from``, ``merge_snapshots``,
``compare_reports``, ``ragperf report``, ``ragperf compare`` and the dashboard's
loader; nothing is merged."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from ragperf import PerformanceMonitor, _core, merge_snapshots
from ragperf.cli import EXIT_CORRUPT, CliError, load_report, main
from ragperf.model.compare import ReportFormatError, compare_reports
from ragperf.export.multiproc import snapshot_path
from ragperf.export.persistence import (
    STATE_SCHEMA_VERSION,
    SchemaVersionError,
    StateError,
    check_schema_version,
)

NEWER = STATE_SCHEMA_VERSION + 1


def export(path: Path, count: int = 3) -> dict[str, Any]:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(count):
        monitor.record("llm_inference", duration_s=0.1 * (i + 1), tokens=10)
    monitor.export_metrics_json(path)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


@pytest.fixture
def current(tmp_path: Path) -> Path:
    path = tmp_path / "current.json"
    export(path)
    return path


@pytest.fixture
def future(tmp_path: Path) -> Path:
    """A real export whose top-level schema_version is newer; its state's is
    unchanged, so only the top-level check can refuse it."""
    path = tmp_path / "future.json"
    data = export(path)
    data["schema_version"] = NEWER
    assert data["state"]["schema_version"] == STATE_SCHEMA_VERSION
    path.write_text(json.dumps(data))
    return path


def assert_names_file_and_versions(message: str, path: Path) -> None:
    assert str(path) in message, message
    assert f"schema_version {NEWER} is newer" in message, message
    assert f"reads ({STATE_SCHEMA_VERSION})" in message, message
    assert _core.__version__ in message, message


def test_the_schema_constant_is_the_cores_and_exports_carry_it(current: Path) -> None:
    assert STATE_SCHEMA_VERSION == _core.STATE_SCHEMA_VERSION == 1
    data = json.loads(current.read_text())
    assert data["schema_version"] == data["state"]["schema_version"] == STATE_SCHEMA_VERSION


def test_load_refuses_a_newer_top_level_version(future: Path) -> None:
    with pytest.raises(SchemaVersionError) as info:
        PerformanceMonitor.load(future)
    assert isinstance(info.value, StateError) and isinstance(info.value, ValueError)
    assert_names_file_and_versions(str(info.value), future)
    assert (info.value.source, info.value.found, info.value.supported) == (str(future), NEWER, STATE_SCHEMA_VERSION)


def test_merge_from_refuses_it_and_merges_nothing(future: Path) -> None:
    target = PerformanceMonitor(enable_memory_tracking=False)
    target.record("kept", 0.5)
    with pytest.raises(SchemaVersionError) as info:
        target.merge_from(future)
    assert_names_file_and_versions(str(info.value), future)
    assert list(target.get_all_stats()) == ["kept"]
    # As a dict, the message says so instead of a file name.
    with pytest.raises(SchemaVersionError, match=r"<report dict>: schema_version 2 is newer"):
        target.merge_from(json.loads(future.read_text()))


def test_a_newer_state_version_is_the_same_error(tmp_path: Path) -> None:
    path = tmp_path / "state-future.json"
    data = export(path)
    data["state"]["schema_version"] = NEWER
    path.write_text(json.dumps(data))
    with pytest.raises(SchemaVersionError, match=r"state-future\.json: state schema_version 2 is newer") as info:
        PerformanceMonitor.load(path)
    assert info.value.where == "state "


def test_current_and_older_files_still_load(current: Path, tmp_path: Path) -> None:
    assert PerformanceMonitor.load(current).get_operation_count() == 3
    # A report without a top-level version (generate_report(), seed-schema files) is accepted.
    data = json.loads(current.read_text())
    del data["schema_version"]
    assert PerformanceMonitor.load(data).get_operation_count() == 3
    assert compare_reports(data, data).operations


@pytest.mark.parametrize("bad", ["2", 1.0, True, None, 0, -1])
def test_a_malformed_top_level_version_is_a_state_error(current: Path, bad: Any) -> None:
    data = json.loads(current.read_text())
    data["schema_version"] = bad
    with pytest.raises(StateError, match=r"<report dict>: .*schema_version") as info:
        PerformanceMonitor.load(data)
    assert not isinstance(info.value, SchemaVersionError)
    with pytest.raises(ReportFormatError, match="schema_version"):
        compare_reports(data, data)


def test_check_schema_version_directly() -> None:
    check_schema_version({"schema_version": STATE_SCHEMA_VERSION}, "m.json")
    check_schema_version({}, "m.json")
    with pytest.raises(StateError, match="m.json: has no integer schema_version"):
        check_schema_version({}, "m.json", required=True)
    with pytest.raises(SchemaVersionError, match=r"^m\.json: schema_version 7 is newer .* reads \(1\); upgrade"):
        check_schema_version({"schema_version": 7}, "m.json")


def test_merge_snapshots_raises_naming_the_snapshot(tmp_path: Path) -> None:
    good = Path(snapshot_path(tmp_path, 1))
    export(good, 4)
    newer = Path(snapshot_path(tmp_path, 2))
    data = export(newer, 5)
    data["schema_version"] = NEWER
    newer.write_text(json.dumps(data))
    with pytest.raises(SchemaVersionError) as info:
        merge_snapshots(tmp_path)
    assert_names_file_and_versions(str(info.value), newer)
    assert isinstance(info.value.__cause__, SchemaVersionError)


def test_merge_snapshots_skip_logs_and_leaves_it_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = Path(snapshot_path(tmp_path, 1))
    export(good, 4)
    newer = Path(snapshot_path(tmp_path, 2))
    data = export(newer, 5)
    data["state"]["schema_version"] = NEWER  # the state's version: same error, same name
    newer.write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="ragperf"):
        merged = merge_snapshots(tmp_path, on_error="skip")
    assert merged.get_operation_count() == 4
    (record,) = [r for r in caplog.records if "skipping" in r.getMessage()]
    assert f"{newer}: state schema_version {NEWER} is newer" in record.getMessage()


def test_compare_reports_refuses_it(current: Path, future: Path) -> None:
    with pytest.raises(SchemaVersionError) as info:
        compare_reports(current, future)
    assert_names_file_and_versions(str(info.value), future)
    with pytest.raises(SchemaVersionError, match=r"^before: schema_version 2 is newer"):
        compare_reports(json.loads(future.read_text()), current)


def test_compare_reports_checks_the_version_before_the_shape(tmp_path: Path, current: Path) -> None:
    """A newer file may look different; the version error comes first."""
    path = tmp_path / "other-shape.json"
    path.write_text(json.dumps({"schema_version": NEWER, "metrics": []}))
    with pytest.raises(SchemaVersionError):
        compare_reports(current, path)
    with pytest.raises(CliError) as info:
        load_report(path)
    assert info.value.exit_code == EXIT_CORRUPT
    assert_names_file_and_versions(str(info.value), path)


def test_ragperf_report_refuses_it(future: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", str(future)])
    out, err = capsys.readouterr()
    assert code == EXIT_CORRUPT and out == ""
    assert err.startswith("ragperf: error: ")
    assert_names_file_and_versions(err, future)


@pytest.mark.parametrize("order", ["after", "before"])
def test_ragperf_compare_refuses_it(current: Path, future: Path, order: str, capsys: pytest.CaptureFixture[str]) -> None:
    files = [current, future] if order == "after" else [future, current]
    code = main(["compare", *map(str, files)])
    out, err = capsys.readouterr()
    assert code == EXIT_CORRUPT and out == ""
    assert_names_file_and_versions(err, future)


def test_current_file_still_reports(current: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Control for the CLI tests above: the same file with the current version works."""
    assert main(["report", str(current)]) == 0
    assert main(["compare", str(current), str(current)]) == 0
    assert "llm_inference" in capsys.readouterr().out
