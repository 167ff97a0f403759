"""``ragperf.memory`` moved to :mod:`ragperf.measure.memory`; this alias keeps the old path working.

``import ragperf.memory`` gives the real module
(``ragperf.memory is ragperf.measure.memory``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .measure import memory as _module
from .measure.memory import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
