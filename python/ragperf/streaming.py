"""``ragperf.streaming`` moved to :mod:`ragperf.measure.streaming`; this alias keeps the old path working.

``import ragperf.streaming`` gives the real module
(``ragperf.streaming is ragperf.measure.streaming``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .measure import streaming as _module
from .measure.streaming import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
