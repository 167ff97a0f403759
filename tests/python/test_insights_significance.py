"""A/B significance (issue #21): the Mann-Whitney U test from sketch bins,
its A/A false-positive rate and its power for a 10% shift measured over
repeated seeds at 2,000 records per side, saved reports, dimension values
and ``ragperf compare``."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

import ragperf.model.compare
from ragperf import PerformanceMonitor
from ragperf.cli import main
from ragperf.model.compare import DimensionValue, significance
from ragperf.watch.significance import mann_whitney, sample_from_values

N = 2_000
SIGMA = 0.5  # lognormal spread of the planted latencies (p95/p50 ~ 2.3)


def pair(seed: int, shift: float, n: int = N) -> tuple[PerformanceMonitor, PerformanceMonitor]:
    rng = random.Random(seed)
    a, b = PerformanceMonitor(), PerformanceMonitor()
    for _ in range(n):
        a.record("llm_inference", rng.lognormvariate(-1.0, SIGMA))
    for _ in range(n):
        b.record("llm_inference", rng.lognormvariate(-1.0, SIGMA) * (1 + shift))
    return a, b


def rejection_rate(shift: float, seeds: range) -> float:
    hits = sum(significance(*pair(seed, shift), "llm_inference")["p_value"] < 0.05 for seed in seeds)
    return hits / len(seeds)


@pytest.mark.slow
def test_aa_false_positive_rate_at_alpha_005() -> None:
    seeds = range(400)
    rate = rejection_rate(0.0, seeds)
    print(f"A/A false-positive rate over {len(seeds)} seeds: {rate:.3f}")
    # A calibrated test rejects 5% of A/A pairs; over 400 seeds the measured
    # rate has a standard error of 1.1%: allow two of them, no more.
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / len(seeds))


@pytest.mark.slow
def test_power_for_a_10_percent_shift() -> None:
    seeds = range(1000, 1100)
    rate = rejection_rate(0.10, seeds)
    print(f"power for a 10% shift over {len(seeds)} seeds: {rate:.3f}")
    assert rate >= 0.95


def test_result_fields_on_a_planted_shift() -> None:
    a, b = pair(7, 0.25)
    r = significance(a, b, "llm_inference")
    json.dumps(r)
    assert r["method"] == "mann-whitney-u" and r["data"] == "sketch bins"
    assert (r["n_a"], r["n_b"]) == (N, N)
    assert r["significant"] and r["verdict"] == "b slower" and r["p_value"] < 1e-6
    assert 0 < r["effect"] < 1 and r["prob_b_slower"] > 0.5
    assert r["p50_change"] == pytest.approx(0.25, abs=0.06)
    assert r["p95_change"] == pytest.approx(0.25, abs=0.12)
    back = significance(b, a, "llm_inference")
    assert back["verdict"] == "b faster" and back["effect"] == pytest.approx(-r["effect"])
    assert back["p_value"] == pytest.approx(r["p_value"])


def test_sketch_bins_agree_with_the_raw_durations() -> None:
    rng = random.Random(3)
    xs = [rng.lognormvariate(-1, SIGMA) for _ in range(500)]
    ys = [rng.lognormvariate(-1, SIGMA) * 1.1 for _ in range(500)]
    a, b = PerformanceMonitor(), PerformanceMonitor()
    for x in xs:
        a.record("op", x)
    for y in ys:
        b.record("op", y)
    binned = significance(a, b, "op")
    raw = significance(xs, ys, "op")
    assert raw["data"] == "durations"
    assert binned["p_value"] == pytest.approx(raw["p_value"], rel=0.1)
    assert binned["effect"] == pytest.approx(raw["effect"], abs=0.01)


def test_mann_whitney_matches_the_textbook_value() -> None:
    # Two fully separated samples of 10: U = 100, z = (100 - 50 - 0.5) / sqrt(175)
    r = mann_whitney(sample_from_values(range(1, 11)), sample_from_values(range(11, 21)))
    assert r["u"] == 100 and r["effect"] == 1.0
    assert r["z"] == pytest.approx(49.5 / math.sqrt(175))
    assert r["p_value"] == pytest.approx(math.erfc(r["z"] / math.sqrt(2)))
    # all ties: no evidence at all
    r = mann_whitney(sample_from_values([1.0] * 10), sample_from_values([1.0] * 10))
    assert (r["z"], r["p_value"], r["effect"]) == (0.0, 1.0, 0.0)


def test_saved_reports_and_windows(tmp_path: Path) -> None:
    a, b = pair(11, 0.3, n=300)
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    a.export_metrics_json(pa)
    b.export_metrics_json(pb)
    live = significance(a, b, "llm_inference")
    saved = significance(str(pa), pb, "llm_inference")
    assert saved["p_value"] == pytest.approx(live["p_value"])
    assert significance(a.generate_report(), b, "llm_inference")["effect"] == pytest.approx(live["effect"])
    assert significance(a, b, "llm_inference", window_minutes=5)["n_a"] == 300
    with pytest.raises(ValueError, match="window_minutes applies"):
        significance(str(pa), str(pb), "llm_inference", window_minutes=5)
    with pytest.raises(ValueError, match="has no operation 'nope'"):
        significance(str(pa), str(pb), "nope")


def test_dimension_values() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False, dimensions=["model"])
    for _ in range(200):
        with m.track_operation("llm_inference", model="small"):
            pass
        with m.track_operation("llm_inference", model="large"):
            sum(range(3000))  # planted: clearly slower
    r = significance(DimensionValue(m, "model", "small"), DimensionValue(m, "model", "large"), "llm_inference")
    assert (r["n_a"], r["n_b"]) == (200, 200)
    assert r["verdict"] == "b slower" and r["p_value"] < 1e-6
    with pytest.raises(ValueError, match="not a declared dimension"):
        significance(DimensionValue(m, "tenant", "x"), DimensionValue(m, "model", "large"), "llm_inference")


def test_bad_input() -> None:
    a, b = pair(1, 0.0, n=9)
    with pytest.raises(ValueError, match="at least 10 records of 'llm_inference' on each side; a has 9"):
        significance(a, b, "llm_inference")
    with pytest.raises(TypeError, match="a must be a PerformanceMonitor"):
        significance(42, b, "llm_inference")
    with pytest.raises(ValueError, match="alpha"):
        significance([0.1] * 10, [0.1] * 10, "x", alpha=1.5)
    with pytest.raises(ValueError, match="finite"):
        significance([float("nan")] * 10, [0.1] * 10, "x")
    assert ragperf.model.compare.significance is significance
    assert "significance" in ragperf.model.compare.__all__


def test_cli_compare_prints_significance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = pair(5, 0.3, n=500)
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    a.export_metrics_json(pa)
    b.export_metrics_json(pb)
    main(["compare", str(pa), str(pb)])
    out = capsys.readouterr().out
    assert "Is the difference significant? (Mann-Whitney U on the sketch bins, alpha 0.05)" in out
    assert "llm_inference: b slower (Mann-Whitney U p=" in out and "n=500/500" in out


def test_core_sketch_reads() -> None:
    from ragperf import _core

    m = PerformanceMonitor()
    for d in (0.1, 0.2, 0.3, 1.5):
        m.record("op", d)
    sketch = _core.QuantileSketch.deserialize(m._core.get_sketch("op"))
    assert sketch.count == 4
    assert sketch.count_at_most(0.25) == 2 and sketch.count_at_most(10.0) == 4
    assert sketch.count_at_most(-1.0) == 0 and sketch.count_at_most(float("nan")) == 0
    assert _core.QuantileSketch.deserialize(m._core.get_sketch("op", 5)).count == 4
    assert _core.QuantileSketch.deserialize(m._core.get_sketch("unknown")).count == 0
    with pytest.raises(ValueError):
        m._core.get_sketch("op", 61)
