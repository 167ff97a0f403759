"""``ragperf.traces`` moved to :mod:`ragperf.watch.traces`; this alias keeps the old path working.

``import ragperf.traces`` gives the real module
(``ragperf.traces is ragperf.watch.traces``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .watch import traces as _module
from .watch.traces import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
