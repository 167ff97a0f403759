"""Command line entry point: ``python -m ragperf.demo [--metrics PATH] [--repeat N] [--quiet]``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run :func:`ragperf.demo.pipeline.run_demo`; returns the exit code.

    Example: ``python -m ragperf.demo --repeat 20 --metrics /tmp/m.json``
    """
    parser = argparse.ArgumentParser(
        prog="python -m ragperf.demo",
        description="Answer questions over a bundled handbook with a small RAG pipeline "
        "and print ragperf's performance report.",
    )
    parser.add_argument(
        "--metrics",
        default="metrics.json",
        metavar="PATH",
        help="where to write the metrics JSON (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=_positive_int,
        default=1,
        metavar="N",
        help="answer every question N times (default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    parser.add_argument(
        "--question",
        action="append",
        metavar="TEXT",
        help="ask this instead of the built-in questions (repeatable)",
    )
    args = parser.parse_args(argv)

    from ragperf.demo.pipeline import run_demo  # imported late so --help stays fast

    run_demo(args.question, metrics_path=args.metrics, repeat=args.repeat, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
