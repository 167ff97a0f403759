"""Compare two ragperf metrics reports (before / after) and find regressions.

The reports are what ``PerformanceMonitor.generate_report()`` returns or
``export_metrics_json`` writes (the seed schema is enough). For every
operation present in either report the comparison shows the change in
p50/p95/p99 latency, error rate, tokens/s and cost per call, and marks the
changes that exceed a threshold as regressions. ``ragperf compare`` is the
command-line form and exits 1 when there is a regression, so it can gate CI.

Regression rules, for a threshold ``t`` (default 0.10 = 10%); "more than"
is strict:

* **p50 / p95 / p99 latency** (``p50_ms`` ...): regression when the value
  grew by more than ``t`` relative to before: ``after > before * (1 + t)``.
* **cost per call** (``cost_usd_per_call`` = the operation's ``cost_usd``
  divided by its record count, so runs of different lengths compare fairly):
  same rule as latency. A cost that is missing or ``null`` in either report
  shows as ``n/a`` and is never a regression.
* **tokens/s** (``tokens.per_second``): regression when it fell by more than
  ``t`` relative to before: ``after < before * (1 - t)``. A before value of
  0 (the operation records no tokens) is never a regression.
* **error rate** (``error_rate``, else ``failed / total``): regression when
  it rose by more than ``t`` times the old rate, with the old rate counted as
  at least 1%: ``after - before > t * max(before, 0.01)``. With ``t`` = 10%:
  5% -> 5.6% is a regression (limit 5.5%), 0% -> 0.05% is not (limit 0.1%),
  0% -> 0.2% is.
* A latency or cost that goes from 0 to more than 0 counts as an unbounded
  increase (a regression); the relative change is then reported as ``None``.

The same rules, mirrored, mark improvements (informational only).
Operations present in only one report are listed as ``added`` / ``removed``,
never as regressions. Operations with fewer than ``min_count`` records in
either report are listed with their changes as ``skipped`` and not judged.

Example:
    >>> from ragperf.model.compare import compare_reports, format_comparison
    >>> c = compare_reports("before.json", "after.json", threshold=0.10)  # doctest: +SKIP
    >>> print(format_comparison(c))                                       # doctest: +SKIP
    >>> [(r.operation, r.metric) for r in c.regressions]                  # doctest: +SKIP
    [('llm_inference', 'p95_ms')]
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from typing import Any, Final

from .comparison import Comparison, MetricDelta, OperationDelta
from .report_file import ReportFileError, check_report, load_report
from .stats_fields import field

__all__ = [
    "ERROR_RATE_FLOOR",
    "METRICS",
    "Comparison",
    "MetricDelta",
    "OperationDelta",
    "ReportFormatError",
    "compare_reports",
    "format_comparison",
    "parse_threshold",
]

#: The smallest "before" error rate the relative error-rate rule uses (1%).
ERROR_RATE_FLOOR: Final = 0.01

#: The compared metrics, in table order, with the unit in the name.
METRICS: Final = ("p50_ms", "p95_ms", "p99_ms", "error_rate", "tokens_per_second", "cost_usd_per_call")

# Slack for float rounding: 0.5 -> 0.55 is +10.000000000000009%, not "more than 10%".
_EPS: Final = 1e-9

_HIGHER_IS_WORSE: Final = {
    "p50_ms": True,
    "p95_ms": True,
    "p99_ms": True,
    "error_rate": True,
    "tokens_per_second": False,
    "cost_usd_per_call": True,
}

ReportSource = Mapping[str, Any] | str | os.PathLike[str]


def parse_threshold(text: str | float) -> float:
    """Parses a regression threshold: ``"10%"`` or ``"0.1"`` (a fraction) -> 0.1.

    A number (int or float) is a fraction as it is. A string without ``%``
    above 1 is refused as ambiguous (write ``"150%"`` for 1.5). Raises
    ValueError naming the value for anything that is not a finite,
    non-negative number.

    Example:
        >>> parse_threshold("10%"), parse_threshold("0.25"), parse_threshold("150%"), parse_threshold(1.5)
        (0.1, 0.25, 1.5, 1.5)
    """
    if isinstance(text, bool):
        raise ValueError(f"threshold must be a fraction like 0.1 or a percentage like 10%, got {text!r}")
    if isinstance(text, numbers.Real):
        value, percent = float(text), False
    elif isinstance(text, str):
        raw = text.strip()
        percent = raw.endswith("%")
        try:
            value = float(raw[:-1] if percent else raw)
        except ValueError:
            raise ValueError(
                f"threshold must be a fraction like 0.1 or a percentage like 10%, got {text!r}"
            ) from None
    else:
        raise ValueError(f"threshold must be a fraction like 0.1 or a percentage like 10%, got {text!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"threshold must be a finite number >= 0, got {text!r}")
    if percent:
        return value / 100.0
    if isinstance(text, str) and value > 1:
        raise ValueError(
            f"threshold {text!r} is ambiguous: write {value:g}% for a percentage, "
            f"or a fraction such as {value / 100:g}"
        )
    return value


# ---------------------------------------------------------------- loading


#: A report that is not valid JSON or not a ragperf metrics report: the one
#: error of the report loader (:class:`ragperf.model.report_file.ReportFileError`,
#: a ValueError); ``source`` names the file (or ``"before"`` / ``"after"``
#: for a dict), ``detail`` says what is wrong.
ReportFormatError = ReportFileError


def _load(source: ReportSource, default_name: str) -> tuple[Mapping[str, Any], str]:
    if isinstance(source, Mapping):
        report, name = check_report(source, default_name), default_name
    elif isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        report = load_report(name)
    else:
        raise TypeError(
            f"{default_name} must be a report dict or a path to a metrics JSON, "
            f"got {type(source).__name__}"
        )
    if not isinstance(report.get("operations"), Mapping):
        raise ReportFormatError(name, "no 'operations' object")
    return report, name


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{where} must be a finite number >= 0, got {value!r}")
    return number


#: The latency metrics and the statistics they read (the field table gives
#: each one's place in a report entry).
_LATENCY: Final = {"p50_ms": "p50_duration", "p95_ms": "p95_duration", "p99_ms": "p99_duration"}


def _at(entry: Mapping[str, Any], attribute: str, where: str, required: bool) -> float | None:
    """The number of a statistic in a report entry, at its report path;
    None for an optional one that is missing or null."""
    *parents, key = str(field(attribute).report_path).split(".")
    node = entry
    for p in parents:
        child = node.get(p)
        if child is None and not required:
            return None
        if not isinstance(child, Mapping):
            if required:
                raise ValueError(f"{where} lacks the {p!r} object")
            raise ValueError(f"{where}[{p!r}] must be an object, got {type(child).__name__}")
        node, where = child, f"{where}[{p!r}]"
    if required:
        if key not in node:
            raise ValueError(f"{where} lacks key {key!r}")
        return _number(node[key], f"{where}[{key!r}]")
    value = node.get(key)
    return None if value is None else _number(value, f"{where}[{key!r}]")


def _extract(entry: Any, where: str) -> tuple[int, dict[str, float | None]]:
    """(record count, metric values) of one report operation entry."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where} must be an object, got {type(entry).__name__}")
    total = int(_at(entry, "total_operations", where, True) or 0)
    values: dict[str, float | None] = {}
    for metric, attribute in _LATENCY.items():
        values[metric] = float(_at(entry, attribute, where, True) or 0.0) * 1e3
    error_rate = _at(entry, "error_rate", where, False)
    if error_rate is None:
        failed = _at(entry, "failed_operations", where, False)
        if failed is not None and total > 0:
            error_rate = failed / total
    values["error_rate"] = error_rate
    values["tokens_per_second"] = _at(entry, "tokens_per_second", where, False)
    cost = _at(entry, "cost_usd", where, False)
    values["cost_usd_per_call"] = cost / total if cost is not None and total > 0 else None
    return total, values


