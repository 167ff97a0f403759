"""What monitoring costs: calibrated nanoseconds per tracked block, the
number of records, and the bytes ragperf's statistics hold.

The calibration times ``with track_operation(...): pass`` on a private C++
monitor with the same settings as the user's (max_history, memory_max_age_us,
GPU tracking) — never on the user's monitor, whose statistics stay
untouched. It runs 2,000 empty blocks three times with memory tracking off
and three times with it on, keeps the fastest run of each (the one least
disturbed by other work on the machine) and subtracts the cost of the bare
loop. It runs lazily (the first report or :meth:`get_monitoring_overhead`,
never at import), takes a few milliseconds, and is refreshed at most every
10 minutes; monitors with the same settings share it.

Exit hooks (``enable_logging``, OpenTelemetry) add their own cost per block,
which the calibration does not include; ``exit_hooks`` says how many are on.

Example:
    >>> monitor.get_monitoring_overhead()["ns_per_block"]   # doctest: +SKIP
    412.0
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

from .. import _core
from ..export._runner import after_fork_in_child

__all__ = ["Calibration", "calibrate", "overhead_summary", "CALIBRATION_BLOCKS", "REFRESH_S"]

#: Empty blocks per timed run, and runs per setting (the fastest is kept).
CALIBRATION_BLOCKS = 2000
CALIBRATION_RUNS = 3
#: A calibration older than this is measured again when next asked for.
REFRESH_S = 600.0
_OPERATION = "ragperf_calibration"


@dataclass(frozen=True)
class Calibration:
    """Measured cost of one ``with track_operation(...)`` block (ns).

    Example:
        >>> calibrate(1000, 100.0, False).ns_per_block_memory_off > 0   # doctest: +SKIP
        True
    """

    ns_per_block_memory_off: float
    ns_per_block_memory_on: float
    calibrated_at_s: float
    blocks: int
    runs: int


_cache: dict[tuple[int, float, bool], Calibration] = {}
_cache_lock = threading.Lock()


def _new_lock_in_child() -> None:
    # A thread of the parent may have held the lock mid-calibration.
    global _cache_lock
    _cache_lock = threading.Lock()


after_fork_in_child(_new_lock_in_child, "resetting the calibration lock")


def _time_blocks(memory: bool, max_history: int, memory_max_age_us: float, gpu: bool) -> float:
    core = _core.Monitor(
        enable_memory_tracking=memory,
        max_history=max_history,
        memory_max_age_us=memory_max_age_us,
        track_gpu_memory=gpu,
    )
    track = core._hot_path().track_operation
    blocks = range(CALIBRATION_BLOCKS)
    for _ in range(50):  # interns the name and warms the allocator
        with track(_OPERATION):
            pass
    best = float("inf")
    for _ in range(CALIBRATION_RUNS):
        start = time.perf_counter_ns()
        for _ in blocks:
            with track(_OPERATION):
                pass
        tracked = time.perf_counter_ns() - start
        start = time.perf_counter_ns()
        for _ in blocks:
            pass
        bare = time.perf_counter_ns() - start
        best = min(best, (tracked - bare) / CALIBRATION_BLOCKS)
    return max(best, 0.0)


def calibrate(
    max_history: int, memory_max_age_us: float, track_gpu_memory: bool, *, refresh: bool = False
) -> Calibration:
    """The calibration for these settings: cached, measured again when older
    than :data:`REFRESH_S` or when ``refresh`` is true.

    Example:
        >>> calibrate(1000, 100.0, False).blocks
        2000
    """
    key = (max_history, memory_max_age_us, track_gpu_memory)
    # One calibration at a time: two concurrent ones would disturb each other.
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and not refresh and time.time() - cached.calibrated_at_s < REFRESH_S:
            return cached
        result = Calibration(
            ns_per_block_memory_off=_time_blocks(False, max_history, memory_max_age_us, track_gpu_memory),
            ns_per_block_memory_on=_time_blocks(True, max_history, memory_max_age_us, track_gpu_memory),
            calibrated_at_s=time.time(),
            blocks=CALIBRATION_BLOCKS,
            runs=CALIBRATION_RUNS,
        )
        _cache[key] = result
        return result


def overhead_report(
    core: Any, *, memory_tracking: bool, exit_hooks: int, internal_errors: int, refresh: bool = False
) -> dict[str, Any]:
    """The ``monitoring`` section of the report for the C++ monitor ``core``.

    Example:
        >>> overhead_report(monitor._core, memory_tracking=True, exit_hooks=0,
        ...                 internal_errors=0)["records"]   # doctest: +SKIP
        25
    """
    cal = calibrate(
        int(core.max_history), float(core.memory_max_age_us), bool(core.track_gpu_memory), refresh=refresh
    )
    ns = cal.ns_per_block_memory_on if memory_tracking else cal.ns_per_block_memory_off
    records = int(core.count())
    return {
        "internal_errors": internal_errors,
        "ns_per_block": ns,
        "ns_per_block_memory_off": cal.ns_per_block_memory_off,
        "ns_per_block_memory_on": cal.ns_per_block_memory_on,
        "memory_tracking": memory_tracking,
        "calibrated_at_s": cal.calibrated_at_s,
        "calibration_blocks": cal.blocks,
        "calibration_runs": cal.runs,
        "records": records,
        "operations": int(core.operation_count()),
        "estimated_total_overhead_s": records * ns / 1e9,
        "statistics_bytes": int(core.memory_bytes()),
        "exit_hooks": exit_hooks,
    }


def overhead_summary(report: Mapping[str, Any]) -> str | None:
    """One line on what monitoring costs, from a report's ``monitoring``
    section (None when it has no calibration, e.g. an older export).

    Example:
        >>> overhead_summary({"monitoring": {"ns_per_block": 400.0, "records": 10,
        ...     "statistics_bytes": 2048}})
        'Monitoring cost: ~400 ns per tracked block, 10 records, 2.0 KiB of statistics'
    """
    section = report.get("monitoring") or {}
    ns = section.get("ns_per_block")
    if ns is None:
        return None
    kib = float(section.get("statistics_bytes", 0)) / 1024
    return (
        f"Monitoring cost: ~{float(ns):,.0f} ns per tracked block, "
        f"{int(section.get('records', 0)):,} records, {kib:,.1f} KiB of statistics"
    )
