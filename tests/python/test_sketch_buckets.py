"""The sketch's bins are base-2 exponential buckets (issue #23 item 1): bin i
holds (gamma**(i-1), gamma**i] with gamma = 2**(2**-scale) -- bucket i of a
Prometheus native histogram of schema `scale`, OpenTelemetry bucket i - 1 --
and saved states written with the old mapping (sketch format 1) still load,
re-binned within the documented bound, or are refused naming file and format."""

from __future__ import annotations

import base64
import json
import math
import random
import sys
from pathlib import Path

import pytest

from ragperf import PerformanceMonitor, QuantileSketch, _core
from ragperf.export.persistence import StateError

FIXTURES = Path(__file__).parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from make_sketch_format1 import duration  # noqa: E402

STATE_V1 = FIXTURES / "state_sketch_format1.json"


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = math.ceil(q * len(ordered) * (1 - 1e-12))
    return ordered[min(len(ordered) - 1, max(rank, 1) - 1)]


def test_scale_is_the_coarsest_meeting_the_accuracy() -> None:
    assert _core.DEFAULT_SKETCH_SCALE == QuantileSketch().scale == 6
    assert QuantileSketch(relative_accuracy=0.01).scale == 6
    assert QuantileSketch(relative_accuracy=0.005).scale == 7
    assert QuantileSketch(relative_accuracy=0.02).scale == 5
    for a in (0.3, 0.02, 0.01, _core.DEFAULT_RELATIVE_ACCURACY, 0.005, 0.001):
        s = QuantileSketch(relative_accuracy=a)
        gamma = 2.0 ** (2.0**-s.scale)
        assert s.guaranteed_accuracy == pytest.approx((gamma - 1) / (gamma + 1), rel=1e-12)
        assert s.guaranteed_accuracy <= a
        assert s.relative_accuracy == a
    # The default is scale 6's guarantee (0.54152%), rounded up to 0.5416%.
    assert 0 <= _core.DEFAULT_RELATIVE_ACCURACY - QuantileSketch().guaranteed_accuracy < 1e-6


def test_buckets_follow_the_prometheus_boundaries() -> None:
    rng = random.Random(23)
    for accuracy in (0.02, 0.01, 0.005, 0.001):
        s = QuantileSketch(relative_accuracy=accuracy, max_bins=65536)  # no collapsing
        values = [rng.lognormvariate(-3, 1) for _ in range(3000)]
        s.add_many(values + [0.0, 1e-12])
        scale, zero_count, offset, counts = s.buckets()
        assert scale == s.scale
        assert zero_count == s.zero_count == 2
        assert sum(counts) + zero_count == s.count == len(values) + 2
        gamma = 2.0 ** (2.0**-scale)
        expected: dict[int, int] = {}
        for v in values:
            i = math.ceil(math.log2(v) * 2**scale)
            lower, upper = gamma ** (i - 1), gamma**i
            if not (lower * (1 + 1e-12) < v < upper * (1 - 1e-12)):
                continue  # within float noise of a boundary: either side is right
            expected[i] = expected.get(i, 0) + 1
        for i, n in expected.items():
            assert counts[i - offset] >= n, (accuracy, i)
        assert sum(expected.values()) > 0.99 * len(values)


def test_powers_of_two_are_upper_bounds() -> None:
    s = QuantileSketch()  # scale 6: 64 buckets an octave
    s.add_many([1.0, 0.5, 2.0, math.nextafter(1.0, 2.0)])
    scale, _, offset, counts = s.buckets()
    assert scale == 6
    assert offset == -64  # 0.5 = 2**-1: upper bound of bucket -64
    assert counts[0] == 1 and counts[64] == 1 and counts[65] == 1 and counts[128] == 1
    assert sum(counts) == 4


def test_buckets_of_an_empty_and_a_zero_only_sketch() -> None:
    assert QuantileSketch().buckets() == (6, 0, 0, [])
    s = QuantileSketch()
    s.add(0.0)
    assert s.buckets() == (6, 1, 0, [])
    assert _core.SKETCH_ZERO_THRESHOLD == 1e-9


