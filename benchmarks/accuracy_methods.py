"""The methods bench_accuracy.py measures and how: ragperf's QuantileSketch,
ddsketch (when importable) and the seed's 1000-value deque; their accuracy,
memory (each method's own accounting, named in the JSON), add cost, and the
merge of sharded sketches."""

from __future__ import annotations

import sys
import time
import types
from collections import deque
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import common
import numpy as np
from accuracy_streams import (
    CHUNK,
    DISTRIBUTIONS,
    MAX_REL_ERROR,
    QUANTILES,
    SEED,
    _max_error,
    by_name,
    errors_of,
    make_stream,
    seed_percentile,
)
from common import SanityError, log  # SanityError: a method did not see what it was given

from ragperf import QuantileSketch

try:
    import ddsketch as _ddsketch_mod
    from ddsketch import DDSketch

    DDSKETCH_IMPORT_ERROR: Optional[str] = None
except Exception as exc:  # ImportError, or a broken install
    _ddsketch_mod = None  # type: ignore[assignment]
    DDSketch = None  # type: ignore[assignment,misc]
    DDSKETCH_IMPORT_ERROR = f"{type(exc).__name__}: {exc}"

RELATIVE_ACCURACY = 0.005
MAX_BINS = 2048
SEED_WINDOW = 1000
SHARDS = 16
DDSKETCH_BUDGET_S = 180.0
DDSKETCH_REDUCED_SAMPLES = 1_000_000
DDSKETCH_CALIBRATION = 200_000

METHODS = ("ragperf", "ddsketch", "seed_deque_1000")


def deep_sizeof(root: Any) -> int:
    """Bytes of an object graph: sys.getsizeof of every distinct object reachable
    through __dict__, __slots__ and container elements, each counted once.

    Classes, modules and functions are shared by every instance and are not
    counted; neither are string dict keys (interned attribute names, shared)."""
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
    seen = set()
    total = 0
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            for k, v in obj.items():
                if not isinstance(k, str):
                    stack.append(k)
                stack.append(v)
        elif isinstance(obj, (list, tuple, set, frozenset, deque)):
            stack.extend(obj)
        if hasattr(obj, "__dict__"):
            stack.append(vars(obj))
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if isinstance(slot, str) and slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                    stack.append(getattr(obj, slot))
    return total


DDSKETCH_MEMORY_METHOD = (
    "recursive sys.getsizeof over the DDSketch object graph: the sketch, its mapping "
    "and its positive and negative stores, their __dict__s, the stores' `bins` lists "
    "(pointer arrays including over-allocation) and every distinct float object in "
    "them (untouched bins share one 0.0 object); classes, functions and interned "
    "attribute names are shared by all instances and not counted"
)
RAGPERF_MEMORY_METHOD = "QuantileSketch.memory_bytes() after all values were added"
SEED_MEMORY_METHOD = "sys.getsizeof(deque(maxlen=1000) holding 1000 floats) + 1000 * sys.getsizeof(float)"


def ddsketch_bytes(sketch: Any) -> Dict[str, Any]:
    store = getattr(sketch, "_store", None)
    neg = getattr(sketch, "_negative_store", None)
    bins = list(getattr(store, "bins", [])) + list(getattr(neg, "bins", []))
    bins_list_bytes = sum(sys.getsizeof(getattr(s, "bins", [])) for s in (store, neg) if s is not None)
    return {
        "bytes": deep_sizeof(sketch),
        "bins": len(bins),
        "nonzero_bins": sum(1 for b in bins if b),
        "bins_list_bytes": bins_list_bytes,
    }


def add_each_seconds(add: Callable[[float], Any], values: Iterable[float]) -> float:
    """Seconds taken to call ``add(v)`` once per value (how ddsketch is fed)."""
    t0 = time.perf_counter()
    for v in values:
        add(v)
    return time.perf_counter() - t0


def calibrate_ddsketch(n_values: int) -> float:
    """Seconds per value of DDSketch.add from Python, on a lognormal stream."""
    assert DDSketch is not None
    rng = np.random.default_rng([SEED, 999])
    values = rng.lognormal(-3.0, 1.0, size=n_values).tolist()
    sketch = DDSketch(relative_accuracy=RELATIVE_ACCURACY)
    return add_each_seconds(sketch.add, values) / n_values


# --------------------------------------------------------------------------
# One distribution.
# --------------------------------------------------------------------------


