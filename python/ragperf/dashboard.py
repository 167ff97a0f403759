"""``ragperf.dashboard`` moved to :mod:`ragperf.panel.dashboard`; this alias keeps the old path working.

``import ragperf.dashboard`` gives the real module
(``ragperf.dashboard is ragperf.panel.dashboard``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .panel import dashboard as _module
from .panel.dashboard import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
