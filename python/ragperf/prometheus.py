"""``ragperf.prometheus`` moved to :mod:`ragperf.export.prometheus`; this alias keeps the old path working.

``import ragperf.prometheus`` gives the real module
(``ragperf.prometheus is ragperf.export.prometheus``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .export import prometheus as _module
from .export.prometheus import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