def test_monitor_sketches_are_copies_of_the_all_time_sketches() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(100):
        m.record("retrieval", 0.01 * (1 + i % 10))
    m.record("llm", 0.5)
    by_name = {name: (d, t, i) for name, d, t, i in m._core.sketches()}
    assert set(by_name) == {"retrieval", "llm"}
    d, ttft, itl = by_name["retrieval"]
    assert d.count == 100 and ttft.count == 0 and itl.count == 0
    assert d.sum == pytest.approx(sum(0.01 * (1 + i % 10) for i in range(100)))
    assert d.scale == 6
    d.add(5.0)  # a copy: the monitor is unchanged
    assert m.get_operation_stats("retrieval").total_operations == 100


def test_new_format_round_trip(tmp_path: Path) -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(2000):
        m.record("llm_inference", duration(i))
    path = m.export_metrics_json(tmp_path / "m.json")
    blob = base64.b64decode(json.loads(Path(path).read_text())["state"]["operations"]["llm_inference"]["sketch"])
    assert blob[:4] == b"RPQS" and blob[4] == _core.SKETCH_FORMAT_VERSION == 2
    back = PerformanceMonitor.load(path)
    a, b = m.get_operation_stats("llm_inference"), back.get_operation_stats("llm_inference")
    assert (a.p50_duration, a.p95_duration, a.p99_duration) == (b.p50_duration, b.p95_duration, b.p99_duration)
    assert b.total_operations == 2000


def test_format1_state_loads_rebinned_within_the_documented_bound(tmp_path: Path) -> None:
    # Written by ragperf 57b35c5 (gamma = 1.005/0.995 bins), see make_sketch_format1.py.
    blob = base64.b64decode(json.loads(STATE_V1.read_text())["state"]["operations"]["llm_inference"]["sketch"])
    assert blob[4] == 1
    m = PerformanceMonitor.load(STATE_V1)
    g = QuantileSketch().guaranteed_accuracy
    bound = (1 + 0.005) * (1 + g) - 1  # ~1.05%
    for op, scale_down, n in (("llm_inference", 1.0, 2000), ("retrieval", 10.0, 500)):
        truth = [duration(i) / scale_down for i in range(n)]
        s = m.get_operation_stats(op)
        assert s.total_operations == n
        assert s.avg_duration == pytest.approx(sum(truth) / n, rel=1e-12)
        assert s.min_duration == min(truth) and s.max_duration == max(truth)
        for q, got in ((0.5, s.p50_duration), (0.95, s.p95_duration), (0.99, s.p99_duration)):
            exact = nearest_rank(truth, q)
            assert abs(got - exact) <= bound * exact * (1 + 1e-9), (op, q, got, exact)
    # Exported again, it is written in the current format.
    path = m.export_metrics_json(tmp_path / "again.json")
    again = json.loads(Path(path).read_text())["state"]["operations"]["llm_inference"]["sketch"]
    assert base64.b64decode(again)[4] == _core.SKETCH_FORMAT_VERSION


def test_format1_state_into_a_finer_monitor_is_refused_naming_file_and_format() -> None:
    with pytest.raises(StateError, match=r"state_sketch_format1\.json.*relative accuracy.*sketch format 1"):
        PerformanceMonitor(relative_accuracy=0.001).merge_from(STATE_V1)


def test_coarser_format1_sketch_is_refused(tmp_path: Path) -> None:
    data = json.loads(STATE_V1.read_text())
    coarse = (FIXTURES / "sketch_format1_a001.b64").read_text().strip()
    data["state"]["operations"]["llm_inference"]["sketch"] = coarse
    path = tmp_path / "coarse_v1.json"
    path.write_text(json.dumps(data))
    target = PerformanceMonitor()
    with pytest.raises(StateError, match=r"coarse_v1\.json.*0\.01.*sketch format 1"):
        target.merge_from(path)
    assert target.get_operation_count() == 0  # nothing merged
    # On its own it still deserializes, at its own accuracy (scale 6 for 1%).
    s = QuantileSketch.deserialize(base64.b64decode(coarse))
    assert (s.relative_accuracy, s.scale, s.count) == (0.01, 6, 2000)
    exact = nearest_rank([duration(i) for i in range(2000)], 0.99)
    assert abs(s.quantile(0.99) - exact) <= ((1.01) * (1 + s.guaranteed_accuracy) - 1) * exact
