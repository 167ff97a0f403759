"""Queue monitoring: current and peak length of a queue, and how long items
wait in it (enqueue to dequeue), with percentiles from a quantile sketch.

``PerformanceMonitor.queue(name)`` hands out one :class:`QueueMonitor` per
name from a :class:`QueueRegistry`; a QueueMonitor can also be used alone.
"""

from __future__ import annotations

import collections
import threading
import time
from types import TracebackType
from typing import Any, Callable, Literal

from .._core import QuantileSketch
from .._validate import check_name

__all__ = ["QueueMonitor", "QueueRegistry", "QueueTicket"]

MAX_QUEUE_NAME_LENGTH = 200

# Finished tickets left behind in the FIFO (dequeued by ticket, not at the
# front) are dropped in one pass once they outnumber the outstanding ones by
# this much, so the FIFO stays O(outstanding) in size.
_COMPACT_SLACK = 64


def check_queue_name(name: Any) -> str:
    """A queue name: a non-empty str of at most 200 characters (valid
    Unicode), returned as a plain str.

    Example:
        >>> check_queue_name("retrieval")
        'retrieval'
    """
    text = check_name(name, "queue name", MAX_QUEUE_NAME_LENGTH)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"queue name must be valid Unicode text (no lone surrogates), got {text!r}") from None
    return text


class QueueTicket:
    """One enqueued item of a :class:`QueueMonitor`, returned by
    :meth:`QueueMonitor.enqueue`; hand it to :meth:`QueueMonitor.dequeue` to
    measure that item's wait. A ticket can be dequeued once.

    Example:
        >>> qm = QueueMonitor("jobs")
        >>> ticket = qm.enqueue()
        >>> ticket.done, ticket.wait_s
        (False, None)
        >>> wait = qm.dequeue(ticket)
        >>> ticket.done, ticket.wait_s == wait
        (True, True)
    """

    __slots__ = ("_owner", "_queue_name", "_seq", "_enqueued_ns", "_wait_s")

    def __init__(self, owner: object, queue_name: str, seq: int, enqueued_ns: int) -> None:
        self._owner = owner  # the issuing QueueMonitor's identity token (no reference cycle)
        self._queue_name = queue_name
        self._seq = seq
        self._enqueued_ns = enqueued_ns
        self._wait_s: float | None = None

    @property
    def queue(self) -> str:
        """Name of the queue that issued the ticket.

        Example:
            >>> QueueMonitor("jobs").enqueue().queue
            'jobs'
        """
        return self._queue_name

    @property
    def seq(self) -> int:
        """Position of the item in its queue's enqueue order (1, 2, ...).

        Example:
            >>> qm = QueueMonitor("jobs")
            >>> qm.enqueue().seq, qm.enqueue().seq
            (1, 2)
        """
        return self._seq

    @property
    def enqueued_ns(self) -> int:
        """The queue's clock (``time.perf_counter_ns`` by default) at enqueue.

        Example:
            >>> QueueMonitor("jobs", clock_ns=lambda: 5).enqueue().enqueued_ns
            5
        """
        return self._enqueued_ns

    @property
    def done(self) -> bool:
        """Whether the item has been dequeued.

        Example:
            >>> QueueMonitor("jobs").enqueue().done
            False
        """
        return self._wait_s is not None

    @property
    def wait_s(self) -> float | None:
        """Seconds the item waited, once dequeued; ``None`` before.

        Example:
            >>> clock = iter([0, 2_000_000_000]).__next__
            >>> qm = QueueMonitor("jobs", clock_ns=clock)
            >>> ticket = qm.enqueue(); _ = qm.dequeue(ticket)
            >>> ticket.wait_s
            2.0
        """
        return self._wait_s

    def __repr__(self) -> str:
        state = "pending" if self._wait_s is None else f"waited {self._wait_s:.6g}s"
        return f"QueueTicket(queue={self._queue_name!r}, seq={self._seq}, {state})"


