"""A pure-Python performance monitor in the style of the seed design (seed 004).

This is the peer that ragperf replaces, re-implemented here (our own code) so the
overhead benchmark can measure it side by side. It follows the seed's published
design, not ragperf's:

* ``track_operation(op, metadata=None)`` returns an ``OperationTracker`` whose
  ``__enter__`` / ``__exit__`` are ordinary Python methods;
* start/end times come from ``time.time()``;
* with memory tracking on (the seed's default) the tracker reads the process
  RSS through ``psutil.Process().memory_info()`` before and after the block
  (one ``psutil.Process`` object is created once and reused, which is the
  cheaper of the two plausible readings of the seed; every read still opens
  and parses ``/proc/self/statm``);
* each finished block becomes an ``OperationMetrics`` dataclass appended,
  under a ``threading.RLock``, to an operation history (``deque(maxlen=10000)``,
  the seed's "up to 10,000 operations, automatic cleanup") and its duration to
  a per-operation ``deque(maxlen=1000)`` in a ``ResponseTimeTracker`` guarded by
  its own ``RLock``; memory readings go to a ``deque(maxlen=1000)`` of samples;
* percentiles are computed on read by sorting the duration deque, so they only
  describe the last 1000 samples of each operation and cost O(n log n) per read.

Example:
    >>> monitor = SeedStyleMonitor(enable_memory_tracking=False)
    >>> with monitor.track_operation("llm_inference", {"model": "qwen"}) as op:
    ...     op.tokens = 150
    >>> monitor.get_operation_stats("llm_inference").total_tokens
    150
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Deque, Dict, Hashable, List, Optional

import psutil

__all__ = [
    "MemoryMonitor",
    "OperationMetrics",
    "OperationTracker",
    "OperationType",
    "PerformanceStats",
    "ResponseTimeTracker",
    "SeedStyleMonitor",
]


class OperationType(Enum):
    """The seed's operation types."""

    DOCUMENT_RETRIEVAL = "document_retrieval"
    EMBEDDING_GENERATION = "embedding_generation"
    RERANKING = "reranking"
    LLM_INFERENCE = "llm_inference"
    QUERY_PROCESSING = "query_processing"
    PDF_LOADING = "pdf_loading"
    SEMANTIC_CHUNKING = "semantic_chunking"


@dataclass
class OperationMetrics:
    """One finished block, as the seed stores it."""

    operation_type: Hashable
    start_time: float
    end_time: float
    duration: float
    memory_before_mb: Optional[float] = None
    memory_after_mb: Optional[float] = None
    memory_delta_mb: Optional[float] = None
    tokens: int = 0
    success: bool = True
    error: Optional[str] = None
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass
class PerformanceStats:
    """Aggregated statistics of one operation type (seconds)."""

    operation_type: Hashable
    total_operations: int = 0
    successful_operations: int = 0
    failed_operations: int = 0
    min_duration: float = 0.0
    max_duration: float = 0.0
    avg_duration: float = 0.0
    p50_duration: float = 0.0
    p95_duration: float = 0.0
    p99_duration: float = 0.0
    total_tokens: int = 0
    avg_tokens: float = 0.0
    total_memory_delta_mb: float = 0.0
    avg_memory_delta_mb: float = 0.0


def _percentile(sorted_values: List[float], q: float) -> float:
    """Nearest-rank style percentile of an already sorted list."""
    if not sorted_values:
        return 0.0
    index = min(int(len(sorted_values) * q), len(sorted_values) - 1)
    return sorted_values[index]


class ResponseTimeTracker:
    """Per-operation duration history in bounded deques; percentiles by sorting."""

    def __init__(self, max_history: int = 1000) -> None:
        self._max_history = max_history
        self._durations: Dict[Hashable, Deque[float]] = defaultdict(
            lambda: deque(maxlen=self._max_history)
        )
        self._lock = threading.RLock()

    def record_duration(self, operation_type: Hashable, duration: float) -> None:
        with self._lock:
            self._durations[operation_type].append(duration)

    def get_stats(self, operation_type: Hashable) -> Dict[str, float]:
        with self._lock:
            durations = sorted(self._durations.get(operation_type, ()))
        if not durations:
            return {}
        return {
            "count": len(durations),
            "min": durations[0],
            "max": durations[-1],
            "avg": sum(durations) / len(durations),
            "p50": _percentile(durations, 0.50),
            "p95": _percentile(durations, 0.95),
            "p99": _percentile(durations, 0.99),
            "total": sum(durations),
        }

    def history_length(self, operation_type: Hashable) -> int:
        with self._lock:
            return len(self._durations.get(operation_type, ()))

    def clear(self) -> None:
        with self._lock:
            self._durations.clear()


