"""Persistence and resume: the ``state`` section of a JSON export, and
merging it back into a monitor.

``export_metrics_json()`` writes ``"schema_version": 1`` and a ``state`` with
every operation's counters and serialized quantile sketches (base64), per-model
totals and cache counts. ``PerformanceMonitor.load(path)`` rebuilds a monitor
from it; ``monitor.merge_from(path)`` adds it to a running one: counts and sums
add, sketches merge bin by bin, so percentiles of the merged monitor keep the
sketch's error bound. Time windows, recent operations, traces and errors are
not part of a state (they describe the moment, not the totals). Prices and
latency targets are configuration, not state.

Example:
    >>> monitor.export_metrics_json("metrics.json")        # doctest: +SKIP
    >>> restarted = PerformanceMonitor.load("metrics.json")  # doctest: +SKIP
    >>> restarted.get_operation_stats("llm_inference").total_operations  # doctest: +SKIP
    25
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from typing import Any

from ..model.report_file import (
    STATE_SCHEMA_VERSION,
    SchemaVersionError,
    StateError,
    check_schema_version,
    load_report,
)
from ..model.report_file import check_version as _check_version

__all__ = [
    "STATE_SCHEMA_VERSION",
    "SchemaVersionError",
    "StateError",
    "check_schema_version",
    "read_state",
    "merge_state",
]

def _load(source: Any) -> tuple[Mapping[str, Any], str]:
    if isinstance(source, Mapping):
        return source, "<report dict>"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or a report dict, got {source!r}")
    path = os.fspath(source)
    return load_report(path), path  # OSError names the path; ReportFileError is a StateError


def read_state(source: Any) -> tuple[Mapping[str, Any], str]:
    """The validated ``state`` section of an export (path or dict) and a name
    for messages. Raises :class:`StateError` for a missing state, a newer
    schema (:class:`SchemaVersionError`, top-level or ``state``
    ``schema_version``) or a malformed section, naming the file.

    Example:
        >>> state, name = read_state("metrics.json")  # doctest: +SKIP
    """
    data, name = _load(source)
    check_schema_version(data, name)
    state = data.get("state")
    if state is None:
        raise StateError(
            f"{name}: has no 'state' section (written by an older ragperf, or not a "
            "ragperf export); it cannot be merged"
        )
    if not isinstance(state, Mapping):
        raise StateError(f"{name}: 'state' must be an object")
    _check_version(state, name, "state ", required=True)
    for key in ("operations", "models", "caches"):
        if not isinstance(state.get(key), Mapping):
            raise StateError(f"{name}: state.{key} must be an object")
    return state, name


def _sketch(blob: Any, name: str, op: str, key: str) -> bytes:
    if not isinstance(blob, str):
        raise StateError(f"{name}: operation {op!r}: {key} must be base64 text")
    try:
        return base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise StateError(f"{name}: operation {op!r}: {key} is not valid base64") from exc


def merge_state(core: Any, source: Any) -> None:
    """Adds the state of ``source`` (an export path or report dict) into the
    C++ monitor ``core`` (``PerformanceMonitor._core``). Nothing changes when
    anything in the snapshot is invalid.

    Example:
        >>> merge_state(monitor._core, "metrics.json")  # doctest: +SKIP
    """
    state, name = read_state(source)
    operations = []
    for op, fields in state["operations"].items():
        if not isinstance(fields, Mapping):
            raise StateError(f"{name}: operation {op!r} must be an object")
        if not 1 <= len(op) <= 200:  # what track_operation accepts
            raise StateError(f"{name}: operation name must be 1 to 200 characters, got {op[:40]!r}")
        operations.append(
            (
                op,
                dict(fields),
                _sketch(fields.get("sketch"), name, op, "sketch"),
                _sketch(fields.get("ttft_sketch"), name, op, "ttft_sketch"),
                _sketch(fields.get("itl_sketch"), name, op, "itl_sketch"),
            )
        )
    models = []
    for model, totals in state["models"].items():
        if not isinstance(totals, Mapping):
            raise StateError(f"{name}: model {model!r} must be an object")
        models.append((model, dict(totals)))
    caches = []
    for cache, counts in state["caches"].items():
        if not isinstance(counts, Mapping):
            raise StateError(f"{name}: cache {cache!r} must be an object")
        hits, misses = counts.get("hits"), counts.get("misses")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (hits, misses)):
            raise StateError(f"{name}: cache {cache!r} needs non-negative int hits and misses")
        caches.append((cache, hits, misses))
    try:
        core.merge_state(operations, models, caches)
    except (ValueError, TypeError) as exc:
        raise StateError(f"{name}: {exc}") from exc
