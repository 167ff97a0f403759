"""Turns a report dict (``PerformanceMonitor.generate_report()``) into a
readable text table."""

from __future__ import annotations

from typing import Any, Mapping

from .stats_fields import field, report_item, report_value
from ..watch.calibration import overhead_summary
from ..watch.bottlenecks import format_bottlenecks

__all__ = ["format_report"]

#: The statistics of an operation's row, read through the field table in this
#: order (the durations first: a missing 'duration' is the error named).
_TABLE_ATTRIBUTES = (
    "p50_duration",
    "p95_duration",
    "p99_duration",
    "avg_duration",
    "total_tokens",
    "total_operations",
    "failed_operations",
)


def _ms(seconds: Any) -> str:
    return f"{float(seconds) * 1e3:,.2f}"


def format_report(report: Mapping[str, Any]) -> str:
    """Formats a report as text: headline, memory, one row per operation
    (count, failures, p50/p95/p99/avg in ms, tokens, tokens/s), where the
    time goes (``insights.bottlenecks``) and suggestions, health issues and
    what monitoring costs (when the report says).

    Example:
        >>> print(format_report(monitor.generate_report()))  # doctest: +SKIP
    """
    lines: list[str] = []
    rule = "=" * 96
    health = report.get("health", {})
    lines.append(rule)
    lines.append(f"ragperf performance report  {report.get('timestamp', '')}")
    lines.append(rule)
    lines.append(
        f"Total operations: {report.get('total_operations', 0)}   "
        f"Failed: {report.get('total_failed', 0)}   "
        f"Health: {health.get('status', 'unknown')}"
    )
    mem = report.get("memory", {})
    lines.append(
        "Memory (RSS MB): current {:.1f} | min {:.1f} | max {:.1f} | avg {:.1f}".format(
            mem.get("current_rss_mb", 0.0),
            mem.get("min_rss_mb", 0.0),
            mem.get("max_rss_mb", 0.0),
            mem.get("avg_rss_mb", 0.0),
        )
    )
    resources = report.get("resources", {})
    if resources.get("samples", 0):
        cpu = resources.get("cpu_percent", {})
        sys_mem = resources.get("system_used_percent", {})
        load = resources.get("load1", {})
        parts = [f"{resources['samples']} samples"]
        if cpu.get("samples"):
            parts.append(f"CPU avg {cpu['avg']:.1f}% max {cpu['max']:.1f}%")
        if sys_mem.get("samples"):
            parts.append(f"system memory {sys_mem['last']:.1f}% used")
        if load.get("samples"):
            parts.append(f"load {load['last']:.2f}")
        lines.append("Resources: " + " | ".join(parts))
    gpu = report.get("gpu", {})
    for device in gpu.get("devices", []) if gpu.get("available") else []:
        util = device.get("utilization_percent")
        lines.append(
            f"GPU {device['index']} {device['name']}: {device['memory_used_mb']:.0f}/"
            f"{device['memory_total_mb']:.0f} MB"
            + (f", {util:.0f}% busy" if util is not None else "")
        )
    ops: Mapping[str, Any] = report.get("operations", {})
    if ops:
        width = max(24, max(len(name) for name in ops) + 2)
        header = (
            f"{'operation':<{width}}{'count':>8}{'failed':>8}{'p50 ms':>11}{'p95 ms':>11}"
            f"{'p99 ms':>11}{'avg ms':>11}{'tokens':>10} {'tok/s':>10}"
        )
        lines.append("")
        lines.append(header)
        lines.append("-" * len(header))
        for name, op in ops.items():
            v = {a: report_item(op, a) for a in _TABLE_ATTRIBUTES}  # KeyError names a missing key
            per_second = report_value(op, field("tokens_per_second").report_path or "")
            lines.append(
                f"{name:<{width}}{v['total_operations']:>8}{v['failed_operations']:>8}"
                f"{_ms(v['p50_duration']):>11}{_ms(v['p95_duration']):>11}{_ms(v['p99_duration']):>11}"
                f"{_ms(v['avg_duration']):>11}{v['total_tokens']:>10} {per_second or 0.0:>10.1f}"
            )
    else:
        lines.append("")
        lines.append("No operations recorded yet.")
    insights = report.get("insights", {})
    where = format_bottlenecks(insights.get("bottlenecks", []))
    if where:
        lines.append("")
        lines.extend(where)
    if insights.get("suggestions"):
        lines.append("")
        lines.append("Suggestions:")
        lines.extend(f"  - [{s['rule']}] {s['message']}" for s in insights["suggestions"])
    issues = health.get("issues", [])
    if issues:
        lines.append("")
        lines.append("Issues:")
        lines.extend(f"  - {issue}" for issue in issues)
    cost = overhead_summary(report)
    if cost:
        lines.append("")
        lines.append(cost)
    lines.append(rule)
    return "\n".join(lines)
