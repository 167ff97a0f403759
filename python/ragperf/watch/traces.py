"""Recent traces and recent operations as plain dicts.

A block opened inside another becomes its child (``parent_id``, ``depth``,
``trace_id``); the parent is found through :mod:`contextvars`, so concurrent
asyncio tasks and threads never mix their trees. The monitor keeps the last
100 finished root blocks, each with up to 1000 finished descendants
(``dropped_spans`` counts the rest): bounded memory.

Example:
    >>> m = PerformanceMonitor(enable_memory_tracking=False)       # doctest: +SKIP
    >>> with m.track_operation("query_processing"):                # doctest: +SKIP
    ...     with m.track_operation("document_retrieval"):
    ...         pass
    >>> tree = m.get_recent_traces(1)[0]                           # doctest: +SKIP
    >>> tree["operation"], tree["children"][0]["operation"]        # doctest: +SKIP
    ('query_processing', 'document_retrieval')
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

__all__ = ["trace_tree", "operation_dict", "error_dict"]


def _json_value(value: Any) -> Any:
    """``value`` if JSON can hold it as is, else its str() (None for NaN/inf)."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break reports
        return f"<{type(value).__name__}>"


def _node(op: Any) -> dict[str, Any]:
    duration = op.duration_s
    # A cancelled block (asyncio.CancelledError, KeyboardInterrupt, an
    # abandoned generator's GeneratorExit) is neither a success nor a failure.
    cancelled = op.cancelled is True
    return {
        "operation": op.operation,
        "span_id": op.span_id,
        "parent_id": op.parent_id,
        "trace_id": op.trace_id,
        "depth": op.depth,
        "start_time_s": op.start_time_s,
        "duration_s": duration,
        "duration_ms": None if duration is None else duration * 1e3,
        "share_of_parent": None,
        "status": "cancelled" if cancelled else ("ok" if op.success else "error"),
        "success": None if cancelled else op.success,
        "cancelled": cancelled,
        "cancelled_by": op.error_type if cancelled else None,
        "error_type": None if cancelled else op.error_type,
        "tokens": op.tokens,
        "model": op.model,
        "response_model": op.response_model,
        "metadata": {str(k): _json_value(v) for k, v in op.metadata.items()},
        "children": [],
    }


def trace_tree(root: Any) -> dict[str, Any]:
    """The tree of a finished root block (an OperationTracker): nested dicts
    with ``operation``, ids, ``duration_s``/``duration_ms``,
    ``share_of_parent`` (this node's duration / its parent's, None for the
    root), ``status`` (``"ok"``, ``"error"`` or ``"cancelled"``),
    ``success`` (None for a cancelled block: neither a success nor a
    failure), ``cancelled`` and ``cancelled_by`` (the cancellation's type,
    e.g. ``"GeneratorExit"``; ``error_type`` stays None then), ``model``
    (requested) and ``response_model``, ``children`` sorted by start time,
    and on the root ``span_count`` and ``dropped_spans``.

    Example:
        >>> trace_tree(monitor.get_recent_roots()[-1])["children"]  # doctest: +SKIP
    """
    tree = _node(root)
    nodes = {root.span_id: tree}
    spans = sorted(root._spans, key=lambda s: (s.depth, s.start_time_s or 0.0))
    orphans = 0
    for span in spans:
        node = _node(span)
        nodes[span.span_id] = node
        parent = nodes.get(span.parent_id)
        if parent is None:  # its parent was dropped (tree size cap)
            orphans += 1
            parent = tree
        parent["children"].append(node)
        parent_duration = parent["duration_s"]
        if parent_duration and node["duration_s"] is not None:
            node["share_of_parent"] = node["duration_s"] / parent_duration
    for node in nodes.values():
        node["children"].sort(key=lambda n: n["start_time_s"] or 0.0)
    tree["span_count"] = 1 + len(spans)
    tree["dropped_spans"] = root.dropped_spans
    return tree


def operation_dict(operation: str, rec: Mapping[str, Any]) -> dict[str, Any]:
    """One recent record from the C++ ring as a dict with every detail:
    ``operation``, ``timestamp_s``, ``duration_s``/``duration_ms``,
    ``tokens``, ``prompt_tokens``, ``completion_tokens``,
    ``tokens_per_second``, ``model`` (requested), ``response_model`` (the
    one the response named), ``cost_usd``, ``metadata``,
    ``success``, ``error_type``, ``error_message``,
    ``time_to_first_token_s``, ``cache_hit``, ``cold_start``,
    ``memory_delta_mb``, ``span_id``/``parent_id``/``trace_id``/``depth``.

    Example:
        >>> operation_dict("x", core.get_recent("x", 1)[0])["duration_ms"]  # doctest: +SKIP
    """
    d = _decoded(rec)
    d["operation"] = operation
    duration = d["duration_s"]
    d["tokens_per_second"] = d["tokens"] / duration if duration > 0 else 0.0
    return d


def error_dict(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of the C++ error log as a dict: ``operation``,
    ``error_type``, ``message``, ``timestamp_s``, ``duration_s``/``_ms``,
    ``model``, ``metadata``, ``span_id``, ``trace_id``.

    Example:
        >>> error_dict(core.recent_errors(1)[0])["error_type"]  # doctest: +SKIP
        'TimeoutError'
    """
    return _decoded(entry)


def _decoded(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A C++ record with its metadata JSON parsed, ``duration_ms`` added and
    span ids of 0 (none) as None."""
    d = dict(rec)
    raw = d.pop("metadata_json", "")
    d["metadata"] = json.loads(raw) if raw else {}
    d["duration_s"] = float(d["duration_s"])
    d["duration_ms"] = d["duration_s"] * 1e3
    for key in ("span_id", "parent_id", "trace_id"):
        if d.get(key) == 0:
            d[key] = None
    return d
