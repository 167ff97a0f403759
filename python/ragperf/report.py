"""``ragperf.report`` moved to :mod:`ragperf.model.report`; this alias keeps the old path working.

``import ragperf.report`` gives the real module
(``ragperf.report is ragperf.model.report``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .model import report as _module
from .model.report import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
