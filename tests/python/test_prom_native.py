"""ragperf.export.prom_native: native histograms from the sketch bins, decoded
back with the official io.prometheus.client schema (protobuf)."""

from __future__ import annotations

import math
import random

import pytest

from ragperf import PerformanceMonitor, QuantileSketch, _core
from ragperf.export import prom_native
from ragperf.export._prom_metrics_pb2 import Histogram, MetricFamily, MetricType


def decoded_buckets(h: Histogram) -> dict[int, int]:
    """Bucket index -> count, from spans and deltas (Prometheus' reading)."""
    out: dict[int, int] = {}
    index = 0
    count = 0
    deltas = iter(h.positive_delta)
    for n, span in enumerate(h.positive_span):
        index = span.offset if n == 0 else index + span.offset
        for _ in range(span.length):
            count += next(deltas)
            assert count >= 0
            out[index] = count
            index += 1
    assert next(deltas, None) is None
    return {i: c for i, c in out.items() if c}


def sketch_buckets(s: QuantileSketch) -> dict[int, int]:
    _, _, offset, counts = s.buckets()
    return {offset + k: c for k, c in enumerate(counts) if c}


def test_histogram_holds_the_sketch_bins_exactly() -> None:
    rng = random.Random(7)
    s = QuantileSketch()
    values = [rng.lognormvariate(-2.5, 1.2) for _ in range(20000)] + [0.0] * 7
    s.add_many(values)
    wire = prom_native.native_histogram(s).SerializeToString()
    h = Histogram()
    h.ParseFromString(wire)
    assert h.schema == 6 == s.scale
    assert h.sample_count == len(values)
    assert h.sample_sum == s.sum
    assert h.zero_count == 7 and h.zero_threshold == _core.SKETCH_ZERO_THRESHOLD
    got = decoded_buckets(h)
    assert got == sketch_buckets(s)
    assert sum(got.values()) + h.zero_count == h.sample_count
    # Bucket i is (2**((i-1)/64), 2**(i/64)]: check against the values.
    gamma = 2 ** (1 / 64)
    for v in values[:2000]:
        if v == 0:
            continue
        i = math.ceil(math.log2(v) * 64)
        if gamma ** (i - 1) * (1 + 1e-12) < v < gamma**i * (1 - 1e-12):
            assert got.get(i, 0) > 0


def test_gaps_make_spans_and_small_gaps_stay_inline() -> None:
    s = QuantileSketch()
    # Buckets 0 (1.0), 2 (2**(2/64)), then 128 (4.0): one gap of 1 (inline),
    # one gap of 125 (new span).
    s.add_many([1.0, 1.0, 2 ** (2 / 64), 4.0, 4.0, 4.0])
    h = prom_native.native_histogram(s)
    assert [(sp.offset, sp.length) for sp in h.positive_span] == [(0, 3), (125, 1)]
    assert list(h.positive_delta) == [2, -2, 1, 2]
    assert decoded_buckets(h) == {0: 2, 2: 1, 128: 3}


def test_empty_and_zero_only_sketches() -> None:
    h = prom_native.native_histogram(QuantileSketch())
    assert (h.sample_count, h.zero_count) == (0, 0)
    assert [(sp.offset, sp.length) for sp in h.positive_span] == [(0, 0)]
    s = QuantileSketch()
    s.add(0.0)
    h = prom_native.native_histogram(s)
    assert (h.sample_count, h.zero_count, list(h.positive_delta)) == (1, 1, [])


def test_finer_sketches_are_downscaled_exactly_to_schema_8() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(-3, 0.4) for _ in range(5000)]
    fine = QuantileSketch(relative_accuracy=0.0002, max_bins=65536)  # scale 11
    direct = QuantileSketch(relative_accuracy=0.002, max_bins=65536)  # scale 8
    assert (fine.scale, direct.scale) == (11, 8)
    fine.add_many(values)
    direct.add_many(values)
    h = prom_native.native_histogram(fine)
    assert h.schema == 8
    assert decoded_buckets(h) == sketch_buckets(direct)
    assert prom_native.native_histogram(fine, max_schema=6).schema == 6
    with pytest.raises(ValueError, match="max_schema"):
        prom_native.native_histogram(fine, max_schema=9)


def test_fleet_sum_of_histograms_is_the_merged_sketch() -> None:
    rng = random.Random(11)
    replicas = []
    for mu in (-3.0, -2.0, -1.0):
        s = QuantileSketch()
        s.add_many([rng.lognormvariate(mu, 0.5) for _ in range(3000)])
        replicas.append(s)
    summed: dict[int, int] = {}
    for s in replicas:
        for i, c in decoded_buckets(prom_native.native_histogram(s)).items():
            summed[i] = summed.get(i, 0) + c
    merged = QuantileSketch()
    for s in replicas:
        merged.merge(s)
    assert summed == decoded_buckets(prom_native.native_histogram(merged))


def test_monitor_families_round_trip_through_the_delimited_format() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(300):
        m.record("retrieval", 0.01 + i * 1e-4)
    m.record("llm_inference", 1.25)
    body = prom_native.encode_delimited(prom_native.monitor_families(m._core))
    families = prom_native.decode_delimited(body)
    assert [f.name for f in families] == ["ragperf_operation_duration_seconds"]
    (family,) = families
    assert family.type == MetricType.HISTOGRAM
    by_op = {mt.label[0].value: mt.histogram for mt in family.metric}
    assert set(by_op) == {"retrieval", "llm_inference"}
    assert by_op["retrieval"].sample_count == 300
    assert by_op["retrieval"].sample_sum == pytest.approx(sum(0.01 + i * 1e-4 for i in range(300)))
    assert decoded_buckets(by_op["llm_inference"]) == {math.ceil(math.log2(1.25) * 64): 1}
    with pytest.raises(ValueError, match="truncated"):
        prom_native.decode_delimited(body[:-1])
    assert isinstance(families[0], MetricFamily)
