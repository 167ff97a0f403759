"""``ragperf.overhead`` moved to :mod:`ragperf.watch.calibration`; this alias keeps the old path working.

``import ragperf.overhead`` gives the real module
(``ragperf.overhead is ragperf.watch.calibration``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .watch import calibration as _module
from .watch.calibration import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
