"""QuantileSketch: accuracy, exact merges, serialization and input checks."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from ragperf import QuantileSketch


def exact_quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[int(math.floor(q * (len(sorted_values) - 1)))]


def values(n: int = 10_000, seed: int = 11) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(v) for v in rng.lognormal(mean=-3.0, sigma=1.5, size=n)]


@pytest.fixture
def data() -> list[float]:
    return values()


# ------------------------------------------------------------------ basics


def test_add_and_quantiles(data: list[float]) -> None:
    s = QuantileSketch()
    for v in data:
        s.add(v)
    ordered = sorted(data)
    assert s.count == len(s) == len(data)
    assert s.min == ordered[0]
    assert s.max == ordered[-1]
    assert s.sum == pytest.approx(sum(data), rel=1e-9)
    assert s.mean == pytest.approx(sum(data) / len(data), rel=1e-9)
    assert s.quantile(0.0) == ordered[0]
    assert s.quantile(1.0) == ordered[-1]
    for q in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999):
        exact = exact_quantile(ordered, q)
        assert s.quantile(q) == pytest.approx(exact, rel=s.relative_accuracy * 1.0001), q


def test_custom_accuracy_bound(data: list[float]) -> None:
    s = QuantileSketch(relative_accuracy=0.02)
    assert s.relative_accuracy == 0.02
    s.add_many(data)
    ordered = sorted(data)
    for q in (0.5, 0.9, 0.99):
        assert s.quantile(q) == pytest.approx(exact_quantile(ordered, q), rel=0.02 * 1.0001)


def test_quantiles_monotonic(data: list[float]) -> None:
    s = QuantileSketch()
    s.add_many(data)
    qs = [i / 100 for i in range(101)]
    got = [s.quantile(q) for q in qs]
    assert got == sorted(got)


def test_add_many_equals_add(data: list[float]) -> None:
    a, b = QuantileSketch(), QuantileSketch()
    a.add_many(data)
    for v in data:
        b.add(v)
    assert a.same_contents(b)


def test_empty_sketch() -> None:
    s = QuantileSketch()
    assert s.count == 0 and len(s) == 0
    assert s.sum == 0.0
    assert math.isnan(s.quantile(0.5))
    assert math.isnan(s.min) and math.isnan(s.max) and math.isnan(s.mean)
    assert s.num_bins == 0


def test_zero_values() -> None:
    s = QuantileSketch()
    s.add_many([0.0, 0.0, 0.0, 1.0])
    assert s.count == 4
    assert s.quantile(0.5) == 0.0
    assert s.quantile(1.0) == 1.0
    s.add(-0.0)
    assert s.count == 5


def test_clear(data: list[float]) -> None:
    s = QuantileSketch()
    s.add_many(data)
    s.clear()
    assert s.count == 0
    assert math.isnan(s.quantile(0.5))
    s.add(2.0)
    assert s.quantile(0.5) == 2.0


def test_parameters_and_memory(data: list[float]) -> None:
    s = QuantileSketch(relative_accuracy=0.01, max_bins=512)
    assert s.relative_accuracy == 0.01
    assert s.max_bins == 512
    s.add_many(data)
    assert 0 < s.num_bins <= 512
    assert s.memory_bytes() > 0
    assert "QuantileSketch" in repr(s)


def test_max_bins_bound_keeps_high_quantiles_accurate() -> None:
    s = QuantileSketch(max_bins=64)
    vals = [10.0 ** (-9 + 12 * i / 9999) for i in range(10_000)]  # 12 decades
    s.add_many(vals)
    assert s.num_bins <= 64
    ordered = sorted(vals)
    for q in (0.99, 0.999):
        assert s.quantile(q) == pytest.approx(exact_quantile(ordered, q), rel=0.005 * 1.0001)


# ------------------------------------------------------------------ merge


def test_merge_is_exact(data: list[float]) -> None:
    parts = [QuantileSketch() for _ in range(4)]
    for i, v in enumerate(data):
        parts[i % 4].add(v)
    merged = QuantileSketch()
    for p in parts:
        merged.merge(p)
    whole = QuantileSketch()
    whole.add_many(data)
    assert merged.same_contents(whole)
    assert whole.same_contents(merged)
    for q in (0.5, 0.95, 0.99):
        assert merged.quantile(q) == whole.quantile(q)


def test_merge_order_does_not_matter(data: list[float]) -> None:
    a, b = QuantileSketch(), QuantileSketch()
    a.add_many(data[:3000])
    b.add_many(data[3000:])
    ab, ba = QuantileSketch(), QuantileSketch()
    ab.merge(a)
    ab.merge(b)
    ba.merge(b)
    ba.merge(a)
    assert ab.same_contents(ba)


def test_merge_after_collapsing_is_exact() -> None:
    rng = random.Random(3)
    vals = [10.0 ** rng.uniform(-8, 4) for _ in range(5000)]
    a, b, whole = (QuantileSketch(max_bins=32) for _ in range(3))
    a.add_many(vals[::2])
    b.add_many(vals[1::2])
    whole.add_many(vals)
    a.merge(b)
    assert a.same_contents(whole)


def test_merge_with_self_doubles() -> None:
    s = QuantileSketch()
    s.add_many([1.0, 2.0, 3.0])
    s.merge(s)
    assert s.count == 6
    assert s.sum == pytest.approx(12.0)


def test_merge_empty_is_noop(data: list[float]) -> None:
    s = QuantileSketch()
    s.add_many(data)
    ref = QuantileSketch()
    ref.add_many(data)
    s.merge(QuantileSketch())
    assert s.same_contents(ref)


def test_merge_parameter_mismatch() -> None:
    a = QuantileSketch(relative_accuracy=0.01)
    a.add(1.0)
    with pytest.raises(ValueError):
        a.merge(QuantileSketch(relative_accuracy=0.02))
    with pytest.raises(ValueError):
        a.merge(QuantileSketch(relative_accuracy=0.01, max_bins=100))
    assert a.count == 1


def test_same_contents_detects_difference() -> None:
    a, b = QuantileSketch(), QuantileSketch()
    a.add_many([1.0, 2.0])
    b.add_many([1.0, 2.5])
    assert not a.same_contents(b)
    assert not a.same_contents(QuantileSketch())


# ------------------------------------------------------------ serialization


def test_serialize_round_trip(data: list[float]) -> None:
    s = QuantileSketch(relative_accuracy=0.01, max_bins=1024)
    s.add_many(data + [0.0])
    blob = s.serialize()
    assert isinstance(blob, bytes)
    back = QuantileSketch.deserialize(blob)
    assert back.same_contents(s)
    assert back.relative_accuracy == 0.01
    assert back.max_bins == 1024
    for q in (0.0, 0.5, 0.99, 1.0):
        assert back.quantile(q) == s.quantile(q)
    assert back.serialize() == blob


def test_serialize_empty_round_trip() -> None:
    back = QuantileSketch.deserialize(QuantileSketch().serialize())
    assert back.count == 0
    assert back.same_contents(QuantileSketch())


def test_deserialized_sketch_still_merges(data: list[float]) -> None:
    a = QuantileSketch()
    a.add_many(data[:100])
    b = QuantileSketch.deserialize(a.serialize())
    b.add_many(data[100:])
    whole = QuantileSketch()
    whole.add_many(data)
    assert b.same_contents(whole)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda b: b"",
        lambda b: b"XXXX" + b[4:],
        lambda b: b[:4],
        lambda b: b[:5],
        lambda b: b[:-1],
        lambda b: b + b"\x00",
        lambda b: b[:4] + b"\x63" + b[5:],  # unsupported version
        lambda b: bytes(len(b)),
        lambda b: b"\xff" * 64,
    ],
)
def test_corrupt_bytes_raise_value_error(corrupt, data: list[float]) -> None:  # type: ignore[no-untyped-def]
    s = QuantileSketch()
    s.add_many(data[:500])
    with pytest.raises(ValueError):
        QuantileSketch.deserialize(corrupt(s.serialize()))


def test_every_truncation_is_rejected(data: list[float]) -> None:
    s = QuantileSketch()
    s.add_many(data[:300])
    blob = s.serialize()
    for n in range(len(blob)):
        with pytest.raises(ValueError):
            QuantileSketch.deserialize(blob[:n])


def test_random_corruption_never_crashes(data: list[float]) -> None:
    s = QuantileSketch()
    s.add_many(data[:300])
    blob = bytearray(s.serialize())
    rng = random.Random(9)
    for _ in range(2000):
        mutated = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(5, len(mutated))] = rng.randrange(256)
        try:
            back = QuantileSketch.deserialize(bytes(mutated))
        except ValueError:
            continue
        # if accepted, the sketch is self-consistent
        assert back.count >= 0
        if back.count:
            assert back.min <= back.quantile(0.5) <= back.max


def test_deserialize_requires_bytes() -> None:
    with pytest.raises(TypeError):
        QuantileSketch.deserialize("RPQS")  # type: ignore[arg-type]


# --------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [-1.0, -1e-12, float("nan"), float("inf"), float("-inf"), 1e301])
def test_bad_values_raise_and_leave_sketch_unchanged(bad: float) -> None:
    s = QuantileSketch()
    s.add_many([1.0, 2.0])
    ref = QuantileSketch.deserialize(s.serialize())
    with pytest.raises(ValueError) as info:
        s.add(bad)
    assert repr(bad) in str(info.value)
    assert s.same_contents(ref)


def test_add_many_with_a_bad_value_leaves_sketch_unchanged() -> None:
    # Validate-then-mutate: a rejected batch must not be half applied.
    s = QuantileSketch()
    s.add(1.0)
    with pytest.raises(ValueError):
        s.add_many([2.0, 3.0, float("nan")])
    assert s.count == 1


def test_add_rejects_non_numbers() -> None:
    s = QuantileSketch()
    with pytest.raises(TypeError):
        s.add("1.0")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.add(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("q", [-0.01, 1.01, float("nan"), float("inf")])
def test_bad_quantile_raises(q: float) -> None:
    s = QuantileSketch()
    s.add(1.0)
    with pytest.raises(ValueError):
        s.quantile(q)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"relative_accuracy": 0.0},
        {"relative_accuracy": -0.1},
        {"relative_accuracy": 1.0},
        {"relative_accuracy": float("nan")},
        {"max_bins": 0},
        {"max_bins": 15},
        {"max_bins": 1 << 17},
    ],
)
def test_bad_parameters_raise(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        QuantileSketch(**kwargs)  # type: ignore[arg-type]


def test_integers_are_accepted_as_values() -> None:
    s = QuantileSketch()
    s.add(3)
    s.add_many([1, 2])
    assert s.count == 3
    assert s.max == 3.0
