"""Queue monitors as a component of the monitor (``monitor.queues``): one
:class:`~ragperf.watch.queue_monitors.QueueMonitor` per name, the report's ``queues``
section, cleared by ``clear_metrics()``. The queue monitors are
:mod:`ragperf.watch.queue_monitors`.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> q = PerformanceMonitor().queues.get("requests")
    >>> q.name
    'requests'
"""

from __future__ import annotations

from .._component import Component, ReportSection
from .queue_monitors import QueueMonitor, QueueRegistry

__all__ = ["Queues"]


class Queues(Component):
    """The queue monitors of one monitor.

    Example:
        >>> monitor.queues.get("requests").enqueue()  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._registry = QueueRegistry()

    @property
    def registry(self) -> QueueRegistry:
        """The :class:`~ragperf.watch.queue_monitors.QueueRegistry` holding the queues."""
        return self._registry

    def get(self, name: str) -> QueueMonitor:
        """The queue monitor named ``name`` (created on first use): enqueue /
        dequeue, current and max length, wait-time percentiles.

        Example:
            >>> q = monitor.queue("requests")
            >>> ticket = q.enqueue(); wait_s = q.dequeue(ticket)
        """
        return self._registry.get(name)

    def contribute_report(self, section: ReportSection) -> None:
        """Writes ``queues`` (every queue's statistics)."""
        section.add("queues", self._registry.stats())

    def clear(self) -> None:
        """Resets every queue's statistics."""
        self._registry.clear()
