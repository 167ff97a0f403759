"""``ragperf.alerts`` moved to :mod:`ragperf.watch.alert_rules`; this alias keeps the old path working.

``import ragperf.alerts`` gives the real module
(``ragperf.alerts is ragperf.watch.alert_rules``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .watch import alert_rules as _module
from .watch.alert_rules import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
