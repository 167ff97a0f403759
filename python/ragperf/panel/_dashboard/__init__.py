"""The Streamlit script behind ``ragperf dashboard FILE`` (``app.py``).

It lives in its own directory because ``streamlit run`` puts the script's
directory on ``sys.path``: next to ``ragperf/streamlit.py`` that file would
shadow the real ``streamlit`` package.

Example:
    >>> from ragperf.panel._dashboard import APP_PATH
    >>> APP_PATH.name
    'app.py'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["APP_PATH"]

#: The script ``ragperf dashboard`` passes to ``streamlit run``.
APP_PATH = Path(__file__).with_name("app.py")
