"""The one report-file loader (ragperf.model.report_file.load_report) and its
error, ReportFileError: every reader of a metrics JSON goes through it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragperf import PerformanceMonitor
from ragperf.model import compare
from ragperf.export import persistence
from ragperf.cli import EXIT_CORRUPT, CliError
from ragperf.cli import load_report as cli_load_report
from ragperf.model.compare import ReportFormatError, compare_reports
from ragperf.model import ReportFileError, load_report
from ragperf.model.report_file import SchemaVersionError, StateError, check_report
from ragperf.export.multiproc import merge_snapshots, snapshot_path


@pytest.fixture
def export(tmp_path: Path) -> Path:
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.record("llm", 0.5, tokens=10)
    path = tmp_path / "metrics.json"
    m.export_metrics_json(path)
    return path


def test_reads_an_export(export: Path) -> None:
    report = load_report(export, required=("operations", "total_operations"))
    assert report["total_operations"] == 1
    assert report["operations"]["llm"]["total"] == 1
    assert load_report(str(export)) == report


def test_a_file_that_cannot_be_opened_is_its_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_report(tmp_path / "nope.json")
    with pytest.raises(IsADirectoryError):
        load_report(tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is not valid JSON: the file is empty"),
        (b" \n\t", "is not valid JSON: the file is empty"),
        (b'{"operations": {', "is not valid JSON (line 1, column 17: Expecting property name enclosed "
         "in double quotes); the file ends early (truncated?)"),
        (b"{not json}", "is not valid JSON (line 1, column 2: Expecting property name"),
        (b"\x80\x81 binary", "is not valid JSON (UnicodeDecodeError)"),
        (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON (RecursionError)"),
        (b"[1, 2]", "is not a ragperf metrics file: expected a JSON object, got list"),
        (b'{"operations": []}', "is not a ragperf metrics file: 'operations' is not an object"),
        (b'{"schema_version": "1"}', "is not a ragperf metrics file: schema_version must be an integer, got '1'"),
    ],
)
def test_content_that_is_not_a_report_names_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ReportFileError) as info:
        load_report(path)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{path} {message}")
    assert info.value.source == str(path)
    assert info.value.invalid_json == ("valid JSON" in message)


def test_required_keys(tmp_path: Path) -> None:
    path = tmp_path / "partial.json"
    path.write_text('{"operations": {}}')
    assert load_report(path) == {"operations": {}}
    with pytest.raises(ReportFileError, match=r"partial\.json is not a ragperf metrics file: missing key\(s\) 'total_operations'$"):
        load_report(path, required=("operations", "total_operations"))


def test_a_newer_schema_is_a_schema_version_error(tmp_path: Path) -> None:
    path = tmp_path / "future.json"
    path.write_text(json.dumps({"schema_version": 99, "something": "else"}))
    with pytest.raises(SchemaVersionError, match=r"future\.json: schema_version 99 is newer") as info:
        load_report(path, required=("operations",))  # the version comes before the shape
    assert not isinstance(info.value, ReportFileError)


def test_check_report_of_a_dict() -> None:
    assert check_report({"operations": {}}, "before") == {"operations": {}}
    with pytest.raises(ReportFileError, match="^before is not a ragperf metrics file: expected a JSON object, got int$"):
        check_report(3, "before")


def test_one_error_type_across_the_readers(tmp_path: Path) -> None:
    """compare, persistence (load / merge_from / baselines), the CLI and
    merge_snapshots all read through load_report: the same error, naming the file."""
    assert ReportFormatError is ReportFileError
    assert persistence.StateError is StateError and issubclass(ReportFileError, StateError)
    bad = tmp_path / "bad.json"
    bad.write_text('{"operations": ')
    expected = f"{bad} is not valid JSON (line 1, column 16: Expecting value); the file ends early (truncated?)"
    errors = []
    for read in (
        lambda: compare_reports(bad, bad),
        lambda: PerformanceMonitor.load(bad),
        lambda: PerformanceMonitor(enable_memory_tracking=False).merge_from(bad),
        lambda: PerformanceMonitor(enable_memory_tracking=False).set_regression_baseline(bad),
    ):
        with pytest.raises(ReportFileError) as info:
            read()
        errors.append(str(info.value))
    assert errors == [expected] * 4
    with pytest.raises(CliError) as cli:
        cli_load_report(bad)
    assert (str(cli.value), cli.value.exit_code) == (expected, EXIT_CORRUPT)
    assert compare.ReportFormatError("a.json", "x").detail == "x"


def test_merge_snapshots_names_the_corrupt_file(tmp_path: Path) -> None:
    bad = Path(snapshot_path(tmp_path, 7))
    bad.write_text("[]")
    with pytest.raises(ValueError, match=rf"corrupt ragperf snapshot {bad} is not a ragperf metrics file: expected a JSON object") as info:
        merge_snapshots(tmp_path)
    assert isinstance(info.value.__cause__, ReportFileError)