def measure_distribution(
    index: int, n: int, dd_n: Optional[int], log: Callable[[str], None]
) -> Tuple[Dict[str, Any], np.ndarray, Any]:
    name, description, _ = DISTRIBUTIONS[index]
    t_start = time.perf_counter()
    x = make_stream(index, n)
    qs = [q for _, q in QUANTILES]
    exact = by_name(np.quantile(x, qs, method="inverted_cdf"))
    log(f"{name}: {n:,} values generated, exact quantiles computed")

    # One pass over the stream: each chunk is converted once and given to all three.
    sketch = QuantileSketch(RELATIVE_ACCURACY, MAX_BINS)
    dd = DDSketch(relative_accuracy=RELATIVE_ACCURACY) if (DDSketch is not None and dd_n) else None
    window: "deque[float]" = deque(maxlen=SEED_WINDOW)
    t_convert = t_ragperf = t_dd = t_seed = 0.0
    for start in range(0, n, CHUNK):
        t0 = time.perf_counter()
        values = x[start : start + CHUNK].tolist()
        t1 = time.perf_counter()
        sketch.add_many(values)
        t2 = time.perf_counter()
        window.extend(values)
        t3 = time.perf_counter()
        t_convert += t1 - t0
        t_ragperf += t2 - t1
        t_seed += t3 - t2
        if dd is not None and start < dd_n:  # type: ignore[operator]
            part = values if start + len(values) <= dd_n else values[: dd_n - start]  # type: ignore[operator]
            t_dd += add_each_seconds(dd.add, part)

    methods: Dict[str, Any] = {}

    # ragperf
    if sketch.count != n:
        raise SanityError(f"{name}: ragperf sketch holds {sketch.count} values, expected {n}")
    est = {nm: sketch.quantile(q) for nm, q in QUANTILES}
    errs = errors_of(est, exact)
    methods["ragperf"] = {
        "available": True,
        "label": f"ragperf QuantileSketch({RELATIVE_ACCURACY}, {MAX_BINS})",
        "n": n,
        "estimates": est,
        "rel_error": errs,
        "max_rel_error": _max_error(errs),
        "memory_bytes": sketch.memory_bytes(),
        "memory_method": RAGPERF_MEMORY_METHOD,
        "num_bins": sketch.num_bins,
        "serialized_bytes": len(sketch.serialize()),
        "add_many_seconds": t_ragperf,
        "tolist_seconds": t_convert,
        "add_many_values_per_s": n / t_ragperf if t_ragperf > 0 else None,
        "add_many_incl_tolist_values_per_s": n / (t_ragperf + t_convert) if t_ragperf + t_convert > 0 else None,
        "chunk_size": CHUNK,
    }

    # ddsketch
    if dd is None:
        methods["ddsketch"] = {
            "available": False,
            "note": f"ddsketch not importable ({DDSKETCH_IMPORT_ERROR}); method skipped"
            if DDSKETCH_IMPORT_ERROR
            else "ddsketch disabled for this run; method skipped",
        }
    else:
        assert dd_n is not None
        seen = min(n, dd_n)
        if int(round(dd.count)) != seen:
            raise SanityError(f"{name}: ddsketch holds {dd.count} values, expected {seen}")
        if seen == n:
            dd_exact, dd_exact_lower = exact, by_name(np.quantile(x, qs, method="lower"))
        else:
            sub = x[:seen]
            dd_exact = by_name(np.quantile(sub, qs, method="inverted_cdf"))
            dd_exact_lower = by_name(np.quantile(sub, qs, method="lower"))
        dd_est = {nm: dd.get_quantile_value(q) for nm, q in QUANTILES}
        dd_errs = errors_of(dd_est, dd_exact)
        mem = ddsketch_bytes(dd)
        methods["ddsketch"] = {
            "available": True,
            "label": f"ddsketch {getattr(_ddsketch_mod, '__version__', '?')} DDSketch({RELATIVE_ACCURACY})",
            "n": seen,
            "note": None
            if seen == n
            else (
                f"fed only the first {seen:,} of {n:,} values (pure-Python adds were projected "
                f"to exceed {DDSKETCH_BUDGET_S:.0f} s); errors are against the exact quantiles "
                "of those values"
            ),
            "exact_of_values_seen": dd_exact,
            "estimates": dd_est,
            "rel_error": dd_errs,
            "max_rel_error": _max_error(dd_errs),
            "rel_error_vs_own_rank_convention": errors_of(dd_est, dd_exact_lower),
            "own_rank_convention": "sorted[floor(q*(n-1))] (numpy method='lower')",
            "memory_bytes": mem["bytes"],
            "memory_method": DDSKETCH_MEMORY_METHOD,
            "bins": mem["bins"],
            "nonzero_bins": mem["nonzero_bins"],
            "bins_list_bytes": mem["bins_list_bytes"],
            "add_seconds": t_dd,
            "add_values_per_s": seen / t_dd if t_dd > 0 else None,
        }

    # seed-style deque of the last 1000 samples
    expected_len = min(n, SEED_WINDOW)
    if len(window) != expected_len:
        raise SanityError(f"{name}: seed deque holds {len(window)} values, expected {expected_len}")
    recent = sorted(window)
    seed_est = {nm: seed_percentile(recent, q) for nm, q in QUANTILES}
    seed_errs = errors_of(seed_est, exact)
    window_stats = seed_window_stats(x, exact)
    seed_bytes = sys.getsizeof(window) + SEED_WINDOW * sys.getsizeof(1.0)
    methods["seed_deque_1000"] = {
        "available": True,
        "label": "seed-style deque(maxlen=1000), sort + index",
        "n": n,
        "values_used": len(window),
        "note": "percentiles of the last 1000 samples of the (shuffled) stream only",
        "estimates": seed_est,
        "rel_error": seed_errs,
        "max_rel_error": _max_error(seed_errs),
        "windows": window_stats,
        "memory_bytes": seed_bytes,
        "memory_method": SEED_MEMORY_METHOD,
        "extend_seconds": t_seed,
    }

    result = {
        "name": name,
        "description": description,
        "n": n,
        "seed": [SEED, index],
        "exact": exact,
        "exact_method": "np.quantile(x, q, method='inverted_cdf')",
        "min": float(x.min()),
        "max": float(x.max()),
        "methods": methods,
        "seconds": time.perf_counter() - t_start,
    }
    log(f"{name}: done in {result['seconds']:.1f} s")
    return result, x, sketch


