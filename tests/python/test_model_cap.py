"""The cap on distinct model names: past ``max_operations`` names, a new
model's blocks add to the model ``"__other__"`` (priced by their own names),
with one warning on the ``ragperf`` logger; operations are not lost."""

from __future__ import annotations

import logging

import pytest

from ragperf import PerformanceMonitor


def test_models_past_the_cap_go_to_other(caplog: pytest.LogCaptureFixture) -> None:
    m = PerformanceMonitor(enable_memory_tracking=False, max_operations=3)
    m.set_model_prices({"model_4": {"input": 1.0, "output": 2.0}})
    with caplog.at_level(logging.WARNING, logger="ragperf"):
        for round_ in range(2):  # the second round reuses the cached handles
            for i in range(6):
                with m.track_operation("llm_inference", model=f"model_{i}") as op:
                    op.prompt_tokens = 1_000_000
                    op.completion_tokens = 500_000
    models = m.get_model_stats()
    assert sorted(models) == ["__other__", "model_0", "model_1", "model_2"]
    assert models["model_0"]["operations"] == 2
    other = models["__other__"]
    assert other["operations"] == 6  # models 3, 4, 5, twice each
    assert other["cost_usd"] == pytest.approx(2 * (1.0 + 1.0))  # model_4's price
    assert other["unpriced_operations"] == 4
    assert sum(v["operations"] for v in models.values()) == 12
    warnings = [r.getMessage() for r in caplog.records if r.name == "ragperf" and "model names" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert "'model_3'" in warnings[0] and "3 distinct model names" in warnings[0]
    # The operation itself is one name, under the cap: its cost is kept whole.
    assert m.get_operation_stats("llm_inference").total_operations == 12


def test_many_distinct_models_stay_bounded() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(5_000):  # a new model object per block: no cached handle
        with m.track_operation("llm_inference", model=f"user-supplied-{i}") as op:
            op.prompt_tokens = 1
    models = m.get_model_stats()
    assert len(models) == 1_000 + 1
    assert models["__other__"]["operations"] == 4_000
