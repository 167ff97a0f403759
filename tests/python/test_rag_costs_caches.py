"""Model prices, per-operation/per-model cost and token usage, and cache
hit/miss statistics of PerformanceMonitor (including under threads)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ragperf import PerformanceMonitor


@pytest.fixture
def monitor() -> Iterator[PerformanceMonitor]:
    m = PerformanceMonitor(enable_memory_tracking=False)
    yield m
    m.clear_metrics()


def _cost(prompt: int, completion: int, input_price: float, output_price: float) -> float:
    """The documented formula: USD per 1M tokens."""
    return prompt * input_price / 1e6 + completion * output_price / 1e6


def _llm_block(
    m: PerformanceMonitor,
    model: str | None,
    prompt: int = 0,
    completion: int = 0,
    operation: str = "llm_inference",
) -> Any:
    with m.track_operation(operation) as op:
        if model is not None:
            op.model = model
        op.prompt_tokens = prompt
        op.completion_tokens = completion
    return op


# ==================================================================== prices


def test_prices_dict_form(monitor: PerformanceMonitor) -> None:
    assert monitor.get_model_prices() == {}
    monitor.set_model_prices({"gpt-4o-mini": {"input": 0.15, "output": 0.60}})
    assert monitor.get_model_prices() == {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}


def test_prices_tuple_and_list_forms_and_int_prices(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"a": (1, 2), "b": [0.5, 0], "c": {"input": 3, "output": 4}})
    prices = monitor.get_model_prices()
    assert prices == {"a": {"input": 1.0, "output": 2.0}, "b": {"input": 0.5, "output": 0.0}, "c": {"input": 3.0, "output": 4.0}}
    assert all(isinstance(v, float) for p in prices.values() for v in p.values())


@pytest.mark.parametrize("as_path", [False, True])
def test_prices_json_file(monitor: PerformanceMonitor, tmp_path: Path, as_path: bool) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"gpt-4o": {"input": 2.5, "output": 10}, "qwen": {"input": 0, "output": 0}}))
    monitor.set_model_prices(path if as_path else str(path))
    assert monitor.get_model_prices() == {
        "gpt-4o": {"input": 2.5, "output": 10.0},
        "qwen": {"input": 0.0, "output": 0.0},
    }


def test_prices_merge_by_default_and_replace(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"a": (1, 2), "b": (3, 4)})
    monitor.set_model_prices({"b": (5, 6), "c": (7, 8)})  # merge: b updated, a kept
    assert monitor.get_model_prices() == {
        "a": {"input": 1.0, "output": 2.0},
        "b": {"input": 5.0, "output": 6.0},
        "c": {"input": 7.0, "output": 8.0},
    }
    monitor.set_model_prices({"d": (0.1, 0.2)}, replace=True)
    assert monitor.get_model_prices() == {"d": {"input": 0.1, "output": 0.2}}
    monitor.set_model_prices({}, replace=True)
    assert monitor.get_model_prices() == {}
    with pytest.raises(TypeError, match="replace"):
        monitor.set_model_prices({"a": (1, 2)}, replace=1)  # type: ignore[arg-type]
    assert monitor.get_model_prices() == {}


def test_get_model_prices_returns_a_copy(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"a": (1, 2)})
    prices = monitor.get_model_prices()
    prices["a"]["input"] = 99.0
    prices["z"] = {"input": 1.0, "output": 1.0}
    assert monitor.get_model_prices() == {"a": {"input": 1.0, "output": 2.0}}


@pytest.mark.parametrize(
    ("prices", "error", "pattern"),
    [
        ({"m1": (-1, 2)}, ValueError, r"input price of model 'm1'.*-1"),
        ({"m1": {"input": 1, "output": -0.5}}, ValueError, r"output price of model 'm1'.*-0\.5"),
        ({"m1": (float("nan"), 2)}, ValueError, r"model 'm1'.*nan"),
        ({"m1": (1, float("inf"))}, ValueError, r"model 'm1'.*inf"),
        ({"m1": (True, 2)}, TypeError, r"input price of model 'm1'.*True"),
        ({"m1": {"input": 1, "output": False}}, TypeError, r"output price of model 'm1'"),
        ({"m1": ("1", 2)}, TypeError, r"model 'm1'.*'1'"),
        ({"m1": {"input": 1}}, ValueError, r"model 'm1'.*'input' and 'output'"),
        ({"m1": {"input": 1, "output": 2, "cached": 0.5}}, ValueError, r"model 'm1'.*cached"),
        ({"m1": (1, 2, 3)}, TypeError, r"model 'm1'"),
        ({"m1": 1.5}, TypeError, r"model 'm1'.*1\.5"),
        ({"m1": "1,2"}, TypeError, r"model 'm1'"),
        ({"": (1, 2)}, ValueError, r"model name"),
        ({"x" * 201: (1, 2)}, ValueError, r"model name"),
        ({5: (1, 2)}, ValueError, r"model name.*5"),
        ([("m1", 1, 2)], TypeError, r"prices must be"),
        (None, TypeError, r"prices must be"),
        (42, TypeError, r"prices must be"),
    ],
)
def test_price_validation_names_model_and_value(
    monitor: PerformanceMonitor, prices: Any, error: type[Exception], pattern: str
) -> None:
    monitor.set_model_prices({"keep": (1, 1)})
    with pytest.raises(error, match=pattern):
        monitor.set_model_prices(prices)
    with pytest.raises(error, match=pattern):
        monitor.set_model_prices(prices, replace=True)
    assert monitor.get_model_prices() == {"keep": {"input": 1.0, "output": 1.0}}


def test_price_validation_is_all_or_nothing(monitor: PerformanceMonitor) -> None:
    with pytest.raises(ValueError, match="'bad'"):
        monitor.set_model_prices({"good": (1, 2), "bad": (-1, 2)})
    assert monitor.get_model_prices() == {}
    monitor.set_model_prices({"old": (1, 1)})
    with pytest.raises(ValueError, match="'bad'"):
        monitor.set_model_prices({"good": (1, 2), "bad": (-1, 2)}, replace=True)
    assert monitor.get_model_prices() == {"old": {"input": 1.0, "output": 1.0}}


def test_price_file_errors_name_the_file(monitor: PerformanceMonitor, tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json.*not valid JSON"):
        monitor.set_model_prices(bad_json)

    not_object = tmp_path / "list.json"
    not_object.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"list\.json.*JSON object"):
        monitor.set_model_prices(not_object)

    bad_entry = tmp_path / "entry.json"
    bad_entry.write_text(json.dumps({"ok": {"input": 1, "output": 1}, "m2": {"input": -3, "output": 1}}))
    with pytest.raises(ValueError, match=r"model 'm2'.*-3.*entry\.json"):
        monitor.set_model_prices(bad_entry)

    wrong_type = tmp_path / "type.json"
    wrong_type.write_text(json.dumps({"m3": {"input": "cheap", "output": 1}}))
    with pytest.raises(TypeError, match=r"model 'm3'.*type\.json"):
        monitor.set_model_prices(wrong_type)

    with pytest.raises(FileNotFoundError):
        monitor.set_model_prices(tmp_path / "missing.json")
    with pytest.raises(OSError):
        monitor.set_model_prices(str(tmp_path))  # a directory
    assert monitor.get_model_prices() == {}


# ====================================================================== cost


def test_cost_of_a_block_is_the_exact_formula(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"gpt-4o-mini": {"input": 0.15, "output": 0.60}})
    with monitor.track_operation("llm_inference", model="gpt-4o-mini") as op:
        op.prompt_tokens = 1000
        op.completion_tokens = 200
        assert op.cost_usd == pytest.approx(_cost(1000, 200, 0.15, 0.60), rel=1e-12)
    expected = _cost(1000, 200, 0.15, 0.60)
    assert op.cost_usd == pytest.approx(expected, rel=1e-12)
    stats = monitor.get_operation_stats("llm_inference")
    assert stats.cost_usd == pytest.approx(expected, rel=1e-12)
    assert (stats.priced_operations, stats.unpriced_operations) == (1, 0)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.total_tokens) == (1000, 200, 1200)
    [rec] = monitor.get_recent_operations("llm_inference")
    assert rec["cost_usd"] == pytest.approx(expected, rel=1e-12)
    assert rec["model"] == "gpt-4o-mini"

    op2 = _llm_block(monitor, "gpt-4o-mini", 10, 5)
    total = expected + _cost(10, 5, 0.15, 0.60)
    assert op2.cost_usd == pytest.approx(_cost(10, 5, 0.15, 0.60), rel=1e-12)
    assert monitor.get_operation_stats("llm_inference").cost_usd == pytest.approx(total, rel=1e-12)
    report = monitor.generate_report()
    assert report["cost_usd"] == pytest.approx(total, rel=1e-12)
    assert report["operations"]["llm_inference"]["cost_usd"] == pytest.approx(total, rel=1e-12)
    assert report["operations"]["llm_inference"]["priced_operations"] == 2


def test_zero_tokens_with_a_price_cost_zero_not_unknown(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"m": (1, 2)})
    op = _llm_block(monitor, "m")
    assert op.cost_usd == 0.0
    assert monitor.get_operation_stats("llm_inference").cost_usd == 0.0


def test_model_without_price_has_unknown_cost(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"priced": (1, 1)})
    op = _llm_block(monitor, "local-llama", 50, 10)
    assert op.cost_usd is None
    stats = monitor.get_operation_stats("llm_inference")
    assert stats.cost_usd is None
    assert (stats.priced_operations, stats.unpriced_operations) == (0, 1)
    report = monitor.generate_report()
    assert report["cost_usd"] is None
    assert report["operations"]["llm_inference"]["cost_usd"] is None
    assert report["models"]["local-llama"]["cost_usd"] is None
    assert report["models"]["local-llama"]["price_per_million"] is None
    model = monitor.get_model_stats()["local-llama"]
    assert model["cost_usd"] is None and model["unpriced_operations"] == 1
    assert model["input_price_per_million"] is None and model["output_price_per_million"] is None
    assert monitor.get_recent_operations("llm_inference")[0]["cost_usd"] is None
    exported = json.loads(json.dumps(report))
    assert exported["cost_usd"] is None


def test_block_without_model_has_no_cost_and_no_model_entry(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"m": (1, 1)})
    op = _llm_block(monitor, None, 10, 10)
    assert op.model is None and op.cost_usd is None
    stats = monitor.get_operation_stats("llm_inference")
    assert stats.cost_usd is None
    assert (stats.priced_operations, stats.unpriced_operations) == (0, 0)
    assert monitor.get_model_stats() == {}


def test_mixed_priced_and_unpriced(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"gpt-4o-mini": (0.15, 0.60)})
    _llm_block(monitor, "gpt-4o-mini", 100, 50)
    _llm_block(monitor, "local-llama", 100, 50)
    _llm_block(monitor, "gpt-4o-mini", 20, 0)
    stats = monitor.get_operation_stats("llm_inference")
    expected = _cost(100, 50, 0.15, 0.60) + _cost(20, 0, 0.15, 0.60)
    assert stats.cost_usd == pytest.approx(expected, rel=1e-12)
    assert (stats.priced_operations, stats.unpriced_operations) == (2, 1)
    report = monitor.generate_report()
    assert report["cost_usd"] == pytest.approx(expected, rel=1e-12)
    op_report = report["operations"]["llm_inference"]
    assert (op_report["priced_operations"], op_report["unpriced_operations"]) == (2, 1)


def test_total_only_tokens_cost_depends_on_the_prices(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"split": (1, 2), "flat": (3, 3)})
    with monitor.track_operation("embedding_generation", model="split") as op_split:
        op_split.tokens = 100  # no prompt/completion split: unknown with different prices
    with monitor.track_operation("embedding_generation", model="flat") as op_flat:
        op_flat.tokens = 100
    assert op_split.cost_usd is None
    assert op_flat.cost_usd == pytest.approx(100 * 3 / 1e6, rel=1e-12)
    stats = monitor.get_operation_stats("embedding_generation")
    assert stats.cost_usd == pytest.approx(100 * 3 / 1e6, rel=1e-12)
    assert (stats.priced_operations, stats.unpriced_operations) == (1, 1)
    models = monitor.get_model_stats()
    assert models["split"]["cost_usd"] is None and models["split"]["unpriced_operations"] == 1
    assert models["flat"]["cost_usd"] == pytest.approx(3e-4, rel=1e-12)
    assert models["split"]["total_tokens"] == 100 and models["split"]["prompt_tokens"] == 0


def test_report_cost_is_the_total_over_operations(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"embed": (0.02, 0.02), "llm": (1.0, 4.0)})
    with monitor.track_operation("embedding_generation", model="embed") as op:
        op.tokens = 5000
    _llm_block(monitor, "llm", 300, 100)
    _llm_block(monitor, "llm", 200, 50, operation="query_rewriting")
    expected = 5000 * 0.02 / 1e6 + _cost(300, 100, 1.0, 4.0) + _cost(200, 50, 1.0, 4.0)
    report = monitor.generate_report()
    assert report["cost_usd"] == pytest.approx(expected, rel=1e-12)
    by_op = sum(op["cost_usd"] for op in report["operations"].values())
    assert by_op == pytest.approx(expected, rel=1e-12)
    by_model = sum(m["cost_usd"] for m in monitor.get_model_stats().values())
    assert by_model == pytest.approx(expected, rel=1e-12)


def test_set_usage_then_price(monitor: PerformanceMonitor) -> None:
    response = {
        "model": "gpt-4o-mini",
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }
    with monitor.track_operation("llm_inference") as op:
        assert op.set_usage({"no": "usage"}) is False
        assert op.set_usage(response) is True
        assert op.model == "gpt-4o-mini"
        assert (op.prompt_tokens, op.completion_tokens, op.tokens) == (120, 30, 150)
        assert op.cost_usd is None  # no price yet
        monitor.set_model_prices({"gpt-4o-mini": {"input": 0.15, "output": 0.60}})
        assert op.cost_usd == pytest.approx(_cost(120, 30, 0.15, 0.60), rel=1e-12)
    expected = _cost(120, 30, 0.15, 0.60)
    stats = monitor.get_operation_stats("llm_inference")
    assert stats.cost_usd == pytest.approx(expected, rel=1e-12)
    assert monitor.get_model_stats()["gpt-4o-mini"]["cost_usd"] == pytest.approx(expected, rel=1e-12)


def test_recorded_cost_uses_the_price_at_record_time(monitor: PerformanceMonitor) -> None:
    op = _llm_block(monitor, "later-priced", 1000, 1000)
    monitor.set_model_prices({"later-priced": (1, 1)})
    # The tracker prices its tokens now; the recorded statistics keep the
    # cost known when the block ended (unknown then).
    assert op.cost_usd == pytest.approx(2000 / 1e6, rel=1e-12)
    assert monitor.get_operation_stats("llm_inference").cost_usd is None
    _llm_block(monitor, "later-priced", 1000, 0)
    stats = monitor.get_operation_stats("llm_inference")
    assert stats.cost_usd == pytest.approx(1000 / 1e6, rel=1e-12)
    assert (stats.priced_operations, stats.unpriced_operations) == (1, 1)


def test_model_setter_validation(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference", model="from-metadata") as op:
        for bad in (5, b"bytes", "", "x" * 201, ["m"]):
            with pytest.raises(TypeError, match="model"):
                op.model = bad  # type: ignore[assignment]
        assert op.model == "from-metadata"
        op.model = "x" * 200  # the longest accepted
        assert op.model == "x" * 200
        op.model = None  # back to metadata["model"]
        assert op.model == "from-metadata"
        op.model = "explicit"
        del op.model
        assert op.model == "from-metadata"


# ============================================================== model stats


def test_model_stats_per_model(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"qwen": (0.5, 1.5)})
    ops = [
        _llm_block(monitor, "qwen", 100, 40),
        _llm_block(monitor, "qwen", 60, 20, operation="query_rewriting"),
        _llm_block(monitor, "llama", 10, 5),
    ]
    with monitor.track_operation("embedding_generation", model="bge") as emb:
        emb.tokens = 300
    models = monitor.get_model_stats()
    assert set(models) == {"qwen", "llama", "bge"}
    qwen = models["qwen"]
    assert qwen["operations"] == 2
    assert (qwen["prompt_tokens"], qwen["completion_tokens"], qwen["total_tokens"]) == (160, 60, 220)
    assert qwen["duration_s"] == pytest.approx(ops[0].duration_s + ops[1].duration_s, rel=1e-9)
    assert qwen["tokens_per_second"] == pytest.approx(220 / qwen["duration_s"], rel=1e-9)
    assert qwen["cost_usd"] == pytest.approx(_cost(160, 60, 0.5, 1.5), rel=1e-12)
    assert qwen["unpriced_operations"] == 0
    assert (qwen["input_price_per_million"], qwen["output_price_per_million"]) == (0.5, 1.5)
    llama = models["llama"]
    assert llama["operations"] == 1 and llama["total_tokens"] == 15
    assert llama["cost_usd"] is None and llama["unpriced_operations"] == 1
    assert models["bge"]["total_tokens"] == 300 and models["bge"]["operations"] == 1
    report_models = monitor.generate_report()["models"]
    assert set(report_models) == set(models)
    assert report_models["qwen"]["price_per_million"] == {"input": 0.5, "output": 1.5}
    assert report_models["qwen"]["operations"] == 2
    # Failed blocks count too.
    with pytest.raises(TimeoutError):
        with monitor.track_operation("llm_inference", model="llama"):
            raise TimeoutError
    assert monitor.get_model_stats()["llama"]["operations"] == 2


def test_model_from_metadata_counts_in_model_stats(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("llm_inference", {"model": "qwen"}) as op:
        op.completion_tokens = 7
    assert monitor.get_model_stats()["qwen"]["completion_tokens"] == 7


# ==================================================================== caches


def test_record_cache_counts(monitor: PerformanceMonitor) -> None:
    monitor.record_cache("embeddings")  # a hit by default
    monitor.record_cache("embeddings", hit=True, count=2)
    monitor.record_cache("embeddings", False)
    monitor.record_cache("retrieval", hit=False, count=4)
    caches = monitor.get_cache_stats()
    assert caches["embeddings"] == {"hits": 3, "misses": 1, "lookups": 4, "hit_rate": 0.75}
    assert caches["retrieval"] == {"hits": 0, "misses": 4, "lookups": 4, "hit_rate": 0.0}
    report = monitor.generate_report()["caches"]
    assert report["embeddings"]["hits"] == 3 and report["embeddings"]["misses"] == 1
    assert report["embeddings"]["hit_rate"] == 0.75
    # Caches recorded by name do not touch operation statistics.
    assert monitor.get_operation_count() == 0


def test_cache_hit_on_blocks(monitor: PerformanceMonitor) -> None:
    for hit in (True, True, False, None, True):
        with monitor.track_operation("document_retrieval") as op:
            assert op.cache_hit is None
            if hit is not None:
                op.cache_hit = hit
            assert op.cache_hit is hit
    assert monitor.get_cache_stats()["document_retrieval"] == {
        "hits": 3,
        "misses": 1,
        "lookups": 4,
        "hit_rate": 0.75,
    }
    stats = monitor.get_operation_stats("document_retrieval")
    assert (stats.cache_hits, stats.cache_misses) == (3, 1)
    assert stats.cache_hit_rate == 0.75
    assert stats.total_operations == 5
    assert [r["cache_hit"] for r in monitor.get_recent_operations("document_retrieval")] == [
        True,
        True,
        False,
        None,
        True,
    ]
    op_report = monitor.generate_report()["operations"]["document_retrieval"]
    assert op_report["cache"] == {"hits": 3, "misses": 1, "hit_rate": 0.75}
    assert stats.to_dict()["cache_hits"] == 3


def test_cache_hit_reset_and_failed_blocks(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("x") as op:
        op.cache_hit = True
        op.cache_hit = None  # not a lookup after all
    with monitor.track_operation("x") as op:
        op.cache_hit = False
        del op.cache_hit
    assert "x" not in monitor.get_cache_stats()
    s = monitor.get_operation_stats("x")
    assert (s.cache_hits, s.cache_misses, s.cache_hit_rate) == (0, 0, None)
    assert "cache" not in monitor.generate_report()["operations"]["x"]
    with pytest.raises(LookupError):
        with monitor.track_operation("x") as op:
            op.cache_hit = False
            raise LookupError
    assert monitor.get_cache_stats()["x"]["misses"] == 1


def test_op_cache_hit_and_record_cache_share_the_cache_name(monitor: PerformanceMonitor) -> None:
    with monitor.track_operation("embedding_generation") as op:
        op.cache_hit = True
    monitor.record_cache("embedding_generation", hit=False, count=3)
    assert monitor.get_cache_stats()["embedding_generation"]["lookups"] == 4
    stats = monitor.get_operation_stats("embedding_generation")
    assert (stats.cache_hits, stats.cache_misses) == (1, 0)  # only the block's own lookups


@pytest.mark.parametrize("bad", [1, 0, "yes", 1.0])
def test_cache_hit_bad_type(monitor: PerformanceMonitor, bad: Any) -> None:
    with monitor.track_operation("x") as op:
        with pytest.raises(TypeError, match="cache_hit"):
            op.cache_hit = bad
        assert op.cache_hit is None
    assert monitor.get_cache_stats() == {}


@pytest.mark.parametrize(
    ("args", "error", "pattern"),
    [
        ((5,), TypeError, "cache name"),
        ((None,), TypeError, "cache name"),
        (("",), ValueError, "cache name"),
        (("c" * 201,), ValueError, "cache name"),
        (("c", 1), TypeError, "hit"),
        (("c", "yes"), TypeError, "hit"),
        (("c", None), TypeError, "hit"),
        (("c", True, 0), ValueError, "count"),
        (("c", True, -2), ValueError, "count"),
        (("c", True, 1.5), TypeError, "count"),
        (("c", True, True), TypeError, "count"),
        (("c", True, "3"), TypeError, "count"),
    ],
)
def test_record_cache_validation(
    monitor: PerformanceMonitor, args: tuple[Any, ...], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        monitor.record_cache(*args)
    assert monitor.get_cache_stats() == {}


def test_cache_name_of_200_characters(monitor: PerformanceMonitor) -> None:
    monitor.record_cache("c" * 200, hit=True)
    assert monitor.get_cache_stats()["c" * 200]["hits"] == 1


def test_empty_cache_stats(monitor: PerformanceMonitor) -> None:
    assert monitor.get_cache_stats() == {}
    assert monitor.generate_report()["caches"] == {}
    assert monitor.get_operation_stats("unknown").cache_hit_rate is None


def test_clear_metrics_empties_caches_and_models_keeps_prices(monitor: PerformanceMonitor) -> None:
    monitor.set_model_prices({"qwen": (1, 2)})
    _llm_block(monitor, "qwen", 10, 10)
    monitor.record_cache("embeddings", hit=True)
    monitor.clear_metrics()
    assert monitor.get_cache_stats() == {}
    assert monitor.get_model_stats() == {}
    report = monitor.generate_report()
    assert report["caches"] == {} and report["models"] == {} and report["cost_usd"] is None
    assert monitor.get_model_prices() == {"qwen": {"input": 1.0, "output": 2.0}}
    op = _llm_block(monitor, "qwen", 10, 0)  # still priced after the clear
    assert op.cost_usd == pytest.approx(10 / 1e6, rel=1e-12)
    assert monitor.get_model_stats()["qwen"]["cost_usd"] == pytest.approx(10 / 1e6, rel=1e-12)


# ======================================================= multibyte names


def test_model_name_of_200_multibyte_characters(monitor: PerformanceMonitor) -> None:
    name = "€" * 100  # 100 characters, 300 UTF-8 bytes
    with monitor.track_operation("llm_inference") as op:
        op.model = name
        op.tokens = 5
    assert monitor.get_model_stats()[name]["total_tokens"] == 5
    assert name in monitor.generate_report()["models"]


def test_model_price_of_a_multibyte_name_is_all_or_nothing(monitor: PerformanceMonitor) -> None:
    name = "€" * 100
    try:
        monitor.set_model_prices({"ok": (1, 2), name: (1, 2)})
    except ValueError:
        assert monitor.get_model_prices() == {}  # rejected as a whole
    else:
        assert set(monitor.get_model_prices()) == {"ok", name}


def test_cache_name_of_200_multibyte_characters(monitor: PerformanceMonitor) -> None:
    name = "€" * 100
    with monitor.track_operation(name) as op:
        op.cache_hit = True
    assert monitor.get_operation_stats(name).cache_hits == 1
    assert monitor.get_cache_stats()[name]["hits"] == 1
    monitor.record_cache(name, hit=False)
    assert monitor.get_cache_stats()[name]["misses"] == 1


# ============================================================ thread safety


def test_threads_exact_model_and_cache_totals(monitor: PerformanceMonitor) -> None:
    n_threads, blocks = 8, 2000
    monitor.set_model_prices({"m0": (1.0, 2.0), "m1": (0.5, 0.5)})
    barrier = threading.Barrier(n_threads)
    failures: list[BaseException] = []

    def run(t: int) -> None:
        try:
            barrier.wait()
            model = f"m{t % 2}"
            for i in range(blocks):
                with monitor.track_operation("llm_inference", thread=t) as op:
                    op.model = model
                    op.prompt_tokens = 3
                    op.completion_tokens = 2
                    op.cache_hit = i % 4 == 0
                monitor.record_cache("shared", hit=i % 2 == 0)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not failures

    per_model = n_threads // 2 * blocks
    models = monitor.get_model_stats()
    assert set(models) == {"m0", "m1"}
    for name, (inp, out) in (("m0", (1.0, 2.0)), ("m1", (0.5, 0.5))):
        m = models[name]
        assert m["operations"] == per_model
        assert (m["prompt_tokens"], m["completion_tokens"], m["total_tokens"]) == (
            3 * per_model,
            2 * per_model,
            5 * per_model,
        )
        assert m["cost_usd"] == pytest.approx(per_model * _cost(3, 2, inp, out), rel=1e-9)
        assert m["unpriced_operations"] == 0

    total = n_threads * blocks
    caches = monitor.get_cache_stats()
    assert caches["llm_inference"] == {
        "hits": total // 4,
        "misses": total - total // 4,
        "lookups": total,
        "hit_rate": 0.25,
    }
    assert caches["shared"]["hits"] == total // 2 and caches["shared"]["misses"] == total // 2

    stats = monitor.get_operation_stats("llm_inference")
    assert stats.total_operations == total
    assert (stats.cache_hits, stats.cache_misses) == (total // 4, total - total // 4)
    assert (stats.prompt_tokens, stats.completion_tokens, stats.total_tokens) == (3 * total, 2 * total, 5 * total)
    assert stats.priced_operations == total and stats.unpriced_operations == 0
    expected_cost = per_model * (_cost(3, 2, 1.0, 2.0) + _cost(3, 2, 0.5, 0.5))
    assert stats.cost_usd == pytest.approx(expected_cost, rel=1e-9)
    assert monitor.generate_report()["cost_usd"] == pytest.approx(expected_cost, rel=1e-9)
    assert monitor.get_in_flight_operations() == {}
