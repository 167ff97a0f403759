"""``ragperf.resources`` moved to :mod:`ragperf.measure.resources`; this alias keeps the old path working.

``import ragperf.resources`` gives the real module
(``ragperf.resources is ragperf.measure.resources``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .measure import resources as _module
from .measure.resources import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
