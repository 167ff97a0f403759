"""The input of bench_accuracy.py and how an estimate is judged: the five
seeded value streams (lognormal, Pareto, bimodal, uniform, constant), the
quantiles asked for, and the relative error of an estimate against the
exact quantile (the seed monitor's percentile rule included)."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np  # bench_accuracy.py checked that it is installed

SEED = 20240607
CHUNK = 100_000

QUANTILES: List[Tuple[str, float]] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p99.9", 0.999),
]

MAX_REL_ERROR = 0.01  # the accuracy target: an estimate within 1% of the exact quantile


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