class MemoryMonitor:
    """RSS/VMS through psutil, with a bounded history of samples."""

    def __init__(self, max_history: int = 1000) -> None:
        self._process = psutil.Process()
        self._samples: Deque[Dict[str, float]] = deque(maxlen=max_history)
        self._lock = threading.RLock()

    def get_current_usage(self) -> Dict[str, float]:
        info = self._process.memory_info()
        usage = {
            "rss_mb": info.rss / (1024 * 1024),
            "vms_mb": info.vms / (1024 * 1024),
            "timestamp": time.time(),
        }
        with self._lock:
            self._samples.append(usage)
        return usage

    @staticmethod
    def get_memory_delta(start: Dict[str, float], end: Dict[str, float]) -> float:
        return end["rss_mb"] - start["rss_mb"]

    def get_stats(self) -> Dict[str, float]:
        with self._lock:
            rss = [s["rss_mb"] for s in self._samples]
        if not rss:
            return {}
        return {
            "current_rss_mb": rss[-1],
            "min_rss_mb": min(rss),
            "max_rss_mb": max(rss),
            "avg_rss_mb": sum(rss) / len(rss),
            "samples": len(rss),
        }

    def sample_count(self) -> int:
        with self._lock:
            return len(self._samples)

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()


class OperationTracker:
    """Context manager returned by ``SeedStyleMonitor.track_operation``."""

    def __init__(
        self,
        monitor: "SeedStyleMonitor",
        operation_type: Hashable,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.monitor = monitor
        self.operation_type = operation_type
        self.metadata: Dict[str, Any] = dict(metadata) if metadata else {}
        self.tokens = 0
        self.start_time = 0.0
        self.start_memory: Optional[Dict[str, float]] = None

    def __enter__(self) -> "OperationTracker":
        if self.monitor.enable_memory_tracking:
            self.start_memory = self.monitor.memory_monitor.get_current_usage()
        self.start_time = time.time()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        end_time = time.time()
        memory_before = memory_after = memory_delta = None
        if self.monitor.enable_memory_tracking and self.start_memory is not None:
            end_memory = self.monitor.memory_monitor.get_current_usage()
            memory_before = self.start_memory["rss_mb"]
            memory_after = end_memory["rss_mb"]
            memory_delta = MemoryMonitor.get_memory_delta(self.start_memory, end_memory)
        metrics = OperationMetrics(
            operation_type=self.operation_type,
            start_time=self.start_time,
            end_time=end_time,
            duration=end_time - self.start_time,
            memory_before_mb=memory_before,
            memory_after_mb=memory_after,
            memory_delta_mb=memory_delta,
            tokens=self.tokens,
            success=exc_type is None,
            error=str(exc) if exc is not None else None,
            metadata=self.metadata,
        )
        self.monitor._record_operation(metrics)
        # Returns None: the exception, if any, propagates.


class SeedStyleMonitor:
    """The seed's PerformanceMonitor design in pure Python (see module docstring)."""

    def __init__(self, enable_memory_tracking: bool = True, max_history: int = 1000) -> None:
        self.enable_memory_tracking = enable_memory_tracking
        self.max_history = max_history
        self.response_tracker = ResponseTimeTracker(max_history)
        self.memory_monitor = MemoryMonitor(max_history)
        self._operations: Deque[OperationMetrics] = deque(maxlen=max_history * 10)
        self._lock = threading.RLock()

    def track_operation(
        self, operation_type: Hashable, metadata: Optional[Dict[str, Any]] = None
    ) -> OperationTracker:
        return OperationTracker(self, operation_type, metadata)

    def _record_operation(self, metrics: OperationMetrics) -> None:
        with self._lock:
            self._operations.append(metrics)
            self.response_tracker.record_duration(metrics.operation_type, metrics.duration)

    def get_operation_stats(self, operation_type: Hashable) -> PerformanceStats:
        with self._lock:
            ops = [m for m in self._operations if m.operation_type == operation_type]
        stats = PerformanceStats(operation_type=operation_type)
        if not ops:
            return stats
        timing = self.response_tracker.get_stats(operation_type)
        stats.total_operations = len(ops)
        stats.successful_operations = sum(1 for m in ops if m.success)
        stats.failed_operations = stats.total_operations - stats.successful_operations
        stats.min_duration = timing.get("min", 0.0)
        stats.max_duration = timing.get("max", 0.0)
        stats.avg_duration = timing.get("avg", 0.0)
        stats.p50_duration = timing.get("p50", 0.0)
        stats.p95_duration = timing.get("p95", 0.0)
        stats.p99_duration = timing.get("p99", 0.0)
        stats.total_tokens = sum(m.tokens for m in ops)
        stats.avg_tokens = stats.total_tokens / len(ops)
        deltas = [m.memory_delta_mb for m in ops if m.memory_delta_mb is not None]
        if deltas:
            stats.total_memory_delta_mb = sum(deltas)
            stats.avg_memory_delta_mb = stats.total_memory_delta_mb / len(deltas)
        return stats

    def get_operation_count(self, operation_type: Optional[Hashable] = None) -> int:
        """Blocks in the (bounded) operation history, like the seed's count."""
        with self._lock:
            if operation_type is None:
                return len(self._operations)
            return sum(1 for m in self._operations if m.operation_type == operation_type)

    def get_memory_stats(self) -> Dict[str, float]:
        return self.memory_monitor.get_stats()

    def clear_metrics(self) -> None:
        with self._lock:
            self._operations.clear()
            self.response_tracker.clear()
            self.memory_monitor.clear()
