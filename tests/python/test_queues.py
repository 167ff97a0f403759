"""QueueMonitor / QueueRegistry: lengths, FIFO and ticket waits, percentiles,
errors, threads and asyncio."""

from __future__ import annotations

import asyncio
import doctest
import gc
import json
import math
import random
import threading
import time
import weakref

import pytest

import ragperf.watch.queue_monitors
from ragperf.watch.queue_monitors import QueueMonitor, QueueRegistry, QueueTicket

WAIT_KEYS = ("wait_avg_s", "wait_min_s", "wait_max_s", "wait_p50_s", "wait_p95_s", "wait_p99_s")
STATS_KEYS = {"name", "length", "max_length", "enqueued", "dequeued", "wait_count", *WAIT_KEYS}


class FakeClock:
    """A clock the test moves by hand (nanoseconds)."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1e9)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def exact_quantile(sorted_values: list[float], q: float) -> float:
    return sorted_values[int(math.floor(q * (len(sorted_values) - 1)))]


# ------------------------------------------------------------------ basics


def test_new_queue_is_empty() -> None:
    qm = QueueMonitor("jobs")
    assert (qm.name, qm.length, qm.max_length, qm.enqueued, qm.dequeued) == ("jobs", 0, 0, 0, 0)
    stats = qm.stats()
    assert set(stats) == STATS_KEYS
    assert stats["name"] == "jobs" and stats["wait_count"] == 0
    assert all(stats[key] is None for key in WAIT_KEYS)
    assert json.loads(json.dumps(stats)) == stats


def test_fifo_waits(clock: FakeClock) -> None:
    qm = QueueMonitor("jobs", clock_ns=clock)
    qm.enqueue()  # t=0
    clock.advance(1.0)
    qm.enqueue()  # t=1
    clock.advance(1.0)
    qm.enqueue()  # t=2
    clock.advance(0.5)
    assert qm.dequeue() == pytest.approx(2.5)  # the oldest first
    assert qm.dequeue() == pytest.approx(1.5)
    clock.advance(1.0)
    assert qm.dequeue() == pytest.approx(1.5)
    with pytest.raises(ValueError, match="queue 'jobs' is empty"):
        qm.dequeue()
    stats = qm.stats()
    assert stats["wait_count"] == 3 and stats["dequeued"] == 3 and stats["enqueued"] == 3
    assert stats["wait_min_s"] == pytest.approx(1.5)
    assert stats["wait_max_s"] == pytest.approx(2.5)
    assert stats["wait_avg_s"] == pytest.approx(5.5 / 3)
    assert stats["wait_p50_s"] == pytest.approx(1.5, rel=0.01)


def test_ticket_waits(clock: FakeClock) -> None:
    qm = QueueMonitor("jobs", clock_ns=clock)
    first = qm.enqueue()
    clock.advance(1.0)
    second = qm.enqueue()
    clock.advance(2.0)
    assert isinstance(second, QueueTicket)
    assert (first.seq, second.seq, first.queue, first.enqueued_ns) == (1, 2, "jobs", 0)
    assert not second.done and second.wait_s is None
    assert qm.dequeue(second) == pytest.approx(2.0)  # not FIFO: the one asked for
    assert second.done and second.wait_s == pytest.approx(2.0)
    assert "waited 2s" in repr(second)
    assert qm.length == 1
    assert qm.dequeue() == pytest.approx(3.0)  # FIFO skips the dequeued ticket
    assert first.done and first.wait_s == pytest.approx(3.0)
    assert qm.length == 0


def test_ticket_dequeued_twice_is_a_value_error() -> None:
    qm = QueueMonitor("jobs")
    ticket = qm.enqueue()
    qm.dequeue(ticket)
    with pytest.raises(ValueError, match=r"QueueTicket\(queue='jobs', seq=1.*already dequeued"):
        qm.dequeue(ticket)
    assert qm.length == 0 and qm.dequeued == 1


def test_fifo_dequeued_ticket_cannot_be_dequeued_again() -> None:
    qm = QueueMonitor("jobs")
    ticket = qm.enqueue()
    qm.dequeue()
    with pytest.raises(ValueError, match="already dequeued"):
        qm.dequeue(ticket)


def test_ticket_of_another_queue() -> None:
    a, b = QueueMonitor("a"), QueueMonitor("b")
    ticket = a.enqueue()
    b.enqueue()
    with pytest.raises(ValueError, match="queue='a'.*another queue.*'b'"):
        b.dequeue(ticket)
    same_name = QueueMonitor("a")
    same_name.enqueue()
    with pytest.raises(ValueError, match="another queue"):
        same_name.dequeue(ticket)
    assert (a.length, b.length, same_name.length) == (1, 1, 1)


def test_dequeue_rejects_non_tickets() -> None:
    qm = QueueMonitor("jobs")
    qm.enqueue()
    with pytest.raises(TypeError, match="42"):
        qm.dequeue(42)  # type: ignore[arg-type]
    assert qm.length == 1


def test_empty_queue_errors() -> None:
    qm = QueueMonitor("x")
    with pytest.raises(ValueError, match="^queue 'x' is empty$"):
        qm.dequeue()
    t = qm.enqueue()
    qm.dequeue(t)
    with pytest.raises(ValueError, match="queue 'x' is empty"):
        qm.dequeue()  # the only item left the queue by ticket
    assert qm.length == 0 and qm.stats()["dequeued"] == 1


def test_max_length_is_high_water_mark() -> None:
    qm = QueueMonitor("jobs")
    for _ in range(5):
        qm.enqueue()
    for _ in range(3):
        qm.dequeue()
    qm.enqueue()
    assert (qm.length, qm.max_length, qm.enqueued, qm.dequeued) == (3, 5, 6, 3)
    for _ in range(4):
        qm.enqueue()
    assert (qm.length, qm.max_length) == (7, 7)


def test_clock_going_backwards_gives_zero_wait(clock: FakeClock) -> None:
    qm = QueueMonitor("jobs", clock_ns=clock)
    clock.now = 10
    qm.enqueue()
    clock.now = 5
    assert qm.dequeue() == 0.0


def test_real_clock_wait() -> None:
    qm = QueueMonitor("jobs")
    ticket = qm.enqueue()
    time.sleep(0.02)
    wait = qm.dequeue(ticket)
    assert 0.02 <= wait < 5


# ------------------------------------------------------------------ waiting()


def test_waiting_context_manager(clock: FakeClock) -> None:
    qm = QueueMonitor("slots", clock_ns=clock)
    with qm.waiting() as ticket:
        assert qm.length == 1 and not ticket.done
        clock.advance(0.25)
    assert ticket.done and ticket.wait_s == pytest.approx(0.25)
    assert qm.length == 0 and qm.stats()["wait_max_s"] == pytest.approx(0.25)


def test_waiting_dequeues_on_exception(clock: FakeClock) -> None:
    qm = QueueMonitor("slots", clock_ns=clock)
    with pytest.raises(RuntimeError, match="boom"):
        with qm.waiting():
            clock.advance(1.0)
            raise RuntimeError("boom")
    assert qm.length == 0 and qm.dequeued == 1


def test_waiting_block_may_dequeue_itself() -> None:
    qm = QueueMonitor("slots")
    with qm.waiting() as ticket:
        qm.dequeue(ticket)
    with qm.waiting():
        qm.dequeue()  # FIFO took the waiting item
    assert qm.length == 0 and qm.dequeued == 2


def test_waiting_is_single_use() -> None:
    qm = QueueMonitor("slots")
    waiting = qm.waiting()
    with waiting:
        pass
    with pytest.raises(RuntimeError, match="already entered"):
        with waiting:
            pass
    assert qm.length == 0


def test_waiting_for_a_semaphore_in_threads() -> None:
    qm = QueueMonitor("gpu_slots")
    slots = threading.Semaphore(1)
    hold_s = 0.02

    def worker() -> None:
        with qm.waiting():
            slots.acquire()
        try:
            time.sleep(hold_s)
        finally:
            slots.release()

    slots.acquire()  # all four queue up before the slot frees
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while qm.length < 4 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert qm.length == qm.max_length == 4
    slots.release()
    for t in threads:
        t.join()
    stats = qm.stats()
    assert stats["wait_count"] == 4 and stats["length"] == 0
    # One slot: the last of four waited for the three holders before it.
    assert stats["wait_max_s"] >= 3 * hold_s


def test_async_with_waiting() -> None:
    qm = QueueMonitor("async_slots")

    async def main() -> None:
        sem = asyncio.Semaphore(1)

        async def job() -> None:
            async with qm.waiting():
                await sem.acquire()
            try:
                await asyncio.sleep(0.01)
            finally:
                sem.release()

        await asyncio.gather(*(job() for _ in range(3)))

    asyncio.run(main())
    assert qm.dequeued == 3 and qm.length == 0
    assert qm.stats()["wait_max_s"] >= 0.02 - 1e-3


# ------------------------------------------------------------- percentiles


def test_percentiles_match_exact_quantiles(clock: FakeClock) -> None:
    rng = random.Random(7)
    waits = [rng.lognormvariate(-4.0, 1.2) for _ in range(5000)]
    qm = QueueMonitor("q", clock_ns=clock)
    measured = []
    for wait in waits:
        start = clock.now
        qm.enqueue()
        clock.advance(wait)
        measured.append((clock.now - start) / 1e9)  # the wait the ns clock can show
        qm.dequeue()
    ordered = sorted(measured)
    stats = qm.stats()
    assert stats["wait_count"] == len(waits)
    assert stats["wait_min_s"] == pytest.approx(ordered[0])
    assert stats["wait_max_s"] == pytest.approx(ordered[-1])
    assert stats["wait_avg_s"] == pytest.approx(sum(ordered) / len(ordered), rel=1e-9)
    for key, q in (("wait_p50_s", 0.5), ("wait_p95_s", 0.95), ("wait_p99_s", 0.99)):
        assert stats[key] == pytest.approx(exact_quantile(ordered, q), rel=0.0051), key


def test_percentiles_of_overlapping_fifo_waits(clock: FakeClock) -> None:
    # 100 items enqueued 1 ms apart, then all dequeued at t = 1 s: waits are
    # 1.0, 0.999, ..., 0.901 s.
    qm = QueueMonitor("burst", clock_ns=clock)
    for _ in range(100):
        qm.enqueue()
        clock.advance(0.001)
    assert qm.max_length == 100
    clock.now = 1_000_000_000
    waits = [qm.dequeue() for _ in range(100)]
    assert waits == sorted(waits, reverse=True)
    assert waits[0] == pytest.approx(1.0) and waits[-1] == pytest.approx(0.901)
    ordered = sorted(waits)
    stats = qm.stats()
    for key, q in (("wait_p50_s", 0.5), ("wait_p95_s", 0.95), ("wait_p99_s", 0.99)):
        assert stats[key] == pytest.approx(exact_quantile(ordered, q), rel=0.0051), key


# ----------------------------------------------------------------- reset


def test_reset_keeps_outstanding_items(clock: FakeClock) -> None:
    qm = QueueMonitor("q", clock_ns=clock)
    a = qm.enqueue()
    qm.enqueue()
    qm.enqueue()
    qm.dequeue()
    qm.reset()
    assert (qm.length, qm.max_length, qm.enqueued, qm.dequeued) == (2, 2, 0, 0)
    assert qm.stats()["wait_count"] == 0 and qm.stats()["wait_p50_s"] is None
    clock.advance(2.0)
    with pytest.raises(ValueError, match="already dequeued"):
        qm.dequeue(a)  # `a` was the FIFO-dequeued one
    assert qm.dequeue() == pytest.approx(2.0)  # still measured from its enqueue
    assert qm.dequeue() == pytest.approx(2.0)
    assert (qm.length, qm.dequeued) == (0, 2)


# ------------------------------------------------------------ names and args


@pytest.mark.parametrize("bad", [None, 42, b"q", ["q"]])
def test_bad_name_types(bad: object) -> None:
    with pytest.raises(TypeError, match="queue name must be a str.*" + repr(bad)[:3].replace("[", r"\[")):
        QueueMonitor(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="queue name"):
        QueueRegistry().get(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "x" * 201, "bad\ud800"])
def test_bad_name_values(bad: str) -> None:
    with pytest.raises(ValueError, match="queue name"):
        QueueMonitor(bad)
    with pytest.raises(ValueError, match="queue name"):
        QueueRegistry().get(bad)


def test_name_limits_and_str_subclass() -> None:
    class Name(str):
        pass

    assert QueueMonitor("x" * 200).name == "x" * 200
    qm = QueueMonitor(Name("sub"))
    assert type(qm.name) is str and qm.name == "sub"


def test_bad_clock() -> None:
    with pytest.raises(TypeError, match="clock_ns"):
        QueueMonitor("q", clock_ns=5)  # type: ignore[arg-type]


# ---------------------------------------------------------------- registry


def test_registry_creates_once_per_name() -> None:
    registry = QueueRegistry()
    a = registry.get("a")
    assert registry.get("a") is a
    assert registry.get("b") is not a
    assert len(registry) == 2 and "a" in registry and "c" not in registry
    a.enqueue()
    stats = registry.stats()
    assert list(stats) == ["a", "b"]
    assert stats["a"]["length"] == 1 and stats["b"]["length"] == 0
    assert set(stats["a"]) == STATS_KEYS
    assert json.loads(json.dumps(stats)) == stats


def test_registry_clear_resets_but_keeps_queues() -> None:
    registry = QueueRegistry()
    q = registry.get("a")
    q.enqueue()
    q.enqueue()
    q.dequeue()
    registry.clear()
    assert registry.get("a") is q
    assert registry.stats()["a"] == {**{key: None for key in WAIT_KEYS}, "name": "a", "length": 1,
                                     "max_length": 1, "enqueued": 0, "dequeued": 0, "wait_count": 0}
    q.dequeue()  # the outstanding item can still leave
    assert q.length == 0


def test_registry_clock_is_passed_on(clock: FakeClock) -> None:
    registry = QueueRegistry(clock_ns=clock)
    q = registry.get("a")
    q.enqueue()
    clock.advance(3.0)
    assert q.dequeue() == pytest.approx(3.0)


def test_registry_get_from_threads_makes_one_queue() -> None:
    registry = QueueRegistry()
    barrier = threading.Barrier(8)
    seen: list[QueueMonitor] = []

    def work() -> None:
        barrier.wait()
        seen.append(registry.get("shared"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(q) for q in seen}) == 1 and len(registry) == 1


# ----------------------------------------------------------- concurrency


@pytest.mark.parametrize("mode", ["fifo", "ticket"])
def test_threads_enqueue_dequeue_pairs(mode: str) -> None:
    qm = QueueMonitor("shared")
    n, threads_n = 10_000, 4
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(n):
                if mode == "fifo":
                    qm.enqueue()
                    qm.dequeue()
                else:
                    qm.dequeue(qm.enqueue())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stats = qm.stats()
    assert stats["enqueued"] == stats["dequeued"] == stats["wait_count"] == n * threads_n
    assert stats["length"] == 0 and qm.length == 0
    assert 1 <= stats["max_length"] <= threads_n
    with pytest.raises(ValueError, match="empty"):
        qm.dequeue()


def test_threads_producers_and_consumers() -> None:
    import queue

    qm = QueueMonitor("work")
    work: queue.Queue[QueueTicket | None] = queue.Queue()
    n, producers, consumers = 10_000, 4, 4
    done = []

    def produce() -> None:
        for _ in range(n):
            work.put(qm.enqueue())

    def consume() -> None:
        count = 0
        while (ticket := work.get()) is not None:
            qm.dequeue(ticket)
            count += 1
        done.append(count)

    consumer_threads = [threading.Thread(target=consume) for _ in range(consumers)]
    producer_threads = [threading.Thread(target=produce) for _ in range(producers)]
    for t in consumer_threads + producer_threads:
        t.start()
    for t in producer_threads:
        t.join()
    for _ in consumer_threads:
        work.put(None)
    for t in consumer_threads:
        t.join()
    assert sum(done) == n * producers
    assert (qm.enqueued, qm.dequeued, qm.length) == (n * producers, n * producers, 0)
    assert qm.max_length >= 1


def test_fifo_memory_stays_bounded_with_ticket_dequeues() -> None:
    qm = QueueMonitor("q")
    oldest = qm.enqueue()  # stays outstanding: finished tickets behind it pile up
    for _ in range(10_000):
        qm.dequeue(qm.enqueue())
    assert len(qm._fifo) < 200
    assert qm.length == 1
    qm.dequeue(oldest)
    with pytest.raises(ValueError, match="empty"):
        qm.dequeue()


def test_tickets_do_not_keep_queue_alive() -> None:
    qm = QueueMonitor("q")
    ticket = qm.enqueue()
    ref = weakref.ref(qm)
    del qm
    gc.collect()
    assert ref() is None
    assert ticket.queue == "q"


def test_asyncio_producers_and_consumers() -> None:
    qm = QueueMonitor("asyncio_jobs")
    delay_s = 0.01
    items, producers = 5, 2

    async def main() -> list[tuple[float, float]]:
        work: asyncio.Queue[tuple[QueueTicket, float]] = asyncio.Queue()
        results: list[tuple[float, float]] = []

        async def produce() -> None:
            for _ in range(items):
                work.put_nowait((qm.enqueue(), time.perf_counter()))
                await asyncio.sleep(0)

        async def consume() -> None:
            while True:
                ticket, put_at = await work.get()
                await asyncio.sleep(delay_s)  # the item sits in the queue meanwhile
                slept = time.perf_counter() - put_at
                results.append((qm.dequeue(ticket), slept))
                work.task_done()

        consumer = asyncio.create_task(consume())  # one consumer: items queue up
        await asyncio.gather(*(produce() for _ in range(producers)))
        await work.join()
        consumer.cancel()
        return results

    results = asyncio.run(main())
    assert len(results) == items * producers
    for waited, slept in results:
        assert waited >= delay_s - 1e-3
        assert waited >= slept - 1e-3  # the monitor saw at least the time that passed
    # One consumer, each item sleeping delay_s: the last item waited for all before it.
    assert max(w for w, _ in results) >= items * producers * delay_s * 0.9
    stats = qm.stats()
    assert stats["wait_count"] == items * producers and stats["length"] == 0
    assert stats["max_length"] == items * producers
    assert stats["wait_min_s"] >= delay_s - 1e-3


def test_module_doctests() -> None:
    result = doctest.testmod(ragperf.watch.queue_monitors)
    assert result.failed == 0 and result.attempted > 20
