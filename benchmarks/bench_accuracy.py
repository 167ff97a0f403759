#!/usr/bin/env python3
"""Percentile accuracy, memory and merge cost of ragperf's QuantileSketch vs its peers.

Five latency-like distributions (seconds), n values each, from numpy's
``default_rng`` with fixed seeds, streamed in a shuffled order:

* lognormal      -- ``lognormal(mean=-3, sigma=1)`` (median about 50 ms);
* pareto         -- ``(pareto(a=1.5) + 1) * 0.01``: heavy tail, minimum 10 ms;
* bimodal        -- 80% ``lognormal(log 0.020, 0.25)`` (about 20 ms) and 20%
  ``lognormal(log 0.800, 0.25)`` (about 800 ms), shuffled together;
* uniform        -- ``uniform(0.001, 2.0)``;
* constant       -- every value 0.25.

For p50, p90, p95, p99 and p99.9 the exact value is
``np.quantile(x, q, method="inverted_cdf")`` (nearest rank, ``sorted[ceil(q*n)-1]``,
ragperf's convention) and each method's relative error is ``|est - exact| / exact``:

1. ``ragperf``: ``QuantileSketch(relative_accuracy=0.005, max_bins=2048)`` fed with
   ``add_many`` in chunks (each numpy chunk converted with ``.tolist()``); add
   throughput is reported with and without that conversion.
2. ``ddsketch``: the PyPI ``ddsketch`` package, ``DDSketch(relative_accuracy=0.005)``,
   fed one value at a time from Python. If a calibration run projects more than
   three minutes for all distributions, it only gets the first 10^6 values of
   each stream (measured against the exact quantiles of those values) and the
   output says so. Its own rank convention is ``sorted[floor(q*(n-1))]``
   (numpy ``method="lower"``); the JSON also holds its error under that convention.
   If ``ddsketch`` cannot be imported, the method is skipped with a note.
3. ``seed_deque_1000``: the seed monitor's approach -- a ``deque(maxlen=1000)``
   of the most recent samples, percentile = ``sorted(d)[min(int(q*len), len-1)]``.
   Because the stream is shuffled, the last 1000 samples are a random subsample;
   the table shows that one draw, and a second row shows the median error over
   every disjoint window of 1000 consecutive samples (what the deque holds after
   each 1000th sample), so one lucky or unlucky draw does not decide the verdict.

Memory per operation (one tracker per operation): ragperf ``memory_bytes()``;
ddsketch: a recursive ``sys.getsizeof`` walk of the sketch's object graph (see
``ddsketch_bytes``); seed: ``sys.getsizeof(deque) + 1000 * sys.getsizeof(float)``.

Merge: the lognormal stream is split into 16 contiguous shards, each fed to its
own ragperf sketch and serialized; the timed step deserializes the 16 blobs and
merges them into one (median of several repetitions), and the result is checked
with ``same_contents`` against the sketch fed the whole stream.

Usage:
    .venv/bin/python benchmarks/bench_accuracy.py [--samples 10000000]
        [--json benchmarks/results/accuracy.json] [--quick] [--check]
        [--ddsketch-samples N]

Exit status: 0 after a completed measurement, whatever the targets say; with
``--check``, 1 when a target is missed; 2 when a sanity check fails (a method
did not see the number of values it was given).
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
import types
from collections import deque
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

try:
    import numpy as np
except ImportError:  # pragma: no cover - environment problem
    sys.exit("bench_accuracy: numpy is required (.venv/bin/pip install numpy)")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
from common import SanityError, log  # noqa: E402  (SanityError: a method did not see what it was given)

from ragperf import QuantileSketch  # noqa: E402

try:
    import ddsketch as _ddsketch_mod
    from ddsketch import DDSketch

    DDSKETCH_IMPORT_ERROR: Optional[str] = None
except Exception as exc:  # ImportError, or a broken install
    _ddsketch_mod = None  # type: ignore[assignment]
    DDSketch = None  # type: ignore[assignment,misc]
    DDSKETCH_IMPORT_ERROR = f"{type(exc).__name__}: {exc}"

DEFAULT_JSON = common.RESULTS_DIR / "accuracy.json"

DEFAULT_SAMPLES = 10_000_000
QUICK_SAMPLES = 20_000
SEED = 20240607
CHUNK = 100_000
RELATIVE_ACCURACY = 0.005
MAX_BINS = 2048
SEED_WINDOW = 1000
SHARDS = 16
MERGE_REPETITIONS = 9
QUICK_MERGE_REPETITIONS = 3
DDSKETCH_BUDGET_S = 180.0
DDSKETCH_REDUCED_SAMPLES = 1_000_000
DDSKETCH_CALIBRATION = 200_000

QUANTILES: List[Tuple[str, float]] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p99.9", 0.999),
]

# Targets.
MAX_REL_ERROR = 0.01
MAX_SKETCH_BYTES = 32 * 1024
MAX_MERGE_MS = 50.0

METHODS = ("ragperf", "ddsketch", "seed_deque_1000")


# --------------------------------------------------------------------------
# Distributions.
# --------------------------------------------------------------------------


def _lognormal(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.lognormal(mean=-3.0, sigma=1.0, size=n)


def _pareto(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.pareto(1.5, size=n)
    x += 1.0
    x *= 0.01
    return x


def _bimodal(rng: np.random.Generator, n: int) -> np.ndarray:
    n_fast = int(round(0.8 * n))
    x = np.empty(n, dtype=np.float64)
    x[:n_fast] = rng.lognormal(mean=math.log(0.020), sigma=0.25, size=n_fast)
    x[n_fast:] = rng.lognormal(mean=math.log(0.800), sigma=0.25, size=n - n_fast)
    return x  # shuffled by the caller like every stream


def _uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(0.001, 2.0, size=n)


def _constant(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.full(n, 0.25, dtype=np.float64)


DISTRIBUTIONS: List[Tuple[str, str, Callable[[np.random.Generator, int], np.ndarray]]] = [
    ("lognormal", "lognormal(mean=-3, sigma=1) s", _lognormal),
    ("pareto", "(pareto(a=1.5) + 1) * 0.01 s, heavy tail", _pareto),
    ("bimodal", "80% lognormal(ln 0.020, 0.25) + 20% lognormal(ln 0.800, 0.25) s", _bimodal),
    ("uniform", "uniform[0.001, 2.0) s", _uniform),
    ("constant", "constant 0.25 s", _constant),
]


def make_stream(index: int, n: int) -> np.ndarray:
    """The index-th distribution's n values, in a shuffled (seeded) order."""
    rng = np.random.default_rng([SEED, index])
    x = DISTRIBUTIONS[index][2](rng, n)
    rng.shuffle(x)
    return x


