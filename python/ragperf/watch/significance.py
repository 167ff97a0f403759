"""A/B significance: is the latency distribution of ``b`` different from
``a``? (``ragperf.compare.significance``; ``ragperf compare`` prints it.)

The test is the two-sided **Mann–Whitney U test** (Wilcoxon rank-sum) with
the normal approximation, tie correction and a continuity correction. It
compares whole distributions (a shift of the median *or* a heavier tail
both move it) and assumes nothing about their shape, which suits skewed
latencies.

Where the durations come from, per kind of input:

- a :class:`~ragperf.PerformanceMonitor` or a saved report (path or dict
  written by ``export_metrics_json``): the operation's **quantile-sketch
  bins** (all-time, or the last ``window_minutes`` one-minute windows of a
  monitor). Every record is in a bin (0.5% wide by default), so the test
  sees every record, binned: values in the same bin are ties, which the tie
  correction accounts for. Sketches with more than 20,000 records are read
  at 20,000 evenly spaced ranks, each weighted by ``count / 20,000``.
- a :class:`DimensionValue` (one value of a declared dimension of a
  monitor, e.g. ``model="b"``): that value's sketch bins, the same way.
- a sequence of durations in seconds: the durations themselves.

Measured (``benchmarks/bench_significance.py``, 2,000 records a side,
lognormal σ = 0.5, through monitors' sketches, α = 0.05): A/A
false-positive rate 5.2% over 1,000 seeds (the nominal 5% within its ±0.7%
sampling error), power 100% for a 10% slowdown (83% at σ = 1.0); see
docs/insights.md.

Example:
    >>> a = [0.10, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17, 0.18, 0.19]
    >>> b = [d * 2 for d in a]
    >>> result = significance(a, b, "llm_inference")
    >>> result["significant"], result["verdict"], round(result["p50_change"], 2)
    (True, 'b slower', 1.0)
"""

from __future__ import annotations

import base64
import binascii
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .. import _core
from .._validate import check_real, check_window_minutes, operation_name
from ..export.persistence import StateError, read_state

__all__ = [
    "MAX_POINTS",
    "MIN_RECORDS",
    "DimensionValue",
    "format_significance",
    "mann_whitney",
    "report_significance",
    "sample_from_sketch",
    "sample_from_values",
    "significance",
]

#: Records each side needs before the normal approximation is trusted.
MIN_RECORDS: Final = 10
#: Sketches with more records are read at this many evenly spaced ranks.
MAX_POINTS: Final = 20_000

#: A sample: ``[(value, weight), ...]`` sorted by value, values distinct.
Sample = list[tuple[float, float]]


@dataclass(frozen=True)
class DimensionValue:
    """One value of a declared dimension of a monitor, as a side of
    :func:`significance` (e.g. two models behind one operation).

    Example:
        >>> from ragperf import PerformanceMonitor
        >>> m = PerformanceMonitor(dimensions=["model"])
        >>> DimensionValue(m, "model", "qwen").value
        'qwen'
    """

    monitor: Any
    dimension: str
    value: str


def sample_from_values(values: Sequence[float]) -> Sample:
    """Durations as a sample (equal values grouped, weight = their number).

    Example:
        >>> sample_from_values([0.2, 0.1, 0.2])
        [(0.1, 1.0), (0.2, 2.0)]
    """
    out: dict[float, float] = {}
    for v in values:
        x = check_real(v, "duration", "a number of seconds")
        if not (x >= 0 and math.isfinite(x)):
            raise ValueError(f"durations must be finite and >= 0, got {v!r}")
        out[x] = out.get(x, 0.0) + 1.0
    return sorted(out.items())


def sample_from_sketch(sketch: _core.QuantileSketch, max_points: int = MAX_POINTS) -> Sample:
    """The records of a sketch as a sample of bin values: rank ``k`` of
    ``n`` is ``sketch.quantile((k + 0.5) / n)`` (the nearest-rank value:
    the representative of the bin holding it). With more than
    ``max_points`` records, ``max_points`` evenly spaced ranks, each
    weighted ``n / max_points``.

    Example:
        >>> s = _core.QuantileSketch()
        >>> s.add_many([1.0, 1.0, 2.0])
        >>> [(round(v, 2), w) for v, w in sample_from_sketch(s)]
        [(1.0, 2.0), (2.0, 1.0)]
    """
    n = int(sketch.count)
    if n == 0:
        return []
    m = min(n, max_points)
    weight = n / m
    out: Sample = []
    for j in range(m):
        rank = j if m == n else min(n - 1, int((j + 0.5) * n / m))
        value = float(sketch.quantile((rank + 0.5) / n))
        if out and out[-1][0] == value:
            out[-1] = (value, out[-1][1] + weight)
        else:
            out.append((value, weight))
    return out


