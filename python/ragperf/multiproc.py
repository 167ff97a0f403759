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
    >>> from ragperf.multiproc import enable_multiprocess, merge_snapshots
    >>> exporter = enable_multiprocess("/run/ragperf")   # each worker  # doctest: +SKIP
    >>> merged = merge_snapshots("/run/ragperf")         # anywhere      # doctest: +SKIP
    >>> merged.get_operation_stats("llm_inference").p95_duration       # doctest: +SKIP
    1.84
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import re
import socket
import threading
import time
from typing import Any, Final

from ._validate import check_real
from .exporting import PeriodicExporter
from .monitor import PerformanceMonitor, get_performance_monitor
from .persistence import SchemaVersionError

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

#: Environment variable naming the snapshot directory (enables the mode).
ENV_DIR: Final = "RAGPERF_MULTIPROC_DIR"
#: Optional environment variable: seconds between snapshot writes (default 10).
ENV_INTERVAL: Final = "RAGPERF_MULTIPROC_INTERVAL_S"

DEFAULT_INTERVAL_S: Final = 10.0

_SNAPSHOT_RE: Final = re.compile(r"^ragperf-(?P<host>.+)-(?P<pid>[0-9]+)\.json$")
_TEMP_RE: Final = re.compile(r"^(?P<target>ragperf-.+-[0-9]+\.json)\.tmp\..+$")
_UNSAFE_HOST_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]")
_ON_ERROR: Final = ("raise", "skip")


def _hostname() -> str:
    name = _UNSAFE_HOST_CHARS.sub("_", socket.gethostname()) or "localhost"
    return name


def _directory(directory: Any, what: str = "directory") -> str:
    if isinstance(directory, (str, os.PathLike)):
        text = os.fspath(directory)
        if isinstance(text, str) and text:
            return os.path.abspath(text)
    raise TypeError(f"{what} must be a non-empty str or os.PathLike, got {directory!r}")


def snapshot_path(directory: Any, pid: int | None = None) -> str:
    """The snapshot file of process ``pid`` (default: this one) of this host:
    ``<directory>/ragperf-<hostname>-<pid>.json`` (characters of the host
    name other than letters, digits, ``.``, ``_`` and ``-`` become ``_``).

    Example:
        >>> snapshot_path("/run/ragperf", 1234)  # doctest: +SKIP
        '/run/ragperf/ragperf-web-1-1234.json'
    """
    number = os.getpid() if pid is None else pid
    return os.path.join(_directory(directory), f"ragperf-{_hostname()}-{number}.json")


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


class _State:
    """Multi-process mode of one monitor in this process."""

    def __init__(self, monitor: PerformanceMonitor, directory: str, interval_s: float) -> None:
        self.monitor = monitor
        self.directory = directory
        self.interval_s = interval_s
        self.exporter = PeriodicExporter(monitor, snapshot_path(directory), interval_s)
        self.finalizer: Any = None

    def flush(self) -> None:
        self.exporter.stop(flush=True)


_states: dict[int, _State] = {}  # id(monitor) -> state; the state holds the monitor
_lock = threading.Lock()


def _register_multiprocessing_exit(state: _State) -> None:
    """``multiprocessing`` children (fork start method) leave with
    ``os._exit`` after running its finalizers, not atexit: flush there too."""
    from multiprocessing import util as mp_util

    if state.finalizer is not None:
        state.finalizer.cancel()
    state.finalizer = mp_util.Finalize(None, state.flush, exitpriority=10)


def _after_multiprocessing_fork(state: _State) -> None:
    # Runs in a multiprocessing child after its finalizer registry was
    # cleared; the os-level fork handler already gave it its own exporter.
    if _states.get(id(state.monitor)) is state:
        _register_multiprocessing_exit(state)


def _check_interval(value: Any) -> float:
    seconds = check_real(value, "interval_s", "a finite number of seconds")
    if not math.isfinite(seconds):
        raise TypeError(f"interval_s must be a finite number of seconds, got {value!r}")
    return seconds


