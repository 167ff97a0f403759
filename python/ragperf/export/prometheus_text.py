"""The Prometheus text exposition of a monitor written to a file (for
node_exporter's textfile collector, or a push from a batch job), through
``prometheus_client.write_to_textfile`` (temporary file, rename). Needs the
``prometheus`` extra. The HTTP endpoint is :func:`ragperf.export.prometheus.start_http_server`.

Example:
    >>> PrometheusTextExporter("/var/lib/node_exporter/ragperf.prom").export(monitor)  # doctest: +SKIP
    '/var/lib/node_exporter/ragperf.prom'
"""

from __future__ import annotations

from typing import Any

from .._validate import check_path

__all__ = ["PrometheusTextExporter"]


class PrometheusTextExporter:
    """Writes the metrics of :class:`ragperf.export.prometheus.RagperfCollector`
    for a monitor to ``path`` in the Prometheus text format.

    Example:
        >>> PrometheusTextExporter("ragperf.prom").export(monitor)  # doctest: +SKIP
        'ragperf.prom'
    """

    def __init__(self, path: Any) -> None:
        self.path = check_path(path)

    def export(self, monitor: Any) -> str:
        """Writes ``monitor``'s metrics; returns the path."""
        from prometheus_client import CollectorRegistry, write_to_textfile

        from .prometheus import RagperfCollector

        registry = CollectorRegistry(auto_describe=False)
        registry.register(RagperfCollector(monitor))
        write_to_textfile(self.path, registry)
        return self.path

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"PrometheusTextExporter({self.path!r})"
