"""Live regression detection: each operation's p95 over the latest window
compared with a baseline, flagged when it grew beyond a factor.

The baseline is either captured from the monitor itself (all-time, or an
earlier window) or read from one or more JSON exports: the ``state`` section
of an export holds every operation's serialized quantile sketch, and the
sketches of several files merge exactly. Both sides are quantiles of
relative-error sketches, so a reported p95 is within the sketch's accuracy
(0.5% by default) of the true one and the ratio within about twice that.

Only slow-downs are flagged (``current_p95 > factor * baseline_p95``), and
only for operations with at least ``min_count`` records on both sides;
operations whose baseline p95 is 0 have no meaningful ratio and are skipped.

Example:
    >>> monitor.set_regression_baseline("metrics-yesterday.json", factor=1.5)  # doctest: +SKIP
    >>> [f.operation for f in monitor.detect_regressions()]                    # doctest: +SKIP
    ['llm_inference']
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from .. import _core
from .._validate import check_real
from ..export.persistence import StateError, read_state
from ..export.persistence import _sketch as sketch_bytes
from ..stats import PerformanceStats

__all__ = [
    "BaselineEntry",
    "RegressionBaseline",
    "RegressionFinding",
    "baseline_from_exports",
    "check_factor",
    "find_regressions",
]

@dataclass(frozen=True)
class BaselineEntry:
    """One operation's baseline: its record count and p95 (seconds).

    Example:
        >>> BaselineEntry(count=200, p95_s=0.31).p95_s
        0.31
    """

    count: int
    p95_s: float


@dataclass(frozen=True)
class RegressionBaseline:
    """What the latest windows are compared with, and how.

    ``source`` says where the baseline came from (``"all-time"``, ``"last N
    min"`` or the export paths); ``captured_at_s`` when (unix seconds).

    Example:
        >>> monitor.get_regression_baseline().operations["llm_inference"].p95_s  # doctest: +SKIP
        0.42
    """

    source: str
    captured_at_s: float
    operations: Mapping[str, BaselineEntry]
    factor: float
    min_count: int
    window_minutes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary.

        Example:
            >>> monitor.get_regression_baseline().to_dict()["factor"]   # doctest: +SKIP
            1.5
        """
        return {
            "source": self.source,
            "captured_at_s": self.captured_at_s,
            "factor": self.factor,
            "min_count": self.min_count,
            "window_minutes": self.window_minutes,
            "operations": {
                op: {"count": e.count, "p95_s": e.p95_s} for op, e in sorted(self.operations.items())
            },
        }


@dataclass(frozen=True)
class RegressionFinding:
    """An operation whose latest-window p95 is ``factor`` times its
    baseline's (more than the configured ``max_factor``).

    Example:
        >>> finding = monitor.detect_regressions()[0]   # doctest: +SKIP
        >>> round(finding.factor, 1)                    # doctest: +SKIP
        3.0
    """

    operation: str
    baseline_p95_s: float
    current_p95_s: float
    factor: float
    max_factor: float
    baseline_count: int
    current_count: int
    window_minutes: int
    timestamp_s: float

    def describe(self) -> str:
        """A one-line message (used in health issues).

        Example:
            >>> monitor.detect_regressions()[0].describe()   # doctest: +SKIP
        """
        return (
            f"regression: {self.operation} p95 {self.current_p95_s:.4g}s over the last "
            f"{self.window_minutes} min ({self.current_count} records) is {self.factor:.2f}x its "
            f"baseline {self.baseline_p95_s:.4g}s ({self.baseline_count} records; limit "
            f"{self.max_factor:g}x)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields plus ``message``.

        Example:
            >>> monitor.detect_regressions()[0].to_dict()["operation"]   # doctest: +SKIP
            'llm_inference'
        """
        return {
            "operation": self.operation,
            "baseline_p95_s": self.baseline_p95_s,
            "current_p95_s": self.current_p95_s,
            "factor": self.factor,
            "max_factor": self.max_factor,
            "baseline_count": self.baseline_count,
            "current_count": self.current_count,
            "window_minutes": self.window_minutes,
            "timestamp_s": self.timestamp_s,
            "message": self.describe(),
        }


def check_factor(value: Any) -> float:
    """A finite factor > 1 (a p95 growth ratio).

    Example:
        >>> check_factor(1.5)
        1.5
    """
    factor = check_real(value, "factor")
    if not (1.0 < factor < math.inf):
        raise ValueError(f"factor must be a finite number > 1, got {value!r}")
    return factor


def baseline_from_exports(sources: Iterable[Any]) -> tuple[dict[str, BaselineEntry], str]:
    """Per-operation baselines from the ``state`` of one or more exports
    (paths or report dicts): each operation's sketches are merged across the
    sources and its p95 read from the merged sketch. Returns the entries and
    a name for the sources. Raises :class:`~ragperf.export.persistence.StateError`
    naming the file for a corrupt or foreign export.

    Example:
        >>> entries, name = baseline_from_exports(["w1.json", "w2.json"])   # doctest: +SKIP
    """
    merged: dict[str, _core.QuantileSketch] = {}
    names: list[str] = []
    for source in sources:
        state, name = read_state(source)
        names.append(name)
        for op, fields in state["operations"].items():
            if not isinstance(fields, Mapping):
                raise StateError(f"{name}: operation {op!r} must be an object")
            try:
                sketch = _core.QuantileSketch.deserialize(
                    sketch_bytes(fields.get("sketch"), name, op, "sketch")
                )
                if op in merged:
                    merged[op].merge(sketch)
                else:
                    merged[op] = sketch
            except (ValueError, TypeError) as exc:
                raise StateError(f"{name}: operation {op!r}: {exc}") from exc
    if not names:
        raise ValueError("no baseline export given")
    entries = {
        op: BaselineEntry(count=int(s.count), p95_s=float(s.quantile(0.95)) if s.count else 0.0)
        for op, s in merged.items()
    }
    return entries, ", ".join(os.fspath(n) for n in names)


def find_regressions(
    baseline: RegressionBaseline,
    window_stats: Callable[[str, int, float], PerformanceStats],
    now_s: float,
    *,
    window_minutes: int,
    factor: float,
    min_count: int,
) -> list[RegressionFinding]:
    """The baseline's operations whose p95 over the last ``window_minutes``
    (read with ``window_stats(op, minutes, now_s)``) exceeds ``factor`` times
    the baseline's, largest factor first.

    Example:
        >>> find_regressions(baseline, stats_fn, time.time(), window_minutes=5,
        ...                  factor=1.5, min_count=20)   # doctest: +SKIP
        []
    """
    findings = []
    for op, entry in baseline.operations.items():
        if entry.count < min_count or entry.p95_s <= 0:
            continue
        stats = window_stats(op, window_minutes, now_s)
        if stats.total_operations < min_count:
            continue
        ratio = stats.p95_duration / entry.p95_s
        if ratio > factor:
            findings.append(
                RegressionFinding(
                    operation=op,
                    baseline_p95_s=entry.p95_s,
                    current_p95_s=stats.p95_duration,
                    factor=ratio,
                    max_factor=factor,
                    baseline_count=entry.count,
                    current_count=stats.total_operations,
                    window_minutes=window_minutes,
                    timestamp_s=now_s,
                )
            )
    findings.sort(key=lambda f: (-f.factor, f.operation))
    return findings
