"""A ragperf metrics panel for Streamlit apps, and the panel of the
``ragperf dashboard FILE`` command.

``show_metrics(monitor=None)`` renders, wherever it is called in a Streamlit
script: a status badge and headline metrics (health, memory, total
operations, error rate, tokens/s, cost), the per-operation table (count,
p50/p95/p99 ms, tokens/s, errors), charts (latency percentiles per
operation, latency over time, memory over time, p95 per refresh), recent
operations, recent errors, and actions (reset, download JSON, download CSV).
``show_metrics_file(path)`` does the same for a saved metrics JSON and
reloads it when the file changes.

Streamlit is imported only when a panel is drawn: ``import ragperf`` (and
``import ragperf.streamlit``) never import it. Without it the functions
raise ImportError saying ``pip install 'ragperf[streamlit]'``.

Over time: Streamlit reruns the script on every interaction and refresh;
the panel keeps the last ``history_points`` (default 120) readings in
``st.session_state`` (per browser session) for its memory and p95 charts,
and plots the monitor's recent records (``get_recent_operations``, up to 500)
and labelled ``snapshot_memory()`` / sampler readings as they are.

Example:
    >>> import streamlit as st                          # doctest: +SKIP
    >>> from ragperf.panel.streamlit import show_metrics      # doctest: +SKIP
    >>> st.title("My RAG app")                          # doctest: +SKIP
    >>> show_metrics(refresh_s=5)                       # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from . import _panel_data as data
from .dashboard import INSTALL_HINT  # what to install when Streamlit is missing

__all__ = ["show_metrics", "show_metrics_file", "INSTALL_HINT"]


_STATUS_COLOURS = {"healthy": "green", "warning": "orange", "critical": "red"}


def _streamlit() -> Any:
    """The ``streamlit`` module, imported now (never at ``import ragperf``)."""
    try:
        import streamlit
    except ImportError as e:
        raise ImportError(f"ragperf.streamlit needs Streamlit: {INSTALL_HINT}") from e
    return streamlit


def _check_refresh(refresh_s: Any) -> float | None:
    if refresh_s is None:
        return None
    if isinstance(refresh_s, bool) or not isinstance(refresh_s, (int, float)):
        raise TypeError(f"refresh_s must be a number of seconds or None, got {refresh_s!r}")
    if not math.isfinite(refresh_s) or refresh_s < 0:
        raise ValueError(f"refresh_s must be a finite number of seconds >= 0, got {refresh_s!r}")
    return float(refresh_s) if refresh_s > 0 else None


def _check_history(history_points: Any) -> int:
    if isinstance(history_points, bool) or not isinstance(history_points, int) or history_points < 1:
        raise ValueError(f"history_points must be a whole number >= 1, got {history_points!r}")
    return history_points


def _auto_refresh(st: Any, refresh_s: float | None, draw: Callable[[], None]) -> None:
    """Runs ``draw`` once, then again every ``refresh_s`` seconds when
    Streamlit has ``st.fragment(run_every=...)`` (1.37+). Older Streamlit
    draws once and says so: the page then updates on the next interaction
    (or the R key)."""
    if refresh_s is None:
        draw()
        return
    fragment = getattr(st, "fragment", None)
    if fragment is None:
        draw()
        st.caption("Auto-refresh needs Streamlit 1.37 or newer (st.fragment); press R to refresh.")
        return
    fragment(run_every=refresh_s)(draw)()


def show_metrics(
    monitor: Any = None,
    *,
    refresh_s: float | None = None,
    key: str = "ragperf",
    history_points: int = 120,
    title: str | None = "ragperf performance",
) -> None:
    """Draws the ragperf panel at this point of a Streamlit script.

    ``monitor``: a ``PerformanceMonitor`` (None: the process-wide
    ``get_performance_monitor()``) or a report dict (``generate_report()``
    or a loaded metrics JSON; then reset is disabled). ``refresh_s``: redraw
    every so many seconds (None or 0: only when Streamlit reruns). ``key``
    keeps two panels on one page apart (widget keys and history).
    ``history_points``: readings kept for the over-time charts.

    Example:
        >>> import streamlit as st                       # doctest: +SKIP
        >>> from ragperf import get_performance_monitor  # doctest: +SKIP
        >>> from ragperf.panel.streamlit import show_metrics   # doctest: +SKIP
        >>> show_metrics(get_performance_monitor(), refresh_s=2)  # doctest: +SKIP
    """
    refresh = _check_refresh(refresh_s)
    points = _check_history(history_points)
    if monitor is None:
        from ..monitor import get_performance_monitor

        monitor = get_performance_monitor()
    if isinstance(monitor, Mapping):
        report = dict(monitor)

        def read() -> data.PanelSource:
            return data.PanelSource.from_report(report)

    else:
        data.PanelSource.from_monitor(monitor)  # a wrong type fails here, before Streamlit runs
        live = monitor

        def read() -> data.PanelSource:
            return data.PanelSource.from_monitor(live)

    st = _streamlit()
    _auto_refresh(st, refresh, lambda: _draw(st, read(), key=key, history_points=points, title=title))


def show_metrics_file(
    path: str | os.PathLike[str],
    *,
    refresh_s: float | None = 2.0,
    key: str = "ragperf",
    history_points: int = 120,
    title: str | None = None,
) -> None:
    """Draws the panel for a metrics JSON (``export_metrics_json``, a
    ``PeriodicExporter``, ``ragperf demo``) and reloads it when the file
    changes: every run (and every ``refresh_s`` seconds) compares the file's
    modification time and size with the last load. A file that disappears
    or stops being a valid report shows an error above the last good
    numbers. Reset is disabled (the numbers belong to another process).

    Example:
        >>> from ragperf.panel.streamlit import show_metrics_file  # doctest: +SKIP
        >>> show_metrics_file("metrics.json", refresh_s=5)   # doctest: +SKIP
    """
    refresh = _check_refresh(refresh_s)
    points = _check_history(history_points)
    name = os.fspath(path)
    st = _streamlit()
    heading = title if title is not None else f"ragperf: {os.path.basename(name)}"

    def draw() -> None:
        state = st.session_state.setdefault(f"{key}:file", {})
        _reload_if_changed(state, name)
        if state.get("error"):
            st.error(state["error"])
        report = state.get("report")
        if report is None:
            return
        loaded = datetime.fromtimestamp(state["mtime_ns"] / 1e9).strftime("%Y-%m-%d %H:%M:%S")
        _draw(
            st,
            data.PanelSource.from_report(report),
            key=key,
            history_points=points,
            title=heading,
            caption=f"{name} (modified {loaded}; loads {state['loads']})",
        )

    _auto_refresh(st, refresh, draw)


def _reload_if_changed(state: dict[str, Any], name: str) -> None:
    """Loads ``name`` into ``state`` (``report``, ``mtime_ns``, ``size``,
    ``loads``, ``error``) when its mtime or size differs from the last load;
    on failure keeps the last good report and sets ``error``."""
    from ..cli import CliError, load_report  # the CLI's checks and messages

    try:
        info = os.stat(name)
    except OSError as e:
        state["error"] = f"cannot read {name}: {e.strerror or e}"
        return
    version = (info.st_mtime_ns, info.st_size)
    if state.get("version") == version and state.get("report") is not None:
        return
    try:
        report = load_report(name)
        data.PanelSource.from_report(report)
    except CliError as e:
        state["error"] = str(e)
    except (TypeError, ValueError) as e:
        state["error"] = f"{name} is not a ragperf metrics file: {e}"
    else:
        state.update(report=report, error=None, loads=state.get("loads", 0) + 1, mtime_ns=info.st_mtime_ns)
    state["version"] = version


# ------------------------------------------------------------- drawing


def _draw(
    st: Any,
    source: data.PanelSource,
    *,
    key: str,
    history_points: int,
    title: str | None,
    caption: str | None = None,
) -> None:
    history_key = f"{key}:history"
    history = data.add_history_point(st.session_state.get(history_key, []), source.report, history_points)
    st.session_state[history_key] = history
    head = data.headline(source.report)

    if title:
        st.subheader(title)
    colour = _STATUS_COLOURS.get(head.status, "gray")
    st.markdown(
        f"**Status:** :{colour}[**● {head.status}**] &nbsp; "
        f"report {head.timestamp or 'n/a'}" + (f" &nbsp; · &nbsp; {caption}" if caption else "")
    )
    for issue in head.issues:
        st.warning(issue)
    _headline(st, head)
    _actions(st, source, key)

    _table(st, "Operations", data.operation_rows(source.report), "No operations recorded yet.")
    watched = data.watch_rows(source.report)
    if watched:  # only when alerts fire or operations regressed: keeps the layout otherwise
        _table(st, "Alerts and regressions", watched, "")
    _where_time_goes(st, source.report)
    cost = data.monitoring_caption(source.report)
    if cost:
        st.caption(cost)
    _charts(st, source, history)
    _table(st, "Recent operations", data.recent_operation_rows(source.recent_operations)[:100], "No recent operations.")
    if source.recent_operations and not source.live:
        st.caption("From the file's recent traces (tracked blocks only).")
    _table(st, "Recent errors", data.error_rows(source.recent_errors), "No errors.")


def _where_time_goes(st: Any, report: Mapping[str, Any]) -> None:
    """Each root's time split by stage (only when the report has traces
    with nested blocks: keeps the layout otherwise)."""
    rows = data.bottleneck_rows(report)
    if not rows:
        return
    from . import _panel_charts as charts

    st.markdown("#### Where the time goes")
    st.altair_chart(charts.where_time_goes(rows))
    st.caption("Share of each root operation's time by stage (exclusive time from the recent traces; "
               "concurrent stages split the time they share). See docs/insights.md.")


def _table(st: Any, heading: str, rows: list[dict[str, Any]], empty: str) -> None:
    st.markdown(f"#### {heading}")
    if rows:
        st.dataframe(rows, hide_index=True, column_config=_formats(st))
    else:
        st.caption(empty)


def _formats(st: Any) -> dict[str, Any]:
    """Display formats (the cells keep the full values)."""
    number = st.column_config.NumberColumn
    return {
        **{c: number(format="%.3f") for c in ("p50 ms", "p95 ms", "p99 ms", "duration ms")},
        "tokens/s": number(format="%.1f"),
        "error %": number(format="%.2f"),
        "time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss.SSS"),
    }


def _headline(st: Any, head: data.Headline) -> None:
    # Two rows of three: six tiles in one row cut their values ("heal…",
    # "191.…") at the common 1280-1440 px widths.
    columns = [*st.columns(3), *st.columns(3)]
    values = (
        ("Health", head.status),
        ("Memory (RSS)", data.format_mb(head.memory_mb)),
        ("Total operations", f"{head.total_operations:,}"),
        ("Error rate", data.format_percent(head.error_rate)),
        ("Tokens/s", data.format_rate(head.tokens_per_second)),
        ("Cost", data.format_cost(head.cost_usd)),
    )
    for column, (label, value) in zip(columns, values):
        column.metric(label, value)


def _actions(st: Any, source: data.PanelSource, key: str) -> None:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    reset, download_json, download_csv, download_ops = st.columns(4)

    def on_reset() -> None:
        source.monitor.clear_metrics()
        st.session_state.pop(f"{key}:history", None)

    reset.button(
        "Reset metrics",
        key=f"{key}:reset",
        on_click=on_reset,
        disabled=not source.live,
        help="clear_metrics() on the monitor" if source.live else "a saved file cannot be reset",
    )
    downloads = [
        (download_json, "Download JSON", data.report_json_text(source.report), "metrics", "json",
         "the report, as export_metrics_json writes"),
        (download_csv, "Download CSV", data.stats_csv_text(source.report), "stats", "csv",
         "one row per operation, as export_metrics_csv writes"),
    ]
    if source.live:
        from ..export.csv_tables import OPERATION_COLUMNS, _csv_text, operation_rows

        ops_csv = _csv_text(OPERATION_COLUMNS, operation_rows(source.monitor))
        downloads.append((download_ops, "Download operations CSV", ops_csv, "operations", "csv",
                          "the recent operations, as export_operations_csv writes"))
    for column, label, text, name, kind, hint in downloads:
        column.download_button(
            label,
            text,
            file_name=f"ragperf-{name}-{stamp}.{kind}",
            mime="application/json" if kind == "json" else "text/csv",
            key=f"{key}:{name}",
            help=hint,
        )


def _charts(st: Any, source: data.PanelSource, history: list[dict[str, Any]]) -> None:
    from . import _panel_charts as charts

    memory = data.memory_rows(history, source.memory_snapshots, source.resource_history)
    p95 = data.latency_history_rows(history) if len(history) > 1 else []
    sections = (
        ("Latency percentiles per operation", charts.percentiles(data.percentile_rows(source.report)),
         "No operations yet."),
        ("Latency over time",
         charts.over_time(data.latency_points(source.recent_operations), "ms", "operation", line=False, symlog=True),
         "No timed records yet."),
        ("Memory over time", charts.over_time(memory, "rss MB", "source", line=True, symlog=False),
         "No memory readings yet."),
        ("p95 per refresh", charts.over_time(p95, "p95 ms", "operation", line=True, symlog=True),
         "Builds up as the panel refreshes (one point per new report)."),
    )
    columns: Any = None
    for i, (heading, chart, empty) in enumerate(sections):
        if i % 2 == 0:
            columns = st.columns(2)
        with columns[i % 2]:
            st.markdown(f"#### {heading}")
            if chart is None:
                st.caption(empty)
            else:
                st.altair_chart(chart)
