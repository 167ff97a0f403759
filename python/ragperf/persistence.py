"""``ragperf.persistence`` moved to :mod:`ragperf.export.persistence`; this alias keeps the old path working.

``import ragperf.persistence`` gives the real module
(``ragperf.persistence is ragperf.export.persistence``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .export import persistence as _module
from .export.persistence import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