class _Waiting:
    """Context manager of :meth:`QueueMonitor.waiting`."""

    __slots__ = ("_queue", "_ticket")

    def __init__(self, queue: QueueMonitor) -> None:
        self._queue = queue
        self._ticket: QueueTicket | None = None

    def __enter__(self) -> QueueTicket:
        if self._ticket is not None:
            raise RuntimeError(f"waiting() on queue {self._queue.name!r} was already entered; make a new one per wait")
        self._ticket = self._queue.enqueue()
        return self._ticket

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if self._ticket is not None:
            self._queue._dequeue(self._ticket, strict=False)  # the block may have dequeued it itself
        return False

    async def __aenter__(self) -> QueueTicket:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        return self.__exit__(exc_type, exc, tb)


class QueueMonitor:
    """Length, peak length and wait times of one queue. Thread-safe.

    Call :meth:`enqueue` when an item enters the queue and :meth:`dequeue`
    when it leaves. ``dequeue()`` without a ticket takes the oldest
    outstanding item (FIFO); ``dequeue(ticket)`` takes that item, for queues
    that are not FIFO (priority queues, worker pools); use one style per
    queue, since a FIFO dequeue takes whichever item is oldest. Waits are measured
    with ``clock_ns`` (default ``time.perf_counter_ns``; inject a fake clock
    in tests) and kept in a :class:`ragperf.QuantileSketch` (0.5% relative
    accuracy for the percentiles; count, average, min and max are exact).

    Args:
        name: 1 to 200 characters.
        clock_ns: a function returning a monotonic time in nanoseconds.

    Example:
        >>> qm = QueueMonitor("embedding_requests")
        >>> ticket = qm.enqueue(); _ = qm.enqueue()
        >>> qm.length, qm.max_length
        (2, 2)
        >>> wait_s = qm.dequeue()          # FIFO: the oldest item
        >>> wait_s = qm.dequeue()
        >>> qm.length, qm.stats()["wait_count"]
        (0, 2)
        >>> with qm.waiting():             # e.g. waiting for a worker slot
        ...     pass
    """

    def __init__(self, name: str, clock_ns: Callable[[], int] = time.perf_counter_ns) -> None:
        if not callable(clock_ns):
            raise TypeError(f"clock_ns must be a callable returning nanoseconds, got {clock_ns!r}")
        self._name = check_queue_name(name)
        self._clock_ns = clock_ns
        self._token = object()
        self._lock = threading.Lock()
        self._fifo: collections.deque[QueueTicket] = collections.deque()
        self._waits = QuantileSketch()
        self._seq = 0
        self._length = 0
        self._max_length = 0
        self._enqueued = 0
        self._dequeued = 0

    # ------------------------------------------------------------- updates

    def enqueue(self) -> QueueTicket:
        """Record an item entering the queue; returns its ticket.

        Example:
            >>> qm = QueueMonitor("q")
            >>> qm.enqueue()
            QueueTicket(queue='q', seq=1, pending)
        """
        with self._lock:
            self._seq += 1
            ticket = QueueTicket(self._token, self._name, self._seq, self._clock_ns())
            self._fifo.append(ticket)
            self._length += 1
            self._enqueued += 1
            if self._length > self._max_length:
                self._max_length = self._length
            return ticket

    def dequeue(self, ticket: QueueTicket | None = None) -> float:
        """Record an item leaving the queue; returns its wait in seconds.

        Without ``ticket``: the oldest outstanding item (FIFO). With one:
        that item. ValueError if the queue is empty, or the ticket was
        already dequeued or belongs to another queue.

        Example:
            >>> qm = QueueMonitor("q", clock_ns=iter([0, 1_500_000_000]).__next__)
            >>> _ = qm.enqueue()
            >>> qm.dequeue()
            1.5
        """
        wait_s = self._dequeue(ticket, strict=True)
        assert wait_s is not None
        return wait_s

    def _dequeue(self, ticket: QueueTicket | None, strict: bool) -> float | None:
        """:meth:`dequeue`; with ``strict=False`` an already dequeued ticket
        is ignored (returns None) instead of raising."""
        with self._lock:
            now = self._clock_ns()
            fifo = self._fifo
            if ticket is None:
                while fifo and fifo[0]._wait_s is not None:
                    fifo.popleft()  # dequeued earlier by ticket
                if not fifo:
                    raise ValueError(f"queue {self._name!r} is empty")
                ticket = fifo.popleft()
            else:
                if not isinstance(ticket, QueueTicket):
                    raise TypeError(
                        f"dequeue() takes a QueueTicket from enqueue() or nothing, "
                        f"got {ticket!r} ({type(ticket).__name__})"
                    )
                if ticket._owner is not self._token:
                    raise ValueError(f"{ticket!r} belongs to another queue, not to {self._name!r}")
                if ticket._wait_s is not None:
                    if not strict:
                        return None
                    raise ValueError(f"{ticket!r} was already dequeued")
                if fifo and fifo[0] is ticket:
                    fifo.popleft()
                elif len(fifo) > 2 * self._length + _COMPACT_SLACK:
                    # ``ticket`` is marked done below; drop finished tickets now.
                    self._fifo = collections.deque(t for t in fifo if t._wait_s is None and t is not ticket)
            wait_s = max(now - ticket._enqueued_ns, 0) / 1e9
            ticket._wait_s = wait_s
            self._length -= 1
            self._dequeued += 1
            self._waits.add(wait_s)
            return wait_s

    def waiting(self) -> _Waiting:
        """A context manager that enqueues on enter and dequeues on exit
        (also on an exception): times a wait such as acquiring a semaphore
        or a worker slot. ``with`` and ``async with`` both work; the value
        is the :class:`QueueTicket` (its ``wait_s`` is set after the block).

        Example:
            >>> import threading
            >>> slots, qm = threading.Semaphore(2), QueueMonitor("gpu_slots")
            >>> with qm.waiting() as ticket:
            ...     slots.acquire()
            True
            >>> ticket.done, qm.length
            (True, 0)
        """
        return _Waiting(self)

    def reset(self) -> None:
        """Restart the statistics: counts, wait times, and the peak (which
        becomes the current length). Items still in the queue stay there
        (their waits count from their enqueue), so producers and consumers
        never fail because of a reset.

        Example:
            >>> qm = QueueMonitor("q"); _ = qm.enqueue(); _ = qm.enqueue(); _ = qm.dequeue()
            >>> qm.reset()
            >>> qm.length, qm.max_length, qm.enqueued, qm.dequeued
            (1, 1, 0, 0)
        """
        with self._lock:
            self._fifo = collections.deque(t for t in self._fifo if t._wait_s is None)
            self._waits.clear()
            self._max_length = self._length
            self._enqueued = 0
            self._dequeued = 0

    # ------------------------------------------------------------- figures

    @property
    def name(self) -> str:
        """The queue's name.

        Example:
            >>> QueueMonitor("q").name
            'q'
        """
        return self._name

    @property
    def length(self) -> int:
        """Items currently in the queue (enqueued, not yet dequeued).

        Example:
            >>> QueueMonitor("q").length
            0
        """
        return self._length

    @property
    def max_length(self) -> int:
        """Highest length seen (since creation or the last :meth:`reset`).

        Example:
            >>> qm = QueueMonitor("q"); _ = qm.enqueue(); _ = qm.dequeue()
            >>> qm.max_length
            1
        """
        return self._max_length

    @property
    def enqueued(self) -> int:
        """Items enqueued (since creation or the last :meth:`reset`).

        Example:
            >>> qm = QueueMonitor("q"); _ = qm.enqueue()
            >>> qm.enqueued
            1
        """
        return self._enqueued

    @property
    def dequeued(self) -> int:
        """Items dequeued (since creation or the last :meth:`reset`).

        Example:
            >>> QueueMonitor("q").dequeued
            0
        """
        return self._dequeued

    def stats(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot: ``name, length, max_length,
        enqueued, dequeued, wait_count`` and ``wait_avg_s, wait_min_s,
        wait_max_s, wait_p50_s, wait_p95_s, wait_p99_s`` (``None`` while
        nothing has been dequeued).

        Example:
            >>> QueueMonitor("q").stats()["wait_p95_s"] is None
            True
        """
        with self._lock:
            waits = self._waits
            count = int(waits.count)
            result: dict[str, Any] = {
                "name": self._name,
                "length": self._length,
                "max_length": self._max_length,
                "enqueued": self._enqueued,
                "dequeued": self._dequeued,
                "wait_count": count,
                "wait_avg_s": float(waits.mean) if count else None,
                "wait_min_s": float(waits.min) if count else None,
                "wait_max_s": float(waits.max) if count else None,
                "wait_p50_s": float(waits.quantile(0.5)) if count else None,
                "wait_p95_s": float(waits.quantile(0.95)) if count else None,
                "wait_p99_s": float(waits.quantile(0.99)) if count else None,
            }
        return result

    def __repr__(self) -> str:
        return f"QueueMonitor(name={self._name!r}, length={self._length}, max_length={self._max_length})"


class QueueRegistry:
    """One :class:`QueueMonitor` per name, created on first use. Thread-safe.
    This is what ``PerformanceMonitor.queue(name)`` uses.

    Example:
        >>> registry = QueueRegistry()
        >>> registry.get("retrieval") is registry.get("retrieval")
        True
        >>> list(registry.stats())
        ['retrieval']
    """

    def __init__(self, clock_ns: Callable[[], int] = time.perf_counter_ns) -> None:
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._queues: dict[str, QueueMonitor] = {}

    def get(self, name: str) -> QueueMonitor:
        """The queue called ``name``, created the first time (TypeError or
        ValueError naming a bad name: it must be a str of 1 to 200
        characters).

        Example:
            >>> QueueRegistry().get("llm_requests").name
            'llm_requests'
        """
        queue = self._queues.get(name) if isinstance(name, str) else None
        if queue is not None:
            return queue
        key = check_queue_name(name)
        with self._lock:
            queue = self._queues.get(key)
            if queue is None:
                queue = self._queues[key] = QueueMonitor(key, clock_ns=self._clock_ns)
            return queue

    def stats(self) -> dict[str, dict[str, Any]]:
        """``{name: QueueMonitor.stats()}`` for every queue, sorted by name.

        Example:
            >>> registry = QueueRegistry(); _ = registry.get("b").enqueue(); _ = registry.get("a")
            >>> [(name, s["length"]) for name, s in registry.stats().items()]
            [('a', 0), ('b', 1)]
        """
        with self._lock:
            queues = sorted(self._queues.items())
        return {name: queue.stats() for name, queue in queues}

    def clear(self) -> None:
        """Reset every queue's statistics (:meth:`QueueMonitor.reset`). The
        queues stay registered, because code may hold them
        (``q = monitor.queue("x")``) and items may still be in them.

        Example:
            >>> registry = QueueRegistry(); q = registry.get("a"); _ = q.enqueue(); _ = q.dequeue()
            >>> registry.clear()
            >>> registry.get("a") is q, q.dequeued
            (True, 0)
        """
        with self._lock:
            queues = list(self._queues.values())
        for queue in queues:
            queue.reset()

    def __len__(self) -> int:
        return len(self._queues)

    def __contains__(self, name: object) -> bool:
        return name in self._queues

    def __repr__(self) -> str:
        return f"QueueRegistry({sorted(self._queues)!r})"
