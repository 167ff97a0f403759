"""``ragperf.tokens`` moved to :mod:`ragperf.measure.tokens`; this alias keeps the old path working.

``import ragperf.tokens`` gives the real module
(``ragperf.tokens is ragperf.measure.tokens``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .measure import tokens as _module
from .measure.tokens import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
