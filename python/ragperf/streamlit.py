"""``ragperf.streamlit`` moved to :mod:`ragperf.panel.streamlit`; this alias keeps the old path working.

``import ragperf.streamlit`` gives the real module
(``ragperf.streamlit is ragperf.panel.streamlit``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

# Written by scripts/relayout.py: an alias of a moved module.

import sys

from .panel import streamlit as _module
from .panel.streamlit import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
