"""Prometheus native histograms built directly from ragperf's sketch bins
(issue #23 item 2). ``ragperf.prometheus.start_http_server`` serves them to
scrapers that negotiate the protobuf format (``RagperfCollector.collect_protobuf``).

A :class:`ragperf.QuantileSketch` of scale ``s`` holds its values in base-2
buckets: bin ``i`` is ``(gamma**(i-1), gamma**i]`` with ``gamma = 2**(2**-s)``,
exactly bucket ``i`` of a Prometheus native histogram of schema ``s``. So a
native histogram here is the sketch's bins unchanged: ``schema = s``, the
zero bucket (values below ``_core.SKETCH_ZERO_THRESHOLD``), positive spans and
count deltas, and the exact count and sum. Prometheus sums such histograms
across replicas bucket by bucket, so
``histogram_quantile(0.99, sum(ragperf_operation_duration_seconds))`` is the
fleet's p99 within the sketch's error. Sketches finer than schema 8 (the
finest Prometheus accepts) are downscaled exactly (bins nest across scales).

Encoding uses the ``protobuf`` library and the official
``io.prometheus.client`` schema (``_prom_metrics_pb2``, generated, see
``PROVENANCE.md``); :func:`encode_delimited` frames families the way the
``application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
encoding=delimited`` exposition format expects.

Example:
    >>> from ragperf import QuantileSketch
    >>> s = QuantileSketch()
    >>> s.add_many([0.1, 0.1, 0.2])
    >>> h = native_histogram(s)
    >>> (h.schema, h.sample_count, list(h.positive_delta))
    (6, 3, [2, -1])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .. import _core
from . import _prom_metrics_pb2 as _pb  # protoc-generated, untyped (see PROVENANCE.md)

# The io.prometheus.client message classes. protoc builds them at import time,
# so they are untyped here: Histogram and MetricFamily below are aliases of Any
# that only name the message in signatures.
Histogram = Any
MetricFamily = Any

__all__ = [
    "MAX_SCHEMA",
    "SPAN_GAP",
    "native_histogram",
    "metric_family",
    "monitor_families",
    "encode_delimited",
    "decode_delimited",
    "PROTOBUF_CONTENT_TYPE",
    "accepts_protobuf",
    "client_family",
]

#: The Content-Type of the delimited protobuf exposition format.
PROTOBUF_CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)

#: The finest schema Prometheus accepts (client_model's metrics.proto: -4..8).
MAX_SCHEMA = 8
#: Runs of at most this many empty buckets stay inside a span (as zero
#: deltas) instead of starting a new span, which would cost more bytes.
SPAN_GAP = 2


def _downscale(scale: int, offset: int, counts: Sequence[int], schema: int) -> tuple[int, list[int]]:
    """Bins of ``scale`` regrouped at the coarser ``schema``: bin ``i`` goes
    to ``ceil(i / 2**(scale - schema))``, which holds exactly the same values."""
    shift = scale - schema
    out: dict[int, int] = {}
    for k, c in enumerate(counts):
        if c:
            j = -((-(offset + k)) >> shift)
            out[j] = out.get(j, 0) + c
    if not out:
        return 0, []
    lo, hi = min(out), max(out)
    return lo, [out.get(j, 0) for j in range(lo, hi + 1)]


def native_histogram(sketch: Any, *, max_schema: int = MAX_SCHEMA) -> Histogram:
    """The ``io.prometheus.client.Histogram`` (native) of a sketch's bins.

    ``sketch`` is a :class:`ragperf.QuantileSketch` (anything with
    ``buckets()``, ``count`` and ``sum``). Count and sum are exact; bucket
    ``i`` of the result holds the sketch's bin ``i`` (downscaled when the
    sketch's scale is above ``max_schema``).

    Example:
        >>> from ragperf import QuantileSketch
        >>> s = QuantileSketch()
        >>> s.add_many([1.0, 0.0])
        >>> h = native_histogram(s)
        >>> (h.zero_count, h.positive_span[0].offset, list(h.positive_delta))
        (1, 0, [1])
    """
    if not -4 <= max_schema <= MAX_SCHEMA:
        raise ValueError(f"max_schema must be in [-4, {MAX_SCHEMA}], got {max_schema!r}")
    scale, zero_count, offset, counts = sketch.buckets()
    schema = scale
    if scale > max_schema:
        offset, counts = _downscale(scale, offset, counts, max_schema)
        schema = max_schema
    h = _pb.Histogram(
        sample_count=int(sketch.count),
        sample_sum=float(sketch.sum),
        schema=schema,
        zero_threshold=float(_core.SKETCH_ZERO_THRESHOLD),
        zero_count=int(zero_count),
    )
    previous = 0  # deltas run across spans, starting from 0
    last_index: int | None = None  # index of the last bucket written
    k = 0
    n = len(counts)
    while k < n:
        if counts[k] == 0:
            k += 1
            continue
        # A run of non-empty buckets, absorbing gaps of <= SPAN_GAP empties.
        start = k
        end = k  # last non-empty bucket of the run
        j = k + 1
        while j < n:
            if counts[j]:
                end = j
                j += 1
                continue
            gap_end = j
            while gap_end < n and counts[gap_end] == 0:
                gap_end += 1
            if gap_end < n and gap_end - j <= SPAN_GAP:
                j = gap_end
                continue
            break
        index = offset + start
        span_offset = index if last_index is None else index - last_index - 1
        h.positive_span.append(_pb.BucketSpan(offset=span_offset, length=end - start + 1))
        for c in counts[start : end + 1]:
            h.positive_delta.append(int(c) - previous)
            previous = int(c)
        last_index = offset + end
        k = end + 1
    if not h.positive_span:
        # No bucket at all: a no-op span still marks the histogram as native.
        h.positive_span.append(_pb.BucketSpan(offset=0, length=0))
    return h


def metric_family(
    name: str,
    documentation: str,
    series: Iterable[tuple[Mapping[str, str], Any]],
    *,
    max_schema: int = MAX_SCHEMA,
) -> MetricFamily:
    """A ``MetricFamily`` of type HISTOGRAM with one native histogram per
    ``(labels, sketch)`` of ``series``.

    Example:
        >>> from ragperf import QuantileSketch
        >>> s = QuantileSketch(); s.add(0.25)
        >>> f = metric_family("x_seconds", "X.", [({"operation": "llm"}, s)])
        >>> (f.name, f.metric[0].label[0].value, f.metric[0].histogram.sample_count)
        ('x_seconds', 'llm', 1)
    """
    family = _pb.MetricFamily(name=name, help=documentation, type=_pb.MetricType.HISTOGRAM)
    for labels, sketch in series:
        family.metric.append(
            _pb.Metric(
                label=[_pb.LabelPair(name=k, value=v) for k, v in sorted(labels.items())],
                histogram=native_histogram(sketch, max_schema=max_schema),
            )
        )
    return family


def monitor_families(core: Any, *, max_schema: int = MAX_SCHEMA) -> list[MetricFamily]:
    """Native-histogram families of a monitor's all-time sketches (``core`` is
    ``PerformanceMonitor._core``): ``ragperf_operation_duration_seconds`` for
    every operation, and ``ragperf_time_to_first_token_seconds`` /
    ``ragperf_inter_token_latency_seconds`` for operations that streamed,
    each labelled ``operation``.

    Example:
        >>> from ragperf import PerformanceMonitor
        >>> m = PerformanceMonitor(enable_memory_tracking=False)
        >>> m.record("llm", 0.5)
        >>> [f.name for f in monitor_families(m._core)]
        ['ragperf_operation_duration_seconds']
    """
    durations, ttft, itl = [], [], []
    for name, duration, first_token, inter_token in core.sketches():
        labels = {"operation": name}
        durations.append((labels, duration))
        if first_token.count:
            ttft.append((labels, first_token))
        if inter_token.count:
            itl.append((labels, inter_token))
    families = [
        metric_family(
            "ragperf_operation_duration_seconds",
            "Duration of tracked operations (native histogram of ragperf's sketch).",
            durations,
            max_schema=max_schema,
        )
    ]
    if ttft:
        families.append(
            metric_family(
                "ragperf_time_to_first_token_seconds",
                "Time to the first streamed token.",
                ttft,
                max_schema=max_schema,
            )
        )
    if itl:
        families.append(
            metric_family(
                "ragperf_inter_token_latency_seconds",
                "Time between streamed tokens.",
                itl,
                max_schema=max_schema,
            )
        )
    return families


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode_delimited(families: Iterable[MetricFamily]) -> bytes:
    """The families in the delimited protobuf exposition format: each message
    (``SerializeToString``) preceded by its length as a varint.

    Example:
        >>> from ragperf import QuantileSketch
        >>> s = QuantileSketch(); s.add(0.25)
        >>> body = encode_delimited([metric_family("x_seconds", "X.", [({}, s)])])
        >>> decode_delimited(body)[0].metric[0].histogram.sample_count
        1
    """
    out = bytearray()
    for family in families:
        payload = family.SerializeToString()
        out += _varint(len(payload))
        out += payload
    return bytes(out)


def decode_delimited(data: bytes) -> list[MetricFamily]:
    """Parses :func:`encode_delimited` output (what a scraper does); raises
    ``ValueError`` for a truncated frame.

    Example:
        >>> decode_delimited(b"")
        []
    """
    families: list[MetricFamily] = []
    pos = 0
    while pos < len(data):
        length = 0
        shift = 0
        while True:
            if pos >= len(data) or shift > 63:
                raise ValueError("truncated or malformed length prefix")
            byte = data[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        if pos + length > len(data):
            raise ValueError(f"truncated frame: {length} bytes declared, {len(data) - pos} left")
        family = _pb.MetricFamily()
        family.ParseFromString(data[pos : pos + length])
        families.append(family)
        pos += length
    return families


def accepts_protobuf(accept: str) -> bool:
    """True when an HTTP ``Accept`` header asks for the delimited protobuf
    exposition format (what Prometheus sends with
    ``--enable-feature=native-histograms``) with a non-zero quality.

    Example:
        >>> accepts_protobuf("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
        ...                  "encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3")
        True
        >>> accepts_protobuf("text/plain;version=0.0.4")
        False
    """
    for entry in accept.split(","):
        parts = [p.strip() for p in entry.split(";")]
        if parts[0].lower() != "application/vnd.google.protobuf":
            continue
        params = {}
        for p in parts[1:]:
            key, _, value = p.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        if (
            params.get("proto") == "io.prometheus.client.MetricFamily"
            and params.get("encoding") == "delimited"
            and quality > 0
        ):
            return True
    return False


_CLIENT_TYPES = {
    "counter": "COUNTER",
    "gauge": "GAUGE",
    "summary": "SUMMARY",
    "histogram": "HISTOGRAM",
    "gaugehistogram": "GAUGE_HISTOGRAM",
    "info": "GAUGE",
    "stateset": "GAUGE",
}


def client_family(metric: Any) -> MetricFamily:
    """A ``prometheus_client`` metric family (what a collector yields) as an
    ``io.prometheus.client.MetricFamily``, with the names the text format
    gives its samples: a counter ``x`` becomes ``x_total``, an info ``x``
    becomes ``x_info``; summaries and classic histograms keep their
    quantiles / buckets, count and sum. ``_created`` samples are dropped.

    Example:
        >>> from prometheus_client.core import CounterMetricFamily
        >>> c = CounterMetricFamily("jobs", "Jobs.", labels=["kind"]); c.add_metric(["a"], 3)
        >>> f = client_family(c)
        >>> (f.name, f.metric[0].label[0].value, f.metric[0].counter.value)
        ('jobs_total', 'a', 3.0)
    """
    kind = _CLIENT_TYPES.get(metric.type, "UNTYPED")
    name = metric.name + {"counter": "_total", "info": "_info"}.get(metric.type, "")
    family = _pb.MetricFamily(name=name, help=metric.documentation, type=getattr(_pb.MetricType, kind))
    grouped: dict[tuple[tuple[str, str], ...], Any] = {}
    for sample in metric.samples:
        suffix = sample.name[len(metric.name) :]
        if suffix == "_created":
            continue
        special = {"quantile", "le"} if kind in ("SUMMARY", "HISTOGRAM", "GAUGE_HISTOGRAM") else set()
        key = tuple(sorted((k, v) for k, v in sample.labels.items() if k not in special))
        m = grouped.get(key)
        if m is None:
            m = grouped[key] = _pb.Metric(label=[_pb.LabelPair(name=k, value=v) for k, v in key])
            if sample.timestamp is not None:
                m.timestamp_ms = int(float(sample.timestamp) * 1000)
        value = float(sample.value)
        if kind == "COUNTER":
            m.counter.value = value
        elif kind == "GAUGE":
            m.gauge.value = value
        elif kind == "SUMMARY":
            if suffix == "_count":
                m.summary.sample_count = int(value)
            elif suffix == "_sum":
                m.summary.sample_sum = value
            else:
                m.summary.quantile.append(
                    _pb.Quantile(quantile=float(sample.labels["quantile"]), value=value)
                )
        elif kind in ("HISTOGRAM", "GAUGE_HISTOGRAM"):
            if suffix in ("_count", "_gcount"):
                m.histogram.sample_count = int(value)
            elif suffix in ("_sum", "_gsum"):
                m.histogram.sample_sum = value
            elif suffix == "_bucket":
                m.histogram.bucket.append(
                    _pb.Bucket(cumulative_count=int(value), upper_bound=float(sample.labels["le"]))
                )
        else:
            m.untyped.value = value
    family.metric.extend(grouped.values())
    return family
