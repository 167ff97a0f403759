"""The ``ragperf`` command (ragperf.cli.main, also ``python -m ragperf``):
--version, report on real and corrupt files, demo, help and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ragperf
from ragperf import OperationType, PerformanceMonitor, get_performance_monitor
from ragperf.cli import EXIT_CORRUPT, EXIT_ERROR, EXIT_OK, EXIT_USAGE, main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def metrics_file(tmp_path: Path) -> Path:
    """A real export: 4 llm_inference (150 tokens each; one tracked block and
    three recorded calls of 0.5, 1.0, 1.5 s), 2 retrievals, 1 failed step."""
    monitor = PerformanceMonitor(enable_memory_tracking=True)
    with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
        op.tokens = 150
    for seconds in (0.5, 1.0, 1.5):
        monitor.record(OperationType.LLM_INFERENCE, duration_s=seconds, tokens=150)
    for _ in range(2):
        with monitor.track_operation("document_retrieval"):
            pass
    with pytest.raises(TimeoutError):
        with monitor.track_operation("custom_rerank_step"):
            raise TimeoutError("slow")
    path = tmp_path / "metrics.json"
    monitor.export_metrics_json(path)
    return path


@pytest.fixture
def clean_default_monitor() -> Iterator[None]:
    """`ragperf demo` records into the process-wide monitor; leave it empty."""
    get_performance_monitor().clear_metrics()
    yield
    get_performance_monitor().clear_metrics()


def test_exit_code_constants() -> None:
    assert (EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CORRUPT) == (0, 1, 2, 3)


# ------------------------------------------------------------------ --version


def test_version_matches_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--version")
    assert code == 0
    assert out == f"ragperf {ragperf.__version__}\n"
    assert err == ""


def test_version_is_the_installed_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    _, out, _ = run(capsys, "--version")
    assert out.split() == ["ragperf", version("ragperf")]


def test_python_dash_m_ragperf_version_subprocess(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ragperf", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"ragperf {ragperf.__version__}"


# ------------------------------------------------------------------ help and usage


def test_help_lists_subcommands_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "report" in out and "demo" in out and "--version" in out
    for line in ("0  success", "1  unexpected error", "2  usage error", "3  corrupt metrics file"):
        assert line in out


@pytest.mark.parametrize("sub, option", [("report", "FILE"), ("demo", "--metrics PATH")])
def test_subcommand_help(capsys: pytest.CaptureFixture[str], sub: str, option: str) -> None:
    code, out, _ = run(capsys, sub, "--help")
    assert code == 0
    assert out.startswith(f"usage: ragperf {sub}")
    assert option in out
    assert "exit codes:" in out


def test_no_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == EXIT_USAGE
    assert out == ""
    assert "usage: ragperf" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report"], "the following arguments are required: FILE"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["demo", "--repeat", "0"], "must be at least 1"),
        (["demo", "--repeat", "many"], "expected a whole number"),
        (["report", "a.json", "b.json"], "unrecognized arguments: b.json"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == EXIT_USAGE
    assert out == ""
    assert message in err


# ------------------------------------------------------------------ report


def test_report_on_a_real_export(capsys: pytest.CaptureFixture[str], metrics_file: Path) -> None:
    code, out, err = run(capsys, "report", str(metrics_file))
    assert code == EXIT_OK, err
    assert err == ""
    assert "Total operations: 7" in out
    assert "Failed: 1" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    # columns: operation count failed p50 p95 p99 avg tokens tok/s
    assert rows["llm_inference"][1:3] == ["4", "0"]
    p95_ms, p99_ms = (float(v.replace(",", "")) for v in rows["llm_inference"][4:6])
    assert p95_ms == pytest.approx(1500, rel=0.006)  # sketch accuracy 0.5%
    assert p99_ms == pytest.approx(1500, rel=0.006)
    assert rows["llm_inference"][7] == "600"
    assert rows["document_retrieval"][1:3] == ["2", "0"]
    assert rows["custom_rerank_step"][1:3] == ["1", "1"]


def test_report_output_equals_format_report(capsys: pytest.CaptureFixture[str], metrics_file: Path) -> None:
    code, out, _ = run(capsys, "report", str(metrics_file))
    assert code == 0
    assert out == ragperf.format_report(json.loads(metrics_file.read_text())) + "\n"


def test_report_on_the_seed_documented_export(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    seed: dict[str, Any] = {
        "timestamp": "2026-01-21T12:22:30",
        "total_operations": 100,
        "memory": {"current_rss_mb": 28.59, "min_rss_mb": 27.50, "max_rss_mb": 30.15, "avg_rss_mb": 28.75},
        "operations": {
            "llm_inference": {
                "total": 25,
                "successful": 24,
                "failed": 1,
                "duration": {"min": 0.5, "max": 2.3, "avg": 1.2, "p50": 1.1, "p95": 2.0, "p99": 2.2},
                "tokens": {"total": 3750, "avg": 150.0},
            }
        },
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    code, out, _ = run(capsys, "report", str(path))
    assert code == 0
    assert "llm_inference" in out and "3750" in out and "2,000.00" in out


def test_report_on_an_empty_monitor(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    PerformanceMonitor().export_metrics_json(path)
    code, out, _ = run(capsys, "report", str(path))
    assert code == 0
    assert "No operations recorded yet." in out


def test_report_accepts_a_relative_path(
    capsys: pytest.CaptureFixture[str], metrics_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(metrics_file.parent)
    code, out, _ = run(capsys, "report", metrics_file.name)
    assert code == 0
    assert "llm_inference" in out


def test_report_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "no_such_metrics.json"
    code, out, err = run(capsys, "report", str(missing))
    assert code == EXIT_USAGE
    assert out == ""
    assert err == f"ragperf: error: cannot read {missing}: file not found\n"


def test_report_on_a_directory_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "report", str(tmp_path))
    assert code == EXIT_USAGE
    assert str(tmp_path) in err and "directory" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of permissions")
def test_report_unreadable_file_exits_2(capsys: pytest.CaptureFixture[str], metrics_file: Path) -> None:
    metrics_file.chmod(0)
    code, _, err = run(capsys, "report", str(metrics_file))
    assert code == EXIT_USAGE
    assert str(metrics_file) in err


def test_report_truncated_json_exits_3(
    capsys: pytest.CaptureFixture[str], metrics_file: Path, tmp_path: Path
) -> None:
    text = metrics_file.read_text()
    truncated = tmp_path / "truncated.json"
    truncated.write_text(text[: len(text) // 2])
    code, out, err = run(capsys, "report", str(truncated))
    assert code == EXIT_CORRUPT
    assert out == ""
    assert err.startswith(f"ragperf: error: {truncated} is not valid JSON")
    assert "truncated?" in err
    assert err.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize(
    "content, detail",
    [
        ('{"timestamp": "x", "memory": {}}', "missing key(s) 'operations', 'total_operations'"),
        ('{"operations": {}}', "missing key(s) 'total_operations'"),
        ('{"total_operations": 3}', "missing key(s) 'operations'"),
        ("[1, 2, 3]", "expected a JSON object, got list"),
        ('"just a string"', "expected a JSON object, got str"),
        ('{"operations": [], "total_operations": 0}', "'operations' is not an object"),
        ('{"operations": {"x": {"total": 1}}, "total_operations": 1}', "lacks key 'duration'"),
        ('{"operations": {"x": 5}, "total_operations": 1}', "is not a ragperf metrics file"),
    ],
)
def test_report_json_that_is_not_a_report_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, detail: str
) -> None:
    path = tmp_path / "other.json"
    path.write_text(content)
    code, out, err = run(capsys, "report", str(path))
    assert code == EXIT_CORRUPT
    assert out == ""
    assert err.startswith(f"ragperf: error: {path} is not a ragperf metrics file")
    assert detail in err


@pytest.mark.parametrize(
    "content, detail",
    [
        (b"", "the file is empty"),
        (b"   \n", "the file is empty"),
        (b"not json at all", "is not valid JSON"),
        (b'{"operations": {}, "total_operations": 1,}', "is not valid JSON"),
        (b"\x80\x81\x82 binary", "is not valid JSON"),
    ],
)
def test_report_invalid_json_exits_3(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, detail: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    code, _, err = run(capsys, "report", str(path))
    assert code == EXIT_CORRUPT
    assert err.startswith(f"ragperf: error: {path} ")
    assert detail in err


def test_unexpected_error_exits_1(
    capsys: pytest.CaptureFixture[str], metrics_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(report: Any) -> str:
        raise RuntimeError("formatter exploded")

    monkeypatch.setattr("ragperf.cli.format_report", boom)
    code, out, err = run(capsys, "report", str(metrics_file))
    assert code == EXIT_ERROR
    assert out == ""
    assert err == "ragperf: error: unexpected RuntimeError: formatter exploded\n"


# ------------------------------------------------------------------ demo


def test_demo_quiet_writes_metrics(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clean_default_monitor: None
) -> None:
    out_path = tmp_path / "demo_metrics.json"
    code, out, err = run(
        capsys, "demo", "--quiet", "--embedder", "hashing", "--metrics", str(out_path), "--repeat", "2"
    )
    assert code == EXIT_OK, err
    assert out == "" and err == ""
    report = json.loads(out_path.read_text())
    ops = report["operations"]
    from ragperf.demo.pipeline import DEFAULT_QUESTIONS

    assert ops["query_processing"]["total"] == 2 * len(DEFAULT_QUESTIONS)
    assert ops["llm_inference"]["total"] == ops["query_processing"]["total"]
    assert report["total_operations"] == sum(op["total"] for op in ops.values())
    # ... and `ragperf report` reads what `ragperf demo` wrote.
    code, out, _ = run(capsys, "report", str(out_path))
    assert code == 0 and "query_processing" in out


def test_demo_with_questions_prints_answers_and_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clean_default_monitor: None
) -> None:
    out_path = tmp_path / "m.json"
    code, out, _ = run(
        capsys,
        "demo",
        "--embedder",
        "hashing",
        "--metrics",
        str(out_path),
        "--question",
        "What are the customer support hours?",
    )
    assert code == 0
    assert "Q: What are the customer support hours?" in out
    assert "ragperf performance report" in out
    assert json.loads(out_path.read_text())["operations"]["query_processing"]["total"] == 1


def test_demo_metrics_in_a_missing_directory_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, clean_default_monitor: None
) -> None:
    target = tmp_path / "no" / "such" / "dir" / "m.json"
    code, out, err = run(capsys, "demo", "--quiet", "--metrics", str(target))
    assert code == EXIT_USAGE
    assert out == ""
    assert str(target) in err and "does not exist" in err
    assert get_performance_monitor().get_operation_count() == 0  # checked before running
