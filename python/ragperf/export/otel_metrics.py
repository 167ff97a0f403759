"""ragperf's own statistics as OpenTelemetry ``MetricsData``, pushed to any
SDK ``MetricExporter`` (issue #23 item 4).

Nothing here runs per block: :class:`MetricPusher` (a
:class:`ragperf.export._runner.PeriodicRunner`) reads the monitor's all-time
sketches and totals every ``interval_s`` seconds, at ``force_flush()`` and
when stopped, and hands one ``MetricsData`` to the exporter (OTLP, console,
a user's). :func:`ragperf.export.otel.instrument` builds it when given
``metric_exporter=``.

Durations are ``ExponentialHistogram`` points whose buckets *are* the
sketch's bins: a sketch of scale ``s`` has bin ``i = (γ^(i-1), γ^i]`` with
``γ = 2^(2^-s)``, which is OpenTelemetry's bucket index ``i - 1`` at scale
``s`` (OTel's bucket ``j`` is ``(γ^j, γ^(j+1)]``), so ``positive.offset`` is
the sketch's offset minus one and the counts are copied unchanged; values
below ``_core.SKETCH_ZERO_THRESHOLD`` are the zero bucket. Count, sum, min
and max are exact. Backends that merge exponential histograms (the
collector, Prometheus via OTLP, most vendors) therefore aggregate replicas
with the sketch's own error. Temporality is cumulative (start time: when
the pusher started, moved forward when the monitor's counts go down, e.g.
after ``clear_metrics()``).

Metrics (scope ``ragperf``):

- ``ragperf.operation.duration`` (``s``), attribute ``operation``: every
  operation's finished blocks (failed ones included, cancelled ones not).
- ``gen_ai.client.operation.duration`` (``s``), attributes
  ``gen_ai.operation.name`` and ``ragperf.operation``: the same sketch for
  operations mapped to a GenAI operation.
- ``gen_ai.client.operation.time_to_first_chunk`` and
  ``ragperf.operation.time_to_first_token`` (``s``): streamed blocks' TTFT;
  ``ragperf.operation.inter_token_latency`` (``s``): time between tokens.
- ``ragperf.operation.tokens`` (``{token}``, monotonic sum), attributes
  ``operation`` and ``gen_ai.token.type`` (``input`` / ``output``; tokens
  recorded without a split have no ``gen_ai.token.type``).
- ``ragperf.operation.errors`` (``{operation}``, monotonic sum), attributes
  ``operation`` and ``error.type``; ``ragperf.operation.cancelled``
  (``{operation}``), attribute ``operation``.

``gen_ai.client.token.usage`` is a per-call histogram in the conventions;
ragperf keeps token totals, not per-call distributions, so it is not pushed
(the per-block path of ``instrument()`` without ``metric_exporter`` still
records it).

Example:
    >>> import ragperf
    >>> from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
    >>> m = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    >>> m.record("llm_inference", 0.5, prompt_tokens=3, completion_tokens=4)
    >>> data = metrics_data(m, {"llm_inference": "chat"}, start_time_ns=0)
    >>> [x.name for x in data.resource_metrics[0].scope_metrics[0].metrics][:2]
    ['ragperf.operation.duration', 'gen_ai.client.operation.duration']
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Metric,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from ._runner import PeriodicRunner
from ._otel_genai import GENAI_DURATION_HISTOGRAM, GENAI_TIME_TO_FIRST_CHUNK_HISTOGRAM

__all__ = [
    "DURATION",
    "ERRORS",
    "CANCELLED",
    "INTER_TOKEN",
    "TIME_TO_FIRST_TOKEN",
    "TOKENS",
    "MetricPusher",
    "exponential_point",
    "metrics_data",
]

DURATION = "ragperf.operation.duration"
TOKENS = "ragperf.operation.tokens"
CANCELLED = "ragperf.operation.cancelled"
ERRORS = "ragperf.operation.errors"
TIME_TO_FIRST_TOKEN = "ragperf.operation.time_to_first_token"
INTER_TOKEN = "ragperf.operation.inter_token_latency"
_SCOPE = "ragperf"
_CUMULATIVE = AggregationTemporality.CUMULATIVE
_log = logging.getLogger("ragperf")


def exponential_point(
    sketch: Any, attributes: Mapping[str, Any], start_time_ns: int, time_ns: int
) -> ExponentialHistogramDataPoint:
    """One ``ExponentialHistogramDataPoint`` holding ``sketch``'s bins:
    ``scale`` = the sketch's scale, ``positive.offset`` = its first bin's
    index minus one (OTel's index convention), counts unchanged and trimmed
    of empty ends, exact count/sum/min/max.

    Example:
        >>> from ragperf import QuantileSketch
        >>> s = QuantileSketch(); s.add_many([1.0, 2.0, 2.0])
        >>> p = exponential_point(s, {}, 0, 1)
        >>> (p.scale, p.positive.offset, p.positive.bucket_counts[0], p.positive.bucket_counts[-1])
        (6, -1, 1, 2)
    """
    scale, zero_count, offset, counts = sketch.buckets()
    lo, hi = 0, len(counts)
    while lo < hi and counts[lo] == 0:
        lo += 1
    while hi > lo and counts[hi - 1] == 0:
        hi -= 1
    count = int(sketch.count)
    return ExponentialHistogramDataPoint(
        attributes=dict(attributes),
        start_time_unix_nano=start_time_ns,
        time_unix_nano=time_ns,
        count=count,
        sum=float(sketch.sum),
        scale=int(scale),
        zero_count=int(zero_count),
        positive=Buckets(offset=int(offset) + lo - 1 if hi > lo else 0, bucket_counts=list(counts[lo:hi])),
        negative=Buckets(offset=0, bucket_counts=[]),
        flags=0,
        min=float(sketch.min) if count else 0.0,
        max=float(sketch.max) if count else 0.0,
    )


def _histogram(name: str, description: str, points: list[ExponentialHistogramDataPoint]) -> Metric:
    return Metric(
        name=name,
        description=description,
        unit="s",
        data=ExponentialHistogram(data_points=points, aggregation_temporality=_CUMULATIVE),
    )


def _sum(name: str, description: str, unit: str, points: list[NumberDataPoint]) -> Metric:
    return Metric(
        name=name,
        description=description,
        unit=unit,
        data=Sum(data_points=points, aggregation_temporality=_CUMULATIVE, is_monotonic=True),
    )


def metrics_data(
    monitor: Any,
    genai_operations: Mapping[str, str],
    *,
    start_time_ns: int,
    time_ns: int | None = None,
    resource: Any | None = None,
    latest_experimental: bool = False,
) -> MetricsData:
    """The monitor's statistics as one ``MetricsData`` (see the module doc).
    ``genai_operations`` maps operation names to ``gen_ai.operation.name``;
    with ``latest_experimental`` GenAI operations get no
    ``ragperf.operation.duration`` point (as in the per-block path).

    Example:
        >>> data = metrics_data(monitor, {}, start_time_ns=0)  # doctest: +SKIP
    """
    from .. import __version__

    now = time.time_ns() if time_ns is None else time_ns
    start = start_time_ns
    durations: list[ExponentialHistogramDataPoint] = []
    genai: list[ExponentialHistogramDataPoint] = []
    ttfc: list[ExponentialHistogramDataPoint] = []
    ttft: list[ExponentialHistogramDataPoint] = []
    itl: list[ExponentialHistogramDataPoint] = []
    for name, duration, first_token, inter_token in monitor._core.sketches():
        genai_op = genai_operations.get(name)
        own = {"operation": name}
        if duration.count:
            if genai_op is None or not latest_experimental:
                durations.append(exponential_point(duration, own, start, now))
            if genai_op is not None:
                attrs = {"gen_ai.operation.name": genai_op, "ragperf.operation": name}
                genai.append(exponential_point(duration, attrs, start, now))
        if first_token.count:
            ttft.append(exponential_point(first_token, own, start, now))
            if genai_op is not None:
                attrs = {"gen_ai.operation.name": genai_op, "ragperf.operation": name}
                ttfc.append(exponential_point(first_token, attrs, start, now))
        if inter_token.count:
            itl.append(exponential_point(inter_token, own, start, now))
    tokens: list[NumberDataPoint] = []
    errors: list[NumberDataPoint] = []
    cancelled: list[NumberDataPoint] = []
    for op, stats in monitor.get_all_stats().items():
        name = str(getattr(op, "value", op))
        split = 0
        for kind, value in (("input", stats.prompt_tokens), ("output", stats.completion_tokens)):
            if value > 0:
                split += value
                tokens.append(_number({"operation": name, "gen_ai.token.type": kind}, value, start, now))
        if stats.total_tokens > split:
            tokens.append(_number({"operation": name}, stats.total_tokens - split, start, now))
        for error, n in sorted(stats.errors_by_type.items()):
            errors.append(_number({"operation": name, "error.type": error}, n, start, now))
        if stats.cancelled_operations:
            cancelled.append(_number({"operation": name}, stats.cancelled_operations, start, now))
    metrics: list[Metric] = []
    if durations:
        metrics.append(_histogram(DURATION, "Duration of tracked ragperf operations", durations))
    if genai:
        metrics.append(_histogram(GENAI_DURATION_HISTOGRAM, "GenAI operation duration.", genai))
    if ttfc:
        metrics.append(
            _histogram(
                GENAI_TIME_TO_FIRST_CHUNK_HISTOGRAM,
                "Time to receive the first chunk of a streamed GenAI response.",
                ttfc,
            )
        )
    if ttft:
        metrics.append(_histogram(TIME_TO_FIRST_TOKEN, "Time to the first streamed token", ttft))
    if itl:
        metrics.append(_histogram(INTER_TOKEN, "Time between streamed tokens", itl))
    if tokens:
        metrics.append(_sum(TOKENS, "Tokens of tracked ragperf operations", "{token}", tokens))
    if errors:
        metrics.append(_sum(ERRORS, "Failed tracked ragperf operations", "{operation}", errors))
    if cancelled:
        metrics.append(
            _sum(CANCELLED, "Tracked ragperf operations cancelled before they finished", "{operation}", cancelled)
        )
    scope = InstrumentationScope(_SCOPE, __version__)
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=resource if resource is not None else Resource.create(),
                scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics, schema_url="")],
                schema_url="",
            )
        ]
    )


def _number(attributes: Mapping[str, Any], value: int, start: int, now: int) -> NumberDataPoint:
    return NumberDataPoint(
        attributes=dict(attributes), start_time_unix_nano=start, time_unix_nano=now, value=int(value)
    )


def _total_count(points: Iterable[Any]) -> int:
    return sum(int(s.count) for _, s, _, _ in points)


class MetricPusher(PeriodicRunner):
    """Pushes :func:`metrics_data` of a monitor to ``exporter`` every
    ``interval_s`` seconds (thread ``ragperf-otel-metrics``), at
    :meth:`force_flush` and at ``stop()`` (also at interpreter exit).
    Export failures are logged (logger ``ragperf``, WARNING), never raised
    from the background thread.

    Example:
        >>> from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        >>> pusher = MetricPusher(monitor, ConsoleMetricExporter(), {}, 60).start()  # doctest: +SKIP
        >>> pusher.force_flush()                                                    # doctest: +SKIP
        True
    """

    def __init__(
        self,
        monitor: Any,
        exporter: Any,
        genai_operations: Mapping[str, str],
        interval_s: Any = 60.0,
        *,
        resource: Any | None = None,
        latest_experimental: bool = False,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(interval_s, thread_name="ragperf-otel-metrics", stop_at_exit=True)
        export = getattr(exporter, "export", None)
        if not callable(export):
            raise TypeError(
                "metric_exporter must be an OpenTelemetry SDK MetricExporter (with export()), "
                f"got {exporter!r} ({type(exporter).__name__})"
            )
        self.exporter = exporter
        self._monitor = monitor
        self._genai = dict(genai_operations)
        self._resource = resource if resource is not None else Resource.create()
        self._latest = latest_experimental
        self._timeout_ms = timeout_s * 1000.0
        self._start_ns = time.time_ns()
        self._last_total = 0
        self._push_lock = threading.Lock()

    def push(self) -> bool:
        """Exports the statistics now; True when the exporter says SUCCESS.

        Example:
            >>> pusher.push()  # doctest: +SKIP
            True
        """
        with self._push_lock:
            total = _total_count(self._monitor._core.sketches())
            now = time.time_ns()
            if total < self._last_total:  # counts went down (cleared): a new series start
                self._start_ns = now
            self._last_total = total
            data = metrics_data(
                self._monitor,
                self._genai,
                start_time_ns=self._start_ns,
                time_ns=now,
                resource=self._resource,
                latest_experimental=self._latest,
            )
            result = self.exporter.export(data, timeout_millis=self._timeout_ms)
        if result is not MetricExportResult.SUCCESS:
            _log.warning("ragperf: OpenTelemetry metric export by %r failed: %s", self.exporter, result)
            return False
        return True

    def force_flush(self) -> bool:
        """Pushes now and asks the exporter to flush; True when both succeed.

        Example:
            >>> pusher.force_flush()  # doctest: +SKIP
            True
        """
        ok = self.push()
        flush = getattr(self.exporter, "force_flush", None)
        if callable(flush):
            ok = bool(flush(timeout_millis=self._timeout_ms)) and ok
        return ok

    def _tick(self) -> None:
        self.push()

    def _final(self) -> None:
        try:
            self.push()
        except Exception as exc:  # noqa: BLE001 - at exit nobody can catch it
            _log.warning("ragperf: final OpenTelemetry metric export failed: %s", exc)
