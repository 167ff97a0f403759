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

Protobuf scrapes: a scraper sending ``Accept: application/vnd.google.protobuf;
proto=io.prometheus.client.MetricFamily; encoding=delimited`` (Prometheus
with ``--enable-feature=native-histograms``) gets every family above in
protobuf form, except that ``ragperf_operation_duration_seconds`` (and
``ragperf_time_to_first_token_seconds`` / ``ragperf_inter_token_latency_seconds``
for streamed operations) are native histograms of the sketch bins, so
``histogram_quantile(0.99, sum(ragperf_operation_duration_seconds{operation="llm_inference"}))``
is a fleet's p99 (docs/export.md).

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

from .prometheus_collector import QUANTILES, MonitorLike, RagperfCollector
from .prometheus_http import MetricsServer, _client_version, _returns_server, start_http_server

__all__ = ["QUANTILES", "MetricsServer", "MonitorLike", "RagperfCollector", "start_http_server"]
