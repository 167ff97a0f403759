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
from .watch.alert_rules import AlertEvent, AlertRule
from .measure.memory import MemoryMonitor, get_system_memory
from .monitor import OperationName, PerformanceMonitor, get_performance_monitor
from .export.multiproc import merge_snapshots
from .operation_type import OperationType
from .watch.queue_monitors import QueueMonitor, QueueRegistry, QueueTicket
from .watch.regression_check import RegressionFinding
from .model.report import format_report
from .measure.resources import SamplerHandle, get_gpu_status
from .stats import PerformanceStats
from .measure.timing import ResponseTimeTracker
from .measure.tokens import TokenCounter
from .measure.usage import Usage, extract_usage

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


# --- the old names of moved modules (written by scripts/relayout.py) ---
# ``import ragperf`` then ``ragperf.alert_evaluator``: a moved module's old name as an
# attribute of the package, as before the move (it imports the alias module).
# Hidden from type checkers, for which unknown attributes stay errors.
from typing import TYPE_CHECKING as _TYPE_CHECKING  # noqa: E402

_MOVED_MODULES = frozenset(
    {
        "alert_evaluator",
        "alerts",
        "compare",
        "dashboard",
        "exporting",
        "logs",
        "memory",
        "multiproc",
        "otel",
        "overhead",
        "persistence",
        "pricing",
        "prometheus",
        "queues",
        "regressions",
        "report",
        "resources",
        "streaming",
        "streamlit",
        "timing",
        "tokens",
        "traces",
        "usage",
    }
)

if not _TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        if name in _MOVED_MODULES:
            import importlib

            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
# --- end of the old names of moved modules ---
