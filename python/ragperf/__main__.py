"""``python -m ragperf``: the ``ragperf`` command (see :mod:`ragperf.cli`).

Example: ``python -m ragperf report metrics.json``
"""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