def enable_multiprocess(
    directory: Any = None,
    *,
    monitor: PerformanceMonitor | None = None,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> PeriodicExporter:
    """Makes this process write ``monitor``'s snapshot to
    ``<directory>/ragperf-<hostname>-<pid>.json`` every ``interval_s``
    seconds, on ``exporter.stop()`` and at exit; returns the running
    :class:`~ragperf.exporting.PeriodicExporter`.

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
            monitor of this process already writes to this one.
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
    root = _directory(directory)
    interval = _check_interval(interval_s)
    target = get_performance_monitor() if monitor is None else monitor
    for method in ("export_metrics_json", "clear_metrics"):
        if not callable(getattr(target, method, None)):
            raise TypeError(f"monitor must be a PerformanceMonitor, got {target!r} ({type(target).__name__})")
    os.makedirs(root, exist_ok=True)
    with _lock:
        state = _states.get(id(target))
        if state is not None:
            if state.directory != root:
                raise ValueError(
                    f"this monitor already writes snapshots to {state.directory!r}; "
                    "call disable_multiprocess(monitor) first"
                )
            return state.exporter.start()
        for other in _states.values():
            if other.directory == root:
                raise ValueError(
                    f"another monitor of this process already writes snapshots to {root!r} "
                    "(one monitor per process and directory)"
                )
        state = _State(target, root, interval)  # validates the interval range
        _states[id(target)] = state
    _register_multiprocessing_exit(state)
    from multiprocessing import util as mp_util

    mp_util.register_after_fork(state, _after_multiprocessing_fork)
    return state.exporter.start()


def get_multiprocess_exporter(monitor: PerformanceMonitor | None = None) -> PeriodicExporter | None:
    """This process's snapshot exporter of ``monitor`` (default the
    process-wide one), None when multi-process mode is off for it. In a forked
    child it is the child's own exporter (call its ``stop()`` before
    ``os._exit()``).

    Example:
        >>> get_multiprocess_exporter().stop()  # then os._exit(0)  # doctest: +SKIP
    """
    target = get_performance_monitor() if monitor is None else monitor
    state = _states.get(id(target))
    return state.exporter if state is not None and state.monitor is target else None


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
    target = get_performance_monitor() if monitor is None else monitor
    with _lock:
        state = _states.pop(id(target), None)
    if state is None:
        return
    if state.finalizer is not None:
        state.finalizer.cancel()
        state.finalizer = None
    state.exporter.stop(flush=flush and not remove_file)
    if remove_file:
        try:
            os.unlink(state.exporter.path)
        except FileNotFoundError:
            pass


def maybe_enable_from_env(monitor: PerformanceMonitor) -> PeriodicExporter | None:
    """Enables multi-process mode for ``monitor`` when ``RAGPERF_MULTIPROC_DIR``
    is set and not empty (``RAGPERF_MULTIPROC_INTERVAL_S`` optionally sets
    the interval); returns the exporter, or None when the variable is unset.
    ``get_performance_monitor()`` calls it when it creates the default monitor.
    Never raises: a configuration error (bad interval, directory that cannot
    be created) is logged (logger ``ragperf``, WARNING) and returns None.

    Example:
        >>> os.environ["RAGPERF_MULTIPROC_DIR"] = "/run/ragperf"    # doctest: +SKIP
        >>> maybe_enable_from_env(PerformanceMonitor()).path        # doctest: +SKIP
        '/run/ragperf/ragperf-web-1-1234.json'
    """
    directory = os.environ.get(ENV_DIR)
    if not directory:
        return None
    interval = DEFAULT_INTERVAL_S
    text = os.environ.get(ENV_INTERVAL)
    try:
        if text:
            interval = float(text)
        return enable_multiprocess(directory, monitor=monitor, interval_s=interval)
    except (ValueError, TypeError, OSError) as exc:
        _log.warning("ragperf: multi-process mode (%s=%s) not enabled: %s", ENV_DIR, directory, exc)
        return None


def _write_local_snapshots(directory: str) -> None:
    """Rewrites this process's snapshots in ``directory`` now (the
    Prometheus collector does before merging, so a scraping process that
    also records includes its latest records)."""
    for state in list(_states.values()):
        if state.directory == directory:
            state.exporter._write()


def _after_fork_in_child() -> None:
    # Registered after ragperf.exporting's handler (imported above), which has
    # already marked the parent's exporters as not running in this child.
    global _lock
    _lock = threading.Lock()
    for state in list(_states.values()):
        try:
            state.monitor.clear_metrics()
            # state.finalizer (the parent's) now flushes this new exporter.
            state.exporter = PeriodicExporter(state.monitor, snapshot_path(state.directory), state.interval_s)
            state.exporter.start()
        except Exception as exc:  # never break fork()
            _log.warning("ragperf: multi-process mode in forked child %d failed: %s", os.getpid(), exc)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
            :class:`~ragperf.persistence.SchemaVersionError` (a ValueError)
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
        try:
            with open(snap.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        error: ValueError
        cause: Exception
        try:
            report = json.loads(text)
            if not isinstance(report, dict):
                raise ValueError(f"expected a JSON object, got {type(report).__name__}")
            merged.merge_from(report)
            continue
        except SchemaVersionError as exc:  # written by a newer ragperf: not corrupt
            error, cause = SchemaVersionError(snap.path, exc.found, exc.supported, where=exc.where), exc
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
