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

This file runs the measurement, judges the targets and writes the results;
the value streams and the error rule are in accuracy_streams.py, the methods
and how each is measured in accuracy_methods.py.

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
from pathlib import Path
from typing import Any, Dict, List, Optional

try:
    import numpy as np
except ImportError:  # pragma: no cover - environment problem
    sys.exit("bench_accuracy: numpy is required (.venv/bin/pip install numpy)")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402
from accuracy_methods import (  # noqa: E402  (the methods measured, and how)
    DDSKETCH_BUDGET_S,
    DDSKETCH_CALIBRATION,
    DDSKETCH_IMPORT_ERROR,
    DDSKETCH_MEMORY_METHOD,
    DDSKETCH_REDUCED_SAMPLES,
    MAX_BINS,
    RAGPERF_MEMORY_METHOD,
    RELATIVE_ACCURACY,
    SEED_MEMORY_METHOD,
    SEED_WINDOW,
    DDSketch,
    _ddsketch_mod,
    calibrate_ddsketch,
    measure_distribution,
    measure_merge,
)
from accuracy_streams import CHUNK, DISTRIBUTIONS, MAX_REL_ERROR, QUANTILES, SEED  # noqa: E402
from common import SanityError, log  # noqa: E402  (SanityError: a method did not see what it was given)

DEFAULT_JSON = common.RESULTS_DIR / "accuracy.json"

DEFAULT_SAMPLES = 10_000_000
QUICK_SAMPLES = 20_000
MERGE_REPETITIONS = 9
QUICK_MERGE_REPETITIONS = 3
MAX_SKETCH_BYTES = 32 * 1024
MAX_MERGE_MS = 50.0


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
