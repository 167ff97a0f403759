"""``ragperf.queues`` moved to :mod:`ragperf.watch.queue_monitors`; this alias keeps the old path working.

``import ragperf.queues`` gives the real module
(``ragperf.queues is ragperf.watch.queue_monitors``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .watch import queue_monitors as _module
from .watch.queue_monitors import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