def seed_window_stats(x: np.ndarray, exact: Dict[str, float]) -> Dict[str, Any]:
    """Error of the seed's estimate over every disjoint window of 1000 samples."""
    k = len(x) // SEED_WINDOW
    if k == 0:
        return {"count": 0}
    windows = np.sort(x[: k * SEED_WINDOW].reshape(k, SEED_WINDOW), axis=1)
    out: Dict[str, Any] = {"count": k, "median": {}, "p95": {}, "max": {}, "fraction_over_1pct": {}}
    for name, q in QUANTILES:
        idx = min(int(SEED_WINDOW * q), SEED_WINDOW - 1)
        err = np.abs(windows[:, idx] - exact[name]) / abs(exact[name])
        out["median"][name] = float(np.median(err))
        out["p95"][name] = float(np.quantile(err, 0.95))
        out["max"][name] = float(err.max())
        out["fraction_over_1pct"][name] = float(np.mean(err > MAX_REL_ERROR))
    del windows
    return out


# --------------------------------------------------------------------------
# Merge.
# --------------------------------------------------------------------------


def measure_merge(x: np.ndarray, whole: Any, repetitions: int, log: Callable[[str], None]) -> Dict[str, Any]:
    blobs: List[bytes] = []
    shard_counts = []
    for shard in np.array_split(x, SHARDS):
        s = QuantileSketch(RELATIVE_ACCURACY, MAX_BINS)
        for start in range(0, len(shard), CHUNK):
            s.add_many(shard[start : start + CHUNK].tolist())
        shard_counts.append(s.count)
        blobs.append(s.serialize())
    if sum(shard_counts) != len(x):
        raise SanityError(f"merge: shards hold {sum(shard_counts)} values, expected {len(x)}")

    def deserialize_and_merge() -> Any:  # the timed step
        merged = QuantileSketch.deserialize(blobs[0])
        for blob in blobs[1:]:
            merged.merge(QuantileSketch.deserialize(blob))
        return merged

    timing = common.summarize(common.repeat_ns(deserialize_and_merge, repetitions, warmup=0), 1e6, "ms")
    merged = deserialize_and_merge()  # untimed, for the checks (merging is deterministic)
    same = bool(merged.same_contents(whole)) and bool(whole.same_contents(merged))
    q_equal = all(merged.quantile(q) == whole.quantile(q) for _, q in QUANTILES)
    log(f"merge: {SHARDS} shards, median {timing['median']:.3f} ms, same_contents={same}")
    return {
        "distribution": "lognormal",
        "shards": SHARDS,
        "values": len(x),
        "shard_counts": shard_counts,
        "serialized_bytes_each": [len(b) for b in blobs],
        "serialized_bytes_total": sum(len(b) for b in blobs),
        "timed_step": "deserialize the 16 blobs and merge them into one (merge 15 into the first)",
        "repetitions": repetitions,
        "times_ms": timing["samples"],
        "median_ms": timing["median"],
        "min_ms": timing["min"],
        "max_ms": timing["max"],
        "same_contents": same,
        "quantiles_equal": q_equal,
        "merged_count": merged.count,
        "whole_count": whole.count,
    }
