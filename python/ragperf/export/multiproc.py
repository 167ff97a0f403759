"""Multi-process mode: every worker process writes its own snapshot to a
shared directory; :func:`merge_snapshots` (and the Prometheus collector in
multi-process mode) merges them exactly.

Prefork servers (gunicorn, uWSGI), ``multiprocessing`` pools and Celery
workers record in several processes, each with its own monitor. With
``RAGPERF_MULTIPROC_DIR`` set (the default monitor then enables this mode on
first use) or after :func:`enable_multiprocess`, each process writes its
monitor's JSON snapshot (statistics plus serialized sketches and counters)
to ``<dir>/ragperf-<hostname>-<pid>.json``: every ``interval_s`` seconds, on
``exporter.stop()`` and at exit (``atexit`` and ``multiprocessing``'s exit
hook), atomically (a reader sees the previous file or the new one).

:func:`merge_snapshots` builds a new monitor holding all of them: counts,
tokens, errors and costs add, and the duration sketches merge bin by bin, so
the merged p50/p95/p99 of all processes together keep the sketch's relative
error bound (0.5 % by default) -- unlike averaging per-process percentiles.

Fork: after ``os.fork()`` (and ``multiprocessing``'s ``fork`` start method) a
child of a process in multi-process mode starts with **empty statistics** and
its own exporter writing its own pid file; the parent's records stay in the
parent's file, so nothing is counted twice. ``os._exit()`` skips every exit
hook: a process that leaves with it must call
``get_multiprocess_exporter(monitor).stop()`` first (records since the last
periodic write are lost otherwise).

Stale snapshots (policy): the file of a process that has exited is **kept
and merged** by default. Its requests happened; dropping them would make the
merged counters go backwards (Prometheus would see a counter reset), which is
also what ``prometheus_client``'s multi-process mode does. Options:

- ``merge_snapshots(dir, include_dead=False)`` skips the files of dead
  processes of this host (``os.kill(pid, 0)``; files of other hosts cannot be
  checked and are kept);
- ``merge_snapshots(dir, max_age_s=...)`` skips files not written for that
  long (use more than ``interval_s``: a live process rewrites its file every
  ``interval_s`` seconds);
- :func:`cleanup_dead_snapshots` deletes the files of dead processes of this
  host; call it when the service (re)starts, before its workers do, as with
  ``prometheus_client``'s directory wipe. A recycled pid makes a dead
  process's file look alive (it is then kept, which is the default anyway).

Example:
    >>> import ragperf
    >>> from ragperf.export.multiproc import enable_multiprocess, merge_snapshots
    >>> exporter = enable_multiprocess("/run/ragperf")   # each worker  # doctest: +SKIP
    >>> merged = merge_snapshots("/run/ragperf")         # anywhere      # doctest: +SKIP
    >>> merged.get_operation_stats("llm_inference").p95_duration       # doctest: +SKIP
    1.84
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from typing import Any, Final

from . import _multiproc_writer as _writer
from ._multiproc_writer import (  # the writing side, re-exported under its public names
    DEFAULT_INTERVAL_S as DEFAULT_INTERVAL_S,
    ENV_DIR as ENV_DIR,
    ENV_INTERVAL as ENV_INTERVAL,
    _directory,
    _hostname as _hostname,
    _states as _states,
    _write_local_snapshots as _write_local_snapshots,
    maybe_enable_from_env as maybe_enable_from_env,
    snapshot_path as snapshot_path,
)
from .._validate import check_real
from .exporting import PeriodicExporter
from ..monitor import PerformanceMonitor, get_performance_monitor
from ..model.report_file import ReportFileError, SchemaVersionError, load_report

__all__ = [
    "ENV_DIR",
    "ENV_INTERVAL",
    "SnapshotFile",
    "cleanup_dead_snapshots",
    "disable_multiprocess",
    "enable_multiprocess",
    "get_multiprocess_exporter",
    "list_snapshots",
    "maybe_enable_from_env",
    "merge_snapshots",
    "snapshot_path",
]

_log = logging.getLogger("ragperf")

_SNAPSHOT_RE: Final = re.compile(r"^ragperf-(?P<host>.+)-(?P<pid>[0-9]+)\.json$")
_TEMP_RE: Final = re.compile(r"^(?P<target>ragperf-.+-[0-9]+\.json)\.tmp\..+$")
_ON_ERROR: Final = ("raise", "skip")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:  # os.kill(0, ...) would address the process group
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except OSError:
        return True
    return True


@dataclasses.dataclass(frozen=True)
class SnapshotFile:
    """One snapshot file of a multi-process directory (see :func:`list_snapshots`).

    ``hostname`` and ``pid`` are parsed from the name (None for a
    ``ragperf-*.json`` file not named by this module); ``alive`` is None when
    it cannot be checked (another host, or no pid in the name).

    Example:
        >>> [s.pid for s in list_snapshots("/run/ragperf")]  # doctest: +SKIP
        [1201, 1202]
    """

    path: str
    hostname: str | None
    pid: int | None
    mtime: float
    alive: bool | None


def list_snapshots(directory: Any) -> list[SnapshotFile]:
    """The ``ragperf-*.json`` snapshots in ``directory``, sorted by name
    (temporary files of writes in progress are not listed; files that vanish
    while listing are left out). Raises FileNotFoundError / NotADirectoryError
    naming a missing directory.

    Example:
        >>> [(s.pid, s.alive) for s in list_snapshots("/run/ragperf")]  # doctest: +SKIP
        [(1201, True), (1187, False)]
    """
    root = _directory(directory)
    host = _hostname()
    out: list[SnapshotFile] = []
    for name in sorted(os.listdir(root)):
        if not (name.startswith("ragperf-") and name.endswith(".json")):
            continue
        path = os.path.join(root, name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        if not os.path.isfile(path):
            continue
        match = _SNAPSHOT_RE.match(name)
        file_host = match.group("host") if match else None
        pid = int(match.group("pid")) if match else None
        alive = _pid_alive(pid) if (pid is not None and file_host == host) else None
        out.append(SnapshotFile(path, file_host, pid, st.st_mtime, alive))
    return out


# ------------------------------------------------------------ writing side
# (ragperf._multiproc_writer does the writing; these add the default monitor)


def enable_multiprocess(
    directory: Any = None,
    *,
    monitor: PerformanceMonitor | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> PeriodicExporter:
    """Makes this process write ``monitor``'s snapshot to
    ``<directory>/ragperf-<hostname>-<pid>.json`` every ``interval_s``
    seconds, on ``exporter.stop()`` and at exit; returns the running
    :class:`~ragperf.export.exporting.PeriodicExporter`.

    Args:
        directory: the shared snapshot directory (created if missing);
            default the ``RAGPERF_MULTIPROC_DIR`` environment variable.
        monitor: default ``ragperf.get_performance_monitor()``.
        interval_s: seconds between writes (0.05 to 86400).

    After ``os.fork()`` the child's copy of ``monitor`` is cleared and writes
    its own pid file (a forked child starts with empty statistics; the
    parent's records stay in the parent's file). Calling it again for the
    same monitor and directory returns the running exporter.

    Raises:
        ValueError: no directory and ``RAGPERF_MULTIPROC_DIR`` unset or
            empty; the monitor already writes to another directory, or another
            monitor of this process already writes to this one; an
            interval outside 0.05..86400 s (NaN and infinities included).
        TypeError: a directory that is not a path, a non-numeric interval.
        OSError: the directory cannot be created (naming it).

    Example:
        >>> exporter = enable_multiprocess("/run/ragperf", interval_s=5)  # doctest: +SKIP
        >>> exporter.path                                                  # doctest: +SKIP
        '/run/ragperf/ragperf-web-1-1234.json'
    """
    if directory is None:
        directory = os.environ.get(ENV_DIR) or None
        if directory is None:
            raise ValueError(f"enable_multiprocess needs a directory or the {ENV_DIR} environment variable")
    return _writer.enable(get_performance_monitor() if monitor is None else monitor, directory, interval_s)


def get_multiprocess_exporter(monitor: PerformanceMonitor | None = None) -> PeriodicExporter | None:
    """This process's snapshot exporter of ``monitor`` (default the
    process-wide one), None when multi-process mode is off for it. In a forked
    child it is the child's own exporter (call its ``stop()`` before
    ``os._exit()``).

    Example:
        >>> get_multiprocess_exporter().stop()  # then os._exit(0)  # doctest: +SKIP
    """
    return _writer.exporter_of(get_performance_monitor() if monitor is None else monitor)


def disable_multiprocess(
    monitor: PerformanceMonitor | None = None, *, flush: bool = True, remove_file: bool = False
) -> None:
    """Stops writing ``monitor``'s snapshots (a final write when ``flush``)
    and forgets the mode for it (forked children are then no longer
    cleared). ``remove_file`` deletes this process's snapshot (its records
    then leave the merged totals). No-op when the mode is off.

    Example:
        >>> disable_multiprocess()  # doctest: +SKIP
    """
    _writer.disable(get_performance_monitor() if monitor is None else monitor, flush=flush, remove_file=remove_file)


# ------------------------------------------------------------- reading side


def merge_snapshots(
    directory: Any,
    *,
    max_age_s: float | None = None,
    include_dead: bool = True,
    on_error: str = "raise",
) -> PerformanceMonitor:
    """A new :class:`~ragperf.PerformanceMonitor` holding every
    ``ragperf-*.json`` snapshot of ``directory`` merged exactly
    (``monitor.merge_from``: counts add, sketches merge, so its percentiles
    over all processes keep the sketch's error bound).

    Args:
        directory: the multi-process directory.
        max_age_s: skip snapshots whose file was last written more than this
            many seconds ago (None: no limit).
        include_dead: False skips snapshots of processes of this host that
            are no longer running (default True: their records are kept, see
            the module's stale-snapshot policy).
        on_error: ``"raise"`` (default): a corrupt snapshot raises
            ValueError naming the file, one written with a newer schema
            :class:`~ragperf.export.persistence.SchemaVersionError` (a ValueError)
            naming the file and both versions; ``"skip"``: it is logged
            (logger ``ragperf``, WARNING) and left out.

    Files that disappear between listing and reading are skipped.

    Raises:
        FileNotFoundError: the directory does not exist.
        ValueError: a corrupt or newer-schema snapshot (with
            ``on_error="raise"``), a bad
            ``on_error`` or a negative ``max_age_s``.

    Example:
        >>> merged = merge_snapshots("/run/ragperf", include_dead=False)  # doctest: +SKIP
        >>> merged.get_operation_stats("llm_inference").total_operations  # doctest: +SKIP
        4096
    """
    if on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if max_age_s is not None:
        if not check_real(max_age_s, "max_age_s", "a number of seconds or None") >= 0:
            raise ValueError(f"max_age_s must be >= 0, got {max_age_s!r}")
    merged = PerformanceMonitor()
    now = time.time()
    for snap in list_snapshots(directory):
        if max_age_s is not None and now - snap.mtime > float(max_age_s):
            continue
        if not include_dead and snap.alive is False:
            continue
        error: ValueError
        cause: Exception
        try:
            merged.merge_from(load_report(snap.path))
            continue
        except FileNotFoundError:  # removed between listing and reading
            continue
        except SchemaVersionError as exc:  # written by a newer ragperf: not corrupt
            error, cause = SchemaVersionError(snap.path, exc.found, exc.supported, where=exc.where), exc
        except ReportFileError as exc:
            error, cause = ValueError(f"corrupt ragperf snapshot {exc}"), exc
        except (ValueError, TypeError, KeyError) as exc:
            detail = str(exc).removeprefix("<report dict>: ")
            error, cause = ValueError(f"corrupt ragperf snapshot {snap.path}: {detail}"), exc
        if on_error == "raise":
            raise error from cause
        _log.warning("ragperf: skipping %s", error)
    return merged


def cleanup_dead_snapshots(directory: Any) -> list[str]:
    """Deletes the snapshots (and leftover temporary files) of processes of
    this host that are no longer running; returns the deleted paths, sorted.
    Meant for service restarts, before the new workers start: the merged
    counters lose those processes' records (Prometheus sees a counter reset).

    Example:
        >>> cleanup_dead_snapshots("/run/ragperf")  # doctest: +SKIP
        ['/run/ragperf/ragperf-web-1-1187.json']
    """
    root = _directory(directory)
    host = _hostname()
    removed: list[str] = []
    for name in sorted(os.listdir(root)):
        temp = _TEMP_RE.match(name)
        match = _SNAPSHOT_RE.match(temp.group("target") if temp else name)
        if match is None or match.group("host") != host or _pid_alive(int(match.group("pid"))):
            continue
        path = os.path.join(root, name)
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed
