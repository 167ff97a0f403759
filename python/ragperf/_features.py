"""The RAG tracing components of PerformanceMonitor, each with its own
state and methods (the monitor's historical method names delegate to them):

- :class:`Traces` (``monitor.traces``): nested blocks as trees, blocks in
  flight, recent operations and errors; report keys ``recent_traces``,
  ``in_flight``.
- :class:`Models` (``monitor.models``): model prices, per-model usage and
  cost, timed model loads; ``initializations``.
- :class:`Caches` (``monitor.caches``): cache hits and misses (the core
  writes ``caches``).
- :class:`LatencyTargets` (``monitor.latency``): latency classes per operation.
- :class:`MemorySnapshots` (``monitor.memory_snapshots``): labelled memory
  snapshots; ``memory_snapshots``.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> monitor = PerformanceMonitor()
    >>> monitor.caches.record("embeddings", hit=True)
    >>> monitor.caches.stats()["embeddings"]["hits"]
    1
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any, Deque

from . import _core
from ._component import Component, ReportSection
from ._core import HotPath
from ._core import Monitor as CoreMonitor
from ._validate import check_name, check_positive_int, check_real, operation_name
from .measure.memory import get_system_memory
from .measure.pricing import parse_prices
from .watch.traces import error_dict, operation_dict, trace_tree

__all__ = [
    "INITIALIZATION_OPERATION",
    "Caches",
    "LatencyTargets",
    "MemorySnapshots",
    "Models",
    "Traces",
]

#: The operation name under which track_initialization() times model loads.
INITIALIZATION_OPERATION = "model_initialization"
_MAX_SNAPSHOTS = 1000
_MAX_INITIALIZATIONS = 1000


class Traces(Component):
    """Recent blocks of one monitor, from the core's rings: trees of nested
    blocks, blocks in flight, recent operations and recent errors.

    Example:
        >>> monitor.traces.in_flight()  # doctest: +SKIP
        {}
    """

    def __init__(self, core: CoreMonitor, hot: HotPath) -> None:
        self._core = core
        self._hot = hot

    def recent(self, limit: int = 10) -> list[dict[str, Any]]:
        """The last ``limit`` finished root blocks (up to 100 kept) as trees,
        oldest first: each node has ``operation``, ``duration_s``/``_ms``,
        ``share_of_parent`` (its duration / its parent's), ids, ``depth``,
        ``metadata`` and ``children``. Nesting follows ``contextvars``: each
        thread and asyncio task has its own innermost block; a task's first
        block nests under the block innermost in the context it was created
        from.

        Example:
            >>> with monitor.track_operation("query_processing"):    # doctest: +SKIP
            ...     with monitor.track_operation("document_retrieval"):
            ...         pass
            >>> monitor.get_recent_traces(1)[0]["children"][0]["operation"]  # doctest: +SKIP
            'document_retrieval'
        """
        n = check_positive_int(limit, "limit")
        roots = self._hot.recent_roots()
        return [trace_tree(root) for root in roots[-n:]]

    def in_flight(self) -> dict[str, int]:
        """Blocks active right now, per operation (operations with none are
        left out).

        Example:
            >>> with monitor.track_operation("reranking"):           # doctest: +SKIP
            ...     monitor.get_in_flight_operations()
            {'reranking': 1}
        """
        return dict(self._hot.in_flight())

    def recent_errors(self, limit: int = 50) -> list[dict[str, Any]]:
        """The last failed operations (up to 50 kept), oldest first:
        ``operation``, ``error_type``, ``message``, ``timestamp_s``,
        ``duration_s``, ``model``, ``metadata``, ``span_id``, ``trace_id``.

        Example:
            >>> monitor.get_recent_errors(5)[-1]["error_type"]  # doctest: +SKIP
            'TimeoutError'
        """
        n = check_positive_int(limit, "limit")
        return [error_dict(e) for e in self._core.recent_errors(n)]

    def recent_operations(
        self, operation: Any = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The most recent records of one operation (or of all, merged by
        time), oldest first, with every detail: duration, tokens, tokens/s,
        model, cost, metadata, error, time to first token, cache hit, cold
        start, span ids. Up to ``max_history`` records per operation are kept.

        Example:
            >>> monitor.get_recent_operations("llm_inference", limit=1)[0]["model"]  # doctest: +SKIP
            'qwen'
        """
        n = check_positive_int(limit, "limit")
        names = (
            [operation_name(operation)]
            if operation is not None
            else [d["name"] for d in self._core.get_all_stats()]
        )
        records = [
            operation_dict(name, rec) for name in names for rec in self._core.get_recent(name, n)
        ]
        records.sort(key=lambda r: r["timestamp_s"])
        return records[-n:]

    def contribute_report(self, section: ReportSection) -> None:
        """Writes ``recent_traces`` (the last 10) and ``in_flight``."""
        section.add("recent_traces", self.recent(10))
        section.add("in_flight", self.in_flight())

    def clear(self) -> None:
        """Forgets the finished trees."""
        self._hot.clear_traces()


class Models(Component):
    """Models of one monitor: the price table, per-model usage and cost (from
    the core) and the timed model loads.

    Example:
        >>> monitor.models.set_prices({"gpt-4o-mini": (0.15, 0.60)})  # doctest: +SKIP
    """

    def __init__(self, core: CoreMonitor, hot: HotPath) -> None:
        self._core = core
        self._hot = hot
        self._initializations: Deque[dict[str, Any]] = collections.deque(maxlen=_MAX_INITIALIZATIONS)
        self._lock = threading.Lock()

    def set_prices(self, prices: Any, *, replace: bool = False) -> None:
        """Prices in USD per 1M tokens: ``{"gpt-4o-mini": {"input": 0.15,
        "output": 0.60}}``, ``{model: (input, output)}`` or a JSON file of the
        first form. Adds to (or with ``replace=True`` replaces) the table;
        everything is validated before anything changes. Cost per operation,
        per model and in total appears in stats, report and exports; a model
        without a price has an unknown (None) cost, never 0.

        Example:
            >>> monitor.set_model_prices({"gpt-4o-mini": {"input": 0.15, "output": 0.60}})
        """
        if not isinstance(replace, bool):
            raise TypeError(f"replace must be a bool, got {replace!r}")
        rows = parse_prices(prices)
        if replace:
            self._core.set_model_prices(rows)
            return
        for model, input_price, output_price in rows:
            self._core.set_model_price(model, input_price, output_price)

    def prices(self) -> dict[str, dict[str, float]]:
        """The price table: ``{model: {"input": x, "output": y}}`` (USD per 1M tokens).

        Example:
            >>> monitor.get_model_prices()["gpt-4o-mini"]["output"]  # doctest: +SKIP
            0.6
        """
        return {m: {"input": i, "output": o} for m, (i, o) in self._core.model_prices().items()}

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per model: ``operations``, ``prompt_tokens``, ``completion_tokens``,
        ``total_tokens``, ``duration_s``, ``tokens_per_second``, ``cost_usd``
        (None when no operation had a known cost), ``unpriced_operations``,
        the prices and ``response_models`` (the models the responses named,
        e.g. dated snapshots). Keyed by the model a block asked for:
        ``op.model`` or ``metadata["model"]``; when none was asked for, the
        response's model (``op.set_usage(response)``).

        Example:
            >>> monitor.get_model_stats()["qwen"]["tokens_per_second"]  # doctest: +SKIP
        """
        return {d.pop("model"): d for d in self._core.model_stats()}

    @contextlib.contextmanager
    def track_initialization(
        self, /, model: str, from_cache: bool | None = None, **metadata: Any
    ) -> Iterator[Any]:
        """Times loading ``model`` (operation ``model_initialization``) and
        keeps a record (``model``, ``duration_s``, ``from_cache``,
        ``success``, ``timestamp_s``) for ``get_initializations()`` and the
        report. ``op.metadata["from_cache"]`` may be set inside the block
        when it is only known then.

        Example:
            >>> with monitor.track_initialization("all-MiniLM-L6-v2", from_cache=True):  # doctest: +SKIP
            ...     model = SentenceTransformer("all-MiniLM-L6-v2")
        """
        check_name(model, "model")
        if from_cache is not None and not isinstance(from_cache, bool):
            raise TypeError(f"from_cache must be a bool or None, got {from_cache!r}")
        # "loaded_model", not "model": a load is not an inference of the
        # model, so it must not count in its tokens/s or cost.
        op = self._hot.track_operation(
            INITIALIZATION_OPERATION, metadata, loaded_model=model, from_cache=from_cache
        )
        try:
            with op:
                yield op
        finally:
            with self._lock:
                self._initializations.append(
                    {
                        "model": model,
                        "duration_s": op.duration_s,
                        "from_cache": op.metadata.get("from_cache", from_cache),
                        "success": op.success,
                        "error_type": op.error_type,
                        "timestamp_s": op.end_time_s,
                    }
                )

    def initializations(self) -> list[dict[str, Any]]:
        """Model loads timed by :meth:`track_initialization`, oldest first.

        Example:
            >>> monitor.get_initializations()[0]["from_cache"]  # doctest: +SKIP
            True
        """
        with self._lock:
            return [dict(d) for d in self._initializations]

    def contribute_report(self, section: ReportSection) -> None:
        """Writes ``initializations`` (the model loads)."""
        section.add("initializations", self.initializations())

    def clear(self) -> None:
        """Forgets the model loads."""
        with self._lock:
            self._initializations.clear()


class Caches(Component):
    """Cache hit/miss counters of one monitor (kept by the core, which writes
    the report's ``caches``).

    Example:
        >>> monitor.caches.record("embeddings", hit=False)  # doctest: +SKIP
    """

    def __init__(self, core: CoreMonitor) -> None:
        self._core = core

    def record(self, name: str, hit: bool = True, count: int = 1) -> None:
        """Counts a cache lookup (``count`` of them) as a hit or a miss.
        Inside a block, ``op.cache_hit = True`` does the same for the cache
        named after the operation.

        Example:
            >>> monitor.record_cache("embeddings", hit=False)
        """
        check_name(name, "cache name")
        if not isinstance(hit, bool):
            raise TypeError(f"hit must be a bool, got {hit!r}")
        n = check_positive_int(count, "count")
        self._core.record_cache(name, hit, n)

    def stats(self) -> dict[str, dict[str, Any]]:
        """``{cache: {"hits", "misses", "lookups", "hit_rate"}}``; hit_rate is
        None before the first lookup.

        Example:
            >>> monitor.get_cache_stats()["embeddings"]["hit_rate"]  # doctest: +SKIP
            0.75
        """
        return dict(self._core.cache_stats())


class LatencyTargets(Component):
    """Latency classes (good / acceptable / investigate) per operation, kept
    by the core (statistics, health).

    Example:
        >>> monitor.latency.target()["good_below_s"]  # doctest: +SKIP
        2.0
    """

    def __init__(self, core: CoreMonitor) -> None:
        self._core = core

    def set_target(
        self,
        operation: Any = None,
        good_below_s: float = 2.0,
        investigate_above_s: float = 5.0,
    ) -> None:
        """Latency classes of one operation (all operations without their own
        when ``operation`` is None): good below ``good_below_s``, acceptable
        up to ``investigate_above_s``, investigate above. Health turns
        ``warning`` when an operation's p95 exceeds its ``investigate_above_s``.

        Example:
            >>> monitor.set_latency_target("document_retrieval", 0.2, 0.5)
        """
        name = "" if operation is None else operation_name(operation)
        self._core.set_latency_target(
            name,
            check_real(good_below_s, "good_below_s", "a number of seconds"),
            check_real(investigate_above_s, "investigate_above_s", "a number of seconds"),
        )

    def target(self, operation: Any = None) -> dict[str, float]:
        """``{"good_below_s", "investigate_above_s"}`` of an operation (or the default).

        Example:
            >>> monitor.get_latency_target()["good_below_s"]  # doctest: +SKIP
            2.0
        """
        name = "" if operation is None else operation_name(operation)
        good, investigate = self._core.latency_target(name)
        return {"good_below_s": good, "investigate_above_s": investigate}


class MemorySnapshots(Component):
    """Labelled memory snapshots of one monitor (the last 1000).

    Example:
        >>> monitor.memory_snapshots.take("before_load")["rss_mb"] > 0  # doctest: +SKIP
        True
    """

    def __init__(self) -> None:
        self._snapshots: Deque[dict[str, Any]] = collections.deque(maxlen=_MAX_SNAPSHOTS)
        self._lock = threading.Lock()

    def take(self, label: str) -> dict[str, Any]:
        """Records the process (and system) memory now under ``label``
        (the last 1000 are kept) and returns the snapshot: ``label``,
        ``timestamp_s``, ``rss_mb``, ``vms_mb``, ``system_used_percent``.

        Example:
            >>> monitor.snapshot_memory("before_index_load")["rss_mb"] > 0
            True
        """
        check_name(label, "label")
        usage = _core.MemoryMonitor.read_usage()
        try:
            system_percent: float | None = float(get_system_memory()["used_percent"])
        except (OSError, KeyError):
            system_percent = None
        snap = {
            "label": label,
            "timestamp_s": time.time(),
            "rss_mb": float(usage["rss_mb"]),
            "vms_mb": float(usage["vms_mb"]),
            "system_used_percent": system_percent,
        }
        with self._lock:
            self._snapshots.append(snap)
        return dict(snap)

    def all(self) -> list[dict[str, Any]]:
        """Labelled snapshots from :meth:`snapshot_memory`, oldest first.

        Example:
            >>> [s["label"] for s in monitor.get_memory_snapshots()]  # doctest: +SKIP
            ['before_index_load', 'after_index_load']
        """
        with self._lock:
            return [dict(s) for s in self._snapshots]

    def contribute_report(self, section: ReportSection) -> None:
        """Writes ``memory_snapshots``."""
        section.add("memory_snapshots", self.all())

    def clear(self) -> None:
        """Forgets the snapshots."""
        with self._lock:
            self._snapshots.clear()
