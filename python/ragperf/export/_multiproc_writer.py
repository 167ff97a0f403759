"""The writing side of multi-process mode (see :mod:`ragperf.export.multiproc`):
one monitor of this process writes its snapshot to
``<dir>/ragperf-<hostname>-<pid>.json`` through a
:class:`~ragperf.export.exporting.PeriodicExporter`, and a forked child starts with
empty statistics and a file of its own.

Every function here takes the monitor explicitly, so this module needs no
``PerformanceMonitor``: ``ragperf.monitor`` calls :func:`maybe_enable_from_env`
on the default monitor, and ``ragperf.multiproc`` adds the default-monitor
conveniences and the reading side on top.

Example:
    >>> exporter = enable(monitor, "/run/ragperf", 10.0)   # doctest: +SKIP
    >>> exporter.path                                       # doctest: +SKIP
    '/run/ragperf/ragperf-web-1-1234.json'
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
from typing import Any, Final, Protocol

from ._runner import after_fork_in_child, check_interval
from .csv_tables import _Monitor
from .exporting import PeriodicExporter

__all__ = [
    "DEFAULT_INTERVAL_S",
    "ENV_DIR",
    "ENV_INTERVAL",
    "disable",
    "enable",
    "exporter_of",
    "maybe_enable_from_env",
    "snapshot_path",
]

_log = logging.getLogger("ragperf")

#: Environment variable naming the snapshot directory (enables the mode).
ENV_DIR: Final = "RAGPERF_MULTIPROC_DIR"
#: Optional environment variable: seconds between snapshot writes (default 10).
ENV_INTERVAL: Final = "RAGPERF_MULTIPROC_INTERVAL_S"

DEFAULT_INTERVAL_S: Final = 10.0

_UNSAFE_HOST_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]")


class SnapshotMonitor(_Monitor, Protocol):
    """What multi-process mode needs of a monitor (``PerformanceMonitor`` has it)."""

    def clear_metrics(self) -> None: ...


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


class _State:
    """Multi-process mode of one monitor in this process."""

    def __init__(self, monitor: SnapshotMonitor, directory: str, interval_s: float) -> None:
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


def enable(monitor: SnapshotMonitor, directory: Any, interval_s: Any) -> PeriodicExporter:
    """Makes this process write ``monitor``'s snapshot to ``directory``
    every ``interval_s`` seconds; returns the running exporter (see
    :func:`ragperf.export.multiproc.enable_multiprocess`, which documents the
    errors).

    Example:
        >>> enable(monitor, "/run/ragperf", 5).running  # doctest: +SKIP
        True
    """
    root = _directory(directory)
    interval = check_interval(interval_s)
    for method in ("export_metrics_json", "clear_metrics"):
        if not callable(getattr(monitor, method, None)):
            raise TypeError(f"monitor must be a PerformanceMonitor, got {monitor!r} ({type(monitor).__name__})")
    os.makedirs(root, exist_ok=True)
    with _lock:
        state = _states.get(id(monitor))
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
        state = _State(monitor, root, interval)
        _states[id(monitor)] = state
    _register_multiprocessing_exit(state)
    from multiprocessing import util as mp_util

    mp_util.register_after_fork(state, _after_multiprocessing_fork)
    return state.exporter.start()


def exporter_of(monitor: object) -> PeriodicExporter | None:
    """This process's snapshot exporter of ``monitor``, None when the mode is off for it.

    Example:
        >>> exporter_of(monitor) is None  # doctest: +SKIP
        True
    """
    state = _states.get(id(monitor))
    return state.exporter if state is not None and state.monitor is monitor else None


def disable(monitor: object, *, flush: bool = True, remove_file: bool = False) -> None:
    """Stops writing ``monitor``'s snapshots (see
    :func:`ragperf.export.multiproc.disable_multiprocess`). No-op when the mode is off.

    Example:
        >>> disable(monitor, remove_file=True)  # doctest: +SKIP
    """
    with _lock:
        state = _states.pop(id(monitor), None)
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


def maybe_enable_from_env(monitor: SnapshotMonitor) -> PeriodicExporter | None:
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
        return enable(monitor, directory, interval)
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


def _restart_in_child() -> None:
    # Registered after ragperf._runner's handler (imported above), which has
    # already marked the parent's exporters as not running in this child.
    global _lock
    _lock = threading.Lock()
    for state in list(_states.values()):
        try:
            state.monitor.clear_metrics()
            # state.finalizer (the parent's) now flushes this new exporter.
            state.exporter = PeriodicExporter(state.monitor, snapshot_path(state.directory), state.interval_s)
            state.exporter.start()
        except Exception as exc:  # one monitor's failure leaves the others writing
            _log.warning("ragperf: multi-process mode in forked child %d failed: %s", os.getpid(), exc)


after_fork_in_child(_restart_in_child, "multi-process mode")
