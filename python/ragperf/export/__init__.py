"""Exporters: everything that sends a monitor's data somewhere, behind one
small interface (:mod:`ragperf.export.base`).

- *Snapshot exporters* (:class:`~ragperf.export.base.Exporter`):
  ``export(monitor)`` writes what the monitor holds now, ``close()``
  releases what the exporter holds. :class:`~ragperf.export.files.JsonFileExporter`,
  :class:`~ragperf.export.files.CsvFileExporter`,
  :class:`~ragperf.export.prometheus_text.PrometheusTextExporter`, and
  :class:`~ragperf.export.exporting.PeriodicExporter` (which runs any of them on the
  shared :class:`ragperf.export._runner.PeriodicRunner`; the multi-process snapshot
  writer is one).
- *Block exporters* (:class:`~ragperf.export.base.BlockExporter`): called
  with every finished block (an exit hook) until ``close()``: the logger of
  :func:`ragperf.export.logs.enable_logging` and OpenTelemetry's
  :class:`ragperf.export.otel.Instrumentation` (its spans built by
  :mod:`~ragperf.export.otel_spans`, its per-block SDK instruments in
  :mod:`~ragperf.export.otel_block_metrics`).
- *Pushed statistics*: :class:`~ragperf.export.otel_metrics.MetricPusher`
  sends a monitor's statistics as OpenTelemetry ``MetricsData``
  (exponential histograms that are the sketch's bins) to any SDK
  ``MetricExporter`` on the shared runner (``instrument(metric_exporter=...)``).
- *Encoders*: :mod:`ragperf.export.prom_native` builds Prometheus native
  histograms (``io.prometheus.client`` protobuf) from the sketches' bins.

``monitor.exporters`` (:class:`~ragperf.export.exporters.Exporters`) holds a
monitor's exit hooks and its export methods.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> from ragperf.export.files import JsonFileExporter
    >>> JsonFileExporter("metrics.json").export(PerformanceMonitor())  # doctest: +SKIP
    'metrics.json'
"""
