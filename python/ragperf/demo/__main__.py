"""Command line entry point: ``python -m ragperf.demo [--metrics PATH] [--repeat N] [--quiet]``.

The same as ``ragperf demo ...`` (one argument parser, in :mod:`ragperf.cli`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ragperf demo`` with ``argv`` (default: the command line); returns the exit code.

    Example: ``python -m ragperf.demo --repeat 20 --metrics /tmp/m.json``
    """
    from ragperf.cli import main as cli_main

    return cli_main(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
