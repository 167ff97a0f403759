"""The statistics of an operation, each field once.

The table is defined in the C++ core (``cpp/ragperf/stats_fields.h``), which
generates the report's ``operations[<name>]`` entries and the core's stats
dicts from it, and exported read-only as ``_core.STATS_FIELDS``. Every
Python reader goes through this module: :class:`~ragperf.PerformanceStats`
from a core dict (:func:`values_from_core`) or from a report entry
(:func:`values_from_report`), the CSV rows (:data:`STATS_COLUMNS`,
:func:`csv_row`), report-shaped summaries (:func:`report_subset`) and the
duration quantiles of the Prometheus summary (:data:`DURATION_QUANTILES`).

Example:
    >>> f = field("p95_duration")
    >>> f.core_key, f.report_path, f.unit, csv_column(f)
    ('p95_s', 'duration.p95', 's', 'p95_duration_ms')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from .. import _core

__all__ = [
    "StatField",
    "STATS_FIELDS",
    "QUERY_ATTRIBUTES",
    "CSV_ATTRIBUTES",
    "STATS_COLUMNS",
    "DURATION_QUANTILES",
    "field",
    "csv_column",
    "csv_values",
    "csv_row",
    "values_from_core",
    "values_from_report",
    "report_value",
    "report_item",
    "report_subset",
]


class StatField(NamedTuple):
    """One statistic of an operation under every name it goes by.

    ``core_key``: the key of the core's stats dict (the C++ member), None for
    a derived value; ``attribute``: the :class:`~ragperf.PerformanceStats`
    attribute, None when it has none; ``report_path``: dot-separated path in
    the report's ``operations[<name>]`` entry, None when the report has none;
    ``unit``: ``"s"``, ``"count"``, ``"tokens"``, ``"tokens/s"``, ``"1/s"``,
    ``"mb"``, ``"usd"``, ``"ratio"`` or ``"unix_s"``; ``type``: ``"int"``,
    ``"float"``, ``"map"`` or ``"derived"``; ``optional``: the value can be
    unknown (None); ``known_if``: the count field that must be > 0 for the
    value to be known (None when the value itself is null when unknown).

    Example:
        >>> field("time_to_first_token_p95_s").known_if
        'streams'
    """

    core_key: str | None
    attribute: str | None
    report_path: str | None
    unit: str
    type: str
    optional: bool
    known_if: str | None


#: The table, in the order of the report entry (from ``_core.STATS_FIELDS``).
STATS_FIELDS: Final[tuple[StatField, ...]] = tuple(StatField(*row) for row in _core.STATS_FIELDS)

#: PerformanceStats fields that describe the query, not the statistics.
QUERY_ATTRIBUTES: Final = ("operation_type", "window_minutes", "exclude_cold_start")

_BY_ATTRIBUTE: Final = {f.attribute: f for f in STATS_FIELDS if f.attribute is not None}
_BY_CORE_KEY: Final = {f.core_key: f for f in STATS_FIELDS if f.core_key is not None}

#: The statistics of the CSV export (``export_metrics_csv``), in column order.
CSV_ATTRIBUTES: Final = (
    "total_operations",
    "successful_operations",
    "failed_operations",
    "error_rate",
    "min_duration",
    "avg_duration",
    "p50_duration",
    "p90_duration",
    "p95_duration",
    "p99_duration",
    "max_duration",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "tokens_per_second",
    "requests_per_second",
    "cost_usd",
    "cache_hits",
    "cache_misses",
    "streams",
    "time_to_first_token_p50_s",
    "time_to_first_token_p95_s",
    "output_tokens_per_second",
    "latency_good",
    "latency_acceptable",
    "latency_investigate",
    "cancelled_operations",
)


def field(attribute: str) -> StatField:
    """The field of a PerformanceStats attribute; KeyError for another name.

    Example:
        >>> field("total_duration").core_key
        'sum_s'
    """
    return _BY_ATTRIBUTE[attribute]


def csv_column(f: StatField) -> str:
    """The CSV column of a field: seconds become milliseconds
    (``x_duration`` -> ``x_duration_ms``, ``x_s`` -> ``x_ms``); other fields
    keep their attribute name.

    Example:
        >>> csv_column(field("time_to_first_token_p50_s")), csv_column(field("streams"))
        ('time_to_first_token_p50_ms', 'streams')
    """
    name = str(f.attribute)
    if f.unit != "s":
        return name
    return name[:-2] + "_ms" if name.endswith("_s") else name + "_ms"


#: Columns of ``export_metrics_csv``, in order.
STATS_COLUMNS: Final[tuple[str, ...]] = ("operation",) + tuple(csv_column(field(a)) for a in CSV_ATTRIBUTES)


def _quantile(attribute: str) -> float | None:
    m = re.fullmatch(r"p(\d+)_duration", attribute)
    return int(m.group(1)) / 100 if m else None


#: ``(quantile, attribute)`` of the duration percentiles, ascending:
#: ``((0.5, "p50_duration"), (0.9, "p90_duration"), ...)``.
DURATION_QUANTILES: Final[tuple[tuple[float, str], ...]] = tuple(
    sorted((q, a) for a in _BY_ATTRIBUTE if (q := _quantile(a)) is not None)
)


def _as_map(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(value).items()}


_CONVERTERS: Final[dict[str, Callable[[Any], Any]]] = {"int": int, "float": float, "map": _as_map}

#: The stored (not derived) statistics, as ``(field, attribute, core key,
#: converter, optional)``: worked out once, because a report converts a few
#: hundred stats dicts (the per-field lookups were most of its time).
_PLAN: Final[tuple[tuple[StatField, str, str | None, Callable[[Any], Any], bool], ...]] = tuple(
    (f, f.attribute, f.core_key, _CONVERTERS[f.type if f.type in _CONVERTERS else "float"], f.optional)
    for f in STATS_FIELDS
    if f.attribute is not None and f.type != "derived"
)
#: The attributes of the optional stored fields (None when missing).
_OPTIONAL: Final[tuple[str, ...]] = tuple(a for _, a, _, _, optional in _PLAN if optional)
#: ``(attribute, attribute of the count it depends on)`` of the optional
#: fields known only when that count is nonzero (``known_if``).
_KNOWN_IF: Final[tuple[tuple[str, str], ...]] = tuple(
    (f.attribute, _BY_CORE_KEY[f.known_if].attribute or "")
    for f in STATS_FIELDS
    if f.attribute is not None and f.type != "derived" and f.optional and f.known_if is not None
)


def _values(read: Callable[[StatField], Any] | None = None, get: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """PerformanceStats keyword arguments, reading each field with
    ``read(f)`` (or ``get(core key)``); a missing value (None) is left out
    (the PerformanceStats default) unless the field is optional."""
    if get is not None:
        values = {a: convert(v) for _, a, key, convert, _ in _PLAN if (v := get(key)) is not None}
    else:
        assert read is not None
        values = {a: convert(v) for f, a, _, convert, _ in _PLAN if (v := read(f)) is not None}
    for attribute in _OPTIONAL:
        values.setdefault(attribute, None)
    for attribute, count in _KNOWN_IF:  # after the counts they depend on
        if attribute in values and not values.get(count):
            values[attribute] = None
    return values


def values_from_core(d: Mapping[str, Any]) -> dict[str, Any]:
    """The statistics of a core stats dict (``_core`` ``get_stats()``) as
    PerformanceStats keyword arguments.

    Example:
        >>> values_from_core({"total": 2, "p95_s": 0.5})["p95_duration"]
        0.5
    """
    return _values(get=d.get)


def report_value(entry: Mapping[str, Any], path: str) -> Any:
    """The value at a dot-separated ``path`` of a report entry; None where a
    step is missing or not an object.

    Example:
        >>> report_value({"duration": {"p95": 0.2}}, "duration.p95"), report_value({}, "cache.hits")
        (0.2, None)
    """
    value: Any = entry
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def report_item(entry: Mapping[str, Any], attribute: str) -> Any:
    """The value of a statistic in a report entry, at its report path, read
    strictly: KeyError naming the first missing key, TypeError where a step
    is not an object (for readers that refuse a partial entry).

    Example:
        >>> report_item({"duration": {"p95": 0.2}}, "p95_duration")
        0.2
        >>> report_item({"total": 1}, "p95_duration")
        Traceback (most recent call last):
        KeyError: 'duration'
    """
    value: Any = entry
    for step in str(field(attribute).report_path).split("."):
        value = value[step]
    return value


def values_from_report(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The statistics of a report's ``operations[<name>]`` entry as
    PerformanceStats keyword arguments: a missing value is left out (the
    PerformanceStats default), an optional one is None; ValueError/TypeError for a value that is
    not a number.

    Example:
        >>> values_from_report({"total": 3, "duration": {"p95": 0.25}})["p95_duration"]
        0.25
    """
    return _values(lambda f: None if f.report_path is None else report_value(entry, f.report_path))