# --------------------------------------------------------------------------
# Measurement helpers.
# --------------------------------------------------------------------------


def rel_error(est: Optional[float], exact: float) -> Optional[float]:
    if est is None or not math.isfinite(est):
        return None
    if exact == 0.0:
        return 0.0 if est == 0.0 else math.inf
    return abs(est - exact) / abs(exact)


def by_name(values: Any) -> Dict[str, float]:
    return {name: float(v) for (name, _), v in zip(QUANTILES, values)}


def errors_of(est: Mapping[str, Optional[float]], exact: Mapping[str, float]) -> Dict[str, Optional[float]]:
    return {name: rel_error(est[name], exact[name]) for name, _ in QUANTILES}


def _max_error(errors: Mapping[str, Optional[float]]) -> Optional[float]:
    vals = [e for e in errors.values() if e is not None]
    return max(vals) if vals else None


def seed_percentile(sorted_values: List[float], q: float) -> float:
    """The seed's percentile: index int(q*len) into the sorted recent samples."""
    return sorted_values[min(int(len(sorted_values) * q), len(sorted_values) - 1)]


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


# --------------------------------------------------------------------------
# Environment.
# --------------------------------------------------------------------------


def environment(n: int, quick: bool, **extra: Any) -> Dict[str, Any]:
    """common.environment() plus numpy/ddsketch versions, this run's settings
    and ``extra`` (e.g. common.run_start() from before the run)."""
    return common.environment(
        timer="time.perf_counter (adds), time.perf_counter_ns (merge repetitions)",
        aggregate="merge: median over repetitions (min and max reported too); adds: one timed pass",
        numpy_version=np.__version__,
        ddsketch_version=getattr(_ddsketch_mod, "__version__", None) if _ddsketch_mod else None,
        ddsketch_import_error=DDSKETCH_IMPORT_ERROR,
        n=n,
        quick=quick,
        seed=SEED,
        chunk_size=CHUNK,
        relative_accuracy=RELATIVE_ACCURACY,
        max_bins=MAX_BINS,
        quantiles=dict(QUANTILES),
        stream_order="each stream shuffled with its own seeded generator before being fed",
        rel_error="|estimate - exact| / exact, exact = np.quantile(x, q, method='inverted_cdf')",
        **extra,
    )


