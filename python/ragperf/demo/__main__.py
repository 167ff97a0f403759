"""Command line entry point: ``python -m ragperf.demo`` (what ``make demo`` runs).

Options and exit codes are in :mod:`ragperf.demo.command`; ``--help`` lists them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None, *, prog: str | None = None, epilog: str | None = None) -> int:
    """Runs the demo with ``argv`` (default: the command line); returns the exit code.

    ``prog`` is the program name in usage and error messages (default
    ``python -m ragperf.demo``), ``epilog`` the text after the options in
    ``--help`` (default: the demo's exit codes).

    Example: ``python -m ragperf.demo --embedder hashing --repeat 20 --metrics /tmp/m.json``
    """
    from .command import main as command_main

    return command_main(argv, prog=prog, epilog=epilog)


def _given(name: str) -> str | None:
    value = globals().get(name)
    return value if isinstance(value, str) else None


if __name__ == "__main__":
    # `ragperf demo` runs this module as a program (runpy.run_module) and
    # passes the name it runs under and its help epilog as the globals
    # RAGPERF_PROG and RAGPERF_EPILOG.
    sys.exit(main(prog=_given("RAGPERF_PROG"), epilog=_given("RAGPERF_EPILOG")))
