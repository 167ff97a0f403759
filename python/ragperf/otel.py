"""``ragperf.otel`` moved to :mod:`ragperf.export.otel`; this alias keeps the old path working.

``import ragperf.otel`` gives the real module
(``ragperf.otel is ragperf.export.otel``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .export import otel as _module
from .export.otel import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