# --------------------------------------------------------------------------
# Targets and output.
# --------------------------------------------------------------------------


def evaluate_targets(dists: List[Dict[str, Any]], merge: Dict[str, Any]) -> List[Dict[str, Any]]:
    worst_err, worst_at = -1.0, ""
    for d in dists:
        for nm, e in d["methods"]["ragperf"]["rel_error"].items():
            e = math.inf if e is None else e
            if e > worst_err:
                worst_err, worst_at = e, f"{d['name']} {nm}"
    worst_bytes, bytes_at = max((d["methods"]["ragperf"]["memory_bytes"], d["name"]) for d in dists)

    def target(name: str, ok: bool, value: Any, threshold: Any, unit: str, detail: str) -> Dict[str, Any]:
        return {
            "name": name,
            "status": "PASS" if ok else "MISS",
            "value": value,
            "threshold": threshold,
            "unit": unit,
            "detail": detail,
        }

    return [
        target(
            "ragperf relative error <= 1% at every quantile on every distribution",
            worst_err <= MAX_REL_ERROR,
            worst_err,
            MAX_REL_ERROR,
            "fraction",
            f"worst {worst_err * 100:.3f}% ({worst_at})",
        ),
        target(
            "ragperf <= 32 KiB per operation (sketch bytes)",
            worst_bytes <= MAX_SKETCH_BYTES,
            worst_bytes,
            MAX_SKETCH_BYTES,
            "bytes",
            f"largest {worst_bytes:,} B ({bytes_at})",
        ),
        target(
            "merging 16 sketches is exact (same_contents with the whole-stream sketch)",
            bool(merge["same_contents"]),
            bool(merge["same_contents"]),
            True,
            "bool",
            f"same_contents={merge['same_contents']}, quantiles equal={merge['quantiles_equal']}",
        ),
        target(
            "deserialize + merge of 16 serialized sketches < 50 ms",
            merge["median_ms"] < MAX_MERGE_MS,
            merge["median_ms"],
            MAX_MERGE_MS,
            "ms",
            f"median {merge['median_ms']:.3f} ms over {merge['repetitions']} repetitions",
        ),
    ]


def _pct(e: Optional[float]) -> str:
    if e is None:
        return "n/a"
    if math.isinf(e):
        return "inf"
    return f"{e * 100:.3f}%"


