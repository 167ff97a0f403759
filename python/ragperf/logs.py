"""``ragperf.logs`` moved to :mod:`ragperf.export.logs`; this alias keeps the old path working.

``import ragperf.logs`` gives the real module
(``ragperf.logs is ragperf.export.logs``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .export import logs as _module
from .export.logs import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
