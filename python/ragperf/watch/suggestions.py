"""Suggestions with evidence (``monitor.get_suggestions``): documented rules
over the monitor's statistics, each giving ``{"rule", "operation",
"message", "evidence": {...}}`` when it fires.

=======================  ==========================================================
rule                     fires when
=======================  ==========================================================
``dominant_stage``       a stage takes more than 50% of its root's time (exclusive
                         time, :mod:`ragperf.watch.bottlenecks`, >= 3 traces)
``low_cache_hit_rate``   a cache's hit rate is below 50% over >= 20 lookups
``cold_start``           an operation's first record (model loading, warm-up) makes
                         its p99 more than 1.5x the p99 without it (>= 10 records)
``tail_latency``         p99/p50 of an operation is >= 5 and >= 3x the median
                         p99/p50 of its peers (operations with >= 50 records)
``error_burst``          >= 5 failures in the last 5 minutes, an error rate there
                         of >= 10% and >= 3x the rate before
                         (0 before when fewer than 20 older records)
``memory_growth``        an operation's blocks kept >= 50 MB in total, >= 0.5 MB
                         per call on average, over >= 20 records
``output_tokens_drop``   output tokens/s (completion tokens / duration) of the
                         last 5 minutes is below 70% of the rest of the last
                         hour's (>= 10 records each; one-minute windows)
=======================  ==========================================================

Each rule is a function of plain data, so it can be tested on planted
numbers; :func:`RULES` lists them with their descriptions.

Example:
    >>> low_cache_hit_rate({"embeddings": {"hits": 5, "misses": 45, "lookups": 50, "hit_rate": 0.1}})[0]["rule"]
    'low_cache_hit_rate'
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any, Final

from ..stats import PerformanceStats

__all__ = [
    "RULES",
    "cold_start",
    "dominant_stage",
    "error_burst",
    "low_cache_hit_rate",
    "memory_growth",
    "output_tokens_drop",
    "tail_latency",
]

#: Each rule's name and what makes it fire.
RULES: Final = {
    "dominant_stage": "a stage takes more than 50% of its root's exclusive time (>= 3 traces)",
    "low_cache_hit_rate": "a cache's hit rate is below 50% over >= 20 lookups",
    "cold_start": "the first record makes the p99 more than 1.5x the p99 without it (>= 10 records)",
    "tail_latency": "p99/p50 >= 5 and >= 3x the median p99/p50 of peer operations (>= 50 records each)",
    "error_burst": ">= 5 failures and >= 10% errors in the last 5 minutes, >= 3x the rate before",
    "memory_growth": "blocks kept >= 50 MB in total and >= 0.5 MB per call (>= 20 records)",
    "output_tokens_drop": "output tokens/s of the last 5 minutes < 70% of the rest of the last hour's",
}

Suggestion = dict[str, Any]


def _suggestion(rule: str, operation: str | None, message: str, **evidence: Any) -> Suggestion:
    return {"rule": rule, "operation": operation, "message": message, "evidence": evidence}


def dominant_stage(rows: Iterable[Mapping[str, Any]], min_roots: int = 3) -> list[Suggestion]:
    """Stages (not a root's own time) with a share above 50% of their root.

    Example:
        >>> dominant_stage([{"root": "q", "operation": "llm", "share": 0.8, "is_root": False,
        ...                  "roots": 5, "p95_s": 1.0, "avg_self_time_s": 0.8}])[0]["operation"]
        'llm'
    """
    out = []
    for r in rows:
        if r["is_root"] or r["share"] <= 0.5 or r["roots"] < min_roots:
            continue
        out.append(
            _suggestion(
                "dominant_stage",
                r["operation"],
                f"{r['operation']} takes {r['share']:.0%} of {r['root']}'s time: "
                "the stage to optimise first (cache it, batch it, or use a faster model/index)",
                root=r["root"],
                share=r["share"],
                avg_self_time_s=r["avg_self_time_s"],
                p95_s=r["p95_s"],
                traces=r["roots"],
            )
        )
    return out


def low_cache_hit_rate(caches: Mapping[str, Mapping[str, Any]], min_lookups: int = 20) -> list[Suggestion]:
    """Caches with a hit rate below 50% over at least ``min_lookups`` lookups.

    Example:
        >>> low_cache_hit_rate({"emb": {"hits": 90, "misses": 10, "lookups": 100, "hit_rate": 0.9}})
        []
    """
    out = []
    for name, c in sorted(caches.items()):
        rate = c.get("hit_rate")
        if rate is None or int(c.get("lookups", 0)) < min_lookups or rate >= 0.5:
            continue
        out.append(
            _suggestion(
                "low_cache_hit_rate",
                name,
                f"cache {name} hits only {rate:.0%} of {c['lookups']} lookups: check its key "
                "(normalise queries), size and expiry",
                hits=int(c["hits"]),
                misses=int(c["misses"]),
                hit_rate=float(rate),
            )
        )
    return out


def cold_start(stats: Iterable[tuple[PerformanceStats, PerformanceStats]], min_count: int = 10) -> list[Suggestion]:
    """Operations whose first record dominates their p99: pairs of
    (all-time stats, stats without the cold start).

    Example:
        >>> s = PerformanceStats("embed", total_operations=20, p99_duration=5.0, cold_start_duration=5.0)
        >>> cold_start([(s, PerformanceStats("embed", total_operations=20, p99_duration=0.1))])[0]["rule"]
        'cold_start'
    """
    out = []
    for full, warm in stats:
        first = full.cold_start_duration
        if full.total_operations < min_count or first is None or warm.p99_duration <= 0:
            continue
        if full.p99_duration > 1.5 * warm.p99_duration:
            out.append(
                _suggestion(
                    "cold_start",
                    full.operation_type,
                    f"the first {full.operation_type} took {first:.3g} s and sets its p99 "
                    f"({full.p99_duration:.3g} s vs {warm.p99_duration:.3g} s without it): "
                    "load or warm it up at start-up",
                    cold_start_s=first,
                    p99_s=full.p99_duration,
                    p99_without_cold_start_s=warm.p99_duration,
                    records=full.total_operations,
                )
            )
    return out


def _median_without(ordered: list[float], value: float) -> float:
    """The median of ``ordered`` (ascending, holding ``value``) without one
    ``value``: O(log n), so peers of n operations cost n log n, not n**2.

    Example:
        >>> _median_without([1.0, 2.0, 3.0, 10.0], 10.0)
        2.0
    """
    i = bisect.bisect_left(ordered, value)
    n = len(ordered) - 1

    def at(k: int) -> float:  # k-th of the list without index i
        return ordered[k if k < i else k + 1]

    return at(n // 2) if n % 2 else (at(n // 2 - 1) + at(n // 2)) / 2


def tail_latency(stats: Iterable[PerformanceStats], min_count: int = 50) -> list[Suggestion]:
    """Operations whose p99/p50 is far above their peers'.

    Example:
        >>> ops = [PerformanceStats(n, total_operations=100, p50_duration=1.0, p99_duration=r)
        ...        for n, r in (("a", 1.5), ("b", 2.0), ("c", 12.0))]
        >>> [s["operation"] for s in tail_latency(ops)]
        ['c']
    """
    ratios = {
        s.operation_type: s.p99_duration / s.p50_duration
        for s in stats
        if s.total_operations >= min_count and s.p50_duration > 0
    }
    out = []
    ordered = sorted(ratios.values())
    for op, ratio in sorted(ratios.items()):
        if len(ordered) < 2:
            continue
        peer = _median_without(ordered, ratio)
        if ratio >= 5 and ratio >= 3 * peer:
            out.append(
                _suggestion(
                    "tail_latency",
                    op,
                    f"{op}'s p99 is {ratio:.1f}x its p50 (peers: {peer:.1f}x): look for timeouts, "
                    "retries, queueing or rare large inputs",
                    p99_over_p50=ratio,
                    peer_median_p99_over_p50=peer,
                )
            )
    return out


#: Failures in the last 5 minutes below which error_burst says nothing.
ERROR_BURST_MIN_FAILURES: Final[int] = 5


def error_burst(
    pairs: Iterable[tuple[PerformanceStats, PerformanceStats]], min_failures: int = ERROR_BURST_MIN_FAILURES
) -> list[Suggestion]:
    """Operations whose last 5 minutes failed far more than before: pairs of
    (all-time stats, last-5-minutes stats).

    Example:
        >>> full = PerformanceStats("llm", total_operations=120, failed_operations=10)
        >>> recent = PerformanceStats("llm", total_operations=20, failed_operations=10)
        >>> error_burst([(full, recent)])[0]["evidence"]["recent_error_rate"]
        0.5
    """
    out = []
    for full, recent in pairs:
        if recent.failed_operations < min_failures or recent.total_operations == 0:
            continue
        rate = recent.failed_operations / recent.total_operations
        before_n = full.total_operations - recent.total_operations
        before_failed = full.failed_operations - recent.failed_operations
        before = before_failed / before_n if before_n >= 20 else 0.0
        if rate >= 0.1 and rate >= 3 * before:
            out.append(
                _suggestion(
                    "error_burst",
                    full.operation_type,
                    f"{full.operation_type}: {recent.failed_operations} failures ({rate:.0%}) in the "
                    f"last 5 minutes vs {before:.1%} before; see get_recent_errors()",
                    recent_failures=recent.failed_operations,
                    recent_error_rate=rate,
                    earlier_error_rate=before,
                    errors_by_type=dict(recent.errors_by_type),
                )
            )
    return out


def memory_growth(stats: Iterable[PerformanceStats], min_count: int = 20) -> list[Suggestion]:
    """Operations whose blocks keep memory they never give back.

    Example:
        >>> s = PerformanceStats("index", total_operations=100, total_memory_delta_mb=200.0,
        ...                      avg_memory_delta_mb=2.0)
        >>> memory_growth([s])[0]["evidence"]["total_memory_delta_mb"]
        200.0
    """
    out = []
    for s in stats:
        if s.total_operations < min_count:
            continue
        if s.total_memory_delta_mb >= 50 and s.avg_memory_delta_mb >= 0.5:
            out.append(
                _suggestion(
                    "memory_growth",
                    s.operation_type,
                    f"{s.operation_type} kept {s.total_memory_delta_mb:.0f} MB over "
                    f"{s.total_operations} calls ({s.avg_memory_delta_mb:.2f} MB each): "
                    "a cache without a bound, or a leak",
                    total_memory_delta_mb=s.total_memory_delta_mb,
                    avg_memory_delta_mb=s.avg_memory_delta_mb,
                    records=s.total_operations,
                )
            )
    return out


def output_tokens_drop(
    pairs: Iterable[tuple[PerformanceStats, PerformanceStats]], min_count: int = 10
) -> list[Suggestion]:
    """Operations whose output tokens/s fell: pairs of (last-60-minutes
    stats, last-5-minutes stats) from the one-minute windows. The rate is
    completion tokens / duration of the records; "before" is the hour minus
    the last 5 minutes.

    Example:
        >>> hour = PerformanceStats("llm", total_operations=60, completion_tokens=5000, total_duration=60.0)
        >>> last = PerformanceStats("llm", total_operations=10, completion_tokens=400, total_duration=10.0)
        >>> output_tokens_drop([(hour, last)])[0]["evidence"]["recent_tokens_per_s"]
        40.0
    """
    out = []
    for hour, recent in pairs:
        before_n = hour.total_operations - recent.total_operations
        before_tokens = hour.completion_tokens - recent.completion_tokens
        before_s = hour.total_duration - recent.total_duration
        if recent.total_operations < min_count or before_n < min_count:
            continue
        if recent.total_duration <= 0 or before_s <= 0 or before_tokens <= 0:
            continue
        old = before_tokens / before_s
        new = recent.completion_tokens / recent.total_duration
        if new < 0.7 * old:
            op = hour.operation_type
            out.append(
                _suggestion(
                    "output_tokens_drop",
                    op,
                    f"{op} generates {new:.1f} tokens/s in the last 5 minutes vs {old:.1f} before "
                    f"({new / old - 1:+.0%}): a slower model, a loaded server or throttling",
                    recent_tokens_per_s=new,
                    earlier_tokens_per_s=old,
                    recent_records=recent.total_operations,
                    earlier_records=before_n,
                )
            )
    return out
