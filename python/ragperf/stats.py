"""PerformanceStats: the statistics of one operation, as returned by
``PerformanceMonitor.get_operation_stats``."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Callable, Final, Mapping, overload

from .model.stats_fields import values_from_core, values_from_report

__all__ = ["PerformanceStats"]


class _UnitAlias:
    """A read-only alias of a duration field in another unit, named by the
    attribute it is assigned to: ``p95_duration_ms`` is ``p95_duration`` *
    1e3, ``p95_duration_seconds`` is ``p95_duration``.

    Example:
        >>> PerformanceStats("x", p95_duration=0.25).p95_duration_ms
        250.0
    """

    _SCALES: Final = {"ms": 1e3, "seconds": 1.0}

    def __set_name__(self, owner: type, name: str) -> None:
        self._source, _, unit = name.rpartition("_")
        self._scale = self._SCALES[unit]

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _UnitAlias: ...
    @overload
    def __get__(self, obj: PerformanceStats, owner: type | None = None) -> float: ...
    def __get__(self, obj: PerformanceStats | None, owner: type | None = None) -> float | _UnitAlias:
        if obj is None:
            return self
        value: float = getattr(obj, self._source)
        return value * self._scale if self._scale != 1.0 else value


def _unit_aliases(n: int) -> tuple[_UnitAlias, ...]:
    return tuple(_UnitAlias() for _ in range(n))


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
        values = values_from_core(d)
        values["operation_type"] = operation_type
        values["window_minutes"] = window_minutes
        values["exclude_cold_start"] = exclude_cold_start
        return cls._from_values(values)

    @classmethod
    def _from_values(cls, values: dict[str, Any]) -> PerformanceStats:
        """``cls(**values)`` for values of known fields, without the frozen
        dataclass ``__init__`` (one ``object.__setattr__`` per field: ~30 µs
        per object, most of a report's time with a few hundred of them)."""
        if cls is not PerformanceStats or not _FIELD_NAMES.issuperset(values) or "operation_type" not in values:
            return cls(**values)
        stats = object.__new__(cls)
        fields_ = stats.__dict__
        fields_.update(_PLAIN_DEFAULTS)
        for name, factory in _FACTORY_DEFAULTS:
            fields_[name] = factory()
        fields_.update(values)
        return stats

    @classmethod
    def from_report(cls, name: str, entry: Mapping[str, Any]) -> PerformanceStats:
        """The statistics of one ``operations[<name>]`` entry of a report
        (``generate_report()`` or a metrics JSON file), read through the
        one field table (:mod:`ragperf.model.stats_fields`). A missing value
        keeps its default (0, or None where unknown); a value that is not a
        number raises ValueError or TypeError.

        Example:
            >>> s = PerformanceStats.from_report("x", {"total": 4, "duration": {"p95": 0.5}})
            >>> s.total_operations, s.p95_duration_ms, s.cost_usd
            (4, 500.0, None)
        """
        return cls(operation_type=str(name), **values_from_report(entry))

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serialisable dict.

        Example:
            >>> PerformanceStats("x").to_dict()["total_operations"]
            0
        """
        d = asdict(self)
        d["errors_by_type"] = dict(self.errors_by_type)
        return d

    # Seed-compatible spellings with the unit in the name (read-only).
    min_duration_seconds, max_duration_seconds, avg_duration_seconds = _unit_aliases(3)
    p50_duration_seconds, p95_duration_seconds, p99_duration_seconds = _unit_aliases(3)
    min_duration_ms, max_duration_ms, avg_duration_ms = _unit_aliases(3)
    p50_duration_ms, p95_duration_ms, p99_duration_ms = _unit_aliases(3)

    @property
    def success_rate(self) -> float:
        """successful / total, 0.0 when nothing was recorded."""
        if self.total_operations == 0:
            return 0.0
        return self.successful_operations / self.total_operations


# PerformanceStats._from_values: the fields' defaults, read once from the
# dataclass itself (so they cannot drift from it).
_FIELD_NAMES: frozenset[str] = frozenset(f.name for f in fields(PerformanceStats))
_PLAIN_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in fields(PerformanceStats) if f.default is not MISSING
}
_FACTORY_DEFAULTS: tuple[tuple[str, Callable[[], Any]], ...] = tuple(
    (f.name, f.default_factory) for f in fields(PerformanceStats) if f.default_factory is not MISSING
)
