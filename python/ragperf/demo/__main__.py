"""Command line entry point: ``python -m ragperf.demo`` (what ``make demo`` runs).

Options and exit codes are in :mod:`ragperf.demo.command`; ``--help`` lists them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the demo with ``argv`` (default: the command line); returns the exit code.

    Example: ``python -m ragperf.demo --embedder hashing --repeat 20 --metrics /tmp/m.json``
    """
    from .command import main as command_main

    return command_main(argv)


if __name__ == "__main__":
    sys.exit(main())
