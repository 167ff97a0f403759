"""The composed monitor: components, the report/health protocol (one writer
per report key, health composed once), the typed delegates that keep every
historical method name, and the one exporter interface."""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import ragperf
from ragperf import PerformanceMonitor
from ragperf._component import (
    Component,
    HealthIssue,
    ReportAssembly,
    ReportConflictError,
    ReportSection,
    compose_health,
)
from ragperf.export.base import BlockExporter, Exporter
from ragperf.export.files import CsvFileExporter, JsonFileExporter
from ragperf.export.exporting import PeriodicExporter
from ragperf.monitor import DELEGATES
from _clock_helpers import T0, record_at

PACKAGE = Path(ragperf.__file__).resolve().parent

# Every public member PerformanceMonitor had before it was composed (main at
# 57b35c5: 69 names), each still there.
MEMBERS_BEFORE = """
add_alert_rule check_alerts clear_metrics clear_regression_baseline cpu_percent_threshold
detect_regressions disable_logging enable_logging enable_memory_tracking error_rate_threshold
export_breakdown_csv export_metrics_csv export_metrics_json export_operations_csv generate_report
get_active_alerts get_alert_rules get_all_stats get_breakdown get_cache_stats get_dimensions
get_health_status get_in_flight_operations get_initializations get_internal_error_count
get_latency_target get_memory_snapshots get_memory_stats get_model_prices get_model_stats
get_monitoring_overhead get_operation_count get_operation_stats get_recent_errors
get_recent_operations get_recent_traces get_regression_baseline get_resource_history
get_system_stats gpu_memory_percent_threshold load max_history max_operations memory_bytes
memory_max_age_us memory_threshold_mb merge_from overflow_operation_names print_report queue
record record_cache remove_alert_rule set_dimensions set_evaluation_clock set_latency_target
set_model_prices set_regression_baseline snapshot_memory start_alert_evaluator
start_periodic_export start_sampler stop_sampler system_memory_percent_threshold timed
track_gpu_memory track_initialization track_operation track_stream
""".split()

# Public delegates added since the composition (issue #21: insights, SLOs).
ADDED_DELEGATES = {
    "get_bottlenecks", "get_suggestions", "predict_latency", "add_slo", "remove_slo", "get_slo_status",
}

# Report keys written by components (the core owns the keys of its JSON).
REPORT_OWNERS = {
    "queues": "queues",
    "initializations": "models",
    "memory_snapshots": "memory_snapshots",
    "recent_traces": "traces",
    "in_flight": "traces",
    "monitoring": "overhead",
    "alerts": "alerts",
    "regressions": "regressions",
    "regression_baseline": "regressions",
    "slos": "slos",
    "insights": "insights",
}

@pytest.fixture
def monitor() -> PerformanceMonitor:
    return PerformanceMonitor(enable_memory_tracking=False, dimensions=["model"])


# ------------------------------------------------------------- delegates


def test_every_historical_member_still_resolves(monitor: PerformanceMonitor) -> None:
    assert len(MEMBERS_BEFORE) == 69
    for name in MEMBERS_BEFORE:
        assert hasattr(PerformanceMonitor, name), name
        assert hasattr(monitor, name), name
        assert inspect.getdoc(getattr(PerformanceMonitor, name)), f"{name} has no docstring"


def test_delegates_forward_with_the_component_signature_and_docstring(monitor: PerformanceMonitor) -> None:
    public = set(DELEGATES) - {"_add_exit_hook", "_remove_exit_hook"}
    historical = public - ADDED_DELEGATES
    assert len(historical) == 42 and historical <= set(MEMBERS_BEFORE)
    assert ADDED_DELEGATES <= public and not ADDED_DELEGATES & set(MEMBERS_BEFORE)
    for name, (component_name, method_name) in DELEGATES.items():
        component = getattr(monitor, component_name)
        assert isinstance(component, Component), name
        method = getattr(type(component), method_name)
        function = getattr(PerformanceMonitor, name)
        assert function.__name__ == name
        assert function.__doc__ == method.__doc__, name
        # Bound on the monitor it has exactly the component method's parameters.
        assert inspect.signature(getattr(monitor, name)) == inspect.signature(
            getattr(component, method_name)
        ), name


def test_delegates_reach_the_component_state(monitor: PerformanceMonitor) -> None:
    rule = monitor.add_alert_rule("slow", "p95_latency_s", 1.0)
    assert monitor.alerts.rules() == [rule] == monitor.get_alert_rules()
    monitor.record_cache("emb", hit=False)
    assert monitor.caches.stats()["emb"]["misses"] == 1
    monitor.queue("q").enqueue()
    assert monitor.queues.get("q").length == 1
    assert monitor.get_dimensions() == monitor.dimensions.names() == ["model"]
    # via the class too, like any method
    assert PerformanceMonitor.get_alert_rules(monitor) == [rule]


