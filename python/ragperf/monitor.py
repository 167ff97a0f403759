"""PerformanceMonitor: the object a RAG pipeline talks to."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping, TypeVar, cast, overload

from . import _core
from ._component import Component, ReportAssembly, compose_health, delegate, name_delegates
from ._dimensions import Dimensions
from ._features import Caches, LatencyTargets, MemorySnapshots, Models, Traces
from ._decorate import timed_decorator
from ._settings import CoreSetting, CoreValue, check_setting
from ._validate import check_positive_int, check_window_minutes, operation_name
from .export._multiproc_writer import maybe_enable_from_env
from .export.exporters import Exporters
from .export.files import write_report_json
from .operation_type import Operation, OperationName, OperationType, stats_key
from .export.logs import debug_from_env
from .export.persistence import merge_state
from .model.report import format_report
from .measure.resources import Resources
from .stats import PerformanceStats
from .watch.alerts import Alerts
from .watch.clock import EvaluationClock, MonitorSource
from .watch.insights import Insights
from .watch.overhead import Overhead
from .watch.queues import Queues
from .watch.regressions import Regressions
from .watch.slo import Slos

if TYPE_CHECKING:
    from .measure.streaming import AsyncTrackedStream, TrackedStream, TracksOperations

__all__ = ["PerformanceMonitor", "get_performance_monitor", "Operation", "OperationName"]

F = TypeVar("F", bound=Callable[..., Any])


class PerformanceMonitor:
    """Tracks durations, tokens, memory and errors of pipeline operations.

    The block ``with monitor.track_operation(...) as op:`` is timed by a C++
    object (a few hundred nanoseconds per block); statistics are aggregated in
    C++ and percentiles come from mergeable quantile sketches. Thread-safe.

    Every default below is defined once, in the C++ core, and read from
    ``ragperf._core.DEFAULT_<ARGUMENT>`` (e.g. ``_core.DEFAULT_MAX_OPERATIONS``).

    Args:
        enable_memory_tracking: read process RSS at the start and end of every
            block (two reads of /proc/self/statm) to report memory deltas.
        max_history: recent raw records kept per operation, and memory samples
            kept in the history.
        memory_threshold_mb: RSS above which health turns "warning".
        error_rate_threshold: per-operation error rate (0..1) above which
            health turns "warning".
        relative_accuracy: of the percentile sketches (default 0.5416%, the
            guarantee of base-2 bucket scale 6). The sketches use the coarsest
            bucket scale s (gamma = 2**(2**-s)) whose error bound meets it:
            0.01 and the default give s = 6, 0.005 gives s = 7 (twice the bins).
        memory_max_age_us: with memory tracking on, a block reuses an RSS
            reading at most this old (process-wide) instead of reading
            /proc/self/statm again, which costs 1-2 us. Blocks longer than
            this measure their own RSS change; shorter ones may report 0.
            0 reads at the start and end of every block (exact mode); at most
            ``_core.MAX_MEMORY_MAX_AGE_US`` (1 s).
        track_gpu_memory: also measure this process's GPU memory (NVML) at
            the start and end of every block (``op.gpu_memory_delta_mb``,
            ``total_gpu_memory_delta_mb``). NVML calls are slow: opt in.
        system_memory_percent_threshold: system memory use (%) above which
            health turns "warning" (0 = off).
        gpu_memory_percent_threshold: a GPU's memory use (%) above which
            health turns "warning" (0 = off; only with NVML available).
        cpu_percent_threshold: process CPU% (latest sampler sample) above
            which health turns "warning" (0 = off, the default).
        max_resource_samples: samples kept by the resource sampler.
        dimensions: metadata keys whose values split every operation's
            statistics (e.g. ``["model", "tenant"]``; see
            :meth:`get_breakdown`). None = no split, no hot-path cost.
        max_dimension_values: distinct values kept per operation and
            dimension; later values are recorded as ``"__other__"``.
        max_operations: distinct operation names with their own statistics
            (default 1,000). Later new names are recorded as the operation
            ``"__other__"`` and one warning goes to the ``ragperf`` logger, so
            names built from unbounded data cannot grow memory without limit.

    Example:
        >>> monitor = PerformanceMonitor(enable_memory_tracking=False)
        >>> with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
        ...     op.tokens = 150
        >>> monitor.get_operation_stats(OperationType.LLM_INFERENCE).total_tokens
        150
    """

    def __init__(
        self,
        enable_memory_tracking: bool = _core.DEFAULT_ENABLE_MEMORY_TRACKING,
        max_history: int = _core.DEFAULT_MAX_HISTORY,
        *,
        memory_threshold_mb: float = _core.DEFAULT_MEMORY_THRESHOLD_MB,
        error_rate_threshold: float = _core.DEFAULT_ERROR_RATE_THRESHOLD,
        relative_accuracy: float = _core.DEFAULT_RELATIVE_ACCURACY,
        memory_max_age_us: float = _core.DEFAULT_MEMORY_MAX_AGE_US,
        track_gpu_memory: bool = _core.DEFAULT_TRACK_GPU_MEMORY,
        system_memory_percent_threshold: float = _core.DEFAULT_SYSTEM_MEMORY_PERCENT_THRESHOLD,
        gpu_memory_percent_threshold: float = _core.DEFAULT_GPU_MEMORY_PERCENT_THRESHOLD,
        cpu_percent_threshold: float = _core.DEFAULT_CPU_PERCENT_THRESHOLD,
        max_resource_samples: int = _core.DEFAULT_MAX_RESOURCE_SAMPLES,
        dimensions: Iterable[str] | None = None,
        max_dimension_values: int = _core.DEFAULT_MAX_DIMENSION_VALUES,
        max_operations: int = _core.DEFAULT_MAX_OPERATIONS,
    ) -> None:
        check_setting("bool", "enable_memory_tracking", enable_memory_tracking)
        check_setting("bool", "track_gpu_memory", track_gpu_memory)
        max_resource_samples = check_positive_int(max_resource_samples, "max_resource_samples")
        max_history = check_positive_int(max_history, "max_history")
        max_operations = check_positive_int(max_operations, "max_operations")
        for name, value in (
            ("memory_threshold_mb", memory_threshold_mb), ("error_rate_threshold", error_rate_threshold),
            ("relative_accuracy", relative_accuracy), ("memory_max_age_us", memory_max_age_us),
            ("system_memory_percent_threshold", system_memory_percent_threshold),
            ("gpu_memory_percent_threshold", gpu_memory_percent_threshold),
            ("cpu_percent_threshold", cpu_percent_threshold),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
        self._core = _core.Monitor(
            enable_memory_tracking=enable_memory_tracking, max_history=max_history,
            relative_accuracy=float(relative_accuracy), memory_threshold_mb=float(memory_threshold_mb),
            error_rate_threshold=float(error_rate_threshold), memory_max_age_us=float(memory_max_age_us),
            track_gpu_memory=track_gpu_memory, max_resource_samples=max_resource_samples,
            system_memory_percent_threshold=float(system_memory_percent_threshold),
            gpu_memory_percent_threshold=float(gpu_memory_percent_threshold),
            cpu_percent_threshold=float(cpu_percent_threshold), max_operations=max_operations,
        )
        self._hot = hot = self._core._hot_path()
        # The components (nothing of theirs runs per block), in report order.
        source, self.clock = MonitorSource(self._core), EvaluationClock()
        self.queues = Queues()
        self.models = Models(self._core, hot)
        self.memory_snapshots = MemorySnapshots()
        self.traces = Traces(self._core, hot)
        self.dimensions = Dimensions(self._core, hot, dimensions, max_dimension_values)
        self.exporters = Exporters(self, hot)
        self._exit_hooks = self.exporters.hooks
        self.overhead = Overhead(self._core, hot, self.exporters.hook_count)
        self.alerts = Alerts(source, self.clock)
        self.regressions = Regressions(source, self.clock)
        self.caches, self.latency = Caches(self._core), LatencyTargets(self._core)
        self.resources = Resources(self._core)
        self.slos, self.insights = Slos(self._core, self.alerts, self.clock), Insights(
            self._core, hot, self.caches, self.clock)
        self._components: tuple[tuple[str, Component], ...] = (
            ("queues", self.queues), ("models", self.models), ("memory_snapshots", self.memory_snapshots),
            ("traces", self.traces), ("dimensions", self.dimensions), ("exporters", self.exporters),
            ("overhead", self.overhead), ("alerts", self.alerts), ("regressions", self.regressions),
            ("caches", self.caches), ("latency", self.latency), ("resources", self.resources), ("slos", self.slos),
            ("insights", self.insights), ("clock", self.clock),
        )
        # The C-level methods replace the documented ones below on the
        # instance, so no Python frame runs per block — unless a subclass
        # overrides them, which must then be honoured.
        cls = type(self)
        if cls.track_operation is PerformanceMonitor.track_operation:
            self.track_operation = self._hot.track_operation  # type: ignore[method-assign]
        if cls.record is PerformanceMonitor.record:
            self.record = self._hot.record  # type: ignore[method-assign]
        debug_from_env(self)  # RAGPERF_DEBUG=1: log every block at DEBUG

    @classmethod
    def load(cls, source: Any, **kwargs: Any) -> PerformanceMonitor:
        """A new monitor (``kwargs`` as for the constructor) holding the
        statistics saved in ``source`` (an export path or report dict); see
        :meth:`merge_from`.

        Example:
            >>> monitor = PerformanceMonitor.load("metrics.json")  # doctest: +SKIP
        """
        monitor = cls(**kwargs)
        monitor.merge_from(source)
        return monitor

    # ------------------------------------------------------------ recording

    def track_operation(  # noqa: D417 (replaced per instance by the C factory)
        self, operation: Operation, metadata: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> _core.OperationTracker:
        """Times a block: ``with monitor.track_operation(op, {...}, key=value) as op:``.

        ``operation`` is an :class:`OperationType` or any non-empty string;
        metadata is a dict and/or keyword arguments. Inside the block set
        ``op.tokens`` (or ``op.prompt_tokens`` / ``op.completion_tokens``) and
        ``op.metadata[...]``. An exception raised in the block propagates
        unchanged and the operation counts as failed with its exception type.
        Works with ``async with`` too.

        Example:
            >>> with monitor.track_operation("reranking", model="bge") as op:  # doctest: +SKIP
            ...     op.tokens = 10
        """
        return self._hot.track_operation(operation, metadata, **kwargs)

    @overload
    def timed(self, operation: F, /) -> F: ...

    @overload
    def timed(
        self, operation: Operation | None = None, metadata: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> Callable[[F], F]: ...

    def timed(
        self, operation: Any = None, metadata: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> Any:
        """Decorator that tracks every call of a sync or async function.

        For generator and async-generator functions the whole iteration is
        timed (from the first ``next()`` to exhaustion or close).

        ``@monitor.timed("reranking")``, ``@monitor.timed(OperationType.RERANKING,
        model="bge")``, or bare ``@monitor.timed`` (the function's name is the
        operation).

        Example:
            >>> @monitor.timed("reranking")  # doctest: +SKIP
            ... def rerank(docs): return sorted(docs)
        """
        return timed_decorator(self.track_operation, operation, metadata, kwargs)

    def record(
        self,
        operation: Operation,
        duration_s: float,
        tokens: int | None = None,
        success: bool = True,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        memory_delta_mb: float | None = None,
        error_type: str | None = None,
        timestamp_s: float | None = None,
    ) -> None:
        """Records an operation measured elsewhere.

        ``tokens`` defaults to ``prompt_tokens + completion_tokens``. A failed
        record (``success=False``) is counted under ``error_type`` (default
        "Error").

        ``timestamp_s`` is the wall-clock time (unix seconds, like
        ``time.time()``) at which the operation ended; default now. Use it to
        replay logs, import another system's timings or test time windows
        without sleeping: the record lands in the one-minute window of that
        time. A time older than the longest window (60 minutes) or in a later
        minute than now counts all-time only (totals, percentiles, first/last
        timestamps), in no window. Non-numeric values raise TypeError,
        non-finite or negative ones ValueError.

        Validated and recorded in C (``HotPath.record``; this body documents it
        and serves subclasses that override ``record`` and call ``super()``).

        Example:
            >>> monitor.record("reranking", duration_s=0.012, tokens=0, success=True)  # doctest: +SKIP
            >>> monitor.record("reranking", 0.015, timestamp_s=time.time() - 600)  # doctest: +SKIP
        """
        self._hot.record(
            operation, duration_s, tokens, success, prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens, memory_delta_mb=memory_delta_mb,
            error_type=error_type, timestamp_s=timestamp_s,
        )

    # --------------------------------------------------------------- reading

    def get_operation_stats(
        self,
        operation: Operation,
        window_minutes: int | None = None,
        *,
        exclude_cold_start: bool = False,
        **dimension: Any,
    ) -> PerformanceStats:
        """Statistics of one operation, all-time or over the last minutes.

        With ``window_minutes`` (1..60) the statistics cover at least that many
        minutes (one-minute resolution: the current partial minute plus
        ``window_minutes`` whole minutes), merged from per-minute sketches;
        ``requests_per_second`` is then the rate over the window. Unknown
        operations give zeros. ``exclude_cold_start=True`` leaves the
        operation's first record (model loading, warm-up) out of the
        percentiles (all-time only; counts and totals keep it). One keyword
        naming a declared dimension (``model="qwen"``) gives that value's
        statistics (see :meth:`get_breakdown`).

        Example:
            >>> monitor.get_operation_stats("llm_inference", window_minutes=5).p95_duration  # doctest: +SKIP
            >>> monitor.get_operation_stats("llm_inference", model="qwen").total_operations  # doctest: +SKIP
        """
        name = operation_name(operation)
        if dimension:
            if exclude_cold_start:
                raise ValueError("exclude_cold_start does not apply to a dimension's statistics")
            return self.dimensions.stats_for_value(name, dimension, window_minutes)
        if not isinstance(exclude_cold_start, bool):
            raise TypeError(f"exclude_cold_start must be a bool, got {exclude_cold_start!r}")
        if window_minutes is None:
            return PerformanceStats._from_core(
                self._core.get_stats(name, exclude_cold_start), name, exclude_cold_start=exclude_cold_start
            )
        if exclude_cold_start:
            raise ValueError("exclude_cold_start applies to all-time stats, not to a window")
        minutes = check_window_minutes(window_minutes)
        return PerformanceStats._from_core(
            self._core.get_window_stats(name, minutes), name, window_minutes=minutes
        )

    def get_all_stats(self) -> dict[OperationType | OperationName, PerformanceStats]:
        """Statistics of every operation recorded so far, keyed by
        :class:`OperationType` for the known names and by
        :class:`OperationName` (a str with ``.value``) otherwise. Keys compare
        and hash equal to their string values, so ``stats["reranking"]``
        works.

        Example:
            >>> for op, s in monitor.get_all_stats().items():  # doctest: +SKIP
            ...     print(op, s.total_operations)
        """
        return {
            stats_key(d["name"]): PerformanceStats._from_core(d, d["name"])
            for d in self._core.get_all_stats()
        }

    def get_operation_count(self, operation: Operation | None = None) -> int:
        """Records of one operation, or of all when ``operation`` is None.

        Example:
            >>> monitor.get_operation_count(OperationType.LLM_INFERENCE)  # doctest: +SKIP
            25
        """
        if operation is None:
            return int(self._core.count(""))
        return int(self._core.count(operation_name(operation)))

    def memory_bytes(self) -> int:
        """Bytes of memory this monitor's statistics hold (all-time and
        one-minute sketches, recent-record rings, interned record text,
        dimension splits), counted by the C++ core with the allocator's
        per-block overhead, so it tracks the process RSS they cost (within
        a few percent, ``benchmarks/bench_memory.py``). It does not depend on
        how many threads record. The report's ``monitoring.statistics_bytes``
        is the same figure.

        Example:
            >>> m = PerformanceMonitor()
            >>> empty = m.memory_bytes()
            >>> m.record("op", 0.1)
            >>> m.memory_bytes() > empty
            True
        """
        return int(self._core.memory_bytes())

    def get_memory_stats(self) -> dict[str, float]:
        """Process memory now and over the run: ``current_rss_mb``,
        ``min_rss_mb``, ``max_rss_mb``, ``avg_rss_mb``, ``current_vms_mb``,
        ``samples``. Min/max/avg cover every block measured with memory
        tracking on plus explicit samples.

        Example:
            >>> monitor.get_memory_stats()["current_rss_mb"] > 0
            True
        """
        return dict(self._core.memory_stats())

    def generate_report(self) -> dict[str, Any]:
        """The report as a JSON-serialisable dict; ``export_metrics_json``
        writes exactly this. Seed schema (``timestamp``, ``total_operations``,
        ``memory``, ``operations`` with ``duration`` in seconds and ``tokens``)
        plus extra keys (``health``, ``system_memory``, per-operation
        ``error_rate``, ``errors_by_type``, ``memory`` deltas, ``p90``,
        ``alerts``, ``regressions``, ``monitoring`` overhead, ``slos``,
        ``insights``; see docs/alerts.md, docs/insights.md). Checks the
        alert rules first.

        Example:
            >>> report = monitor.generate_report()
            >>> sorted(report)[:4]
            ['health', 'memory', 'operations', 'system_memory']
        """
        assembly = ReportAssembly(json.loads(self._core.report_json(0)), now_s=self.clock.now())
        for name, component in self._components:
            component.contribute_report(assembly.section(name))
        return assembly.finish()

    def print_report(self, file: IO[str] | None = None) -> None:
        """Prints a readable table of the report (to stdout by default).

        Example:
            >>> monitor.print_report()  # doctest: +SKIP
        """
        print(format_report(self.generate_report()), file=file if file is not None else sys.stdout)

    def export_metrics_json(self, path: Any) -> str:
        """Writes the report to ``path`` atomically (temporary file, fsync,
        rename): readers never see a partial file, and on error the previous
        file is intact. Returns the path. Raises OSError (e.g.
        PermissionError, FileNotFoundError) naming the path.

        Example:
            >>> monitor.export_metrics_json("metrics.json")  # doctest: +SKIP
            'metrics.json'
        """
        return write_report_json(self.generate_report(), path)

    def get_health_status(self) -> dict[str, Any]:
        """``{"status": "healthy"|"warning"|"critical", "memory_mb",
        "total_operations", "issues": [...]}``; warning when RSS exceeds
        ``memory_threshold_mb`` or an operation's error rate exceeds
        ``error_rate_threshold``, an alert is active (see
        :meth:`add_alert_rule`; "critical" for a critical one) or an
        operation regressed (see :meth:`set_regression_baseline`). Checks the
        alert rules first.

        Example:
            >>> monitor.get_health_status()["status"]  # doctest: +SKIP
            'healthy'
        """
        now_s = self.clock.now()
        issues = [issue for _, c in self._components for issue in c.health_issues(now_s)]
        return compose_health(self._core.health(), issues)

    def clear_metrics(self) -> None:
        """Forgets all statistics and memory history.

        Example:
            >>> monitor.clear_metrics()
        """
        self._core.clear()
        for _, component in self._components:
            component.clear()

    # ---------------------------------------------------------- settings

    track_gpu_memory = CoreSetting(
        bool, "track_gpu_memory", "bool", "Whether blocks measure this process's GPU memory delta (settable).")
    enable_memory_tracking = CoreSetting(
        bool, "memory_tracking", "bool", "Whether blocks measure RSS deltas (settable at any time).")
    memory_max_age_us = CoreSetting(
        float, "memory_max_age_us", "number", "How old (µs) an RSS reading a block may reuse; 0 = exact mode.")
    memory_threshold_mb = CoreSetting(
        float, "memory_threshold_mb", "number", 'RSS (MB) above which health is "warning"; settable (> 0).')
    error_rate_threshold = CoreSetting(
        float, "error_rate_threshold", "number", 'Error rate (0..1) above which health is "warning"; settable.')
    system_memory_percent_threshold = CoreSetting(
        float, "system_memory_percent_threshold", "real", 'System memory use (%) above which health is "warning"; 0 = off.')
    gpu_memory_percent_threshold = CoreSetting(
        float, "gpu_memory_percent_threshold", "real", 'GPU memory use (%) above which health is "warning"; 0 = off.')
    cpu_percent_threshold = CoreSetting(
        float, "cpu_percent_threshold", "real", 'Process CPU% above which health is "warning"; 0 = off.')
    max_history = CoreValue(int, "max_history", "Recent raw records kept per operation.")
    max_operations = CoreValue(int, "max_operations", """Distinct operation names with their own statistics; later new
        names are recorded as ``"__other__"``.

        Example:
            >>> PerformanceMonitor(max_operations=50).max_operations
            50
        """)
    overflow_operation_names = CoreValue(int, "overflow_names", """How many new operation names were recorded as
        ``"__other__"`` because ``max_operations`` was reached (0 = never).

        Example:
            >>> PerformanceMonitor().overflow_operation_names
            0
        """)

    def track_stream(
        self,
        stream: Any,
        operation: Any,
        *,
        count: Callable[[Any], int] | None = None,
        metadata: Mapping[str, Any] | None = None,
        **metadata_kwargs: Any,
    ) -> TrackedStream[Any] | AsyncTrackedStream[Any]:
        """Wraps a sync or async token/chunk stream: time to first token,
        inter-token latency, output tokens/s and the duration of the whole
        stream, with correct counts when it ends early, raises or is
        abandoned. See :func:`ragperf.measure.streaming.track_stream`.

        Example:
            >>> for chunk in monitor.track_stream(llm.stream(q), "llm_inference", model="qwen"):  # doctest: +SKIP
            ...     print(chunk, end="")
        """
        from .measure.streaming import track_stream

        tracked: TrackedStream[Any] | AsyncTrackedStream[Any] = track_stream(
            cast("TracksOperations", self), stream, operation, count=count, metadata=metadata, **metadata_kwargs
        )
        return tracked

    def merge_from(self, source: Any) -> None:
        """Adds the statistics saved in an export (a path written by
        :meth:`export_metrics_json`, or its report dict) to this monitor:
        counts add and sketches merge exactly, so a restarted service resumes
        its statistics, and snapshots of several processes combine. Raises
        OSError for an unreadable file and ``StateError`` (a ValueError)
        naming the file for a corrupt one or a newer schema; nothing changes
        then. See :mod:`ragperf.export.persistence`.

        Example:
            >>> monitor.merge_from("metrics-worker-1.json")  # doctest: +SKIP
        """
        merge_state(self._core, source)

    # ---------------------- components' methods under their historical names
    # (thin typed forwards: signature and docstring of the component's method)

    get_recent_traces = delegate("traces", Traces.recent)
    get_in_flight_operations = delegate("traces", Traces.in_flight)
    get_recent_errors = delegate("traces", Traces.recent_errors)
    get_recent_operations = delegate("traces", Traces.recent_operations)
    set_model_prices = delegate("models", Models.set_prices)
    get_model_prices = delegate("models", Models.prices)
    get_model_stats = delegate("models", Models.stats)
    track_initialization = delegate("models", Models.track_initialization)
    get_initializations = delegate("models", Models.initializations)
    record_cache = delegate("caches", Caches.record)
    get_cache_stats = delegate("caches", Caches.stats)
    set_latency_target = delegate("latency", LatencyTargets.set_target)
    get_latency_target = delegate("latency", LatencyTargets.target)
    queue = delegate("queues", Queues.get)
    snapshot_memory = delegate("memory_snapshots", MemorySnapshots.take)
    get_memory_snapshots = delegate("memory_snapshots", MemorySnapshots.all)
    set_dimensions = delegate("dimensions", Dimensions.set)
    get_dimensions = delegate("dimensions", Dimensions.names)
    get_breakdown = delegate("dimensions", Dimensions.breakdown)
    export_breakdown_csv = delegate("dimensions", Dimensions.export_csv)
    enable_logging = delegate("exporters", Exporters.enable_logging)
    disable_logging = delegate("exporters", Exporters.disable_logging)
    start_periodic_export = delegate("exporters", Exporters.start_periodic)
    export_metrics_csv = delegate("exporters", Exporters.metrics_csv)
    export_operations_csv = delegate("exporters", Exporters.operations_csv)
    _add_exit_hook = delegate("exporters", Exporters.add_hook)
    _remove_exit_hook = delegate("exporters", Exporters.remove_hook)
    get_internal_error_count = delegate("overhead", Overhead.internal_errors)
    get_monitoring_overhead = delegate("overhead", Overhead.report)
    set_evaluation_clock = delegate("clock", EvaluationClock.set)
    add_alert_rule = delegate("alerts", Alerts.add_rule)
    remove_alert_rule = delegate("alerts", Alerts.remove_rule)
    get_alert_rules = delegate("alerts", Alerts.rules)
    get_active_alerts = delegate("alerts", Alerts.active)
    check_alerts = delegate("alerts", Alerts.check)
    start_alert_evaluator = delegate("alerts", Alerts.start_evaluator)
    set_regression_baseline = delegate("regressions", Regressions.set_baseline)
    get_regression_baseline = delegate("regressions", Regressions.baseline)
    clear_regression_baseline = delegate("regressions", Regressions.clear_baseline)
    detect_regressions = delegate("regressions", Regressions.detect)
    start_sampler = delegate("resources", Resources.start)
    stop_sampler = delegate("resources", Resources.stop)
    get_system_stats = delegate("resources", Resources.stats)
    get_resource_history = delegate("resources", Resources.history)
    get_bottlenecks = delegate("insights", Insights.bottlenecks)
    get_suggestions = delegate("insights", Insights.suggestions)
    predict_latency = delegate("insights", Insights.predict_latency)
    add_slo = delegate("slos", Slos.add)
    remove_slo = delegate("slos", Slos.remove)
    get_slo_status = delegate("slos", Slos.status)

    def __repr__(self) -> str:
        return (
            f"<PerformanceMonitor operations={self.get_operation_count()} "
            f"memory_tracking={self.enable_memory_tracking}>"
        )


#: {monitor method: (component attribute, component method)} of every delegate.
DELEGATES: Mapping[str, tuple[str, str]] = name_delegates(PerformanceMonitor)

_default_monitor: PerformanceMonitor | None = None
_default_lock = threading.Lock()


def get_performance_monitor() -> PerformanceMonitor:
    """The process-wide default monitor, created on first use.

    Example:
        >>> get_performance_monitor() is get_performance_monitor()
        True
    """
    global _default_monitor
    monitor = _default_monitor
    if monitor is None:
        with _default_lock:
            if _default_monitor is None:
                _default_monitor = PerformanceMonitor()
                # RAGPERF_MULTIPROC_DIR set: this process writes its snapshot there.
                maybe_enable_from_env(_default_monitor)
            monitor = _default_monitor
    return monitor