# ---------------------------------------------------------------- judging


def _judge(metric: str, before: float, after: float, threshold: float) -> tuple[bool, bool]:
    """(regression, improved) of one metric with both sides present."""
    if metric == "error_rate":
        limit = threshold * max(before, ERROR_RATE_FLOOR)
        return after - before > limit + _EPS * limit, before - after > limit + _EPS * limit
    if _HIGHER_IS_WORSE[metric]:
        if before == 0:
            return after > 0, False
        return after > before * (1 + threshold + _EPS), after < before * (1 - threshold - _EPS)
    if before == 0:  # e.g. no tokens before: cannot fall
        return False, after > 0
    return after < before * (1 - threshold - _EPS), after > before * (1 + threshold + _EPS)


def _delta(
    operation: str, metric: str, before: float | None, after: float | None, threshold: float, judge: bool
) -> MetricDelta:
    if before is None or after is None:
        return MetricDelta(operation, metric, before, after, None, None)
    change = after - before
    relative = change / before if before != 0 else None
    regression, improved = _judge(metric, before, after, threshold) if judge else (False, False)
    return MetricDelta(operation, metric, before, after, change, relative, regression, improved)


def compare_reports(
    before: ReportSource,
    after: ReportSource,
    threshold: float | str = 0.10,
    *,
    min_count: int = 1,
    before_name: str | None = None,
    after_name: str | None = None,
) -> Comparison:
    """Compares two metrics reports; see the module docstring for the rules.

    Args:
        before, after: a report dict (``generate_report()``) or the path of a
            metrics JSON (``export_metrics_json``).
        threshold: the relative change that counts as a regression, as a
            fraction (0.10) or a string (``"10%"``, ``"0.1"``); >= 0.
        min_count: operations with fewer records than this in either report
            are listed but not judged (``status == "skipped"``).
        before_name, after_name: labels used in messages and in the table
            (default: the path, or ``"before"`` / ``"after"`` for dicts).

    Raises:
        OSError: a path that cannot be read (e.g. FileNotFoundError).
        ReportFormatError: (a ValueError) a report that is not valid JSON or
            not a ragperf report; the message names the file and the operation.
        ragperf.persistence.SchemaVersionError: (a ValueError) a report whose
            top-level ``schema_version`` is newer than this ragperf reads; the
            message names the file and both versions.
        ValueError: an invalid threshold or min_count.
        TypeError: a source that is neither a mapping nor a path.

    Example:
        >>> from ragperf import PerformanceMonitor
        >>> old, new = PerformanceMonitor(), PerformanceMonitor()
        >>> old.record("llm_inference", 1.0, tokens=100)
        >>> new.record("llm_inference", 1.5, tokens=100)
        >>> c = compare_reports(old.generate_report(), new.generate_report(), "10%")
        >>> [(r.metric, round(r.relative_change, 2)) for r in c.regressions][:2]
        [('p50_ms', 0.5), ('p95_ms', 0.5)]
    """
    limit = parse_threshold(threshold)
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a whole number >= 1, got {min_count!r}")
    before_report, bname = _load(before, "before")
    after_report, aname = _load(after, "after")
    bname = before_name if before_name is not None else bname
    aname = after_name if after_name is not None else aname
    before_ops: Mapping[str, Any] = before_report["operations"]
    after_ops: Mapping[str, Any] = after_report["operations"]

    def extract(ops: Mapping[str, Any], name: str, file: str) -> tuple[int, dict[str, float | None]] | None:
        if name not in ops:
            return None
        try:
            return _extract(ops[name], f"operation {name!r}")
        except ValueError as e:
            raise ReportFormatError(file, str(e)) from None

    deltas: list[OperationDelta] = []
    names = list(before_ops) + [name for name in after_ops if name not in before_ops]
    for name in names:
        old = extract(before_ops, name, bname)
        new = extract(after_ops, name, aname)
        if old is None and new is not None:
            deltas.append(OperationDelta(name, "added", None, new[0]))
            continue
        if new is None and old is not None:
            deltas.append(OperationDelta(name, "removed", old[0], None))
            continue
        assert old is not None and new is not None
        judge = old[0] >= min_count and new[0] >= min_count
        metrics = tuple(_delta(name, m, old[1][m], new[1][m], limit, judge) for m in METRICS)
        deltas.append(OperationDelta(name, "compared" if judge else "skipped", old[0], new[0], metrics))
    return Comparison(deltas, limit, min_count, bname, aname)


