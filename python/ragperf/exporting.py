"""``ragperf.exporting`` moved to :mod:`ragperf.export.exporting`; this alias keeps the old path working.

``import ragperf.exporting`` gives the real module
(``ragperf.exporting is ragperf.export.exporting``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .export import exporting as _module
from .export.exporting import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
