"""Prometheus export: a ``prometheus_client`` collector and a metrics endpoint.

Needs ``prometheus_client`` (``pip install 'ragperf[prometheus]'``).
:class:`RagperfCollector` reads a :class:`~ragperf.PerformanceMonitor` at
every scrape (nothing is recorded twice, the hot path is untouched) and
exposes, with an ``operation`` label where it applies:

============================================  =========  ====================================
metric                                        type       labels / meaning
============================================  =========  ====================================
``ragperf_operation_duration_seconds``        summary    ``quantile`` 0.5/0.9/0.95/0.99 from
                                                         the sketch, plus ``_count``, ``_sum``
``ragperf_operation_failed_total``            counter    failed records
``ragperf_operation_errors_total``            counter    ``error_type`` (exception class name)
``ragperf_operation_tokens_total``            counter    ``kind`` = prompt / completion / total
``ragperf_operation_cost_usd_total``          counter    only operations with a known cost
``ragperf_operations_in_flight``              gauge      blocks entered and not yet left
``ragperf_cache_hits_total``                  counter    ``cache``
``ragperf_cache_misses_total``                counter    ``cache``
``ragperf_memory_rss_bytes``                  gauge      process resident memory
``ragperf_memory_vms_bytes``                  gauge      process virtual memory
``ragperf_health_status``                     gauge      1 healthy, 0 warning or critical
``ragperf_dimension_duration_seconds``        summary    per value of a declared dimension:
                                                         ``operation``, ``dimension``, ``value``
``ragperf_dimension_failed_total``            counter    same labels
``ragperf_dimension_tokens_total``            counter    same labels (total tokens)
``ragperf_dimension_cost_usd_total``          counter    same labels, known cost only
============================================  =========  ====================================

Dimensions (``PerformanceMonitor(dimensions=["model"])``) are exported from
a monitor that has them; a multi-process merge has none (snapshots carry
per-operation state only).

Counters restart from 0 after ``monitor.clear_metrics()``; Prometheus's
``rate()`` and ``increase()`` treat that as a counter reset.

Multi-process mode (prefork servers, worker pools): with
``RagperfCollector(multiprocess_dir=...)`` / ``start_http_server(...,
multiprocess_dir=...)`` every scrape merges the snapshots the worker
processes write there (:mod:`ragperf.export.multiproc`) and exposes the merged
monitor: counts add and the quantiles are those of all workers' samples
together. Memory and health gauges are those of the scraping process.

Example:
    >>> from prometheus_client import CollectorRegistry, generate_latest
    >>> from ragperf import PerformanceMonitor
    >>> from ragperf.export.prometheus import RagperfCollector, start_http_server
    >>> monitor = PerformanceMonitor()
    >>> registry = CollectorRegistry()
    >>> registry.register(RagperfCollector(monitor))          # doctest: +SKIP
    >>> server = start_http_server(9464, monitor=monitor)     # doctest: +SKIP
    >>> server.url                                            # doctest: +SKIP
    'http://127.0.0.1:9464/metrics'
    >>> server.stop()                                         # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from socketserver import ThreadingMixIn
from types import TracebackType
from typing import Any, Final, Protocol, cast, runtime_checkable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

try:
    import prometheus_client
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        Metric,
        SummaryMetricFamily,
    )
    from prometheus_client.registry import Collector, CollectorRegistry
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        f"ragperf.prometheus needs prometheus_client ({e}): pip install 'ragperf[prometheus]'"
    ) from e

from ..model.stats_fields import DURATION_QUANTILES
from ..monitor import PerformanceMonitor, get_performance_monitor

__all__ = ["QUANTILES", "MetricsServer", "MonitorLike", "RagperfCollector", "start_http_server"]

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
        monitor = self._current()
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
        yield from f.values()


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


# ---------------------------------------------------------------- HTTP endpoint


def _client_version() -> tuple[int, ...]:
    try:
        text = version("prometheus-client")
    except PackageNotFoundError:  # pragma: no cover - vendored copy
        return (0,)
    parts: list[int] = []
    for piece in text.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _returns_server() -> bool:
    """prometheus_client >= 0.20 returns (server, thread) from start_http_server."""
    return _client_version() >= (0, 20)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


def _own_server(port: int, addr: str, registry: CollectorRegistry) -> tuple[WSGIServer, threading.Thread]:
    """For prometheus_client < 0.20, whose start_http_server returns nothing
    to stop: the same WSGI app on a server we keep a handle to."""

    class Server(_ThreadingServer):
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    httpd = make_server(addr, port, prometheus_client.make_wsgi_app(registry), Server, _QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, name="ragperf-prometheus", daemon=True)
    thread.start()
    return httpd, thread


class MetricsServer:
    """A running metrics endpoint started by :func:`start_http_server`.

    ``port`` is the port actually bound (useful with port 0); ``url`` the
    metrics address. ``stop()`` (idempotent; also on leaving a ``with``
    block) shuts the server down, closes its socket and unregisters the
    collector from the registry.

    Example:
        >>> with start_http_server(0, monitor=monitor) as server:   # doctest: +SKIP
        ...     urllib.request.urlopen(server.url).read()[:6]
        b'# HELP'
    """

    def __init__(
        self,
        server: WSGIServer,
        thread: threading.Thread,
        registry: CollectorRegistry,
        collector: RagperfCollector,
        addr: str,
    ) -> None:
        self._server = server
        self._thread = thread
        self._lock = threading.Lock()
        self._stopped = False
        self.registry = registry
        self.collector = collector
        self.addr = addr
        self.port: int = int(server.server_address[1])

    @property
    def url(self) -> str:
        """``http://<addr>:<port>/metrics`` (IPv6 addresses in brackets).

        Example:
            >>> start_http_server(0).url  # doctest: +SKIP
            'http://127.0.0.1:41237/metrics'
        """
        host = f"[{self.addr}]" if ":" in self.addr else self.addr
        return f"http://{host}:{self.port}/metrics"

    @property
    def running(self) -> bool:
        """True until :meth:`stop`.

        Example:
            >>> server.running  # doctest: +SKIP
            True
        """
        return not self._stopped

    def stop(self) -> None:
        """Stops serving, closes the socket, joins the thread and unregisters
        the collector. Safe to call more than once.

        Example:
            >>> server.stop()  # doctest: +SKIP
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        try:
            self.registry.unregister(self.collector)
        except KeyError:  # already unregistered by the caller
            pass

    def close(self) -> None:
        """:meth:`stop` (the close of ragperf's exporter interface)."""
        self.stop()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ragperf.prometheus.MetricsServer {self.url} {state}>"


