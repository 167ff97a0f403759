"""``ragperf.pricing`` moved to :mod:`ragperf.measure.pricing`; this alias keeps the old path working.

``import ragperf.pricing`` gives the real module
(``ragperf.pricing is ragperf.measure.pricing``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .measure import pricing as _module
from .measure.pricing import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
