"""``streamlit run app.py -- FILE [--refresh SECONDS]``: the ragperf panel
for a saved metrics JSON, reloaded when the file changes. Started by
``ragperf dashboard FILE``; see ``ragperf.streamlit.show_metrics_file``.

Example:
    $ streamlit run .../ragperf/_dashboard/app.py -- metrics.json --refresh 2
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import streamlit as st

from ragperf.panel.streamlit import show_metrics_file


def main(argv: Sequence[str]) -> None:
    """Parses the script arguments and draws the panel.

    Example:
        >>> main(["metrics.json", "--refresh", "2"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(prog="ragperf-dashboard-app")
    parser.add_argument("file")
    parser.add_argument("--refresh", type=float, default=2.0)
    args = parser.parse_args(list(argv))
    st.set_page_config(page_title=f"ragperf: {os.path.basename(args.file)}", layout="wide")
    show_metrics_file(args.file, refresh_s=args.refresh or None)


if __name__ == "__main__":
    main(sys.argv[1:])