def _quantile(sample: Sample, q: float) -> float:
    """Nearest-rank ``q``-quantile of a weighted sample."""
    total = sum(w for _, w in sample)
    target = q * total * (1 - 1e-12)
    seen = 0.0
    for value, weight in sample:
        seen += weight
        if seen >= target:
            return value
    return sample[-1][0]


def mann_whitney(a: Sample, b: Sample) -> dict[str, float]:
    """The two-sided Mann–Whitney U test of weighted samples ``a`` and
    ``b``: ``u`` (of b: pairs where b is larger, ties counting half),
    ``z``, ``p_value`` (normal approximation, tie and continuity
    corrected), ``prob_b_slower`` (``u / (n_a n_b)``) and ``effect``, the
    rank-biserial correlation ``2 * prob_b_slower - 1`` in [-1, 1]
    (positive: b slower).

    Example:
        >>> r = mann_whitney(sample_from_values([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
        ...                  sample_from_values([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]))
        >>> r["effect"], round(r["p_value"], 5)
        (1.0, 0.00018)
    """
    n_a = sum(w for _, w in a)
    n_b = sum(w for _, w in b)
    if n_a <= 0 or n_b <= 0:
        raise ValueError("both samples need at least one value")
    merged: dict[float, list[float]] = {}
    for value, weight in a:
        merged.setdefault(value, [0.0, 0.0])[0] += weight
    for value, weight in b:
        merged.setdefault(value, [0.0, 0.0])[1] += weight
    u = 0.0
    below_a = 0.0
    ties = 0.0
    for value in sorted(merged):
        wa, wb = merged[value]
        u += wb * (below_a + 0.5 * wa)
        below_a += wa
        t = wa + wb
        ties += t * t * t - t
    total = n_a + n_b
    mean = n_a * n_b / 2
    var = n_a * n_b / 12 * ((total + 1) - ties / (total * (total - 1)))
    diff = u - mean
    if var <= 0:
        z = 0.0
    else:
        corrected = max(abs(diff) - 0.5, 0.0)
        z = math.copysign(corrected, diff) / math.sqrt(var)
    prob = u / (n_a * n_b)
    return {
        "u": u,
        "z": z,
        "p_value": math.erfc(abs(z) / math.sqrt(2)),
        "prob_b_slower": prob,
        "effect": 2 * prob - 1,
        "n_a": n_a,
        "n_b": n_b,
    }


def _report_sketch(source: Any, operation: str) -> _core.QuantileSketch:
    state, name = read_state(source)
    fields = state["operations"].get(operation)
    if not isinstance(fields, Mapping):
        raise ValueError(f"{name}: has no operation {operation!r}")
    blob = fields.get("sketch")
    try:
        raw = base64.b64decode(blob if isinstance(blob, str) else b"!", validate=True)
        return _core.QuantileSketch.deserialize(raw)
    except (binascii.Error, ValueError) as exc:
        raise StateError(f"{name}: operation {operation!r}: sketch is not a valid sketch") from exc


def _side(source: Any, operation: str, window_minutes: int | None, label: str) -> tuple[Sample, str]:
    """A side's sample and where it came from."""
    from ..monitor import PerformanceMonitor

    window = 0 if window_minutes is None else check_window_minutes(window_minutes)
    if isinstance(source, PerformanceMonitor):
        blob = source._core.get_sketch(operation, window)
        return sample_from_sketch(_core.QuantileSketch.deserialize(blob)), "sketch bins"
    if isinstance(source, DimensionValue):
        if not isinstance(source.monitor, PerformanceMonitor):
            raise TypeError(f"{label}: DimensionValue.monitor must be a PerformanceMonitor")
        if source.dimension not in source.monitor.dimensions.names():
            raise ValueError(f"{label}: {source.dimension!r} is not a declared dimension of the monitor")
        blob = source.monitor._core.get_sketch(
            operation, window, dimension=source.dimension, value=str(source.value)
        )
        return sample_from_sketch(_core.QuantileSketch.deserialize(blob)), "sketch bins"
    if window_minutes is not None and isinstance(source, (str, os.PathLike, Mapping)):
        raise ValueError("window_minutes applies to monitors and dimension values, not to saved reports")
    if isinstance(source, (str, os.PathLike, Mapping)):
        return sample_from_sketch(_report_sketch(source, operation)), "sketch bins"
    if isinstance(source, Sequence) and not isinstance(source, (bytes, bytearray)):
        if window_minutes is not None:
            raise ValueError("window_minutes applies to monitors and dimension values, not to durations")
        return sample_from_values(source), "durations"
    raise TypeError(
        f"{label} must be a PerformanceMonitor, a saved report (path or dict), a DimensionValue "
        f"or a sequence of durations, got {type(source).__name__}"
    )