def render(env: Dict[str, Any], dists: List[Dict[str, Any]], merge: Dict[str, Any],
           targets: List[Dict[str, Any]], notes: List[str]) -> str:
    out = [
        f"{env['date']}  Python {env['python_version']}  numpy {env['numpy_version']}  "
        f"ddsketch {env['ddsketch_version'] or 'n/a'}  ragperf {env['ragperf_version']}  "
        f"({env['num_cpus']} X {env['cpu_model']})",
        f"n = {env['n']:,} values per distribution (shuffled stream), relative error "
        "|est - exact| / exact, exact = np.quantile(method='inverted_cdf')",
    ]
    names = [nm for nm, _ in QUANTILES]
    w = 30
    header = f"{'method':<{w}}" + "".join(f"{nm:>10}" for nm in names) + f"{'bytes':>10}"
    rule = "-" * len(header)
    for d in dists:
        out.append("")
        out.append(f"== {d['name']}: {d['description']}  (n = {d['n']:,})")
        out.append(rule)
        out.append(header)
        out.append(rule)
        out.append(f"{'exact value (s)':<{w}}" + "".join(f"{d['exact'][nm]:>10.4g}" for nm in names))
        m = d["methods"]
        r = m["ragperf"]
        out.append(f"{'ragperf QuantileSketch':<{w}}" + "".join(f"{_pct(r['rel_error'][nm]):>10}" for nm in names)
                   + f"{r['memory_bytes']:>10,}")
        dd = m["ddsketch"]
        if dd["available"]:
            label = "ddsketch DDSketch" + ("" if dd["n"] == d["n"] else f" (n={dd['n']:,})")
            out.append(f"{label:<{w}}" + "".join(f"{_pct(dd['rel_error'][nm]):>10}" for nm in names)
                       + f"{dd['memory_bytes']:>10,}")
        else:
            out.append(f"{'ddsketch DDSketch':<{w}}  skipped: {dd['note']}")
        s = m["seed_deque_1000"]
        out.append(f"{'seed deque(1000), last 1000':<{w}}" + "".join(f"{_pct(s['rel_error'][nm]):>10}" for nm in names)
                   + f"{s['memory_bytes']:>10,}")
        win = s["windows"]
        if win.get("count"):
            label = f"  median over {win['count']:,} windows"
            out.append(f"{label:<{w}}" + "".join(f"{_pct(win['median'][nm]):>10}" for nm in names))
            label = "  windows with error > 1%"
            out.append(f"{label:<{w}}" + "".join(f"{win['fraction_over_1pct'][nm] * 100:>9.1f}%" for nm in names))
        out.append(rule)
        speed = (f"ragperf add_many {r['add_many_values_per_s'] / 1e6:.1f} M values/s "
                 f"({r['add_many_incl_tolist_values_per_s'] / 1e6:.1f} M/s incl. .tolist())")
        if dd["available"]:
            speed += f"; ddsketch add {dd['add_values_per_s'] / 1e6:.2f} M values/s (one call per value)"
        out.append(speed)
    out.append("")
    out.append(
        f"Merge: lognormal split into {merge['shards']} shards, serialized "
        f"{merge['serialized_bytes_total']:,} B in all; deserialize + merge: median "
        f"{merge['median_ms']:.3f} ms (min {merge['min_ms']:.3f}, max {merge['max_ms']:.3f}, "
        f"{merge['repetitions']} repetitions); same_contents with whole-stream sketch: "
        f"{str(merge['same_contents']).lower()}"
    )
    out.append("Targets:")
    for t in targets:
        out.append(f"  [{t['status']}] {t['name']}: {t['detail']}")
    if notes:
        out.append("Notes:")
        out += [f"  - {n}" for n in notes]
    return "\n".join(out)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=None,
                   help=f"values per distribution (default {DEFAULT_SAMPLES:,}; --quick: {QUICK_SAMPLES:,})")
    common.add_output_args(p, DEFAULT_JSON, "small n and few repetitions: a smoke run, not a measurement",
                           "exit 1 when a target is missed")
    p.add_argument("--ddsketch-samples", type=int, default=None,
                   help="values fed to ddsketch per distribution (default: all, unless a calibration run "
                        f"projects more than {DDSKETCH_BUDGET_S:.0f} s, then {DDSKETCH_REDUCED_SAMPLES:,}; 0 skips it)")
    args = p.parse_args(argv)
    common.resolve_size(p, args, "samples", DEFAULT_SAMPLES, QUICK_SAMPLES, minimum=SEED_WINDOW)
    if args.ddsketch_samples is not None and args.ddsketch_samples < 0:
        p.error("--ddsketch-samples must be >= 0")
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    n = args.samples
    start = common.run_start()
    t_run = time.perf_counter()
    notes: List[str] = []
    dd_info: Dict[str, Any] = {"available": DDSketch is not None, "import_error": DDSKETCH_IMPORT_ERROR}

    dd_n: Optional[int]
    if DDSketch is None:
        dd_n = None
        notes.append(f"ddsketch is not importable ({DDSKETCH_IMPORT_ERROR}); its rows are skipped.")
    elif args.ddsketch_samples is not None:
        dd_n = min(n, args.ddsketch_samples) or None
        dd_info["samples_source"] = "--ddsketch-samples"
        if dd_n is None:
            notes.append("ddsketch skipped (--ddsketch-samples 0).")
    else:
        calib = min(n, DDSKETCH_CALIBRATION)
        per_value = calibrate_ddsketch(calib)
        projected = per_value * n * len(DISTRIBUTIONS)
        dd_info.update({"calibration_values": calib, "calibration_s_per_value": per_value,
                        "projected_seconds_full_n": projected, "budget_seconds": DDSKETCH_BUDGET_S})
        dd_n = n if projected <= DDSKETCH_BUDGET_S else min(n, DDSKETCH_REDUCED_SAMPLES)
        dd_info["samples_source"] = "calibration"
        log(f"ddsketch: {per_value * 1e9:.0f} ns/value, projected {projected:.0f} s for all "
            f"distributions at n={n:,} -> feeding {dd_n:,} values each")
    dd_info["samples"] = dd_n
    if dd_n is not None and dd_n < n:
        notes.append(
            f"ddsketch was fed only the first {dd_n:,} of the {n:,} values of each stream "
            f"(feeding all of them one by one from Python was projected to take "
            f"{dd_info.get('projected_seconds_full_n', float('nan')):.0f} s > {DDSKETCH_BUDGET_S:.0f} s); "
            "its errors are against the exact quantiles of the values it saw."
            if dd_info.get("samples_source") == "calibration"
            else f"ddsketch was fed only the first {dd_n:,} of the {n:,} values of each stream "
            "(--ddsketch-samples); its errors are against the exact quantiles of the values it saw."
        )
    if DDSketch is not None and dd_n:
        notes.append("ddsketch's get_quantile_value ranks at floor(q*(n-1)) (numpy 'lower'); the JSON also "
                     "holds its error under that convention (rel_error_vs_own_rank_convention).")
    notes.append("seed deque(1000): the 'last 1000' row is one random draw (the stream is shuffled); the "
                 "'median over windows' row is the typical error of that design.")

    dists: List[Dict[str, Any]] = []
    merge: Dict[str, Any] = {}
    try:
        for i in range(len(DISTRIBUTIONS)):
            result, x, whole = measure_distribution(i, n, dd_n, log)
            dists.append(result)
            if result["name"] == "lognormal":
                reps = QUICK_MERGE_REPETITIONS if args.quick else MERGE_REPETITIONS
                merge = measure_merge(x, whole, reps, log)
            del x, whole
            gc.collect()
    except SanityError as exc:
        print(f"bench_accuracy: sanity check failed: {exc}", file=sys.stderr)
        return 2

    dd_info["total_add_seconds"] = sum(
        d["methods"]["ddsketch"].get("add_seconds", 0.0) for d in dists
    )
    env = environment(n, args.quick, **start)
    if common.core_replaced(env):
        notes.append(common.CORE_REPLACED_NOTE)
    env["ddsketch"] = dd_info
    env["runtime_seconds"] = time.perf_counter() - t_run
    targets = evaluate_targets(dists, merge)
    print(render(env, dists, merge, targets, notes))
    print(f"runtime {env['runtime_seconds']:.1f} s")

    result = {
        "context": env,
        "distributions": {d["name"]: d for d in dists},
        "merge": merge,
        "targets": targets,
        "notes": notes,
        "memory_methods": {
            "ragperf": RAGPERF_MEMORY_METHOD,
            "ddsketch": DDSKETCH_MEMORY_METHOD,
            "seed_deque_1000": SEED_MEMORY_METHOD,
        },
    }
    return common.finish(args.json, result, args.check, default=_json_default)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


if __name__ == "__main__":
    sys.exit(main())
