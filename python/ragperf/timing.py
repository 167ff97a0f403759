"""``ragperf.timing`` moved to :mod:`ragperf.measure.timing`; this alias keeps the old path working.

``import ragperf.timing`` gives the real module
(``ragperf.timing is ragperf.measure.timing``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .measure import timing as _module
from .measure.timing import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
