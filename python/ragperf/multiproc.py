"""``ragperf.multiproc`` moved to :mod:`ragperf.export.multiproc`; this alias keeps the old path working.

``import ragperf.multiproc`` gives the real module
(``ragperf.multiproc is ragperf.export.multiproc``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .export import multiproc as _module
from .export.multiproc import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
