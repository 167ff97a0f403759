"""The panel's Altair charts (Altair and pandas come with Streamlit; they
are imported only when a chart is built).

Example:
    >>> from ragperf.panel import _panel_charts, _panel_data              # doctest: +SKIP
    >>> _panel_charts.percentiles(_panel_data.percentile_rows(report))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

__all__ = ["percentiles", "over_time", "where_time_goes"]

_ORDER = ["p50", "p95", "p99"]


def _frame(rows: Sequence[dict[str, Any]]) -> Any:
    pandas: Any = importlib.import_module("pandas")  # no type stubs
    return pandas.DataFrame(list(rows))


def percentiles(rows: Sequence[dict[str, Any]]) -> Any:
    """Grouped bars of p50/p95/p99 (ms) per operation from
    ``_panel_data.percentile_rows``; None when there are no rows.

    Example:
        >>> percentiles([])  is None
        True
    """
    if not rows:
        return None
    import altair as alt

    return (
        alt.Chart(_frame(rows))
        .mark_bar()
        .encode(
            x=alt.X("operation:N", title=None),
            xOffset=alt.XOffset("percentile:N", sort=_ORDER),
            y=alt.Y("ms:Q", title="ms"),
            color=alt.Color("percentile:N", sort=_ORDER),
            tooltip=["operation", "percentile", alt.Tooltip("ms:Q", format=",.3f")],
        )
    )


def over_time(
    rows: Sequence[dict[str, Any]], value: str, series: str, *, line: bool, symlog: bool
) -> Any:
    """``value`` against ``time``, one colour per ``series``: lines with
    points (``line=True``) or points only; a symlog y scale (durations
    spanning microseconds to seconds) or a linear one not forced to zero.
    None when there are no rows.

    Example:
        >>> over_time([], "ms", "operation", line=False, symlog=True) is None
        True
    """
    if not rows:
        return None
    import altair as alt

    chart = alt.Chart(_frame(rows))
    marked = chart.mark_line(point=True) if line else chart.mark_circle(size=36)
    scale = alt.Scale(type="symlog") if symlog else alt.Scale(zero=False)
    return marked.encode(
        x=alt.X("time:T", title=None),
        y=alt.Y(f"{value}:Q", title=f"{value} (symlog)" if symlog else value, scale=scale),
        color=f"{series}:N",
        tooltip=["time:T", series, alt.Tooltip(f"{value}:Q", format=",.3f")],
    )


def where_time_goes(rows: Sequence[dict[str, Any]]) -> Any:
    """One horizontal bar per root operation, stacked by stage: each
    stage's share (%) of the root's time by exclusive time, from
    ``_panel_data.bottleneck_rows``; None when there are no rows.

    Example:
        >>> where_time_goes([]) is None
        True
    """
    if not rows:
        return None
    import altair as alt

    return (
        alt.Chart(_frame(rows))
        .mark_bar()
        .encode(
            y=alt.Y("root:N", title=None),
            x=alt.X("share %:Q", title="share of the root's time (%)", scale=alt.Scale(domain=[0, 100])),
            color=alt.Color("stage:N", title="stage"),
            order=alt.Order("share %:Q", sort="descending"),
            tooltip=[
                "root",
                "stage",
                alt.Tooltip("share %:Q", format=".1f"),
                alt.Tooltip("ms per root:Q", format=",.2f"),
                alt.Tooltip("calls:Q", format=".1f"),
            ],
        )
    )
