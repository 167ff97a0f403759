"""Insights as a component of the monitor (``monitor.insights``): where the
time goes, suggestions with evidence and latency prediction; report key
``insights`` (``bottlenecks`` and ``suggestions``). SLOs are
:mod:`ragperf.watch.slo` (``monitor.slos``), A/B significance
:mod:`ragperf.watch.significance` (``ragperf.compare.significance``).

Example:
    >>> from ragperf import PerformanceMonitor
    >>> monitor = PerformanceMonitor()
    >>> monitor.insights.bottlenecks(), monitor.insights.suggestions()
    ([], [])
"""

from __future__ import annotations

import threading
from typing import Any

from .._component import Component, ReportSection
from .._core import HotPath
from .._core import Monitor as CoreMonitor
from .._features import Caches
from .._validate import check_window_minutes, operation_name
from ..stats import PerformanceStats
from .traces import operation_dict, trace_tree
from . import suggestions as rules
from .bottlenecks import TraceTimes, bottlenecks_of, trace_times
from .clock import EvaluationClock
from .prediction import prediction

__all__ = ["Insights"]

#: Report: at most this many bottleneck rows.
_REPORT_ROWS = 20


class Insights(Component):
    """Bottlenecks, suggestions and latency prediction of one monitor (see
    each method). Nothing here runs on the hot path.

    Example:
        >>> monitor.insights.suggestions()  # doctest: +SKIP
        []
    """

    def __init__(self, core: CoreMonitor, hot: HotPath, caches: Caches, clock: EvaluationClock) -> None:
        self._core = core
        self._hot = hot
        self._lock = threading.Lock()
        self._cache: dict[int, TraceTimes | None] = {}
        self._caches = caches
        self._clock = clock

    def bottlenecks(self, root: Any = None, window_minutes: int | None = None) -> list[dict[str, Any]]:
        """Where the time goes: for each root operation of the recent traces
        (the last 100 finished roots; ``root`` picks one, e.g.
        ``"query_processing"``; ``window_minutes`` keeps roots that ended in
        the last minutes), each operation's share of the root's wall-clock
        time by exclusive time, largest self time first:
        ``{"root", "operation", "share", "self_time_s", "avg_self_time_s",
        "p95_s", "count", "calls_per_root", "roots", "is_root"}``. The
        shares of one root add up to 1; concurrent children split the time
        they run side by side (see :mod:`ragperf.watch.bottlenecks`).
        Without ``root``, only roots with child blocks are listed.

        Example:
            >>> with monitor.track_operation("query_processing"):       # doctest: +SKIP
            ...     with monitor.track_operation("llm_inference"):
            ...         answer = llm(prompt)
            >>> monitor.get_bottlenecks("query_processing")[0]["operation"]  # doctest: +SKIP
            'llm_inference'
        """
        name = None if root is None else operation_name(root)
        since = None
        if window_minutes is not None:
            since = self._clock.now() - 60.0 * check_window_minutes(window_minutes)
        return bottlenecks_of(self._trace_times(), name, since_s=since)

    def _trace_times(self) -> list[TraceTimes]:
        """:func:`trace_times` of the finished roots in the ring, each
        computed once (a finished tree never changes)."""
        out: list[TraceTimes] = []
        cache: dict[int, TraceTimes | None] = {}
        with self._lock:
            known = self._cache
        for root in self._hot.recent_roots():
            key = root.span_id
            if key is None:
                continue
            if key in known:
                times = known[key]
            else:
                times = trace_times(trace_tree(root))
            cache[key] = times
            if times is not None:
                out.append(times)
        with self._lock:
            self._cache = cache  # only the roots still in the ring
        return out

    def suggestions(self) -> list[dict[str, Any]]:
        """Suggestions with evidence from the documented rules of
        :mod:`ragperf.watch.suggestions` (dominant stage, low cache hit
        rate, cold start, tail latency, error burst, memory growth, output
        tokens/s drop): ``[{"rule", "operation", "message", "evidence":
        {...}}]``, empty when nothing stands out.

        Example:
            >>> [s["rule"] for s in monitor.get_suggestions()]  # doctest: +SKIP
            ['dominant_stage']
        """
        return self._suggestions(self.bottlenecks())

    def _suggestions(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        now_s = self._clock.now()
        full = {d["name"]: PerformanceStats._from_core(d, d["name"]) for d in self._core.get_all_stats()}
        # Without its first record an operation's p99 can only fall (as the
        # cold-start rule asks) when that record was not far below the p99:
        # the others need no second look.
        warm = {
            op: PerformanceStats._from_core(self._core.get_stats(op, True), op, exclude_cold_start=True)
            for op, s in full.items()
            if s.cold_start_duration is not None and s.cold_start_duration * 1.5 >= s.p99_duration
        }
        # The last 5 minutes are a subset of all time: an operation with
        # fewer failures than error_burst asks for and no output tokens can
        # fire no rule that reads them, so most reports skip most windows.
        recent = {
            op: PerformanceStats._from_core(self._core.get_window_stats(op, 5, now_s), op, window_minutes=5)
            for op, s in full.items()
            if s.failed_operations >= rules.ERROR_BURST_MIN_FAILURES or s.completion_tokens > 0
        }
        hour = {
            op: PerformanceStats._from_core(self._core.get_window_stats(op, 60, now_s), op, window_minutes=60)
            for op, s in full.items()
            if s.completion_tokens > 0
        }
        out: list[dict[str, Any]] = []
        out += rules.dominant_stage(rows)
        out += rules.low_cache_hit_rate(self._caches.stats())
        out += rules.cold_start((full[op], warm[op]) for op in full if op in warm)
        out += rules.tail_latency(full.values())
        out += rules.error_burst((full[op], recent[op]) for op in recent)
        out += rules.memory_growth(full.values())
        out += rules.output_tokens_drop((hour[op], recent[op]) for op in hour)
        return out

    def predict_latency(
        self, operation: Any, prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> dict[str, Any]:
        """Expected duration of a call of ``operation`` with these token
        counts, from a least-squares fit of duration on prompt and
        completion tokens over the operation's recent successful records
        (up to ``max_history``): ``{"expected_s", "p95_s",
        "time_to_first_token_s", "fit": {"r2", "coefficients", "samples",
        "residual_p95_s"}, ...}`` (see :mod:`ragperf.watch.prediction`).
        ValueError with fewer than 10 successful records.

        Example:
            >>> monitor.predict_latency("llm_inference", prompt_tokens=800, completion_tokens=200)["expected_s"]  # doctest: +SKIP
            2.41
        """
        op = operation_name(operation)
        recs = [operation_dict(op, r) for r in self._core.get_recent(op, self._core.max_history)]
        return prediction(op, recs, prompt_tokens, completion_tokens)

    def contribute_report(self, section: ReportSection) -> None:
        """Writes ``insights``: ``bottlenecks`` (the top 20 rows) and ``suggestions``."""
        rows = self.bottlenecks()
        section.add("insights", {"bottlenecks": rows[:_REPORT_ROWS], "suggestions": self._suggestions(rows)})

    def clear(self) -> None:
        """Forgets the computed trace times (the traces are cleared too)."""
        with self._lock:
            self._cache = {}
