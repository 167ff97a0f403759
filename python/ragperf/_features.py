"""The RAG tracing features of PerformanceMonitor (nesting, streams, usage,
cost, caches, errors, cold starts, latency classes, queues, logging, memory
snapshots, recent operations). A mixin so monitor.py stays about recording
and reading statistics; every method here is documented on the monitor.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Deque, Mapping, cast

from . import _core, exporting
from ._core import HotPath
from ._core import Monitor as CoreMonitor
from ._validate import check_name, check_positive_int, check_real, operation_name
from .memory import get_system_memory
from .persistence import merge_state
from .pricing import parse_prices
from .queues import QueueMonitor, QueueRegistry
from .traces import error_dict, operation_dict, trace_tree

if TYPE_CHECKING:
    from .exporting import PeriodicExporter
    from .streaming import AsyncTrackedStream, TrackedStream, TracksOperations

__all__ = ["RagFeaturesMixin", "INITIALIZATION_OPERATION"]

#: The operation name under which track_initialization() times model loads.
INITIALIZATION_OPERATION = "model_initialization"
_MAX_SNAPSHOTS = 1000
_MAX_INITIALIZATIONS = 1000

ExitHook = Callable[[Any], object]


class RagFeaturesMixin:
    """Methods PerformanceMonitor gets from this module (see each docstring)."""

    _core: CoreMonitor
    _hot: HotPath

    def _init_features(self) -> None:
        self._queues = QueueRegistry()
        self._snapshots: Deque[dict[str, Any]] = collections.deque(maxlen=_MAX_SNAPSHOTS)
        self._initializations: Deque[dict[str, Any]] = collections.deque(
            maxlen=_MAX_INITIALIZATIONS
        )
        self._exit_hooks: list[ExitHook] = []
        self._features_lock = threading.Lock()

    # ------------------------------------------------------------ nesting

    def get_recent_traces(self, limit: int = 10) -> list[dict[str, Any]]:
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

    def get_in_flight_operations(self) -> dict[str, int]:
        """Blocks active right now, per operation (operations with none are
        left out).

        Example:
            >>> with monitor.track_operation("reranking"):           # doctest: +SKIP
            ...     monitor.get_in_flight_operations()
            {'reranking': 1}
        """
        return dict(self._hot.in_flight())

    # ------------------------------------------------------------ streams

    def track_stream(
        self,
        stream: Any,
        operation: Any,
        *,
        count: Callable[[Any], int] | None = None,
        metadata: Mapping[str, Any] | None = None,
        **metadata_kwargs: Any,
    ) -> TrackedStream[Any] | AsyncTrackedStream[Any]:
        """Wraps a sync or async token/chunk stream: time to first token,
        inter-token latency, output tokens/s and the duration of the whole
        stream, with correct counts when it ends early, raises or is
        abandoned. See :func:`ragperf.streaming.track_stream`.

        Example:
            >>> for chunk in monitor.track_stream(llm.stream(q), "llm_inference", model="qwen"):  # doctest: +SKIP
            ...     print(chunk, end="")
        """
        from .streaming import track_stream

        tracked: TrackedStream[Any] | AsyncTrackedStream[Any] = track_stream(
            cast("TracksOperations", self),
            stream,
            operation,
            count=count,
            metadata=metadata,
            **metadata_kwargs,
        )
        return tracked

    # --------------------------------------------------------- usage/cost

    def set_model_prices(self, prices: Any, *, replace: bool = False) -> None:
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

    def get_model_prices(self) -> dict[str, dict[str, float]]:
        """The price table: ``{model: {"input": x, "output": y}}`` (USD per 1M tokens).

        Example:
            >>> monitor.get_model_prices()["gpt-4o-mini"]["output"]  # doctest: +SKIP
            0.6
        """
        return {m: {"input": i, "output": o} for m, (i, o) in self._core.model_prices().items()}

    def get_model_stats(self) -> dict[str, dict[str, Any]]:
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

    # -------------------------------------------------------------- caches

    def record_cache(self, name: str, hit: bool = True, count: int = 1) -> None:
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

    def get_cache_stats(self) -> dict[str, dict[str, Any]]:
        """``{cache: {"hits", "misses", "lookups", "hit_rate"}}``; hit_rate is
        None before the first lookup.

        Example:
            >>> monitor.get_cache_stats()["embeddings"]["hit_rate"]  # doctest: +SKIP
            0.75
        """
        return dict(self._core.cache_stats())

    # -------------------------------------------------------------- errors

    def get_recent_errors(self, limit: int = 50) -> list[dict[str, Any]]:
        """The last failed operations (up to 50 kept), oldest first:
        ``operation``, ``error_type``, ``message``, ``timestamp_s``,
        ``duration_s``, ``model``, ``metadata``, ``span_id``, ``trace_id``.

        Example:
            >>> monitor.get_recent_errors(5)[-1]["error_type"]  # doctest: +SKIP
            'TimeoutError'
        """
        n = check_positive_int(limit, "limit")
        return [error_dict(e) for e in self._core.recent_errors(n)]

    def get_recent_operations(
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

    # ----------------------------------------------- initialisation & cold

    @contextlib.contextmanager
    def track_initialization(
        self, model: str, from_cache: bool | None = None, **metadata: Any
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
            with self._features_lock:
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

    def get_initializations(self) -> list[dict[str, Any]]:
        """Model loads timed by :meth:`track_initialization`, oldest first.

        Example:
            >>> monitor.get_initializations()[0]["from_cache"]  # doctest: +SKIP
            True
        """
        with self._features_lock:
            return [dict(d) for d in self._initializations]

    # ----------------------------------------------------- latency classes

    def set_latency_target(
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

    def get_latency_target(self, operation: Any = None) -> dict[str, float]:
        """``{"good_below_s", "investigate_above_s"}`` of an operation (or the default).

        Example:
            >>> monitor.get_latency_target()["good_below_s"]  # doctest: +SKIP
            2.0
        """
        name = "" if operation is None else operation_name(operation)
        good, investigate = self._core.latency_target(name)
        return {"good_below_s": good, "investigate_above_s": investigate}

    # --------------------------------------------------------------- queues

    def queue(self, name: str) -> QueueMonitor:
        """The queue monitor named ``name`` (created on first use): enqueue /
        dequeue, current and max length, wait-time percentiles.

        Example:
            >>> q = monitor.queue("requests")
            >>> ticket = q.enqueue(); wait_s = q.dequeue(ticket)
        """
        return self._queues.get(name)

    # ------------------------------------------------------ memory snapshots

    def snapshot_memory(self, label: str) -> dict[str, Any]:
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
        with self._features_lock:
            self._snapshots.append(snap)
        return dict(snap)

    def get_memory_snapshots(self) -> list[dict[str, Any]]:
        """Labelled snapshots from :meth:`snapshot_memory`, oldest first.

        Example:
            >>> [s["label"] for s in monitor.get_memory_snapshots()]  # doctest: +SKIP
            ['before_index_load', 'after_index_load']
        """
        with self._features_lock:
            return [dict(s) for s in self._snapshots]

    # ---------------------------------------------------------- exit hooks

    def _add_exit_hook(self, hook: ExitHook) -> None:
        """Calls ``hook(tracker)`` after every block (logging, OpenTelemetry).
        A failing hook never reaches the block: it is an internal error
        (counted by :meth:`get_internal_error_count`, the first one logged)."""
        if not callable(hook):
            raise TypeError(f"hook must be callable, got {hook!r}")
        with self._features_lock:
            if hook not in self._exit_hooks:
                self._exit_hooks.append(hook)
            self._install_hooks()

    def _remove_exit_hook(self, hook: ExitHook) -> None:
        """Stops calling ``hook``; unknown hooks are ignored."""
        with self._features_lock:
            if hook in self._exit_hooks:
                self._exit_hooks.remove(hook)
            self._install_hooks()

    def _install_hooks(self) -> None:
        hooks = tuple(self._exit_hooks)
        if not hooks:
            self._hot.set_exit_hook(None)
        elif len(hooks) == 1:
            self._hot.set_exit_hook(hooks[0])
        else:

            def run_all(op: Any) -> None:
                # Every hook runs even if one fails; the first failure is
                # then counted (and logged once) by the tracker.
                failure: BaseException | None = None
                for hook in hooks:
                    try:
                        hook(op)
                    except Exception as exc:  # noqa: BLE001
                        failure = failure or exc
                if failure is not None:
                    raise failure

            self._hot.set_exit_hook(run_all)

    def enable_logging(self, level: int = 20, structured: bool = False) -> Any:
        """Logs every block on the ``ragperf`` logger (``[PERF] op - DONE in
        12.3ms``; ``structured=True`` for JSON records). See
        :func:`ragperf.logs.enable_logging`; ``RAGPERF_DEBUG=1`` turns it on
        at DEBUG without code changes.

        Example:
            >>> monitor.enable_logging()  # doctest: +SKIP
        """
        from .logs import enable_logging

        return enable_logging(self, level=level, structured=structured)

    def disable_logging(self) -> bool:
        """Stops per-block logging; True if it was on.

        Example:
            >>> monitor.disable_logging()  # doctest: +SKIP
            False
        """
        from .logs import disable_logging

        return disable_logging(self)

    # --------------------------------------------------- persistence/merge

    def merge_from(self, source: Any) -> None:
        """Adds the statistics saved in an export (a path written by
        :meth:`export_metrics_json`, or its report dict) to this monitor:
        counts add and sketches merge exactly, so a restarted service resumes
        its statistics, and snapshots of several processes combine. Raises
        OSError for an unreadable file and ``StateError`` (a ValueError)
        naming the file for a corrupt one or a newer schema; nothing changes
        then. See :mod:`ragperf.persistence`.

        Example:
            >>> monitor.merge_from("metrics-worker-1.json")  # doctest: +SKIP
        """
        merge_state(self._core, source)

    # ------------------------------------------------------------- export

    def start_periodic_export(
        self, path: Any, interval_s: float = 300.0, *, fmt: str = "json"
    ) -> PeriodicExporter:
        """Writes the report (``fmt="json"``, atomically) or the per-operation
        CSV (``fmt="csv"``) to ``path`` every ``interval_s`` seconds from a
        background thread, and once more at interpreter exit. Returns a handle
        whose ``stop()`` ends it (with a last write). See
        :mod:`ragperf.exporting`.

        Example:
            >>> handle = monitor.start_periodic_export("metrics.json", interval_s=60)  # doctest: +SKIP
            >>> handle.stop()                                                        # doctest: +SKIP
        """
        return exporting.start_periodic_export(
            cast("exporting._Monitor", self), path, interval_s, fmt=fmt
        )

    def export_metrics_csv(self, path: Any) -> str:
        """Per-operation statistics as CSV (one row per operation; durations
        in ms), written atomically. Returns the path.

        Example:
            >>> monitor.export_metrics_csv("stats.csv")  # doctest: +SKIP
            'stats.csv'
        """
        return exporting.export_metrics_csv(cast("exporting._Monitor", self), path)

    def export_operations_csv(self, path: Any, operation: Any = None, limit: int = 1000) -> str:
        """Recent operations (see :meth:`get_recent_operations`) as CSV,
        written atomically. Returns the path.

        Example:
            >>> monitor.export_operations_csv("operations.csv", "llm_inference")  # doctest: +SKIP
            'operations.csv'
        """
        return exporting.export_operations_csv(
            cast("exporting._Monitor", self), path, operation, limit
        )

    # ------------------------------------------------------------- report

    def _feature_report(self) -> dict[str, Any]:
        """Report keys kept on the Python side."""
        return {
            "queues": self._queues.stats(),
            "initializations": self.get_initializations(),
            "memory_snapshots": self.get_memory_snapshots(),
            "recent_traces": self.get_recent_traces(10),
            "in_flight": self.get_in_flight_operations(),
            "monitoring": {"internal_errors": self.get_internal_error_count()},
        }

    def get_internal_error_count(self) -> int:
        """Problems of ragperf itself on the hot path since the monitor was
        created: a failing exit hook (the logging or OpenTelemetry one, e.g. a
        broken exporter) or a failed allocation while recording. They never
        reach the tracked code; the first one is logged on the ``ragperf``
        logger (ERROR), later ones are only counted. Also in the report as
        ``monitoring.internal_errors``.

        Example:
            >>> monitor.get_internal_error_count()  # doctest: +SKIP
            0
        """
        return int(self._hot.internal_errors())

    def _clear_features(self) -> None:
        self._queues.clear()
        self._hot.clear_traces()
        with self._features_lock:
            self._snapshots.clear()
            self._initializations.clear()
