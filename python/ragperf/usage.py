"""``ragperf.usage`` moved to :mod:`ragperf.measure.usage`; this alias keeps the old path working.

``import ragperf.usage`` gives the real module
(``ragperf.usage is ragperf.measure.usage``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .measure import usage as _module
from .measure.usage import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