def csv_values(stats: Any, attributes: tuple[str, ...]) -> dict[str, Any]:
    """The ``attributes`` of a PerformanceStats under their CSV columns
    (:func:`csv_column`): seconds in milliseconds, None where unknown.

    Example:
        >>> from ragperf import PerformanceStats
        >>> csv_values(PerformanceStats("x", p95_duration=0.25, total_tokens=3), ("p95_duration", "total_tokens"))
        {'p95_duration_ms': 250.0, 'total_tokens': 3}
    """
    row: dict[str, Any] = {}
    for attribute in attributes:
        f = field(attribute)
        value = getattr(stats, attribute)
        row[csv_column(f)] = float(value) * 1e3 if f.unit == "s" and value is not None else value
    return row


def csv_row(stats: Any) -> dict[str, Any]:
    """The :data:`STATS_COLUMNS` row of a PerformanceStats: seconds in
    milliseconds, None where a value is unknown.

    Example:
        >>> from ragperf import PerformanceStats
        >>> csv_row(PerformanceStats("x", p95_duration=0.25))["p95_duration_ms"]
        250.0
    """
    return {"operation": stats.operation_type, **csv_values(stats, CSV_ATTRIBUTES)}


def report_subset(stats: Any, attributes: tuple[str, ...]) -> dict[str, Any]:
    """The ``attributes`` of a PerformanceStats nested as in a report entry.

    Example:
        >>> from ragperf import PerformanceStats
        >>> report_subset(PerformanceStats("x", total_operations=2, p95_duration=0.5),
        ...               ("total_operations", "p95_duration"))
        {'total': 2, 'duration': {'p95': 0.5}}
    """
    out: dict[str, Any] = {}
    for attribute in attributes:
        *parents, key = str(field(attribute).report_path).split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[key] = getattr(stats, attribute)
    return out