def start_http_server(
    port: int,
    addr: str = "127.0.0.1",
    monitor: PerformanceMonitor | MonitorLike | None = None,
    registry: CollectorRegistry | None = None,
    *,
    multiprocess_dir: str | os.PathLike[str] | None = None,
) -> MetricsServer:
    """Serves ``monitor``'s metrics at ``http://addr:port/metrics`` from a
    daemon thread (prometheus_client's server) and returns a handle.

    Args:
        port: TCP port, 0..65535; 0 picks a free port (see ``handle.port``).
        addr: address to bind; the default serves this host only (use
            ``"0.0.0.0"`` to let other hosts scrape).
        monitor: the monitor to export (default: the process-wide one).
        registry: register the collector here; default a fresh
            ``CollectorRegistry`` holding only it (not prometheus_client's
            global ``REGISTRY``, whose process metrics would then be mixed in).
        multiprocess_dir: serve the merged snapshots of this directory
            instead of one monitor (see :class:`RagperfCollector`).

    Raises:
        TypeError: a port that is not an int, an addr that is not a str, a
            registry that is not a CollectorRegistry, or a monitor that is not
            monitor-like.
        ValueError: a port outside 0..65535 or an empty addr; also a
            registry that already holds a collector with these metric names.
        OSError: the address cannot be bound (e.g. the port is in use).

    Example:
        >>> server = start_http_server(0, monitor=monitor)  # doctest: +SKIP
        >>> server.port > 0, server.url                     # doctest: +SKIP
        (True, 'http://127.0.0.1:40127/metrics')
        >>> server.stop()                                   # doctest: +SKIP
    """
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"port must be an int, got {port!r} ({type(port).__name__})")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {port!r}")
    if not isinstance(addr, str):
        raise TypeError(f"addr must be a str, got {addr!r} ({type(addr).__name__})")
    if not addr:
        raise ValueError("addr must not be empty (use '0.0.0.0' for all interfaces)")
    if registry is not None and not isinstance(registry, CollectorRegistry):
        raise TypeError(f"registry must be a prometheus_client CollectorRegistry, got {registry!r}")
    collector = (
        RagperfCollector(monitor)
        if multiprocess_dir is None
        else RagperfCollector(monitor, multiprocess_dir=multiprocess_dir)
    )
    target = registry if registry is not None else CollectorRegistry()
    target.register(collector)
    try:
        if _returns_server():
            httpd, thread = prometheus_client.start_http_server(port, addr=addr, registry=target)
        else:  # pragma: no cover - exercised by a test that fakes the old version
            httpd, thread = _own_server(port, addr, target)
    except BaseException:
        target.unregister(collector)
        raise
    return MetricsServer(httpd, thread, target, collector, addr)
