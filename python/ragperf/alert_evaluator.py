"""A daemon thread that checks a monitor's alert rules every ``interval_s``
seconds, so alerts fire even when nobody reads the health or the report.

After ``os.fork()`` the child has no evaluator thread: its evaluators report
``running == False`` and ``stop()`` is a no-op there (a child that wants one
starts its own).

Example:
    >>> evaluator = monitor.start_alert_evaluator(interval_s=30)  # doctest: +SKIP
    >>> evaluator.stop()                                          # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from types import TracebackType
from typing import Any, Protocol

from ._validate import check_real

__all__ = ["AlertEvaluator"]

_log = logging.getLogger("ragperf")
MIN_INTERVAL_S = 0.05
MAX_INTERVAL_S = 86400.0

_running: weakref.WeakSet[AlertEvaluator] = weakref.WeakSet()


class _Checks(Protocol):
    def check_alerts(self, now: float | None = None) -> Any: ...


class AlertEvaluator:
    """Calls ``monitor.check_alerts()`` every ``interval_s`` seconds (0.05 to
    86400) from a daemon thread. A failing check is logged (WARNING, once)
    and counted in ``errors``; the thread keeps going. Also a context manager.

    Example:
        >>> with AlertEvaluator(monitor, interval_s=10):   # doctest: +SKIP
        ...     serve()
    """

    def __init__(self, monitor: _Checks, interval_s: float = 30.0) -> None:
        seconds = check_real(interval_s, "interval_s", "a number of seconds")
        if not (MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S):  # also rejects NaN
            raise ValueError(
                f"interval_s must be between {MIN_INTERVAL_S:g} and {MAX_INTERVAL_S:g} seconds, "
                f"got {interval_s!r}"
            )
        self._monitor = monitor
        self._interval = seconds
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.checks = 0
        self.errors = 0

    @property
    def interval_s(self) -> float:
        """Seconds between checks."""
        return self._interval

    @property
    def running(self) -> bool:
        """Whether the thread runs (False after ``stop()`` and in a forked child)."""
        return self._thread is not None

    def start(self) -> AlertEvaluator:
        """Starts the thread (no-op when running); returns self.

        Example:
            >>> evaluator = AlertEvaluator(monitor, 30).start()   # doctest: +SKIP
        """
        with self._lock:
            if self._thread is None:
                self._stop_event = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop_event,), name="ragperf-alerts", daemon=True
                )
                _running.add(self)
                self._thread.start()
        return self

    def stop(self) -> None:
        """Stops the thread and waits for it (idempotent).

        Example:
            >>> evaluator.stop()   # doctest: +SKIP
        """
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop_event.set()
            _running.discard(self)
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self, stop_event: threading.Event) -> None:
        while not stop_event.wait(self._interval):
            try:
                self._monitor.check_alerts()
            except Exception as exc:  # never kill the thread
                self.errors += 1
                if self.errors == 1:
                    _log.warning("ragperf: alert check failed: %s (later failures are only counted)", exc)
            else:
                self.checks += 1

    def _forget_after_fork(self) -> None:
        # The thread does not exist in the child; its lock may have been held.
        self._thread = None
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def __enter__(self) -> AlertEvaluator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"every {self._interval:g} s" if self.running else "stopped"
        return f"<ragperf AlertEvaluator {state}, {self.checks} checks, {self.errors} errors>"


def _after_fork_in_child() -> None:
    for evaluator in list(_running):
        evaluator._forget_after_fork()
    _running.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
