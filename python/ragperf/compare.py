"""``ragperf.compare`` moved to :mod:`ragperf.model.compare`; this alias keeps the old path working.

``import ragperf.compare`` gives the real module
(``ragperf.compare is ragperf.model.compare``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .model import compare as _module
from .model.compare import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
