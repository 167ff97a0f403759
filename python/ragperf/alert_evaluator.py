"""``ragperf.alert_evaluator`` moved to :mod:`ragperf.watch.alert_evaluator`; this alias keeps the old path working.

``import ragperf.alert_evaluator`` gives the real module
(``ragperf.alert_evaluator is ragperf.watch.alert_evaluator``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .watch import alert_evaluator as _module
from .watch.alert_evaluator import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
