"""``ragperf.regressions`` moved to :mod:`ragperf.watch.regression_check`; this alias keeps the old path working.

``import ragperf.regressions`` gives the real module
(``ragperf.regressions is ragperf.watch.regression_check``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .watch import regression_check as _module
from .watch.regression_check import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
