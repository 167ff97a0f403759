"""The one loader of metrics JSON files (``export_metrics_json``, periodic
and multi-process snapshots) and its errors.

Every reader of a report file — ``ragperf report`` / ``compare`` /
``dashboard`` (``ragperf.cli.load_report``), :func:`ragperf.model.compare.compare_reports`,
``PerformanceMonitor.load`` / ``merge_from`` / ``set_regression_baseline``
(``ragperf.persistence``) and ``merge_snapshots`` — reads it with
:func:`load_report`. A file that cannot be opened raises the ``OSError``
naming it (e.g. ``FileNotFoundError``); content that is not a ragperf report
raises :class:`ReportFileError`, a ``ValueError`` naming the file; a file of a
newer schema raises :class:`SchemaVersionError`.

Errors, most general first: :class:`StateError` (``ValueError``; an export
that cannot be read or merged) > :class:`ReportFileError` (the file's content
is not a ragperf report) and :class:`SchemaVersionError` (written by a newer
ragperf).

Example:
    >>> report = load_report("metrics.json")  # doctest: +SKIP
    >>> sorted(report["operations"])          # doctest: +SKIP
    ['embedding_generation', 'llm_inference']
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from .. import _core

__all__ = [
    "STATE_SCHEMA_VERSION",
    "StateError",
    "SchemaVersionError",
    "ReportFileError",
    "check_schema_version",
    "check_report",
    "load_report",
]

#: The newest export schema this version reads and writes: the top-level
#: ``schema_version`` of an export and its ``state.schema_version``. Defined
#: once, in the C++ core (``kStateSchemaVersion``).
STATE_SCHEMA_VERSION: int = _core.STATE_SCHEMA_VERSION


class StateError(ValueError):
    """An export that cannot be read or merged; the message names the file.

    Example:
        >>> str(StateError("m.json: no state section"))
        'm.json: no state section'
    """


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


class ReportFileError(StateError):
    """A report file (or dict) whose content is not a ragperf metrics report:
    not JSON, not a JSON object, a malformed ``schema_version``, missing keys.
    A ``ValueError``. ``source`` names the file (or ``"before"`` /
    ``"after"`` for a dict given to ``compare_reports``), ``detail`` says what
    is wrong and ``invalid_json`` whether the text was not JSON at all.

    Example:
        >>> str(ReportFileError("a.json", "operation 'x' lacks key 'total'"))
        "a.json is not a ragperf metrics file: operation 'x' lacks key 'total'"
        >>> str(ReportFileError("a.json", "(line 1, column 2: Expecting value)", invalid_json=True))
        'a.json is not valid JSON (line 1, column 2: Expecting value)'
    """

    def __init__(self, source: str, detail: str, *, invalid_json: bool = False) -> None:
        self.source = source
        self.detail = detail
        self.invalid_json = invalid_json
        what = "is not valid JSON" if invalid_json else "is not a ragperf metrics file"
        sep = " " if detail.startswith("(") else ": "
        super().__init__(f"{source} {what}{sep}{detail}")


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
        ragperf.model.report_file.SchemaVersionError: m.json: schema_version 9 is newer than ...
    """
    check_version(data, name, "", required)


def check_version(data: Mapping[str, Any], name: str, where: str, required: bool) -> None:
    """:func:`check_schema_version` of a section: ``where`` (e.g. ``"state "``)
    prefixes ``schema_version`` in the messages.

    Example:
        >>> check_version({"schema_version": 1}, "m.json", "state ", True)
    """
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


def check_report(data: Any, name: str, required: Sequence[str] = ()) -> dict[str, Any]:
    """Checks a parsed report: a JSON object, a ``schema_version`` this
    ragperf reads (checked first: a newer file may have another shape), the
    ``required`` top-level keys, an ``operations`` object where there is one.
    Returns it; raises :class:`ReportFileError` or :class:`SchemaVersionError`
    naming ``name``.

    Example:
        >>> check_report({"operations": {}}, "m.json", ("operations", "total_operations"))
        Traceback (most recent call last):
        ragperf.model.report_file.ReportFileError: m.json is not a ragperf metrics file: missing key(s) 'total_operations'
    """
    if not isinstance(data, Mapping):
        raise ReportFileError(name, f"expected a JSON object, got {type(data).__name__}")
    try:
        check_schema_version(data, name)
    except SchemaVersionError:
        raise
    except StateError as e:  # a malformed version: not a ragperf report
        raise ReportFileError(name, str(e).removeprefix(f"{name}: ")) from None
    missing = [key for key in required if key not in data]
    if missing:
        raise ReportFileError(name, f"missing key(s) {', '.join(map(repr, missing))}")
    if "operations" in data and not isinstance(data["operations"], Mapping):
        raise ReportFileError(name, "'operations' is not an object")
    return dict(data)


def load_report(path: str | os.PathLike[str], required: Sequence[str] = ()) -> dict[str, Any]:
    """Reads a metrics JSON file (``export_metrics_json``, a periodic or
    multi-process snapshot) and checks it with :func:`check_report`.

    Raises the ``OSError`` of ``open`` (``FileNotFoundError``,
    ``IsADirectoryError``, ``PermissionError``; it names the file),
    :class:`ReportFileError` (a ``ValueError``) naming the file for an empty
    file, text that is not JSON (with line and column, and a hint when the
    file ends early), anything but a JSON object or a missing ``required``
    key, and :class:`SchemaVersionError` for a newer schema.

    Example:
        >>> load_report("metrics.json", required=("operations",))["total_operations"]  # doctest: +SKIP
        100
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        raw = f.read()
    if not raw.strip():
        raise ReportFileError(name, "the file is empty", invalid_json=True)
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        text = e.doc.rstrip()
        # Ends early: the error is at the end, or on the last line of a text
        # that does not close its object (a file cut inside a number, "1.3e-").
        ends_early = (
            e.pos >= len(text)
            or e.msg.startswith("Unterminated")
            or ("\n" not in text[e.pos:] and not text.endswith(("}", "]")))
        )
        hint = "; the file ends early (truncated?)" if ends_early else ""
        detail = f"(line {e.lineno}, column {e.colno}: {e.msg}){hint}"
        raise ReportFileError(name, detail, invalid_json=True) from None
    except (UnicodeDecodeError, RecursionError) as e:  # binary; hostile nesting
        raise ReportFileError(name, f"({type(e).__name__})", invalid_json=True) from None
    return check_report(data, name, required)
