"""ragperf.streamlit in Streamlit's AppTest: the values the panel shows
(metrics, table cells, errors) equal the monitor's, for a live monitor, a
report dict and a metrics file that changes while the page is open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _panel_helpers import OPERATIONS, known_monitor, populate

from ragperf import PerformanceMonitor

pytest.importorskip("streamlit", reason="streamlit is in the test extra: pip install '.[test]'")
from streamlit.testing.v1 import AppTest  # noqa: E402

TIMEOUT_S = 60  # a first run imports pandas/altair: slow on a busy machine


# AppTest runs these bodies as scripts, without this module's imports:
# string annotations are not evaluated there.
def live_app(monitor: "object", refresh_s: "float | None") -> None:
    from ragperf.panel.streamlit import show_metrics

    show_metrics(monitor, refresh_s=refresh_s)


def file_app(path: "str") -> None:
    from ragperf.panel.streamlit import show_metrics_file

    show_metrics_file(path, refresh_s=None)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected_metrics(report: dict[str, Any]) -> dict[str, str]:
    """The headline as the test computes it from the report, independently
    of ragperf._panel_data."""
    ops = report["operations"].values()
    tokens = sum(o["tokens"]["total"] for o in ops)
    seconds = sum(o["duration"]["total_s"] for o in ops if o["tokens"]["total"])
    cost = report["cost_usd"]
    return {
        "Health": report["health"]["status"],
        "Memory (RSS)": f"{report['memory']['current_rss_mb']:.1f} MB",
        "Total operations": str(report["total_operations"]),
        "Error rate": f"{100 * report['total_failed'] / report['total_operations']:.2f}%",
        "Tokens/s": f"{tokens / seconds:,.1f}",
        "Cost": f"${cost:.4f}",
    }


def check_table(at: AppTest, report: dict[str, Any]) -> None:
    table = at.dataframe[0].value
    assert list(table["operation"]) == sorted(report["operations"]) == OPERATIONS
    for _, row in table.iterrows():
        op = report["operations"][row["operation"]]
        assert row["count"] == op["total"]
        assert row["errors"] == op["failed"]
        for p in ("p50", "p95", "p99"):
            assert row[f"{p} ms"] == pytest.approx(op["duration"][p] * 1e3)
        assert row["tokens/s"] == pytest.approx(op["tokens"]["per_second"])


def check_errors(at: AppTest, errors: list[dict[str, Any]]) -> None:
    shown = at.dataframe[-1].value
    newest_first = list(reversed(errors))
    assert list(shown["operation"]) == [e["operation"] for e in newest_first]
    assert list(shown["error"]) == [e["error_type"] for e in newest_first]
    assert list(shown["message"]) == [e["message"] for e in newest_first]
    assert list(shown["duration ms"]) == pytest.approx([e["duration_s"] * 1e3 for e in newest_first])


# ------------------------------------------------------------- live monitor


def test_live_panel_shows_the_monitors_values() -> None:
    monitor = known_monitor()
    at = AppTest.from_function(live_app, args=(monitor, None), default_timeout=TIMEOUT_S).run()
    assert not at.exception
    # The memory figure moves between two reads; compare with the report the panel used.
    shown = metrics(at)
    report = monitor.generate_report()
    want = expected_metrics(report)
    assert shown.pop("Memory (RSS)").endswith(" MB")
    want.pop("Memory (RSS)")
    assert shown == want
    assert shown["Total operations"] == "11" and shown["Cost"] == "$0.0020"
    check_table(at, report)
    check_errors(at, monitor.get_recent_errors())
    assert [w.value for w in at.warning] == monitor.get_health_status()["issues"]
    recent = at.dataframe[1].value
    assert len(recent) == monitor.get_operation_count() == 11
    assert sorted(recent["duration ms"]) == pytest.approx(
        sorted(r["duration_ms"] for r in monitor.get_recent_operations(None, 100))
    )
    labels = [b.label for b in at.download_button]
    assert labels == ["Download JSON", "Download CSV", "Download operations CSV"]
    # the nested query_processing block: "where the time goes" is drawn
    assert "#### Where the time goes" in [m.value for m in at.markdown]
    assert any("exclusive time" in c.value for c in at.caption)


def test_no_nested_blocks_no_where_the_time_goes_chart() -> None:
    monitor = PerformanceMonitor()
    monitor.record("llm_inference", 0.5)
    at = AppTest.from_function(live_app, args=(monitor, None), default_timeout=TIMEOUT_S).run()
    assert not at.exception
    assert "#### Where the time goes" not in [m.value for m in at.markdown]


def test_headline_tiles_are_two_rows_of_three() -> None:
    # Six tiles in one row cut their values at 1280-1440 px ("heal…").
    at = AppTest.from_function(live_app, args=(known_monitor(), None), default_timeout=TIMEOUT_S).run()
    tiles = [column for column in at.columns if len(column.get("metric")) == 1]
    assert len(at.metric) == 6 and len(tiles) == 6
    assert [column.weight for column in tiles] == pytest.approx([1 / 3] * 6)  # a third of the width each


def test_reset_clears_the_monitor() -> None:
    monitor = known_monitor()
    at = AppTest.from_function(live_app, args=(monitor, None), default_timeout=TIMEOUT_S).run()
    (reset,) = at.button
    assert reset.label == "Reset metrics" and not reset.disabled
    reset.click().run()
    assert monitor.get_operation_count() == 0
    assert metrics(at)["Total operations"] == "0"
    assert metrics(at)["Health"] == "healthy"
    populate(monitor)
    at.run()
    assert metrics(at)["Total operations"] == "11"


def test_default_monitor_and_auto_refresh() -> None:
    from ragperf import get_performance_monitor

    default = get_performance_monitor()
    default.clear_metrics()
    try:
        default.record("embedding_generation", 0.25, tokens=40)
        at = AppTest.from_function(live_app, args=(None, 5), default_timeout=TIMEOUT_S).run()
        assert not at.exception
        assert metrics(at)["Total operations"] == "1"
        assert metrics(at)["Tokens/s"] == "160.0"
        assert list(at.dataframe[0].value["operation"]) == ["embedding_generation"]
    finally:
        default.clear_metrics()


def test_history_grows_across_reruns() -> None:
    monitor = known_monitor()
    at = AppTest.from_function(live_app, args=(monitor, None), default_timeout=TIMEOUT_S).run()
    for _ in range(2):
        at.run()
    history = at.session_state["ragperf:history"]
    assert len(history) == 3
    assert [p["total_operations"] for p in history] == [11, 11, 11]
    # With more than one reading the p95-per-refresh chart replaces its hint.
    assert not any("Builds up" in c.value for c in at.caption)


# ------------------------------------------------------------- saved data


def test_report_dict_panel_disables_reset() -> None:
    report = json.loads(json.dumps(known_monitor().generate_report()))
    at = AppTest.from_function(live_app, args=(report, None), default_timeout=TIMEOUT_S).run()
    assert not at.exception
    assert metrics(at) == expected_metrics(report)
    check_table(at, report)
    assert at.button[0].disabled
    assert [b.label for b in at.download_button] == ["Download JSON", "Download CSV"]


def test_file_panel_shows_the_file_and_reloads_it(tmp_path: Path) -> None:
    monitor = known_monitor()
    path = tmp_path / "metrics.json"
    monitor.export_metrics_json(path)
    saved = json.loads(path.read_text())
    at = AppTest.from_function(file_app, args=(str(path),), default_timeout=TIMEOUT_S).run()
    assert not at.exception
    assert metrics(at) == expected_metrics(saved)
    check_table(at, saved)
    check_errors(at, [dict(e, timestamp_s=e["timestamp_unix_s"]) for e in saved["errors"]["recent"]])
    assert at.subheader[0].value == "ragperf: metrics.json"
    assert at.button[0].disabled

    # A service's next periodic export: 5 more retrievals. Same size is possible,
    # so the mtime is moved explicitly as a later write would.
    for _ in range(5):
        monitor.record("document_retrieval", 0.05)
    monitor.export_metrics_json(path)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    at.run()
    reloaded = json.loads(path.read_text())
    assert metrics(at)["Total operations"] == "16"
    assert metrics(at) == expected_metrics(reloaded)
    assert at.session_state["ragperf:file"]["loads"] == 2


def test_file_panel_keeps_the_last_good_numbers(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    known_monitor().export_metrics_json(path)
    at = AppTest.from_function(file_app, args=(str(path),), default_timeout=TIMEOUT_S).run()
    path.write_text('{"operations": {"x": ')  # a writer that is not atomic, caught mid-write
    at.run()
    assert [e.value for e in at.error] == [
        f"{path} is not valid JSON (line 1, column 22: Expecting value); the file ends early (truncated?)"
    ]
    assert metrics(at)["Total operations"] == "11"
    path.unlink()
    at.run()
    assert [e.value for e in at.error] == [f"cannot read {path}: No such file or directory"]
    assert metrics(at)["Total operations"] == "11"


def test_missing_file_from_the_start_shows_only_an_error(tmp_path: Path) -> None:
    path = tmp_path / "none.json"
    at = AppTest.from_function(file_app, args=(str(path),), default_timeout=TIMEOUT_S).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"cannot read {path}: No such file or directory"]
    assert not at.metric


# ------------------------------------------------------------- arguments


def test_bad_arguments_raise_before_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragperf.panel.streamlit import show_metrics, show_metrics_file

    with pytest.raises(TypeError, match="PerformanceMonitor or a report dict.*'nope'"):
        show_metrics("nope")
    with pytest.raises(ValueError, match="refresh_s must be a finite number of seconds >= 0, got -1"):
        show_metrics(PerformanceMonitor(), refresh_s=-1)
    with pytest.raises(TypeError, match="refresh_s must be a number of seconds or None, got '5'"):
        show_metrics(PerformanceMonitor(), refresh_s="5")
    with pytest.raises(ValueError, match="history_points must be a whole number >= 1, got 0"):
        show_metrics_file("m.json", history_points=0)


def test_without_streamlit_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragperf.panel.streamlit import show_metrics

    monkeypatch.setitem(sys.modules, "streamlit", None)  # import streamlit -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'ragperf\[streamlit\]'"):
        show_metrics(PerformanceMonitor())


def test_importing_ragperf_does_not_import_streamlit() -> None:
    code = (
        "import sys, ragperf, ragperf.streamlit, ragperf.cli, ragperf.dashboard\n"
        "print(sorted(m for m in ('streamlit', 'altair', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
