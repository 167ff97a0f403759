"""Operations started and finished by callbacks, not by a ``with`` block.

Frameworks report "run started" and "run ended" as two callbacks, possibly in
different threads or asyncio tasks, and name each run's parent explicitly.
ragperf finds a block's parent through a context variable, so a callback
that entered a tracker in the caller's context would leave it there as the
"current" block for whatever the caller does next. :class:`DetachedSpan`
enters each tracker in a context of its own instead: a copy of its parent
span's context (or of the caller's, for a root), in which the parent is the
innermost block. The tracker thus nests under the parent the framework named,
and the caller's context never changes.

Example:
    >>> root = DetachedSpan.start(monitor, "query_processing", None)          # doctest: +SKIP
    >>> child = DetachedSpan.start(monitor, "llm_inference", root)            # doctest: +SKIP
    >>> child.finish(); root.finish()                                         # doctest: +SKIP
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._core import OperationTracker
    from ..monitor import Operation, PerformanceMonitor

__all__ = ["DetachedSpan", "error_class", "resolve_monitor"]


def resolve_monitor(monitor: PerformanceMonitor | None) -> PerformanceMonitor:
    """``monitor``, or the process-wide default when None; TypeError naming
    anything else.

    Example:
        >>> resolve_monitor(None) is get_performance_monitor()   # doctest: +SKIP
        True
    """
    from ..monitor import PerformanceMonitor, get_performance_monitor

    if monitor is None:
        return get_performance_monitor()
    if not isinstance(monitor, PerformanceMonitor):
        raise TypeError(f"monitor must be a ragperf PerformanceMonitor or None, got {monitor!r} ({type(monitor).__name__})")
    return monitor


class DetachedSpan:
    """A tracker entered in a context of its own (see the module docstring).

    Example:
        >>> span = DetachedSpan.start(monitor, "document_retrieval", parent=None)   # doctest: +SKIP
        >>> span.tracker.metadata["documents"] = 3                                  # doctest: +SKIP
        >>> span.finish()                                                           # doctest: +SKIP
    """

    __slots__ = ("tracker", "context", "_done")

    def __init__(self, tracker: OperationTracker, context: contextvars.Context) -> None:
        self.tracker = tracker
        self.context = context
        self._done = False

    @classmethod
    def start(
        cls,
        monitor: PerformanceMonitor,
        operation: Operation,
        parent: DetachedSpan | None,
        metadata: Mapping[str, Any] | None = None,
    ) -> DetachedSpan:
        """Starts ``operation`` as a child of ``parent`` (None: of the block
        current in the caller's context, if any).

        Example:
            >>> span = DetachedSpan.start(monitor, "llm_inference", None, {"name": "chat"})  # doctest: +SKIP
        """
        context = parent.context.copy() if parent is not None else contextvars.copy_context()
        tracker = monitor.track_operation(operation, metadata)
        context.run(tracker.__enter__)
        return cls(tracker, context)

    def finish(self, error: BaseException | None = None) -> None:
        """Ends the operation once (later calls do nothing): a success, or a
        failure with the type and message of ``error``.

        Example:
            >>> span.finish(TimeoutError("upstream"))   # doctest: +SKIP
        """
        if self._done:
            return
        self._done = True
        if not self.tracker.active:  # ended by a stream wrapper that took it over
            return
        if error is None:
            self.tracker.__exit__(None, None, None)
        else:
            self.tracker.__exit__(type(error), error, error.__traceback__)

    @property
    def done(self) -> bool:
        """Whether :meth:`finish` was called."""
        return self._done


_error_classes: dict[str, type[Exception]] = {}
_error_lock = threading.Lock()


def error_class(name: str) -> type[Exception]:
    """An exception class called ``name`` (one per name), for failures that
    are not exceptions (an HTTP 503 response): ragperf records a failure's
    type from its exception class name.

    Example:
        >>> error_class("HTTP503")("503 Service Unavailable")
        HTTP503('503 Service Unavailable')
    """
    cls = _error_classes.get(name)
    if cls is None:
        with _error_lock:
            cls = _error_classes.setdefault(name, type(name, (Exception,), {"__module__": __name__}))
    return cls