def test_subclass_overrides_of_a_delegated_name_are_honoured() -> None:
    class Custom(PerformanceMonitor):
        def get_cache_stats(self) -> dict[str, dict[str, Any]]:
            return {"custom": super().get_cache_stats()}

    assert Custom().get_cache_stats() == {"custom": {}}


MYPY_DELEGATES = """
from ragperf import PerformanceMonitor
from ragperf.alerts import AlertRule
m = PerformanceMonitor()
rule: AlertRule = m.add_alert_rule("r", "p95_latency_s", 2.0, operation="x", window_minutes=5)
ok: bool = m.remove_alert_rule("r")
stats: dict[str, dict[str, float]] = m.get_model_prices()
count: int = m.get_internal_error_count()
m.set_dimensions(["model"])
m.add_alert_rule("r", "p95_latency_s", "high")
bad: str = m.get_internal_error_count()
m.get_recent_traces(limit="ten")
m.memory_threshold_mb = "big"
m.max_history = 3
"""


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_sees_the_delegates_real_signatures(tmp_path: Path) -> None:
    script = tmp_path / "delegates.py"
    script.write_text(textwrap.dedent(MYPY_DELEGATES), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--config-file", "",
         "--cache-dir", str(tmp_path / ".mypy_cache"), str(script)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    lines = {int(m.group(1)) for m in re.finditer(r"delegates\.py:(\d+): error", result.stdout)}
    # lines 2-9 type-check; each of the last five is an error (not Any)
    assert lines == {10, 11, 12, 13, 14}, result.stdout + result.stderr


# ------------------------------------------------------ report protocol


def test_each_component_key_has_one_writer(monitor: PerformanceMonitor) -> None:
    assembly = ReportAssembly(json.loads(monitor._core.report_json(0)), now_s=time.time())
    core_keys = set(assembly.report)
    for name, component in monitor._components:
        component.contribute_report(assembly.section(name))
    owners = assembly.owners
    assert {k: v for k, v in owners.items() if k not in core_keys} == REPORT_OWNERS
    assert all(owners[k] == "core" for k in core_keys)
    assert list(monitor.generate_report()) == list(owners)


def test_a_second_writer_of_a_key_is_refused() -> None:
    assembly = ReportAssembly({"operations": {"op": {"total": 1}}, "health": {}}, now_s=T0)
    assembly.section("alerts").add("alerts", {})
    with pytest.raises(ReportConflictError, match="'alerts' is written by 'alerts'; 'rogue'"):
        assembly.section("rogue").add("alerts", [])
    with pytest.raises(ReportConflictError, match="'operations' is written by 'core'"):
        assembly.section("rogue").add("operations", {})
    assert assembly.section("dimensions").add_to_operation("op", "dimensions", {"model": {}})
    with pytest.raises(ReportConflictError, match=r"operations\.op\.dimensions is written by 'dimensions'"):
        assembly.section("rogue").add_to_operation("op", "dimensions", {})
    with pytest.raises(ReportConflictError, match=r"operations\.op\.total is written by 'core'"):
        assembly.section("rogue").add_to_operation("op", "total", 2)
    assert not assembly.section("dimensions").add_to_operation("absent", "dimensions", {})
    assert assembly.report["alerts"] == {} and assembly.report["operations"]["op"]["total"] == 1


def test_generate_report_refuses_a_component_that_overwrites(monitor: PerformanceMonitor) -> None:
    class Rogue(Component):
        def contribute_report(self, section: ReportSection) -> None:
            section.add("monitoring", {"internal_errors": 0})

    monitor._components += (("rogue", Rogue()),)
    with pytest.raises(ReportConflictError, match="'monitoring' is written by 'overhead'; 'rogue'"):
        monitor.generate_report()


def test_dimensions_are_a_per_operation_extra(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference", model="qwen"):
        pass
    report = monitor.generate_report()
    assert report["operations"]["llm_inference"]["dimensions"]["model"]["qwen"]["total"] == 1


# ---------------------------------------------------------------- health


def test_compose_health_rules() -> None:
    core = {"status": "healthy", "memory_mb": 1.0, "total_operations": 0, "issues": []}
    assert compose_health(core, []) == core
    assert compose_health(core, [HealthIssue("a")])["status"] == "warning"
    mixed = compose_health(core, [HealthIssue("a"), HealthIssue("b", "critical")])
    assert mixed["status"] == "critical" and mixed["issues"] == ["a", "b"]
    warned = {**core, "status": "warning", "issues": ["memory"]}
    assert compose_health(warned, [HealthIssue("c")]) == {**warned, "issues": ["memory", "c"]}
    assert core["issues"] == []  # not modified


def test_health_and_report_health_agree(monitor: PerformanceMonitor) -> None:
    monitor.set_evaluation_clock(lambda: T0 + 1)
    record_at(monitor, "llm_inference", 0.1, T0 - 600, times=5)
    monitor.set_regression_baseline(min_count=1, now=T0 - 599)  # p95 0.1 s
    record_at(monitor, "llm_inference", 2.0, T0, times=5)
    monitor.add_alert_rule("slow", "p95_latency_s", 1.0, operation="llm_inference", severity="critical")
    health = monitor.get_health_status()
    report = monitor.generate_report()
    assert health["status"] == report["health"]["status"] == "critical"
    assert health["issues"] == report["health"]["issues"]
    alert_issue, regression_issue = health["issues"]
    assert alert_issue.startswith("alert slow:") and "llm_inference" in regression_issue
    assert report["alerts"]["active"][0]["rule"] == "slow"
    assert report["regressions"][0]["operation"] == "llm_inference"


# ------------------------------------------------------------- exporters


def test_file_exporters_write_real_files(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    monitor.record("reranking", 0.01)
    exporters: list[Exporter] = [
        JsonFileExporter(tmp_path / "m.json"),
        CsvFileExporter(tmp_path / "s.csv"),
        CsvFileExporter(tmp_path / "o.csv", table="operations"),
        CsvFileExporter(tmp_path / "b.csv", table="breakdown"),
    ]
    for exporter in exporters:
        assert isinstance(exporter, Exporter)
        assert Path(str(exporter.export(monitor))).is_file()
        exporter.close()
    assert json.loads((tmp_path / "m.json").read_text())["operations"]["reranking"]["total"] == 1
    assert (tmp_path / "s.csv").read_text().splitlines()[1].startswith("reranking,1,")
    with pytest.raises(ValueError, match="table must be one of"):
        CsvFileExporter(tmp_path / "x.csv", table="nope")


def test_periodic_exporter_runs_any_exporter(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    from ragperf.export.prometheus_text import PrometheusTextExporter

    monitor.record("reranking", 0.01)
    target = tmp_path / "ragperf.prom"
    periodic = PeriodicExporter(monitor, interval_s=3600, exporter=PrometheusTextExporter(target)).start()
    assert isinstance(periodic, Exporter) and periodic.path == str(target)
    assert not target.exists()
    periodic.close()  # the last write of stop()
    assert periodic.exports == 1 and not periodic.running
    families = {f.name: f for f in text_string_to_metric_families(target.read_text())}
    samples = [s for f in families.values() for s in f.samples if s.labels.get("operation") == "reranking"]
    assert samples, sorted(families)
    with pytest.raises(TypeError, match="exporter must have export"):
        PeriodicExporter(monitor, tmp_path / "x", exporter=object())  # type: ignore[arg-type]


def test_block_exporters_close_detaches_them(monitor: PerformanceMonitor) -> None:
    from ragperf.export.logs import enable_logging

    logger = enable_logging(monitor, level=logging.DEBUG)
    assert isinstance(logger, BlockExporter)
    assert monitor.exporters.hook_count() == 1 and monitor._exit_hooks == [logger]
    logger.close()
    logger.close()
    assert monitor.exporters.hook_count() == 0
    assert monitor.disable_logging() is False


# -------------------------------------------- one runner for background work

def _module_file(spec: Any) -> str:
    """Where the module of ``spec`` (``importlib.util.find_spec``: found without
    importing it) is, relative to the package."""
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).resolve().relative_to(PACKAGE).as_posix()


RUNNER = _module_file(importlib.util.find_spec("ragperf.export._runner"))
ALLOWED_THREADS = {
    RUNNER,  # the one periodic, fork-aware runner
    # the HTTP server's serve_forever thread (a server, not periodic work)
    _module_file(importlib.util.find_spec("ragperf.export.prometheus_http")),
    _module_file(importlib.util.find_spec("ragperf.panel.dashboard")),  # opens the browser once the panel answers
}


def test_background_work_only_through_the_runner() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(PACKAGE).as_posix()
        if "threading.Thread(" in text and rel not in ALLOWED_THREADS:
            offenders.append(f"{rel}: thread")
        if rel != RUNNER and ("atexit.register" in text or "register_at_fork" in text):
            offenders.append(f"{rel}: atexit/fork handler")
        if rel != RUNNER and re.search(r"def check_interval|MIN_INTERVAL_S\s*[:=]", text):
            offenders.append(f"{rel}: interval check")
    assert offenders == []
