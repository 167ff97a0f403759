"""A/A false-positive rate and power of ``ragperf.compare.significance``
(Mann-Whitney U from sketch bins) over repeated seeds, printed as the
Markdown table of docs/insights.md.

Each seed fills two monitors with lognormal durations (median e^-1 s,
spread sigma); "10% slower" multiplies b's durations by 1.1.

    .venv/bin/python benchmarks/bench_significance.py
"""

from __future__ import annotations

import random

from ragperf import PerformanceMonitor
from ragperf.model.compare import significance


def rejection_rate(shift: float, sigma: float, seeds: range, n: int, alpha: float = 0.05) -> float:
    hits = 0
    for seed in seeds:
        rng = random.Random(seed)
        a, b = PerformanceMonitor(), PerformanceMonitor()
        for _ in range(n):
            a.record("llm", rng.lognormvariate(-1, sigma))
        for _ in range(n):
            b.record("llm", rng.lognormvariate(-1, sigma) * (1 + shift))
        hits += significance(a, b, "llm")["p_value"] < alpha
    return hits / len(seeds)


def main() -> None:
    print("| records/side | lognormal sigma | A/A false positives | power, 10% slower |")
    print("|---|---|---|---|")
    for n, sigma, aa_seeds in ((2000, 0.5, 1000), (2000, 1.0, 400), (500, 0.5, 400)):
        aa = rejection_rate(0.0, sigma, range(aa_seeds), n)
        power = rejection_rate(0.1, sigma, range(10000, 10200), n)
        print(f"| {n:,} | {sigma} | {aa:.1%} ({aa_seeds:,} seeds) | {power:.1%} (200 seeds) |")


if __name__ == "__main__":
    main()
