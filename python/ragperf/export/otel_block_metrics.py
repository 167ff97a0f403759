"""The per-block metric path of :mod:`ragperf.export.otel` (``instrument()``
without ``metric_exporter``): SDK instruments of a ``MeterProvider``
recorded in every block's exit hook. ``ragperf.operation.duration``
(histogram, ``s``, attributes ``operation``, ``success``),
``ragperf.operation.tokens`` and ``ragperf.operation.cancelled`` (counters),
and the ``gen_ai.client.*`` histograms of the GenAI conventions. The pushed
path (:mod:`ragperf.export.otel_metrics`) replaces it with no per-block cost.

Example:
    >>> from opentelemetry.sdk.metrics import MeterProvider
    >>> metrics = BlockMetrics(MeterProvider(), {"llm_inference": "chat"}, latest=False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import _otel_genai as _genai
from ._otel_genai import (
    GENAI_DURATION_HISTOGRAM,
    GENAI_TIME_TO_FIRST_CHUNK_HISTOGRAM,
    GENAI_TOKEN_USAGE_HISTOGRAM,
)
from .otel_spans import SCOPE, _scope_version

__all__ = ["CANCELLED_COUNTER", "DURATION_HISTOGRAM", "TOKENS_COUNTER", "BlockMetrics"]

DURATION_HISTOGRAM = "ragperf.operation.duration"
TOKENS_COUNTER = "ragperf.operation.tokens"
CANCELLED_COUNTER = "ragperf.operation.cancelled"
#: Bucket boundaries (seconds) suggested for the duration histogram.
_BUCKETS: Sequence[float] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
)  # fmt: skip


def _histogram(meter: Any, name: str, unit: str, description: str, buckets: Sequence[float]) -> Any:
    try:
        return meter.create_histogram(
            name, unit=unit, description=description, explicit_bucket_boundaries_advisory=buckets
        )
    except TypeError:  # pragma: no cover - opentelemetry-api < 1.23
        return meter.create_histogram(name, unit=unit, description=description)


class BlockMetrics:
    """The SDK instruments of the per-block path and their recording.

    Example:
        >>> BlockMetrics(meter_provider, {}, latest=False).record(op)  # doctest: +SKIP
    """

    def __init__(self, meter_provider: Any, genai: Mapping[str, str], latest: bool) -> None:
        self._genai = dict(genai)
        self._latest = latest
        meter = meter_provider.get_meter(SCOPE, _scope_version())
        self._duration = _histogram(
            meter, DURATION_HISTOGRAM, "s", "Duration of tracked ragperf operations", _BUCKETS
        )
        self._tokens = meter.create_counter(
            TOKENS_COUNTER, unit="{token}", description="Tokens of tracked ragperf operations"
        )
        self._cancelled = meter.create_counter(
            CANCELLED_COUNTER,
            unit="{operation}",
            description="Tracked ragperf operations cancelled or abandoned before they finished",
        )
        self._genai_duration = _histogram(
            meter, GENAI_DURATION_HISTOGRAM, "s", "GenAI operation duration.", _genai.DURATION_BUCKETS
        )
        self._genai_tokens = _histogram(
            meter,
            GENAI_TOKEN_USAGE_HISTOGRAM,
            "{token}",
            "Number of input and output tokens used.",
            _genai.TOKEN_BUCKETS,
        )
        self._genai_ttfc = _histogram(
            meter,
            GENAI_TIME_TO_FIRST_CHUNK_HISTOGRAM,
            "s",
            "Time to receive the first chunk of a streamed GenAI response.",
            _genai.CHUNK_BUCKETS,
        )


    def record(self, op: Any) -> None:
        """Records one finished block."""
        name = op.operation
        genai_op = self._genai.get(name)
        # ragperf's own metrics, for every block; with the opt-in, only for
        # blocks that have no GenAI operation (the gen_ai.client.* ones cover those).
        legacy = genai_op is None or not self._latest
        reason = _genai.cancel_reason(op)
        if reason is not None:
            # Cancelled is not an error and did not finish: counted apart and
            # nothing else, as in get_operation_stats (cancelled_operations).
            self._cancelled.add(1, {"operation": name, "reason": reason})
            return
        duration = op.duration_s
        if duration is not None and legacy:
            self._duration.record(duration, {"operation": name, "success": op.success is not False})
        tokens = op.tokens
        if tokens > 0 and legacy:
            self._tokens.add(tokens, {"operation": name})
        if genai_op is None:
            return
        attrs = _genai.metric_attributes(genai_op, op, self._latest)
        if duration is not None:
            if op.success is False:
                self._genai_duration.record(duration, {**attrs, "error.type": _genai.error_type(op)})
            else:
                self._genai_duration.record(duration, attrs)
        if op.prompt_tokens > 0:
            self._genai_tokens.record(op.prompt_tokens, {**attrs, "gen_ai.token.type": "input"})
        if op.completion_tokens > 0:
            self._genai_tokens.record(op.completion_tokens, {**attrs, "gen_ai.token.type": "output"})
        ttft = op.time_to_first_token_s
        if ttft is not None:
            self._genai_ttfc.record(ttft, attrs)
