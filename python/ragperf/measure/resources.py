"""System resources: the background sampler handle and GPU status.

The sampling itself runs in a C++ thread (``cpp/ragperf/resource_sampler``);
GPUs are read through NVML loaded at run time (``cpp/ragperf/gpu_monitor``).
"""

from __future__ import annotations

import weakref
from types import TracebackType
from typing import Any, Protocol

from .. import _core
from .._component import Component
from ..export._runner import after_fork_in_child
from .._validate import check_positive_int, check_real

__all__ = ["Resources", "SamplerHandle", "get_gpu_status"]


class _HasCore(Protocol):
    """What the sampler handle needs of a monitor (``PerformanceMonitor`` has it)."""

    _core: _core.Monitor


class SamplerHandle:
    """The running background sampler of one monitor; ``stop()`` ends it.

    Also a context manager that stops the sampler on exit.

    Example:
        >>> with monitor.start_sampler(interval_s=1.0) as sampler:  # doctest: +SKIP
        ...     run_pipeline()
        >>> sampler.running                                         # doctest: +SKIP
        False
    """

    def __init__(self, monitor: _HasCore) -> None:
        self._monitor = monitor

    @property
    def running(self) -> bool:
        """Whether the sampler thread is running."""
        return bool(self._monitor._core.sampler_running)

    @property
    def interval_s(self) -> float:
        """Seconds between samples."""
        return float(self._monitor._core.sampler_interval_s)

    def stop(self) -> None:
        """Stops the sampler thread (idempotent).

        Example:
            >>> handle.stop()  # doctest: +SKIP
        """
        self._monitor._core.stop_sampler()

    def __enter__(self) -> SamplerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running every {self.interval_s:g} s" if self.running else "stopped"
        return f"<ragperf SamplerHandle {state}>"


def get_gpu_status(library: str | None = None) -> dict[str, Any]:
    """GPU status through NVML, loaded at run time (no CUDA build dependency).

    ``{"available": bool, "reason": str, "library": str, "driver_version":
    str, "devices": [{"index", "name", "memory_used_mb", "memory_total_mb",
    "utilization_percent", "process_memory_mb"}]}``; unknown values are None.
    No GPU or no driver gives ``available: False`` with the reason, never an
    error. ``library`` overrides the NVML path (default:
    ``$RAGPERF_NVML_LIBRARY``, else ``libnvidia-ml.so.1``).

    Example:
        >>> status = get_gpu_status()
        >>> isinstance(status["available"], bool)
        True
    """
    if library is not None and not isinstance(library, str):
        raise TypeError(f"library must be a str or None, got {library!r}")
    return dict(_core.read_gpu_status(library or ""))


# Monitors whose sampler was started in this process; weak, so the set never
# keeps a monitor alive.
_sampling: weakref.WeakSet[_HasCore] = weakref.WeakSet()


def restart_sampler_after_fork(monitor: _HasCore) -> None:
    """Makes a child forked while ``monitor``'s sampler runs start its own
    sampler at the same interval (the parent's thread does not exist in the
    child). ``PerformanceMonitor.start_sampler`` calls it.

    Example:
        >>> restart_sampler_after_fork(monitor)  # doctest: +SKIP
    """
    _sampling.add(monitor)


def _restart_samplers() -> None:
    # Runs after the C++ pthread_atfork child handlers, which recorded
    # whether each sampler was running when the parent forked.
    for monitor in list(_sampling):
        core = monitor._core
        if core.sampler_was_running_at_fork:
            core.start_sampler(core.sampler_interval_s)


after_fork_in_child(_restart_samplers, "restarting the resource sampler")


class Resources(Component):
    """The resource sampler of one monitor (``monitor.resources``): process
    RSS/VMS/CPU%, system memory and load, GPU memory/utilisation, sampled by
    a C++ thread; the core writes the report's ``resources`` and ``gpu``.

    Example:
        >>> from ragperf import PerformanceMonitor
        >>> PerformanceMonitor().resources.stats()["sampler_running"]
        False
    """

    def __init__(self, core: _core.Monitor) -> None:
        self._core = core

    def start(self, interval_s: float = 5.0) -> SamplerHandle:
        """Starts sampling process RSS/VMS/CPU%, system memory and load, and
        GPU memory/utilisation (when NVML is available) every ``interval_s``
        seconds (0.05..3600) in a C++ thread. Off by default; calling it again
        restarts with the new interval. Returns a handle whose ``stop()`` ends
        it (also a context manager). A child forked while it runs starts its
        own sampler at the same interval (``ragperf.resources``).

        Example:
            >>> handle = monitor.start_sampler(interval_s=5)  # doctest: +SKIP
            >>> monitor.get_system_stats()["cpu_percent"]["avg"]  # doctest: +SKIP
        """
        self._core.start_sampler(check_real(interval_s, "interval_s", "a number of seconds"))
        restart_sampler_after_fork(self)
        return SamplerHandle(self)

    def stop(self) -> None:
        """Stops the resource sampler (idempotent).

        Example:
            >>> monitor.stop_sampler()
        """
        self._core.stop_sampler()

    def stats(self) -> dict[str, Any]:
        """Resources now and over the sampled run: ``sampler_running``,
        ``interval_s``, ``samples``; per series (``rss_mb``, ``vms_mb``,
        ``cpu_percent``, ``system_used_percent``, ``load1``,
        ``gpu_memory_used_mb``, ``gpu_utilization_percent``,
        ``gpu_process_memory_mb``) ``{samples, last, min, max, avg}`` (None
        when never sampled); ``current``: the latest sample (one is taken now
        if there is none); ``gpu``: :func:`get_gpu_status`.

        Example:
            >>> monitor.get_system_stats()["current"]["system_total_mb"] > 0
            True
        """
        history = self._core.resource_history(1)
        current = history[-1] if history else self._core.sample_resources()
        stats = dict(self._core.resource_stats())
        stats["current"] = current
        stats["gpu"] = get_gpu_status()
        return stats

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Sampled resources, oldest first (at most ``max_resource_samples``
        kept): ``{timestamp_s, rss_mb, vms_mb, cpu_percent,
        system_total_mb, system_available_mb, system_used_percent, load1,
        load5, load15, gpu: {...}}``.

        Example:
            >>> monitor.get_resource_history(limit=10)  # doctest: +SKIP
        """
        count = 0 if limit is None else check_positive_int(limit, "limit")
        return list(self._core.resource_history(count))
