"""MemoryMonitor: the seed's process memory tracker (RSS/VMS), backed by a
kept-open /proc/self/statm read in C++ (no psutil)."""

from __future__ import annotations

from typing import Any, Mapping

from .. import _core
from .._validate import check_positive_int

__all__ = ["MemoryMonitor", "get_system_memory"]


class MemoryMonitor:
    """Current process memory, a bounded sample history and min/max/avg.

    Example:
        >>> mm = MemoryMonitor(max_history=1000)
        >>> start = mm.get_current_usage()
        >>> data = bytearray(10_000_000)
        >>> end = mm.get_current_usage()
        >>> mm.get_memory_delta(start, end) > 5
        True
    """

    def __init__(self, max_history: int = _core.DEFAULT_MAX_HISTORY) -> None:
        self._core = _core.MemoryMonitor(check_positive_int(max_history, "max_history"))

    @property
    def max_history(self) -> int:
        """Samples kept in the history."""
        return int(self._core.max_history)

    def get_current_usage(self) -> dict[str, float]:
        """``{"rss_mb", "vms_mb"}`` now; also recorded as a sample.

        Example:
            >>> MemoryMonitor().get_current_usage()["rss_mb"] > 0
            True
        """
        return dict(self._core.sample())

    @staticmethod
    def get_memory_delta(
        start: Mapping[str, float] | None = None, end: Mapping[str, float] | None = None
    ) -> float:
        """RSS change in MB between two ``get_current_usage()`` results
        (``end`` defaults to now).

        Example:
            >>> MemoryMonitor.get_memory_delta({"rss_mb": 10.0}, {"rss_mb": 12.5})
            2.5
        """
        if start is None:
            raise TypeError("get_memory_delta() needs a start usage from get_current_usage()")
        end_usage = end if end is not None else _core.MemoryMonitor.read_usage()
        for label, usage in (("start", start), ("end", end_usage)):
            if not isinstance(usage, Mapping) or "rss_mb" not in usage:
                raise TypeError(f"{label} must be a dict with 'rss_mb', got {usage!r}")
        return float(end_usage["rss_mb"]) - float(start["rss_mb"])

    def get_stats(self) -> dict[str, Any]:
        """``{current_rss_mb, current_vms_mb, min_rss_mb, max_rss_mb,
        avg_rss_mb, samples}``; reading it records one more sample.

        Example:
            >>> MemoryMonitor().get_stats()["samples"]
            1
        """
        return dict(self._core.get_stats())

    def get_history(self) -> list[dict[str, float]]:
        """Samples, oldest first: ``{timestamp_s, rss_mb, vms_mb}``.

        Example:
            >>> MemoryMonitor().get_history()
            []
        """
        return list(self._core.history())

    def clear(self) -> None:
        """Forgets the samples and aggregates.

        Example:
            >>> MemoryMonitor().clear()
        """
        self._core.clear()


def get_system_memory() -> dict[str, float]:
    """System memory via procps libproc2: ``{total_mb, available_mb, used_mb,
    free_mb, used_percent}``.

    Example:
        >>> get_system_memory()["total_mb"] > 0
        True
    """
    return dict(_core.read_system_memory())
