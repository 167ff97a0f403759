"""The requested model stays the model: ``op.model`` is the model a call
asked for (dimensions, per-model totals, pricing), ``op.response_model``
the one the response named; pricing falls back from the requested model to
the response model, then to either without a dated suffix. Also: trace
nodes of cancelled blocks say cancelled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ragperf import PerformanceMonitor

REQUESTED, DATED = "gpt-4o-mini", "gpt-4o-mini-2024-07-18"
RESPONSE = {"model": DATED, "usage": {"prompt_tokens": 1000, "completion_tokens": 200}}
COST = (1000 * 0.15 + 200 * 0.60) / 1e6


@pytest.fixture()
def monitor() -> PerformanceMonitor:
    m = PerformanceMonitor(enable_memory_tracking=False)
    m.set_model_prices({REQUESTED: (0.15, 0.60)})
    return m


def test_set_usage_keeps_the_requested_model_and_records_the_response_model(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference", model=REQUESTED) as op:
        assert op.set_usage(RESPONSE) is True
        assert (op.model, op.response_model) == (REQUESTED, DATED)
    assert op.cost_usd == pytest.approx(COST)
    rec = monitor.get_recent_operations("llm_inference")[-1]
    assert (rec["model"], rec["response_model"], rec["cost_usd"]) == (REQUESTED, DATED, pytest.approx(COST))
    stats = monitor.get_model_stats()
    assert list(stats) == [REQUESTED] and stats[REQUESTED]["response_models"] == [DATED]
    report = monitor.generate_report()
    assert report["models"][REQUESTED]["response_models"] == [DATED]
    assert monitor.get_operation_stats("llm_inference").cost_usd == pytest.approx(COST)


def test_explicit_op_model_is_kept_too(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference") as op:
        op.model = REQUESTED
        op.set_usage(RESPONSE)
    assert (op.model, op.response_model) == (REQUESTED, DATED)


def test_without_a_requested_model_the_response_model_is_the_model(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference") as op:
        op.set_usage(RESPONSE)
        assert (op.model, op.response_model) == (DATED, DATED)
    # Priced through the dated-suffix fallback.
    assert op.cost_usd == pytest.approx(COST)
    assert list(monitor.get_model_stats()) == [DATED]


def test_price_lookup_order(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({REQUESTED: (0.15, 0.60), "served": (1.0, 1.0)})
    with monitor.track_operation("llm_inference", model="alias") as op:
        op.response_model = "served"  # the requested model has no price: the response model's
        op.prompt_tokens, op.completion_tokens = 1000, 200
    assert op.cost_usd == pytest.approx(1200 / 1e6)
    with monitor.track_operation("llm_inference", model=f"{REQUESTED}-2024-09-01") as op2:
        op2.prompt_tokens, op2.completion_tokens = 1000, 200  # dated request, undated price
    assert op2.cost_usd == pytest.approx(COST)
    with monitor.track_operation("llm_inference", model="unpriced") as op3:
        op3.response_model = "unpriced-too"
        op3.prompt_tokens = 5
    assert op3.cost_usd is None


def test_response_model_validation_and_reset(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference") as op:
        assert op.response_model is None
        for bad in (3, "", "x" * 201, b"gpt"):
            with pytest.raises(TypeError, match="response_model must be a str of 1 to 200 characters"):
                op.response_model = bad  # type: ignore[assignment]
        op.response_model = DATED
        op.response_model = None
        assert op.response_model is None
        op.response_model = DATED
        del op.response_model
        assert op.response_model is None


def test_response_models_survive_export_and_load(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    with monitor.track_operation("llm_inference", model=REQUESTED) as op:
        op.set_usage(RESPONSE)
    path = tmp_path / "metrics.json"
    monitor.export_metrics_json(str(path))
    loaded = PerformanceMonitor.load(str(path), enable_memory_tracking=False)
    assert loaded.get_model_stats()[REQUESTED]["response_models"] == [DATED]


def test_dimension_model_is_the_requested_one(monitor: PerformanceMonitor) -> None:
    monitor.set_dimensions(["model"])
    with monitor.track_operation("llm_inference", model=REQUESTED) as op:
        op.set_usage(RESPONSE)
    breakdown = monitor.get_breakdown("llm_inference", by="model")
    assert list(breakdown) == [REQUESTED] and breakdown[REQUESTED].cost_usd == pytest.approx(COST)


# --------------------------------------------------------------- cancelled


def test_trace_node_of_an_abandoned_generator_says_cancelled(monitor: PerformanceMonitor) -> None:
    def gen():  # type: ignore[no-untyped-def]
        with monitor.track_operation("query_processing"):
            with monitor.track_operation("llm_inference", model=REQUESTED) as op:
                op.response_model = DATED
                yield 1
                yield 2

    g = gen()
    next(g)
    g.close()  # GeneratorExit inside both blocks
    root = monitor.get_recent_traces(1)[0]
    child = root["children"][0]
    for node in (root, child):
        assert node["status"] == "cancelled" and node["cancelled"] is True
        assert node["success"] is None and node["error_type"] is None
        assert node["cancelled_by"] == "GeneratorExit"
    assert (child["model"], child["response_model"]) == (REQUESTED, DATED)


def test_trace_nodes_of_cancelled_task_failed_and_ok_blocks(monitor: PerformanceMonitor) -> None:
    async def run() -> None:
        async def slow() -> None:
            async with monitor.track_operation("llm_inference"):
                await asyncio.sleep(10)

        task = asyncio.create_task(slow())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    with pytest.raises(ValueError):
        with monitor.track_operation("reranking"):
            raise ValueError("bad")
    with monitor.track_operation("document_retrieval"):
        pass
    nodes = {n["operation"]: n for n in monitor.get_recent_traces(3)}
    assert (nodes["llm_inference"]["status"], nodes["llm_inference"]["cancelled_by"]) == ("cancelled", "CancelledError")
    assert (nodes["reranking"]["status"], nodes["reranking"]["success"], nodes["reranking"]["error_type"]) == (
        "error", False, "ValueError")
    assert (nodes["document_retrieval"]["status"], nodes["document_retrieval"]["success"]) == ("ok", True)
    assert nodes["document_retrieval"]["cancelled"] is False and nodes["reranking"]["cancelled_by"] is None