# ---------------------------------------------------------------- formatting

_LABELS: Final = {
    "p50_ms": "p50 ms",
    "p95_ms": "p95 ms",
    "p99_ms": "p99 ms",
    "error_rate": "error rate",
    "tokens_per_second": "tokens/s",
    "cost_usd_per_call": "cost/call $",
}


def _value(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric == "error_rate":
        return f"{value * 100:.2f}%"
    if metric == "cost_usd_per_call":
        return f"{value:.6f}"
    if metric == "tokens_per_second":
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def _change(d: MetricDelta) -> str:
    if d.change is None:
        return "n/a"
    if d.metric == "error_rate":
        return f"{d.change * 100:+.2f} pp"
    if d.relative_change is None:
        return "new" if d.change > 0 else "+0.0%"
    return f"{d.relative_change * 100:+.1f}%"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def format_comparison(comparison: Comparison) -> str:
    """Formats a comparison as a text table (what ``ragperf compare`` prints):
    one row per operation and metric with before, after, the change and a
    ``REGRESSION`` / ``improved`` mark, then a one-line verdict.

    Example:
        >>> print(format_comparison(compare_reports("a.json", "b.json")))  # doctest: +SKIP
        ragperf compare: a.json -> b.json (threshold 10%)
        ...
        REGRESSION: 1 metric of 1 operation worse by more than 10%: llm_inference (p95 ms)
    """
    c = comparison
    lines = [
        f"ragperf compare: {c.before_name} -> {c.after_name} "
        f"(threshold {_percent(c.threshold)}"
        + (f", min count {c.min_count}" if c.min_count > 1 else "")
        + ")",
        "",
    ]
    width = max([24] + [len(op.operation) + 2 for op in c.operations])
    header = f"{'operation':<{width}}{'metric':<13}{'before':>14}{'after':>14}{'change':>12}"
    lines.append(header)
    lines.append("-" * (len(header) + 12))
    if not c.operations:
        lines.append("(no operations in either report)")
    for op in c.operations:
        if op.status in ("added", "removed"):
            added = op.status == "added"
            side = c.after_name if added else c.before_name
            count = (op.after_count if added else op.before_count) or 0
            lines.append(f"{op.operation:<{width}}{op.status}: only in {side} ({_plural(count, 'record')})")
            continue
        lines.append(
            f"{op.operation:<{width}}{'count':<13}{op.before_count:>14,}{op.after_count:>14,}"
            + (f"{'':>12}  not judged: fewer than {c.min_count} records" if op.status == "skipped" else "")
        )
        for d in op.metrics:
            mark = "  REGRESSION" if d.regression else "  improved" if d.improved else ""
            lines.append(
                f"{'':<{width}}{_LABELS[d.metric]:<13}{_value(d.metric, d.before):>14}"
                f"{_value(d.metric, d.after):>14}{_change(d):>12}{mark}"
            )
    lines.append("")
    regressions = c.regressions
    if regressions:
        by_op: dict[str, list[str]] = {}
        for r in regressions:
            by_op.setdefault(r.operation, []).append(_LABELS[r.metric])
        lines.append(
            f"REGRESSION: {_plural(len(regressions), 'metric')} of {_plural(len(by_op), 'operation')} "
            f"worse by more than {_percent(c.threshold)}: "
            + "; ".join(f"{op} ({', '.join(labels)})" for op, labels in by_op.items())
        )
    else:
        lines.append(f"OK: no regression beyond {_percent(c.threshold)}")
    return "\n".join(lines)


# A/B significance (issue #21): whole-distribution tests live in
# ragperf.watch.significance; re-exported here, where users compare runs.
from ..watch.significance import DimensionValue, significance  # noqa: E402

__all__ += ["DimensionValue", "significance"]
