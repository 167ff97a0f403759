"""Recording at chosen timestamps, so window-based checks (alerts,
regressions) run on a fake clock instead of sleeping."""

from __future__ import annotations

from ragperf import PerformanceMonitor

#: A minute boundary far from the real clock: windows are one-minute slots.
T0 = 60.0 * 28_333_334


def record_at(
    monitor: PerformanceMonitor,
    operation: str,
    duration_s: float,
    timestamp_s: float,
    *,
    success: bool = True,
    tokens: int = 0,
    completion_tokens: int = 0,
    times: int = 1,
) -> None:
    """Records ``times`` identical operations ending at ``timestamp_s``."""
    op_id, _ = monitor._hot.resolve(operation)
    for _ in range(times):
        monitor._core.record(
            op_id,
            duration_s,
            tokens=tokens,
            completion_tokens=completion_tokens,
            success=success,
            error_type="" if success else "TimeoutError",
            timestamp_s=timestamp_s,
        )
