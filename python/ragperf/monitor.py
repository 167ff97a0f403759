"""PerformanceMonitor: the object a RAG pipeline talks to."""

from __future__ import annotations

import functools
import inspect
import json
import math
import sys
import threading
from collections.abc import Iterable
from typing import IO, Any, Awaitable, Callable, Mapping, TypeVar, cast, overload

from . import _core
from ._dimensions import DimensionsMixin
from ._features import RagFeaturesMixin
from ._watch import WatchMixin
from ._validate import (
    check_duration,
    check_path,
    check_positive_int,
    check_real,
    check_token_count,
    check_window_minutes,
    operation_name,
)
from ._multiproc_writer import maybe_enable_from_env
from .operation_type import Operation, OperationType
from .logs import debug_from_env
from .report import format_report
from .resources import SamplerHandle, get_gpu_status, restart_sampler_after_fork
from .stats import PerformanceStats

__all__ = ["PerformanceMonitor", "get_performance_monitor", "Operation", "OperationName"]

F = TypeVar("F", bound=Callable[..., Any])


class OperationName(str):
    """A custom operation name as a ``get_all_stats()`` key: a plain string
    that, like :class:`OperationType` members, also has ``.value``, so seed
    code such as ``for op_type, s in all_stats.items(): op_type.value`` works
    for any operation.

    Example:
        >>> OperationName("my_step").value
        'my_step'
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        """The name itself (as a plain str)."""
        return str.__str__(self)


_KNOWN_TYPES = {member.value: member for member in OperationType}


def _stats_key(name: str) -> OperationType | OperationName:
    return _KNOWN_TYPES.get(name) or OperationName(name)


class PerformanceMonitor(RagFeaturesMixin, DimensionsMixin, WatchMixin):
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
        relative_accuracy: of the percentile sketches (default 0.5%).
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
        for flag_name, flag in (
            ("enable_memory_tracking", enable_memory_tracking),
            ("track_gpu_memory", track_gpu_memory),
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"{flag_name} must be a bool, got {flag!r}")
        max_resource_samples = check_positive_int(max_resource_samples, "max_resource_samples")
        max_history = check_positive_int(max_history, "max_history")
        max_operations = check_positive_int(max_operations, "max_operations")
        for name, value in (
            ("memory_threshold_mb", memory_threshold_mb),
            ("error_rate_threshold", error_rate_threshold),
            ("relative_accuracy", relative_accuracy),
            ("memory_max_age_us", memory_max_age_us),
            ("system_memory_percent_threshold", system_memory_percent_threshold),
            ("gpu_memory_percent_threshold", gpu_memory_percent_threshold),
            ("cpu_percent_threshold", cpu_percent_threshold),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
        self._core = _core.Monitor(
            enable_memory_tracking=enable_memory_tracking,
            max_history=max_history,
            relative_accuracy=float(relative_accuracy),
            memory_threshold_mb=float(memory_threshold_mb),
            error_rate_threshold=float(error_rate_threshold),
            memory_max_age_us=float(memory_max_age_us),
            track_gpu_memory=track_gpu_memory,
            system_memory_percent_threshold=float(system_memory_percent_threshold),
            gpu_memory_percent_threshold=float(gpu_memory_percent_threshold),
            cpu_percent_threshold=float(cpu_percent_threshold),
            max_resource_samples=max_resource_samples,
            max_operations=max_operations,
        )
        self._hot = self._core._hot_path()
        self._init_features()
        self._init_dimensions(dimensions, max_dimension_values)
        self._init_watch()  # alerts, regressions, overhead: nothing on the hot path
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
        if callable(operation) and not isinstance(operation, str):
            return self.timed(getattr(operation, "__name__", "function"))(operation)
        if operation is not None:
            operation_name(operation)  # fail at decoration time, not per call

        def decorate(fn: F) -> F:
            op = operation if operation is not None else getattr(fn, "__name__", "function")
            track = self.track_operation

            if inspect.isasyncgenfunction(fn):
                # Times the whole iteration, not the creation of the generator.
                @functools.wraps(fn)
                async def async_gen_wrapper(*args: Any, **kw: Any) -> Any:
                    async with track(op, metadata, **kwargs):
                        async for item in fn(*args, **kw):
                            yield item

                return cast(F, async_gen_wrapper)

            if inspect.isgeneratorfunction(fn):

                @functools.wraps(fn)
                def gen_wrapper(*args: Any, **kw: Any) -> Any:
                    with track(op, metadata, **kwargs):
                        return (yield from fn(*args, **kw))

                return cast(F, gen_wrapper)

            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def async_wrapper(*args: Any, **kw: Any) -> Any:
                    async with track(op, metadata, **kwargs):
                        return await cast(Callable[..., Awaitable[Any]], fn)(*args, **kw)

                return cast(F, async_wrapper)

            @functools.wraps(fn)
            def wrapper(*args: Any, **kw: Any) -> Any:
                with track(op, metadata, **kwargs):
                    return fn(*args, **kw)

            return cast(F, wrapper)

        return decorate

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
            operation,
            duration_s,
            tokens,
            success,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            memory_delta_mb=memory_delta_mb,
            error_type=error_type,
            timestamp_s=timestamp_s,
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
            return self._stats_for_value(name, dimension, window_minutes)
        if not isinstance(exclude_cold_start, bool):
            raise TypeError(f"exclude_cold_start must be a bool, got {exclude_cold_start!r}")
        if window_minutes is None:
            return PerformanceStats._from_core(
                self._core.get_stats(name, exclude_cold_start),
                name,
                exclude_cold_start=exclude_cold_start,
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
            _stats_key(d["name"]): PerformanceStats._from_core(d, d["name"])
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
        ``alerts``, ``regressions``, ``monitoring`` overhead; see
        docs/alerts.md). Checks the alert rules first.

        Example:
            >>> report = monitor.generate_report()
            >>> sorted(report)[:4]
            ['health', 'memory', 'operations', 'system_memory']
        """
        report = cast(dict[str, Any], json.loads(self._core.report_json(0)))
        report.update(self._feature_report())
        for operation, dimensions in self._dimensions_report().items():
            if operation in report["operations"]:
                report["operations"][operation]["dimensions"] = dimensions
        self._watch_report(report)
        return report

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
        target = check_path(path)
        text = json.dumps(self.generate_report(), indent=2, allow_nan=False) + "\n"
        _core.Monitor.write_file_atomically(target, text)
        return target

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
        return self._watch_health(dict(self._core.health()))

    def clear_metrics(self) -> None:
        """Forgets all statistics and memory history.

        Example:
            >>> monitor.clear_metrics()
        """
        self._core.clear()
        self._clear_features()

    # ------------------------------------------------------------ resources

    def start_sampler(self, interval_s: float = 5.0) -> SamplerHandle:
        """Starts sampling process RSS/VMS/CPU%, system memory and load, and
        GPU memory/utilisation (when NVML is available) every ``interval_s``
        seconds (0.05..3600) in a C++ thread. Off by default; calling it again
        restarts with the new interval. Returns a handle whose ``stop()`` ends
        it (also a context manager). A child forked while it runs starts its
        own sampler at the same interval (``ragperf.resources``).

        Example:
            >>> handle = monitor.start_sampler(interval_s=5)  # doctest: +SKIP
            >>> monitor.get_system_stats()["cpu_percent"]["avg"]  # doctest: +SKIP
        """
        self._core.start_sampler(check_real(interval_s, "interval_s", "a number of seconds"))
        restart_sampler_after_fork(self)
        return SamplerHandle(self)

    def stop_sampler(self) -> None:
        """Stops the resource sampler (idempotent).

        Example:
            >>> monitor.stop_sampler()
        """
        self._core.stop_sampler()

    def get_system_stats(self) -> dict[str, Any]:
        """Resources now and over the sampled run: ``sampler_running``,
        ``interval_s``, ``samples``; per series (``rss_mb``, ``vms_mb``,
        ``cpu_percent``, ``system_used_percent``, ``load1``,
        ``gpu_memory_used_mb``, ``gpu_utilization_percent``,
        ``gpu_process_memory_mb``) ``{samples, last, min, max, avg}`` (None
        when never sampled); ``current``: the latest sample (one is taken now
        if there is none); ``gpu``: :func:`get_gpu_status`.

        Example:
            >>> monitor.get_system_stats()["current"]["system_total_mb"] > 0
            True
        """
        history = self._core.resource_history(1)
        current = history[-1] if history else self._core.sample_resources()
        stats = dict(self._core.resource_stats())
        stats["current"] = current
        stats["gpu"] = get_gpu_status()
        return stats

    def get_resource_history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Sampled resources, oldest first (at most ``max_resource_samples``
        kept): ``{timestamp_s, rss_mb, vms_mb, cpu_percent,
        system_total_mb, system_available_mb, system_used_percent, load1,
        load5, load15, gpu: {...}}``.

        Example:
            >>> monitor.get_resource_history(limit=10)  # doctest: +SKIP
        """
        count = 0 if limit is None else check_positive_int(limit, "limit")
        return list(self._core.resource_history(count))

    # ---------------------------------------------------------- settings

    @property
    def track_gpu_memory(self) -> bool:
        """Whether blocks measure this process's GPU memory delta (settable)."""
        return bool(self._core.track_gpu_memory)

    @track_gpu_memory.setter
    def track_gpu_memory(self, on: bool) -> None:
        if not isinstance(on, bool):
            raise TypeError(f"track_gpu_memory must be a bool, got {on!r}")
        self._core.track_gpu_memory = on

    @property
    def system_memory_percent_threshold(self) -> float:
        """System memory use (%) above which health is "warning"; 0 = off."""
        return float(self._core.system_memory_percent_threshold)

    @system_memory_percent_threshold.setter
    def system_memory_percent_threshold(self, percent: float) -> None:
        self._core.system_memory_percent_threshold = check_real(percent, "system_memory_percent_threshold")

    @property
    def gpu_memory_percent_threshold(self) -> float:
        """GPU memory use (%) above which health is "warning"; 0 = off."""
        return float(self._core.gpu_memory_percent_threshold)

    @gpu_memory_percent_threshold.setter
    def gpu_memory_percent_threshold(self, percent: float) -> None:
        self._core.gpu_memory_percent_threshold = check_real(percent, "gpu_memory_percent_threshold")

    @property
    def cpu_percent_threshold(self) -> float:
        """Process CPU% above which health is "warning"; 0 = off."""
        return float(self._core.cpu_percent_threshold)

    @cpu_percent_threshold.setter
    def cpu_percent_threshold(self, percent: float) -> None:
        self._core.cpu_percent_threshold = check_real(percent, "cpu_percent_threshold")

    @property
    def enable_memory_tracking(self) -> bool:
        """Whether blocks measure RSS deltas (settable at any time)."""
        return bool(self._core.memory_tracking)

    @enable_memory_tracking.setter
    def enable_memory_tracking(self, on: bool) -> None:
        if not isinstance(on, bool):
            raise TypeError(f"enable_memory_tracking must be a bool, got {on!r}")
        self._core.memory_tracking = on

    @property
    def memory_max_age_us(self) -> float:
        """How old (µs) an RSS reading a block may reuse; 0 = exact mode."""
        return float(self._core.memory_max_age_us)

    @memory_max_age_us.setter
    def memory_max_age_us(self, us: float) -> None:
        if isinstance(us, bool) or not isinstance(us, (int, float)):
            raise TypeError(f"memory_max_age_us must be a number, got {us!r}")
        self._core.memory_max_age_us = float(us)

    @property
    def max_history(self) -> int:
        """Recent raw records kept per operation."""
        return int(self._core.max_history)

    @property
    def max_operations(self) -> int:
        """Distinct operation names with their own statistics; later new
        names are recorded as ``"__other__"``.

        Example:
            >>> PerformanceMonitor(max_operations=50).max_operations
            50
        """
        return int(self._core.max_operations)

    @property
    def overflow_operation_names(self) -> int:
        """How many new operation names were recorded as ``"__other__"``
        because ``max_operations`` was reached (0 = never).

        Example:
            >>> PerformanceMonitor().overflow_operation_names
            0
        """
        return int(self._core.overflow_names)

    @property
    def memory_threshold_mb(self) -> float:
        """RSS (MB) above which health is "warning"; settable (> 0)."""
        return float(self._core.memory_threshold_mb)

    @memory_threshold_mb.setter
    def memory_threshold_mb(self, mb: float) -> None:
        if isinstance(mb, bool) or not isinstance(mb, (int, float)):
            raise TypeError(f"memory_threshold_mb must be a number, got {mb!r}")
        self._core.memory_threshold_mb = float(mb)

    @property
    def error_rate_threshold(self) -> float:
        """Error rate (0..1) above which health is "warning"; settable."""
        return float(self._core.error_rate_threshold)

    @error_rate_threshold.setter
    def error_rate_threshold(self, rate: float) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise TypeError(f"error_rate_threshold must be a number, got {rate!r}")
        self._core.error_rate_threshold = float(rate)

    def __repr__(self) -> str:
        return (
            f"<PerformanceMonitor operations={self.get_operation_count()} "
            f"memory_tracking={self.enable_memory_tracking}>"
        )


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
