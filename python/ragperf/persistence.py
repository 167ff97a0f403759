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
import json
import os
from collections.abc import Mapping
from typing import Any

from . import _core

__all__ = [
    "STATE_SCHEMA_VERSION",
    "SchemaVersionError",
    "StateError",
    "check_schema_version",
    "read_state",
    "merge_state",
]

#: The newest export schema this version reads and writes: the top-level
#: ``schema_version`` of an export and its ``state.schema_version``. Defined
#: once, in the C++ core (``kStateSchemaVersion``).
STATE_SCHEMA_VERSION: int = _core.STATE_SCHEMA_VERSION


class StateError(ValueError):
    """A snapshot that cannot be merged; the message names the file."""


class SchemaVersionError(StateError):
    """A saved export written with a newer schema than this ragperf reads.

    Raised by every loader (``PerformanceMonitor.load``, ``merge_from``,
    ``merge_snapshots``, ``compare_reports``, ``ragperf report`` and
    ``ragperf compare``) through :func:`check_schema_version`. ``source``
    names the file, ``found`` is the file's version and ``supported`` the
    newest this ragperf reads.

    Example:
        >>> e = SchemaVersionError("m.json", 2, 1)
        >>> str(e)  # doctest: +ELLIPSIS
        'm.json: schema_version 2 is newer than this ragperf (...) reads (1); upgrade ragperf'
    """

    def __init__(self, source: str, found: int, supported: int, *, where: str = "") -> None:
        self.source = source
        self.found = found
        self.supported = supported
        self.where = where
        super().__init__(
            f"{source}: {where}schema_version {found} is newer than this ragperf "
            f"({_core.__version__}) reads ({supported}); upgrade ragperf"
        )


def check_schema_version(data: Mapping[str, Any], name: str, *, required: bool = False) -> None:
    """Refuses an export (a parsed JSON object) whose top-level
    ``schema_version`` is newer than :data:`STATE_SCHEMA_VERSION`, with a
    :class:`SchemaVersionError` naming ``name`` (the file) and both versions;
    a version that is not a positive int raises :class:`StateError`. A
    missing one passes unless ``required``: reports of the seed schema and
    ``generate_report()`` dicts carry none.

    Example:
        >>> check_schema_version({"schema_version": 1, "operations": {}}, "m.json")
        >>> check_schema_version({"schema_version": 9}, "m.json")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ragperf.persistence.SchemaVersionError: m.json: schema_version 9 is newer than ...
    """
    _check_version(data, name, "", required)


def _check_version(data: Mapping[str, Any], name: str, where: str, required: bool) -> None:
    if "schema_version" not in data:
        if required:
            raise StateError(f"{name}: {where}has no integer schema_version")
        return
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateError(f"{name}: {where}schema_version must be an integer, got {version!r}")
    if version > STATE_SCHEMA_VERSION:
        raise SchemaVersionError(name, version, STATE_SCHEMA_VERSION, where=where)
    if version < 1:
        raise StateError(f"{name}: invalid {where}schema_version {version}")


def _load(source: Any) -> tuple[Mapping[str, Any], str]:
    if isinstance(source, Mapping):
        return source, "<report dict>"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path or a report dict, got {source!r}")
    path = os.fspath(source)
    with open(path, "rb") as f:  # OSError names the path
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateError(f"{path}: not UTF-8 text ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"{path}: not valid JSON ({exc})") from exc
    except RecursionError as exc:  # hostile nesting, e.g. 100,000 '['
        raise StateError(f"{path}: JSON nested too deeply") from exc
    if not isinstance(data, Mapping):
        raise StateError(f"{path}: not a ragperf export (a JSON object was expected)")
    return data, path


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
