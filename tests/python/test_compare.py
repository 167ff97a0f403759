"""Run comparison: ragperf.compare (compare_reports, format_comparison,
parse_threshold) and the ``ragperf compare`` CI gate."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ragperf import PerformanceMonitor
from ragperf.cli import EXIT_CORRUPT, EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, main
from ragperf.model.compare import (
    ERROR_RATE_FLOOR,
    METRICS,
    Comparison,
    MetricDelta,
    OperationDelta,
    ReportFormatError,
    compare_reports,
    format_comparison,
    parse_threshold,
)


def op_entry(
    *,
    total: int = 100,
    failed: int = 0,
    p50: float = 1.0,
    p95: float = 2.0,
    p99: float = 3.0,
    per_second: float | None = 100.0,
    cost_usd: Any = "absent",
    error_rate: float | None = None,
) -> dict[str, Any]:
    """One operation entry of the report schema (durations in seconds)."""
    entry: dict[str, Any] = {
        "total": total,
        "successful": total - failed,
        "failed": failed,
        "duration": {"min": p50 / 2, "max": p99, "avg": p50, "p50": p50, "p95": p95, "p99": p99},
        "tokens": {"total": 0, "avg": 0.0},
    }
    if per_second is not None:
        entry["tokens"]["per_second"] = per_second
    if error_rate is not None:
        entry["error_rate"] = error_rate
    if cost_usd != "absent":
        entry["cost_usd"] = cost_usd
    return entry


def report(**ops: dict[str, Any]) -> dict[str, Any]:
    return {
        "timestamp": "2026-01-01T00:00:00",
        "total_operations": sum(op["total"] for op in ops.values()),
        "memory": {"current_rss_mb": 30.0, "min_rss_mb": 30.0, "max_rss_mb": 30.0, "avg_rss_mb": 30.0},
        "operations": ops,
    }


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def regressed(c: Comparison) -> list[tuple[str, str]]:
    return [(r.operation, r.metric) for r in c.regressions]


# ------------------------------------------------------------------ thresholds


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10%", 0.10),
        (" 10% ", 0.10),
        ("0.1", 0.1),
        ("0", 0.0),
        ("0%", 0.0),
        ("2.5%", 0.025),
        ("150%", 1.5),
        ("1", 1.0),
        (0.2, 0.2),
        (0, 0.0),
        (1.5, 1.5),  # numbers are fractions as they are
        (3, 3.0),
    ],
)
def test_parse_threshold(text: str | float, expected: float) -> None:
    assert parse_threshold(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text, message",
    [
        ("abc", "fraction like 0.1 or a percentage like 10%"),
        ("", "fraction like 0.1"),
        ("%", "fraction like 0.1"),
        ("-5%", "finite number >= 0"),
        ("-0.1", "finite number >= 0"),
        ("nan", "finite number >= 0"),
        ("inf%", "finite number >= 0"),
        ("10", "ambiguous: write 10% for a percentage, or a fraction such as 0.1"),
        (True, "fraction like 0.1"),
    ],
)
def test_parse_threshold_rejects(text: Any, message: str) -> None:
    with pytest.raises(ValueError, match="threshold") as info:
        parse_threshold(text)
    assert message in str(info.value)
    assert repr(text) in str(info.value)


# ------------------------------------------------------------------ the API: rules


def test_identical_reports_have_no_regression() -> None:
    r = report(llm_inference=op_entry(cost_usd=1.0, failed=3))
    c = compare_reports(r, copy.deepcopy(r))
    assert not c.has_regressions
    assert c.regressions == []
    op = c.operation("llm_inference")
    assert op.status == "compared"
    assert [m.metric for m in op.metrics] == list(METRICS)
    assert all(m.change == 0 for m in op.metrics)
    assert "OK: no regression beyond 10%" in format_comparison(c)


def test_latency_regression_beyond_threshold() -> None:
    before = report(llm_inference=op_entry(p50=1.0, p95=2.0, p99=3.0))
    after = report(llm_inference=op_entry(p50=1.05, p95=2.5, p99=3.0))
    c = compare_reports(before, after, threshold=0.10)
    assert regressed(c) == [("llm_inference", "p95_ms")]
    p95 = c.operation("llm_inference").metric("p95_ms")
    assert (p95.before, p95.after) == (pytest.approx(2000.0), pytest.approx(2500.0))
    assert p95.change == pytest.approx(500.0)
    assert p95.relative_change == pytest.approx(0.25)
    assert p95.regression and not p95.improved
    assert not c.operation("llm_inference").metric("p50_ms").regression  # +5% < 10%
    # A looser threshold accepts it, in any spelling.
    for threshold in ("30%", "0.3", 0.3, 1.5, "150%"):
        assert not compare_reports(before, after, threshold=threshold).has_regressions


def test_exactly_the_threshold_is_not_a_regression() -> None:
    # 0.5 -> 0.55 is +10.000000000000009% in floating point: still "10%".
    before = report(x=op_entry(p50=0.5, p95=0.5, p99=0.5))
    after = report(x=op_entry(p50=0.55, p95=0.55, p99=0.55))
    assert not compare_reports(before, after, 0.10).has_regressions
    after_more = report(x=op_entry(p50=0.5501, p95=0.5, p99=0.5))
    assert regressed(compare_reports(before, after_more, 0.10)) == [("x", "p50_ms")]


def test_zero_threshold_flags_any_increase() -> None:
    before = report(x=op_entry(p50=1.0))
    after = report(x=op_entry(p50=1.0001))
    assert regressed(compare_reports(before, after, 0)) == [("x", "p50_ms")]


def test_latency_improvement_is_marked_not_a_regression() -> None:
    before = report(x=op_entry(p50=1.0, p95=2.0, p99=3.0))
    after = report(x=op_entry(p50=0.5, p95=2.0, p99=3.0))
    c = compare_reports(before, after)
    assert not c.has_regressions
    p50 = c.operation("x").metric("p50_ms")
    assert p50.improved and p50.relative_change == pytest.approx(-0.5)
    assert "improved" in format_comparison(c)


def test_tokens_per_second_drop_is_a_regression() -> None:
    before = report(llm_inference=op_entry(per_second=100.0))
    c = compare_reports(before, report(llm_inference=op_entry(per_second=85.0)), "10%")
    assert regressed(c) == [("llm_inference", "tokens_per_second")]
    assert c.regressions[0].relative_change == pytest.approx(-0.15)
    # A rise is an improvement, a small drop is fine.
    up = compare_reports(before, report(llm_inference=op_entry(per_second=150.0)))
    assert not up.has_regressions and up.operation("llm_inference").metric("tokens_per_second").improved
    assert not compare_reports(before, report(llm_inference=op_entry(per_second=95.0))).has_regressions


def test_tokens_per_second_from_zero_is_never_a_regression() -> None:
    c = compare_reports(report(x=op_entry(per_second=0.0)), report(x=op_entry(per_second=0.0)))
    assert not c.has_regressions
    d = c.operation("x").metric("tokens_per_second")
    assert d.relative_change is None and d.change == 0


@pytest.mark.parametrize(
    "before_failed, after_failed, total, regression",
    [
        (5, 6, 100, True),  # 5% -> 6%: +1 pp > 10% of 5% (0.5 pp)
        (50, 54, 1000, False),  # 5% -> 5.4%: +0.4 pp < 0.5 pp
        (50, 56, 1000, True),  # 5% -> 5.6%
        (0, 1, 2000, False),  # 0% -> 0.05%: +0.05 pp < 10% of the 1% floor (0.1 pp)
        (0, 2, 1000, True),  # 0% -> 0.2%
        (10, 0, 100, False),  # fewer errors: improved
        (0, 0, 100, False),
    ],
)
def test_error_rate_rule(before_failed: int, after_failed: int, total: int, regression: bool) -> None:
    before = report(x=op_entry(total=total, failed=before_failed))
    after = report(x=op_entry(total=total, failed=after_failed))
    d = compare_reports(before, after, "10%").operation("x").metric("error_rate")
    assert d.before == pytest.approx(before_failed / total)
    assert d.after == pytest.approx(after_failed / total)
    assert d.regression is regression
    limit = 0.10 * max(before_failed / total, ERROR_RATE_FLOOR)
    assert d.regression is (after_failed / total - before_failed / total > limit)
    assert d.improved is (before_failed - after_failed > 0)


def test_error_rate_key_wins_over_failed_over_total() -> None:
    before = report(x=op_entry(total=100, failed=0, error_rate=0.0))
    after = report(x=op_entry(total=100, failed=0, error_rate=0.5))
    d = compare_reports(before, after).operation("x").metric("error_rate")
    assert (d.before, d.after, d.regression) == (0.0, 0.5, True)


def test_cost_per_call_regression() -> None:
    # Total cost doubles but so does the number of calls: per call unchanged.
    before = report(llm_inference=op_entry(total=100, cost_usd=1.0))
    same = report(llm_inference=op_entry(total=200, cost_usd=2.0))
    c = compare_reports(before, same)
    assert not c.has_regressions
    assert c.operation("llm_inference").metric("cost_usd_per_call").before == pytest.approx(0.01)
    dearer = report(llm_inference=op_entry(total=100, cost_usd=1.5))
    c = compare_reports(before, dearer)
    assert regressed(c) == [("llm_inference", "cost_usd_per_call")]
    assert c.regressions[0].relative_change == pytest.approx(0.5)


@pytest.mark.parametrize(
    "before_cost, after_cost",
    [(None, None), ("absent", "absent"), (1.0, None), (None, 5.0), ("absent", 5.0), (1.0, "absent")],
)
def test_missing_or_null_cost_is_na_never_a_regression(before_cost: Any, after_cost: Any) -> None:
    before = report(x=op_entry(cost_usd=before_cost))
    after = report(x=op_entry(cost_usd=after_cost))
    c = compare_reports(before, after)
    d = c.operation("x").metric("cost_usd_per_call")
    assert d.change is None and d.relative_change is None
    assert not d.regression and not c.has_regressions
    cost_row = next(line for line in format_comparison(c).splitlines() if "cost/call $" in line)
    assert cost_row.split()[-1] == "n/a"


def test_cost_from_zero_is_an_unbounded_increase() -> None:
    c = compare_reports(report(x=op_entry(cost_usd=0.0)), report(x=op_entry(cost_usd=1.0)))
    d = c.operation("x").metric("cost_usd_per_call")
    assert d.regression and d.relative_change is None and d.change == pytest.approx(0.01)
    assert "new" in format_comparison(c)


def test_added_and_removed_operations_are_listed_not_regressions() -> None:
    before = report(old_step=op_entry(total=3), shared=op_entry())
    after = report(shared=op_entry(), new_step=op_entry(total=12, p99=100.0))
    c = compare_reports(before, after)
    assert [op.operation for op in c.operations] == ["old_step", "shared", "new_step"]
    assert c.added == ["new_step"] and c.removed == ["old_step"]
    assert not c.has_regressions
    removed, added = c.operation("old_step"), c.operation("new_step")
    assert (removed.status, removed.before_count, removed.after_count, removed.metrics) == (
        "removed", 3, None, ()
    )
    assert (added.status, added.before_count, added.after_count) == ("added", None, 12)
    text = format_comparison(c)
    assert "removed: only in before (3 records)" in text
    assert "added: only in after (12 records)" in text


def test_min_count_skips_small_samples() -> None:
    before = report(rare=op_entry(total=3, p50=1.0), common=op_entry(total=500, p50=1.0))
    after = report(rare=op_entry(total=4, p50=5.0), common=op_entry(total=500, p50=5.0))
    c = compare_reports(before, after, min_count=5)
    assert regressed(c) == [("common", "p50_ms")]
    rare = c.operation("rare")
    assert rare.status == "skipped"
    assert rare.metric("p50_ms").relative_change == pytest.approx(4.0)  # shown, not judged
    assert not rare.has_regressions
    assert "not judged: fewer than 5 records" in format_comparison(c)
    # The default (1) judges everything.
    assert regressed(compare_reports(before, after)) == [("rare", "p50_ms"), ("common", "p50_ms")]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "5"])
def test_min_count_validation(bad: Any) -> None:
    with pytest.raises(ValueError, match="min_count"):
        compare_reports(report(), report(), min_count=bad)


def test_seed_schema_report_without_error_rate_or_tokens_per_second() -> None:
    seed = {
        "timestamp": "2026-01-21T12:22:30",
        "total_operations": 25,
        "memory": {},
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
    c = compare_reports(seed, copy.deepcopy(seed))
    op = c.operation("llm_inference")
    assert op.metric("error_rate").before == pytest.approx(0.04)  # failed / total
    assert op.metric("tokens_per_second").before is None
    assert op.metric("p95_ms").before == pytest.approx(2000.0)
    assert not c.has_regressions


def test_empty_reports() -> None:
    c = compare_reports(report(), report())
    assert c.operations == [] and not c.has_regressions
    assert "(no operations in either report)" in format_comparison(c)


def test_operation_lookup_error() -> None:
    with pytest.raises(KeyError, match="nope"):
        compare_reports(report(), report()).operation("nope")
    with pytest.raises(KeyError, match="p42_ms"):
        compare_reports(report(x=op_entry()), report(x=op_entry())).operation("x").metric("p42_ms")


def test_to_dict_is_strict_json() -> None:
    before = report(a=op_entry(cost_usd=None), b=op_entry(cost_usd=0.0), gone=op_entry())
    after = report(a=op_entry(p95=9.0, cost_usd=None), b=op_entry(cost_usd=2.0), new=op_entry())
    d = compare_reports(before, after, "20%").to_dict()
    text = json.dumps(d, allow_nan=False)  # no NaN/Infinity
    back = json.loads(text)
    assert back["threshold"] == 0.2 and back["has_regressions"] is True
    assert {(r["operation"], r["metric"]) for r in back["regressions"]} == {
        ("a", "p95_ms"),
        ("b", "cost_usd_per_call"),
    }
    ops = {op["operation"]: op for op in back["operations"]}
    assert ops["gone"]["status"] == "removed" and ops["new"]["status"] == "added"
    assert ops["a"]["metrics"]["cost_usd_per_call"]["before"] is None
    assert ops["a"]["regression"] is True and ops["gone"]["regression"] is False


def test_dataclasses_are_frozen() -> None:
    d = MetricDelta("x", "p50_ms", 1.0, 2.0, 1.0, 1.0, regression=True)
    with pytest.raises(AttributeError):
        d.regression = False  # type: ignore[misc]
    assert OperationDelta("x", "compared", 1, 1, (d,)).regressions == [d]


# ------------------------------------------------------------------ real monitors


def test_reports_of_real_monitors() -> None:
    old = PerformanceMonitor(enable_memory_tracking=False)
    new = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(200):
        seconds = 0.1 + i / 2000
        old.record("llm_inference", seconds, tokens=50)
        new.record("llm_inference", seconds * 1.3, tokens=50, success=i % 10 != 0)
        old.record("document_retrieval", 0.01)
        new.record("document_retrieval", 0.0101)
    new.record("reranking", 0.02)
    c = compare_reports(old.generate_report(), new.generate_report(), "10%")
    assert set(regressed(c)) == {
        ("llm_inference", "p50_ms"),
        ("llm_inference", "p95_ms"),
        ("llm_inference", "p99_ms"),
        ("llm_inference", "error_rate"),
        ("llm_inference", "tokens_per_second"),
    }
    llm = c.operation("llm_inference")
    for q in ("p50_ms", "p95_ms", "p99_ms"):
        assert llm.metric(q).relative_change == pytest.approx(0.3, abs=0.02)  # sketch: 0.5% each side
    assert llm.metric("tokens_per_second").relative_change == pytest.approx(1 / 1.3 - 1, rel=1e-6)
    assert llm.metric("error_rate").after == pytest.approx(0.1)
    assert not c.operation("document_retrieval").has_regressions
    assert c.added == ["reranking"]


def test_paths_and_labels(tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", report(x=op_entry(p50=1.0)))
    b = write(tmp_path / "b.json", report(x=op_entry(p50=2.0)))
    c = compare_reports(a, str(b))
    assert (c.before_name, c.after_name) == (str(a), str(b))
    assert format_comparison(c).splitlines()[0] == f"ragperf compare: {a} -> {b} (threshold 10%)"
    named = compare_reports(report(), report(), before_name="main", after_name="pr-42")
    assert named.to_dict()["before"] == "main" and named.to_dict()["after"] == "pr-42"


def test_format_comparison_table() -> None:
    before = report(llm_inference=op_entry(total=100, failed=5, p95=2.0, per_second=100.0, cost_usd=1.0))
    after = report(llm_inference=op_entry(total=120, failed=12, p95=2.5, per_second=100.0, cost_usd=None))
    text = format_comparison(compare_reports(before, after))
    rows = {" ".join(line.split()[:2]): line for line in text.splitlines()}
    assert rows["llm_inference count"].split()[-2:] == ["100", "120"]
    assert rows["p95 ms"].split()[2:] == ["2,000.00", "2,500.00", "+25.0%", "REGRESSION"]
    assert rows["error rate"].split()[2:] == ["5.00%", "10.00%", "+5.00", "pp", "REGRESSION"]
    assert rows["cost/call $"].split()[2:] == ["0.010000", "n/a", "n/a"]
    assert text.splitlines()[-1] == (
        "REGRESSION: 2 metrics of 1 operation worse by more than 10%: llm_inference (p95 ms, error rate)"
    )


# ------------------------------------------------------------------ the API: bad input


def test_api_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        compare_reports(tmp_path / "nope.json", report())


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "is not a ragperf metrics file: expected a JSON object"),
        ('{"total_operations": 1}', "is not a ragperf metrics file: no 'operations' object"),
        ('{"operations": {"x": {"total": 1}}}', "operation 'x' lacks the 'duration' object"),
        ('{"operations": {"x": 7}}', "operation 'x' must be an object"),
        ('{"operations": {"x": {"duration": {}}}}', "operation 'x' lacks key 'total'"),
        ('{"operations": {"x": {"total": 1, "duration": {"p50": 1, "p95": 1}}}}', "lacks key 'p99'"),
        (
            '{"operations": {"x": {"total": 1, "duration": {"p50": "1", "p95": 1, "p99": 1}}}}',
            "['duration']['p50'] must be a number, got '1'",
        ),
        (
            '{"operations": {"x": {"total": 1, "cost_usd": -2, "duration": {"p50": 1, "p95": 1, "p99": 1}}}}',
            "['cost_usd'] must be a finite number >= 0, got -2",
        ),
        (
            '{"operations": {"x": {"total": 1, "tokens": [], "duration": {"p50": 1, "p95": 1, "p99": 1}}}}',
            "['tokens'] must be an object",
        ),
    ],
)
def test_api_corrupt_file_raises_valueerror_naming_it(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = write(tmp_path / "good.json", report(x=op_entry()))
    for before, after in ((bad, good), (good, bad)):
        with pytest.raises(ReportFormatError) as info:
            compare_reports(before, after)
        assert isinstance(info.value, ValueError)
        assert info.value.source == str(bad)
        assert str(bad) in str(info.value)
        assert message in str(info.value)


def test_api_rejects_other_sources() -> None:
    with pytest.raises(TypeError, match="before must be a report dict or a path"):
        compare_reports(42, report())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        compare_reports(report(), report(), threshold="lots")


# ------------------------------------------------------------------ the CLI


Files = tuple[Path, Path, Path]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path) -> Files:
    """(before, after with a 25% p95 regression, after with a 5% change)."""
    before = write(tmp_path / "before.json", report(llm_inference=op_entry(p95=2.0), retrieval=op_entry()))
    worse = write(tmp_path / "worse.json", report(llm_inference=op_entry(p95=2.5), retrieval=op_entry()))
    fine = write(tmp_path / "fine.json", report(llm_inference=op_entry(p95=2.1), retrieval=op_entry()))
    return before, worse, fine


def test_cli_no_regression_exits_0(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    before, _, fine = files
    code, out, err = run(capsys, "compare", str(before), str(fine))
    assert code == EXIT_OK, err
    assert err == ""
    assert out == format_comparison(compare_reports(before, fine)) + "\n"
    assert "OK: no regression beyond 10%" in out


def test_cli_regression_exits_1(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    before, worse, _ = files
    code, out, err = run(capsys, "compare", str(before), str(worse))
    assert code == EXIT_REGRESSION == 1
    assert err == ""
    assert "REGRESSION" in out and "llm_inference (p95 ms)" in out


@pytest.mark.parametrize(
    "threshold, code", [("30%", 0), ("0.3", 0), ("20%", 1), ("0.2", 1), ("0", 1), ("150%", 0), ("1", 0)]
)
def test_cli_threshold(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path, Path], threshold: str, code: int
) -> None:
    before, worse, _ = files
    got, out, _ = run(capsys, "compare", str(before), str(worse), "--threshold", threshold)
    assert got == code
    assert f"(threshold {float(parse_threshold(threshold)) * 100:g}%)" in out.splitlines()[0]


def test_cli_threshold_equals_form(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    before, worse, _ = files
    assert run(capsys, "compare", str(before), str(worse), "--threshold=50%")[0] == EXIT_OK


@pytest.mark.parametrize(
    "threshold, message",
    [
        ("ten", "fraction like 0.1 or a percentage like 10%, got 'ten'"),
        ("10", "ambiguous: write 10% for a percentage"),
        ("=-1%", "finite number >= 0"),
    ],
)
def test_cli_bad_threshold_exits_2(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path, Path], threshold: str, message: str
) -> None:
    before, worse, _ = files
    option = ["--threshold" + threshold] if threshold.startswith("=") else ["--threshold", threshold]
    code, out, err = run(capsys, "compare", str(before), str(worse), *option)
    assert code == EXIT_USAGE
    assert out == ""
    assert "argument --threshold" in err and message in err


def test_cli_json(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    before, worse, _ = files
    code, out, _ = run(capsys, "compare", str(before), str(worse), "--json")
    assert code == EXIT_REGRESSION
    data = json.loads(out)
    assert data == json.loads(json.dumps(compare_reports(before, worse).to_dict()))
    assert data["before"] == str(before) and data["after"] == str(worse)
    assert [(r["operation"], r["metric"]) for r in data["regressions"]] == [("llm_inference", "p95_ms")]


def test_cli_min_count(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", report(x=op_entry(total=3, p50=1.0)))
    b = write(tmp_path / "b.json", report(x=op_entry(total=3, p50=2.0)))
    assert run(capsys, "compare", str(a), str(b))[0] == EXIT_REGRESSION
    code, out, _ = run(capsys, "compare", str(a), str(b), "--min-count", "10")
    assert code == EXIT_OK
    assert "not judged: fewer than 10 records" in out
    assert run(capsys, "compare", str(a), str(b), "--min-count", "0")[0] == EXIT_USAGE


def test_cli_added_removed_and_null_cost(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    a = write(tmp_path / "a.json", report(x=op_entry(cost_usd=None), old=op_entry()))
    b = write(tmp_path / "b.json", report(x=op_entry(cost_usd=3.0), new=op_entry(p99=50.0)))
    code, out, _ = run(capsys, "compare", str(a), str(b))
    assert code == EXIT_OK
    assert f"removed: only in {a}" in out and f"added: only in {b}" in out


def test_cli_real_exports(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old, new = PerformanceMonitor(), PerformanceMonitor()
    for i in range(50):
        old.record("llm_inference", 0.2 + i / 1000, tokens=80)
        new.record("llm_inference", (0.2 + i / 1000) * 2, tokens=80)
    a, b = old.export_metrics_json(tmp_path / "a.json"), new.export_metrics_json(tmp_path / "b.json")
    assert run(capsys, "compare", a, a)[0] == EXIT_OK
    code, out, _ = run(capsys, "compare", a, b)
    assert code == EXIT_REGRESSION
    assert "llm_inference (p50 ms, p95 ms, p99 ms, tokens/s)" in out


def test_cli_missing_file_exits_2(capsys: pytest.CaptureFixture[str], files: Files) -> None:
    before, _, _ = files
    missing = before.parent / "missing.json"
    for argv in (("compare", str(missing), str(before)), ("compare", str(before), str(missing))):
        code, out, err = run(capsys, *argv)
        assert code == EXIT_USAGE
        assert out == ""
        assert err == f"ragperf: error: cannot read {missing}: file not found\n"


@pytest.mark.parametrize(
    "content, detail",
    [
        ("{trunc", "is not valid JSON"),
        ("", "is not valid JSON: the file is empty"),
        ('{"operations": {}}', "is not a ragperf metrics file: missing key(s) 'total_operations'"),
        (
            '{"operations": {"x": {"total": 1}}, "total_operations": 1}',
            "is not a ragperf metrics file: operation 'x' lacks the 'duration' object",
        ),
    ],
)
def test_cli_corrupt_file_exits_3(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path, Path], content: str, detail: str
) -> None:
    before, _, _ = files
    bad = before.parent / "bad.json"
    bad.write_text(content)
    for argv in (("compare", str(bad), str(before)), ("compare", str(before), str(bad))):
        code, out, err = run(capsys, *argv)
        assert code == EXIT_CORRUPT
        assert out == ""
        assert err.startswith(f"ragperf: error: {bad} ")
        assert detail in err
        assert err.count("\n") == 1


def test_cli_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "compare", "only-one.json")
    assert code == EXIT_USAGE and "the following arguments are required: AFTER" in err
    code, out, _ = run(capsys, "compare", "--help")
    assert code == EXIT_OK
    assert out.startswith("usage: ragperf compare")
    for text in (
        "--threshold T",
        "--json",
        "--min-count N",
        "after > before * (1 + T)",
        "after - before > T * max(before, 1%)",
        "1  unexpected error; for compare: a regression",
    ):
        assert text in out
    code, out, _ = run(capsys, "--help")
    assert "compare" in out and "ragperf compare before.json after.json --threshold 10%" in out


def test_cli_subprocess_is_a_ci_gate(files: Files) -> None:
    before, worse, fine = files
    exe = Path(sys.executable).parent / "ragperf"
    assert exe.exists(), f"the ragperf console script is not installed next to {sys.executable}"

    def gate(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), "compare", *argv], capture_output=True, text=True, timeout=60)

    ok = gate(str(before), str(fine))
    assert ok.returncode == 0, ok.stderr
    assert "OK: no regression" in ok.stdout
    bad = gate(str(before), str(worse), "--threshold", "10%")
    assert bad.returncode == 1
    assert "REGRESSION" in bad.stdout and bad.stderr == ""
    usage = gate(str(before), str(worse), "--threshold", "x")
    assert usage.returncode == 2 and "--threshold" in usage.stderr


def test_relative_change_is_finite_or_none() -> None:
    before = report(x=op_entry(p50=0.0, per_second=0.0))
    c = compare_reports(before, report(x=op_entry(p50=1.0, per_second=5.0)))
    for d in c.operation("x").metrics:
        assert d.relative_change is None or math.isfinite(d.relative_change)
    assert c.operation("x").metric("p50_ms").regression  # 0 -> 1 s
    assert c.operation("x").metric("tokens_per_second").improved
