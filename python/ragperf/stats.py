"""PerformanceStats: the statistics of one operation, as returned by
``PerformanceMonitor.get_operation_stats``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

__all__ = ["PerformanceStats"]


@dataclass(frozen=True)
class PerformanceStats:
    """Statistics of one operation. Durations are in seconds.

    Percentiles come from a relative-error quantile sketch (default accuracy
    0.5%), never from sorting a bounded history, so they cover every record.

    ``*_duration_seconds`` and ``*_duration_ms`` are read-only aliases of the
    ``*_duration`` fields.

    Example:
        >>> s = monitor.get_operation_stats("llm_inference")   # doctest: +SKIP
        >>> s.p95_duration, s.tokens_per_second                  # doctest: +SKIP
        (2.01, 118.5)
        >>> s.to_dict()["total_operations"]                      # doctest: +SKIP
        25
    """

    operation_type: str
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
    tokens_per_second: float = 0.0
    # Beyond the seed:
    p90_duration: float = 0.0
    total_duration: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error_rate: float = 0.0
    errors_by_type: Mapping[str, int] = field(default_factory=dict)
    window_minutes: int | None = None
    total_gpu_memory_delta_mb: float = 0.0
    avg_gpu_memory_delta_mb: float = 0.0
    # Throughput: records per second (over the window, or first..last record).
    requests_per_second: float = 0.0
    # Streams (blocks that saw a first token); None when there were none.
    streams: int = 0
    time_to_first_token_avg_s: float | None = None
    time_to_first_token_p50_s: float | None = None
    time_to_first_token_p95_s: float | None = None
    time_to_first_token_p99_s: float | None = None
    inter_token_samples: int = 0
    inter_token_latency_avg_s: float | None = None
    inter_token_latency_p50_s: float | None = None
    inter_token_latency_p95_s: float | None = None
    inter_token_latency_p99_s: float | None = None
    output_tokens_per_second: float | None = None
    # Cost in USD at the models' prices; None when no record had a known cost.
    cost_usd: float | None = None
    priced_operations: int = 0
    unpriced_operations: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    # The first record since the last clear (cold start).
    cold_start_duration: float | None = None
    # Latency classes: good < good_below_s <= acceptable <= investigate_above_s < investigate.
    latency_good: int = 0
    latency_acceptable: int = 0
    latency_investigate: int = 0
    latency_good_below_s: float = 2.0
    latency_investigate_above_s: float = 5.0
    exclude_cold_start: bool = False
    # Blocks ended by KeyboardInterrupt, SystemExit, GeneratorExit or
    # asyncio.CancelledError: counted here only (not in total_operations,
    # failed_operations, the durations or error_rate).
    cancelled_operations: int = 0

    @property
    def cache_hit_rate(self) -> float | None:
        """cache_hits / (hits + misses) of ``op.cache_hit`` lookups; None without any."""
        lookups = self.cache_hits + self.cache_misses
        return self.cache_hits / lookups if lookups else None

    @classmethod
    def _from_core(
        cls,
        d: Mapping[str, Any],
        operation_type: str,
        window_minutes: int | None = None,
        exclude_cold_start: bool = False,
    ) -> PerformanceStats:
        return cls(
            operation_type=operation_type,
            total_operations=int(d["total"]),
            successful_operations=int(d["successful"]),
            failed_operations=int(d["failed"]),
            min_duration=float(d["min_s"]),
            max_duration=float(d["max_s"]),
            avg_duration=float(d["avg_s"]),
            p50_duration=float(d["p50_s"]),
            p95_duration=float(d["p95_s"]),
            p99_duration=float(d["p99_s"]),
            total_tokens=int(d["total_tokens"]),
            avg_tokens=float(d["avg_tokens"]),
            total_memory_delta_mb=float(d["total_memory_delta_mb"]),
            avg_memory_delta_mb=float(d["avg_memory_delta_mb"]),
            tokens_per_second=float(d["tokens_per_second"]),
            p90_duration=float(d["p90_s"]),
            total_duration=float(d["sum_s"]),
            prompt_tokens=int(d["prompt_tokens"]),
            completion_tokens=int(d["completion_tokens"]),
            error_rate=float(d["error_rate"]),
            errors_by_type=dict(d["errors_by_type"]),
            window_minutes=window_minutes,
            total_gpu_memory_delta_mb=float(d["total_gpu_memory_delta_mb"]),
            avg_gpu_memory_delta_mb=float(d["avg_gpu_memory_delta_mb"]),
            requests_per_second=float(d["requests_per_second"]),
            streams=int(d["streams"]),
            time_to_first_token_avg_s=d["ttft_avg_s"],
            time_to_first_token_p50_s=d["ttft_p50_s"],
            time_to_first_token_p95_s=d["ttft_p95_s"],
            time_to_first_token_p99_s=d["ttft_p99_s"],
            inter_token_samples=int(d["inter_token_samples"]),
            inter_token_latency_avg_s=d["itl_avg_s"],
            inter_token_latency_p50_s=d["itl_p50_s"],
            inter_token_latency_p95_s=d["itl_p95_s"],
            inter_token_latency_p99_s=d["itl_p99_s"],
            output_tokens_per_second=d["output_tokens_per_second"],
            cost_usd=d["cost_usd"],
            priced_operations=int(d["priced_operations"]),
            unpriced_operations=int(d["unpriced_operations"]),
            cache_hits=int(d["cache_hits"]),
            cache_misses=int(d["cache_misses"]),
            cold_start_duration=d["cold_start_s"],
            latency_good=int(d["latency_good"]),
            latency_acceptable=int(d["latency_acceptable"]),
            latency_investigate=int(d["latency_investigate"]),
            latency_good_below_s=float(d["latency_good_below_s"]),
            latency_investigate_above_s=float(d["latency_investigate_above_s"]),
            exclude_cold_start=exclude_cold_start,
            cancelled_operations=int(d.get("cancelled", 0)),
        )

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serialisable dict.

        Example:
            >>> PerformanceStats("x").to_dict()["total_operations"]
            0
        """
        d = asdict(self)
        d["errors_by_type"] = dict(self.errors_by_type)
        return d

    # Seed-compatible spellings with the unit in the name.
    @property
    def min_duration_seconds(self) -> float:
        return self.min_duration

    @property
    def max_duration_seconds(self) -> float:
        return self.max_duration

    @property
    def avg_duration_seconds(self) -> float:
        return self.avg_duration

    @property
    def p50_duration_seconds(self) -> float:
        return self.p50_duration

    @property
    def p95_duration_seconds(self) -> float:
        return self.p95_duration

    @property
    def p99_duration_seconds(self) -> float:
        return self.p99_duration

    @property
    def min_duration_ms(self) -> float:
        return self.min_duration * 1e3

    @property
    def max_duration_ms(self) -> float:
        return self.max_duration * 1e3

    @property
    def avg_duration_ms(self) -> float:
        return self.avg_duration * 1e3

    @property
    def p50_duration_ms(self) -> float:
        return self.p50_duration * 1e3

    @property
    def p95_duration_ms(self) -> float:
        return self.p95_duration * 1e3

    @property
    def p99_duration_ms(self) -> float:
        return self.p99_duration * 1e3

    @property
    def success_rate(self) -> float:
        """successful / total, 0.0 when nothing was recorded."""
        if self.total_operations == 0:
            return 0.0
        return self.successful_operations / self.total_operations
