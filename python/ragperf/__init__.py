"""ragperf: a low-overhead performance monitor for RAG pipelines.

Example:
    >>> from ragperf import get_performance_monitor, OperationType
    >>> monitor = get_performance_monitor()
    >>> with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
    ...     op.tokens = 150
    >>> path = monitor.export_metrics_json("metrics.json")  # doctest: +SKIP
"""

from __future__ import annotations

from . import _core
from ._core import OperationTracker, QuantileSketch
from .alerts import AlertEvent, AlertRule
from .memory import MemoryMonitor, get_system_memory
from .monitor import OperationName, PerformanceMonitor, get_performance_monitor
from .multiproc import merge_snapshots
from .operation_type import OperationType
from .queues import QueueMonitor, QueueRegistry, QueueTicket
from .regressions import RegressionFinding
from .report import format_report
from .resources import SamplerHandle, get_gpu_status
from .stats import PerformanceStats
from .timing import ResponseTimeTracker
from .tokens import TokenCounter
from .usage import Usage, extract_usage

#: pyproject.toml's version, compiled into the extension (one number for the
#: package, ``ragperf._core`` and ``ragperf --version``).
__version__: str = _core.__version__

__all__ = [
    "AlertEvent",
    "AlertRule",
    "MemoryMonitor",
    "OperationName",
    "OperationTracker",
    "OperationType",
    "PerformanceMonitor",
    "PerformanceStats",
    "QuantileSketch",
    "QueueMonitor",
    "QueueRegistry",
    "QueueTicket",
    "RegressionFinding",
    "ResponseTimeTracker",
    "SamplerHandle",
    "TokenCounter",
    "Usage",
    "__version__",
    "extract_usage",
    "format_report",
    "get_gpu_status",
    "get_performance_monitor",
    "get_system_memory",
    "merge_snapshots",
]