def significance(
    a: Any,
    b: Any,
    operation: Any,
    *,
    alpha: float = 0.05,
    window_minutes: int | None = None,
) -> dict[str, Any]:
    """Whether the durations of ``operation`` in ``b`` differ from ``a``
    (the Mann–Whitney U test, see the module). ``a``/``b``: monitors,
    saved reports (paths or dicts), :class:`DimensionValue` or sequences of
    durations (seconds). ``window_minutes`` reads monitors over their last
    minutes instead of all-time.

    Returns a JSON-ready dict: ``p_value``, ``significant`` (p < alpha),
    ``effect`` (rank-biserial correlation, > 0: b slower),
    ``prob_b_slower``, ``p50_change`` and ``p95_change`` (b / a - 1),
    ``p50_a_s``/``p50_b_s``/``p95_a_s``/``p95_b_s``, ``n_a``/``n_b``,
    ``verdict`` (``"b slower"``, ``"b faster"`` or ``"no significant
    difference"``), ``method``, ``data`` and ``alpha``. ValueError when a
    side has fewer than :data:`MIN_RECORDS` records.

    Example:
        >>> significance([0.1] * 20, [0.1] * 20, "x")["verdict"]
        'no significant difference'
    """
    op = operation_name(operation)
    level = check_real(alpha, "alpha")
    if not 0 < level < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    sample_a, data_a = _side(a, op, window_minutes, "a")
    sample_b, data_b = _side(b, op, window_minutes, "b")
    for label, sample in (("a", sample_a), ("b", sample_b)):
        n = sum(w for _, w in sample)
        if n < MIN_RECORDS:
            raise ValueError(
                f"significance needs at least {MIN_RECORDS} records of {op!r} on each side; "
                f"{label} has {n:g}"
            )
    test = mann_whitney(sample_a, sample_b)
    p50_a, p50_b = _quantile(sample_a, 0.5), _quantile(sample_b, 0.5)
    p95_a, p95_b = _quantile(sample_a, 0.95), _quantile(sample_b, 0.95)
    significant = test["p_value"] < level
    verdict = "no significant difference"
    if significant:
        verdict = "b slower" if test["effect"] > 0 else "b faster"
    return {
        "operation": op,
        "method": "mann-whitney-u",
        "data": data_a if data_a == data_b else f"{data_a} / {data_b}",
        "alpha": level,
        "p_value": test["p_value"],
        "significant": significant,
        "verdict": verdict,
        "effect": test["effect"],
        "prob_b_slower": test["prob_b_slower"],
        "z": test["z"],
        "n_a": round(test["n_a"]),
        "n_b": round(test["n_b"]),
        "p50_a_s": p50_a,
        "p50_b_s": p50_b,
        "p95_a_s": p95_a,
        "p95_b_s": p95_b,
        "p50_change": p50_b / p50_a - 1 if p50_a > 0 else None,
        "p95_change": p95_b / p95_a - 1 if p95_a > 0 else None,
    }


def format_significance(result: Mapping[str, Any]) -> str:
    """One line for ``ragperf compare``.

    Example:
        >>> format_significance(significance([0.1] * 20, [0.1] * 20, "x"))
        'x: no significant difference (Mann-Whitney U p=1, n=20/20, p50 +0.0%, p95 +0.0%)'
    """

    def pct(v: Any) -> str:
        return "n/a" if v is None else f"{v * 100:+.1f}%"

    return (
        f"{result['operation']}: {result['verdict']} (Mann-Whitney U p={result['p_value']:.3g}, "
        f"n={result['n_a']}/{result['n_b']}, p50 {pct(result['p50_change'])}, "
        f"p95 {pct(result['p95_change'])})"
    )


def report_significance(before: Any, after: Any, *, alpha: float = 0.05) -> list[dict[str, Any]]:
    """:func:`significance` of every operation present in both saved
    reports (paths or dicts) with at least :data:`MIN_RECORDS` records on
    each side, by name; ``[]`` when a report has no sketches (``state``).

    Example:
        >>> report_significance({"operations": {}}, {"operations": {}})
        []
    """
    try:
        state_a, _ = read_state(before)
        state_b, _ = read_state(after)
    except StateError:
        return []
    out = []
    for op in sorted(set(state_a["operations"]) & set(state_b["operations"])):
        counts = [state["operations"][op].get("total") for state in (state_a, state_b)]
        if not all(isinstance(c, int) and c >= MIN_RECORDS for c in counts):
            continue
        out.append(significance(before, after, op, alpha=alpha))
    return out
