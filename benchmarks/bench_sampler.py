"""CPU cost of ragperf's background resource sampler.

Runs the process idle for `--seconds`, then idle again with the sampler on at
each interval, and reports the process CPU time the sampler added (getrusage),
as a percentage of one core and per sample.

Run: python benchmarks/bench_sampler.py [--seconds 30] [--intervals 1 5]
"""

from __future__ import annotations

import argparse
import resource
import time

from ragperf import PerformanceMonitor


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_share(seconds: float) -> float:
    start_cpu, start = _cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    return (_cpu_seconds() - start_cpu) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--intervals", type=float, nargs="+", default=[1.0, 5.0])
    args = parser.parse_args()
    monitor = PerformanceMonitor()
    for interval in args.intervals:
        idle = _cpu_share(args.seconds)
        monitor.clear_metrics()
        with monitor.start_sampler(interval):
            busy = _cpu_share(args.seconds)
        samples = monitor.get_system_stats()["samples"]
        added = busy - idle
        print(
            f"interval {interval:g} s: {samples} samples in {args.seconds:g} s; process CPU "
            f"{busy * 100:.4f}% vs idle {idle * 100:.4f}%: the sampler adds {added * 100:.4f}% "
            f"of one core, {added * args.seconds / max(samples, 1) * 1e6:.0f} us per sample"
        )


if __name__ == "__main__":
    main()
