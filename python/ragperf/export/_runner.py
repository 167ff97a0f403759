"""The one periodic, fork-aware background runner of ragperf.

:class:`PeriodicRunner` calls ``self._tick()`` every ``interval_s`` seconds
from a daemon thread. ``start()`` and ``stop(flush)`` are idempotent; ``stop``
joins the thread and, when ``flush``, runs ``self._final()`` once more. After
``os.fork()`` the child has no thread: its runners report ``running ==
False`` and ``stop()`` is a no-op there. Runners built with
``stop_at_exit=True`` are stopped with a flush at interpreter exit.
:class:`~ragperf.export.exporting.PeriodicExporter` (and so the multi-process
snapshot writer) and :class:`~ragperf.watch.alert_evaluator.AlertEvaluator` are
runners.

:func:`check_interval` is the one validation of a runner's ``interval_s``
(:data:`MIN_INTERVAL_S` to :data:`MAX_INTERVAL_S` seconds), and
:func:`after_fork_in_child` the one way ragperf's modules act in a forked
child (a failure is logged, never raised into ``fork()``).

Example:
    >>> class Ticker(PeriodicRunner):
    ...     def _tick(self) -> None:
    ...         print("tick")
    >>> ticker = Ticker(60, thread_name="ticker").start()
    >>> ticker.running
    True
    >>> ticker.stop()
    >>> ticker.running
    False
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any, Final, TypeVar

from .._validate import check_real

__all__ = ["MAX_INTERVAL_S", "MIN_INTERVAL_S", "PeriodicRunner", "after_fork_in_child", "check_interval"]

_log = logging.getLogger("ragperf")

#: Shortest and longest ``interval_s`` of a periodic runner, in seconds.
MIN_INTERVAL_S: Final = 0.05
MAX_INTERVAL_S: Final = 86400.0

R = TypeVar("R", bound="PeriodicRunner")


def check_interval(value: Any) -> float:
    """``value`` as seconds between two runs: TypeError for a non-number,
    ValueError outside :data:`MIN_INTERVAL_S`..:data:`MAX_INTERVAL_S`
    (NaN and infinities included), both naming the value.

    Example:
        >>> check_interval(30)
        30.0
        >>> check_interval(0.001)
        Traceback (most recent call last):
        ...
        ValueError: interval_s must be between 0.05 and 86400 seconds, got 0.001
    """
    seconds = check_real(value, "interval_s", "a number of seconds")
    if not (MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S):  # also rejects NaN
        raise ValueError(
            f"interval_s must be between {MIN_INTERVAL_S:g} and {MAX_INTERVAL_S:g} seconds, got {value!r}"
        )
    return seconds


def after_fork_in_child(action: Callable[[], None], what: str) -> None:
    """Runs ``action()`` in every child forked after this call (in
    registration order); an exception is logged (logger ``ragperf``,
    WARNING, naming ``what`` and the child's pid), never raised into
    ``fork()``. No-op where ``os.register_at_fork`` does not exist.

    Example:
        >>> after_fork_in_child(lambda: None, "nothing")
    """

    def guarded() -> None:
        try:
            action()
        except Exception as exc:  # never break fork()
            _log.warning("ragperf: %s in forked child %d failed: %s", what, os.getpid(), exc)

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=guarded)


# Runners whose thread runs in this process, held weakly.
_running: weakref.WeakSet[PeriodicRunner] = weakref.WeakSet()
_registry_lock = threading.Lock()


class PeriodicRunner:
    """Base of ragperf's background threads: ``_tick()`` every
    ``interval_s`` seconds (see the module doc). Subclasses define
    ``_tick`` (which should not raise: an exception is logged and the
    thread goes on) and may define ``_final`` (the flush of ``stop``;
    default: nothing).

    Args:
        interval_s: seconds between ticks (validated by :func:`check_interval`).
        thread_name: the thread's name.
        stop_at_exit: stop (with a flush) at interpreter exit.

    Example:
        >>> runner = MyRunner(30, thread_name="ragperf-x").start()  # doctest: +SKIP
        >>> runner.stop(flush=True)                                  # doctest: +SKIP
    """

    def __init__(self, interval_s: Any, *, thread_name: str, stop_at_exit: bool = False) -> None:
        self._interval = check_interval(interval_s)
        self._thread_name = thread_name
        self._stop_at_exit = stop_at_exit
        self._running = False
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._state_lock = threading.Lock()

    @property
    def interval_s(self) -> float:
        """Seconds between two runs."""
        return self._interval

    @property
    def running(self) -> bool:
        """Whether the thread runs (False after ``stop()`` and in a forked child)."""
        return self._running

    def start(self: R) -> R:
        """Starts the thread (no-op when running); returns self. The first
        run comes after ``interval_s``.

        Example:
            >>> runner.start()  # doctest: +SKIP
        """
        with self._state_lock:
            if self._running:
                return self
            self._stop_event = threading.Event()
            thread = threading.Thread(
                target=self._loop, args=(self._stop_event,), name=self._thread_name, daemon=True
            )
            self._thread = thread
            self._running = True
            with _registry_lock:
                _running.add(self)
            thread.start()
        return self

    def stop(self, flush: bool = True) -> None:
        """Stops the thread, waits for it and, when ``flush``, runs the
        final action once more (an exporter writes its file). Idempotent: a
        stopped (or never started) runner does nothing.

        Example:
            >>> runner.stop()  # doctest: +SKIP
        """
        with self._state_lock:
            if not self._running:
                return
            self._running = False
            self._stop_event.set()
            thread, self._thread = self._thread, None
            with _registry_lock:
                _running.discard(self)
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if flush:
            self._final()

    def _tick(self) -> None:
        raise NotImplementedError

    def _final(self) -> None:
        """The flush of ``stop(flush=True)``; default: nothing."""

    def _loop(self, stop_event: threading.Event) -> None:
        while not stop_event.wait(self._interval):
            try:
                self._tick()
            except Exception as exc:  # never kill the thread
                _log.warning("ragperf: background thread %s: %s", self._thread_name, exc)

    def _reset_after_fork(self) -> None:
        """In a forked child: the thread does not exist there, and the locks
        may have been held by it. Subclasses with locks of their own extend it."""
        self._running = False
        self._thread = None
        self._stop_event = threading.Event()
        self._state_lock = threading.Lock()

    def __enter__(self: R) -> R:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _stop_all_at_exit() -> None:
    with _registry_lock:
        runners = [r for r in _running if r._stop_at_exit]
    for runner in runners:
        try:
            runner.stop(flush=True)
        except Exception as exc:  # pragma: no cover - _final logs its own failures
            _log.warning("ragperf: final run of %s failed: %s", runner._thread_name, exc)


def _forget_threads() -> None:
    global _registry_lock
    _registry_lock = threading.Lock()
    for runner in list(_running):
        runner._reset_after_fork()
    _running.clear()


atexit.register(_stop_all_at_exit)
after_fork_in_child(_forget_threads, "resetting background threads")
