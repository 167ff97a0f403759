"""The Prometheus collector of a monitor: :class:`RagperfCollector` (text
families at every scrape, native histograms of the sketch bins for a
protobuf scrape). The families are listed in :mod:`ragperf.export.prometheus`.

Example:
    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> registry.register(RagperfCollector(monitor))   # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Protocol, cast, runtime_checkable

try:
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        Metric,
        SummaryMetricFamily,
    )
    from prometheus_client.registry import Collector
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"ragperf.prometheus needs prometheus_client ({e}): pip install 'ragperf[prometheus]'"
    ) from e

from ..model.stats_fields import DURATION_QUANTILES
from ..monitor import PerformanceMonitor, get_performance_monitor

__all__ = ["QUANTILES", "MonitorLike", "RagperfCollector"]

#: The quantiles of ``ragperf_operation_duration_seconds``: the duration
#: percentiles of the statistics' field table.
QUANTILES: Final = tuple(q for q, _ in DURATION_QUANTILES)

_MB: Final = 1024.0 * 1024.0


class _StatsLike(Protocol):
    """The fields of :class:`~ragperf.PerformanceStats` the collector reads."""

    @property
    def operation_type(self) -> str: ...
    @property
    def total_operations(self) -> int: ...
    @property
    def failed_operations(self) -> int: ...
    @property
    def total_duration(self) -> float: ...
    @property
    def p50_duration(self) -> float: ...
    @property
    def p90_duration(self) -> float: ...
    @property
    def p95_duration(self) -> float: ...
    @property
    def p99_duration(self) -> float: ...
    @property
    def total_tokens(self) -> int: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def errors_by_type(self) -> Mapping[str, int]: ...
    @property
    def cost_usd(self) -> float | None: ...


@runtime_checkable
class MonitorLike(Protocol):
    """What :class:`RagperfCollector` reads from a monitor: the methods of
    :class:`~ragperf.PerformanceMonitor` it calls at every scrape. Any object
    with these methods (e.g. a wrapper that merges several monitors) can be
    exported.

    Example:
        >>> isinstance(object(), MonitorLike)
        False
    """

    def get_all_stats(self) -> Mapping[Any, _StatsLike]: ...
    def get_memory_stats(self) -> Mapping[str, float]: ...
    def get_health_status(self) -> Mapping[str, Any]: ...
    def get_cache_stats(self) -> Mapping[str, Mapping[str, Any]]: ...
    def get_in_flight_operations(self) -> Mapping[str, int]: ...


_REQUIRED_METHODS: Final = (
    "get_all_stats",
    "get_memory_stats",
    "get_health_status",
    "get_cache_stats",
    "get_in_flight_operations",
)


class RagperfCollector(Collector):
    """A ``prometheus_client`` custom collector exporting a monitor's
    statistics (the metrics listed in :mod:`ragperf.export.prometheus`), read
    fresh at every scrape.

    Args:
        monitor: the monitor to export; ``None`` means the process-wide
            ``ragperf.get_performance_monitor()``.
        multiprocess_dir: multi-process mode: every scrape exposes
            ``ragperf.multiproc.merge_snapshots(multiprocess_dir)`` (the
            snapshots of all worker processes merged) instead of a monitor.
            The directory is created if missing. When this process itself
            writes snapshots there, its own snapshot is rewritten first so
            its latest records are included.

    Raises:
        TypeError: ``monitor`` is not a PerformanceMonitor-like object
            (the message names the missing methods), or a bad
            ``multiprocess_dir``.
        ValueError: both ``monitor`` and ``multiprocess_dir`` given.

    Example:
        >>> from prometheus_client import CollectorRegistry, generate_latest
        >>> registry = CollectorRegistry()
        >>> registry.register(RagperfCollector(monitor))               # doctest: +SKIP
        >>> print(generate_latest(registry).decode())                  # doctest: +SKIP
        # HELP ragperf_operation_duration_seconds ...
        ragperf_operation_duration_seconds{operation="llm_inference",quantile="0.5"} 1.1
        ...
    """

    def __init__(
        self,
        monitor: PerformanceMonitor | MonitorLike | None = None,
        *,
        multiprocess_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._multiprocess_dir: str | None = None
        self._local = threading.local()
        if multiprocess_dir is not None:
            if monitor is not None:
                raise ValueError("pass either monitor or multiprocess_dir, not both")
            if not isinstance(multiprocess_dir, (str, os.PathLike)) or not os.fspath(multiprocess_dir):
                raise TypeError(
                    f"multiprocess_dir must be a non-empty str or os.PathLike, got {multiprocess_dir!r}"
                )
            self._multiprocess_dir = os.path.abspath(os.fspath(multiprocess_dir))
            os.makedirs(self._multiprocess_dir, exist_ok=True)
            self._monitor = cast(MonitorLike, PerformanceMonitor())  # replaced at every collect()
            return
        if monitor is None:
            monitor = get_performance_monitor()
        missing = [name for name in _REQUIRED_METHODS if not callable(getattr(monitor, name, None))]
        if missing:
            raise TypeError(
                f"monitor must be a ragperf PerformanceMonitor (or provide {', '.join(_REQUIRED_METHODS)}), "
                f"got {monitor!r} without {', '.join(missing)}"
            )
        # PerformanceMonitor satisfies MonitorLike; the cast keeps the type
        # check independent of the order in which its methods were added.
        self._monitor = cast(MonitorLike, monitor)

    @property
    def monitor(self) -> MonitorLike:
        """The exported monitor (in multi-process mode: the merged monitor of
        the latest scrape, an empty one before the first).

        Example:
            >>> RagperfCollector(monitor).monitor is monitor  # doctest: +SKIP
            True
        """
        return self._monitor

    @property
    def multiprocess_dir(self) -> str | None:
        """The snapshot directory in multi-process mode (absolute), else None.

        Example:
            >>> RagperfCollector(multiprocess_dir="/run/ragperf").multiprocess_dir  # doctest: +SKIP
            '/run/ragperf'
        """
        return self._multiprocess_dir

    def _current(self) -> MonitorLike:
        if self._multiprocess_dir is None:
            return self._monitor
        from . import multiproc

        multiproc._write_local_snapshots(self._multiprocess_dir)  # when this process writes there too
        self._monitor = cast(MonitorLike, multiproc.merge_snapshots(self._multiprocess_dir))
        return self._monitor

    @staticmethod
    def _families() -> dict[str, Metric]:
        return {
            "duration": SummaryMetricFamily(
                "ragperf_operation_duration_seconds",
                "Duration of ragperf-tracked operations (quantiles from a relative-error sketch).",
                labels=["operation"],
                unit="seconds",
            ),
            "failed": CounterMetricFamily(
                "ragperf_operation_failed", "Operations that raised or were recorded as failed.",
                labels=["operation"],
            ),
            "errors": CounterMetricFamily(
                "ragperf_operation_errors", "Failed operations by error type.",
                labels=["operation", "error_type"],
            ),
            "tokens": CounterMetricFamily(
                "ragperf_operation_tokens", "Tokens processed by operations, by kind.",
                labels=["operation", "kind"],
            ),
            "cost": CounterMetricFamily(
                "ragperf_operation_cost_usd", "Known cost of operations in US dollars.",
                labels=["operation"],
            ),
            "in_flight": GaugeMetricFamily(
                "ragperf_operations_in_flight", "Operations entered and not yet finished.",
                labels=["operation"],
            ),
            "cache_hits": CounterMetricFamily(
                "ragperf_cache_hits", "Cache hits recorded by the monitor.", labels=["cache"]
            ),
            "cache_misses": CounterMetricFamily(
                "ragperf_cache_misses", "Cache misses recorded by the monitor.", labels=["cache"]
            ),
            "rss": GaugeMetricFamily(
                "ragperf_memory_rss_bytes", "Resident memory of the process.", unit="bytes"
            ),
            "vms": GaugeMetricFamily(
                "ragperf_memory_vms_bytes", "Virtual memory of the process.", unit="bytes"
            ),
            "health": GaugeMetricFamily(
                "ragperf_health_status", "1 when the monitor's health is 'healthy', 0 on 'warning' or 'critical'."
            ),
            "dimension_duration": SummaryMetricFamily(
                "ragperf_dimension_duration_seconds",
                "Duration per value of a declared dimension (quantiles from the value's sketch).",
                labels=_DIMENSION_LABELS,
                unit="seconds",
            ),
            "dimension_failed": CounterMetricFamily(
                "ragperf_dimension_failed", "Failed operations per dimension value.",
                labels=_DIMENSION_LABELS,
            ),
            "dimension_tokens": CounterMetricFamily(
                "ragperf_dimension_tokens", "Total tokens per dimension value.",
                labels=_DIMENSION_LABELS,
            ),
            "dimension_cost": CounterMetricFamily(
                "ragperf_dimension_cost_usd", "Known cost per dimension value in US dollars.",
                labels=_DIMENSION_LABELS,
            ),
        }

    def describe(self) -> Iterable[Metric]:
        """The metric families (without samples), so a registry can detect
        duplicates without scraping the monitor.

        Example:
            >>> sorted(m.name for m in RagperfCollector(monitor).describe())[:2]  # doctest: +SKIP
            ['ragperf_cache_hits', 'ragperf_cache_misses']
        """
        return list(self._families().values())

    def collect(self) -> Iterator[Metric]:
        """The current statistics as metric families (called at every scrape).

        Example:
            >>> names = {m.name for m in RagperfCollector(monitor).collect()}  # doctest: +SKIP
            >>> "ragperf_health_status" in names                               # doctest: +SKIP
            True
        """
        if getattr(self._local, "suppress", False):  # a protobuf scrape: see collect_protobuf
            return
        yield from self._collect_from(self._current())

    def collect_protobuf(self) -> list[Any]:
        """The same statistics as ``io.prometheus.client.MetricFamily``
        messages (what a protobuf scrape serves, read from one snapshot of
        the monitor): each operation's durations, and time to first token /
        inter-token latency where streamed, as native histograms of the
        sketch bins (:mod:`ragperf.export.prom_native`, exact count and sum),
        under the text format's names and labels; every other family as in
        the text format. A monitor-like object without sketches keeps the
        duration summary.

        Example:
            >>> [f.name for f in RagperfCollector(monitor).collect_protobuf()][:1]  # doctest: +SKIP
            ['ragperf_operation_duration_seconds']
        """
        from . import prom_native

        monitor = self._current()
        core = getattr(monitor, "_core", None)
        native = prom_native.monitor_families(core) if callable(getattr(core, "sketches", None)) else []
        replaced = {family.name for family in native}
        return native + [
            prom_native.client_family(m) for m in self._collect_from(monitor) if m.name not in replaced
        ]

    def _collect_from(self, monitor: MonitorLike) -> list[Metric]:
        f = self._families()
        duration = cast(SummaryMetricFamily, f["duration"])
        failed = cast(CounterMetricFamily, f["failed"])
        errors = cast(CounterMetricFamily, f["errors"])
        tokens = cast(CounterMetricFamily, f["tokens"])
        cost = cast(CounterMetricFamily, f["cost"])
        for stats in monitor.get_all_stats().values():
            op = str(stats.operation_type)
            _add_duration(duration, {"operation": op}, stats)
            failed.add_metric([op], float(stats.failed_operations))
            for error_type, count in sorted(stats.errors_by_type.items()):
                errors.add_metric([op, str(error_type)], float(count))
            tokens.add_metric([op, "prompt"], float(stats.prompt_tokens))
            tokens.add_metric([op, "completion"], float(stats.completion_tokens))
            tokens.add_metric([op, "total"], float(stats.total_tokens))
            if stats.cost_usd is not None:
                cost.add_metric([op], float(stats.cost_usd))

        in_flight = cast(GaugeMetricFamily, f["in_flight"])
        for op, count in sorted(monitor.get_in_flight_operations().items()):
            in_flight.add_metric([str(op)], float(count))

        hits = cast(CounterMetricFamily, f["cache_hits"])
        misses = cast(CounterMetricFamily, f["cache_misses"])
        for cache, counts in sorted(monitor.get_cache_stats().items()):
            hits.add_metric([str(cache)], float(counts["hits"]))
            misses.add_metric([str(cache)], float(counts["misses"]))

        memory = monitor.get_memory_stats()
        cast(GaugeMetricFamily, f["rss"]).add_metric([], float(memory["current_rss_mb"]) * _MB)
        cast(GaugeMetricFamily, f["vms"]).add_metric([], float(memory.get("current_vms_mb", 0.0)) * _MB)
        healthy = monitor.get_health_status().get("status") == "healthy"
        cast(GaugeMetricFamily, f["health"]).add_metric([], 1.0 if healthy else 0.0)
        _add_dimensions(monitor, f)
        return list(f.values())


_DIMENSION_LABELS: Final = ["operation", "dimension", "value"]


def _add_duration(family: SummaryMetricFamily, labels: dict[str, str], s: _StatsLike) -> None:
    """The duration summary of one statistics object: its quantiles (the
    field table's duration percentiles) when it has records, count and sum."""
    if s.total_operations > 0:
        for q, attribute in DURATION_QUANTILES:
            family.add_sample(family.name, {**labels, "quantile": str(q)}, float(getattr(s, attribute)))
    family.add_metric(list(labels.values()), s.total_operations, float(s.total_duration))


def _add_dimensions(monitor: Any, f: dict[str, Metric]) -> None:
    """Samples per (operation, dimension, value) of a monitor with
    dimensions (any object without ``get_dimensions`` has none)."""
    declared = getattr(monitor, "get_dimensions", None)
    if declared is None:
        return
    duration = cast(SummaryMetricFamily, f["dimension_duration"])
    for dimension in declared():
        for op_key in monitor.get_all_stats():
            op = str(op_key)
            for value, s in monitor.get_breakdown(op, by=dimension).items():
                labels = [op, dimension, value]
                _add_duration(duration, dict(zip(_DIMENSION_LABELS, labels)), s)
                cast(CounterMetricFamily, f["dimension_failed"]).add_metric(labels, float(s.failed_operations))
                cast(CounterMetricFamily, f["dimension_tokens"]).add_metric(labels, float(s.total_tokens))
                if s.cost_usd is not None:
                    cast(CounterMetricFamily, f["dimension_cost"]).add_metric(labels, float(s.cost_usd))
