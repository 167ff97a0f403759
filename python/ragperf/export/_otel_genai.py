"""OpenTelemetry GenAI semantic conventions: names, the operation mapping and
the attributes :mod:`ragperf.export.otel` puts on spans and metrics.

No OpenTelemetry import here: plain names and dicts, so the mapping can be
validated (and tested) without the SDK. The conventions followed are the
GenAI ones of open-telemetry/semantic-conventions v1.41.0 (status
Development): ``docs/gen-ai/gen-ai-spans.md``, ``gen-ai-metrics.md`` and the
transition rules of ``docs/gen-ai/README.md``.

Example:
    >>> genai_operations({"my_llm_step": "chat", "document_retrieval": None})["my_llm_step"]
    'chat'
    >>> latest_experimental({"OTEL_SEMCONV_STABILITY_OPT_IN": "http, gen_ai_latest_experimental"})
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any

__all__ = [
    "CHUNK_BUCKETS",
    "DEFAULT_GENAI_OPERATIONS",
    "DURATION_BUCKETS",
    "GENAI_DURATION_HISTOGRAM",
    "GENAI_TIME_TO_FIRST_CHUNK_HISTOGRAM",
    "GENAI_TOKEN_USAGE_HISTOGRAM",
    "LATEST_EXPERIMENTAL",
    "OPT_IN_ENV",
    "TOKEN_BUCKETS",
    "cancel_reason",
    "error_type",
    "genai_operations",
    "latest_experimental",
    "metric_attributes",
    "span_attributes",
    "span_name",
]

#: The environment variable the conventions define for opting in to their
#: latest experimental version (a comma-separated list of values).
OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
#: The value of :data:`OPT_IN_ENV` that selects the latest GenAI conventions only.
LATEST_EXPERIMENTAL = "gen_ai_latest_experimental"

GENAI_DURATION_HISTOGRAM = "gen_ai.client.operation.duration"
GENAI_TOKEN_USAGE_HISTOGRAM = "gen_ai.client.token.usage"
GENAI_TIME_TO_FIRST_CHUNK_HISTOGRAM = "gen_ai.client.operation.time_to_first_chunk"

#: Bucket advisories of gen-ai-metrics.md: seconds for the duration and
#: time-to-first-chunk histograms, tokens for the token usage histogram.
DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
CHUNK_BUCKETS = DURATION_BUCKETS
TOKEN_BUCKETS: tuple[float, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip

#: ragperf operation name -> ``gen_ai.operation.name``, for the
#: :class:`~ragperf.OperationType` values that are GenAI operations.
DEFAULT_GENAI_OPERATIONS: Mapping[str, str] = MappingProxyType(
    {
        "llm_inference": "chat",
        "embedding_generation": "embeddings",
        "document_retrieval": "retrieval",
    }
)

_RETRIEVAL = "retrieval"
_ERROR_FALLBACK = "_OTHER"  # the well-known fallback value of error.type
#: Metadata keys read as GenAI attributes.
PROVIDER_KEY = "provider"
DATA_SOURCE_KEY = "data_source_id"


def latest_experimental(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``OTEL_SEMCONV_STABILITY_OPT_IN`` (a comma-separated list,
    read from ``environ``, default ``os.environ``) contains
    ``gen_ai_latest_experimental``.

    Example:
        >>> latest_experimental({"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental"})
        True
        >>> latest_experimental({})
        False
    """
    value = (os.environ if environ is None else environ).get(OPT_IN_ENV, "")
    return LATEST_EXPERIMENTAL in {part.strip() for part in value.split(",")}


def _key(name: object, what: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"genai_operations: {what} must be a string, got {name!r} ({type(name).__name__})")
    text = name.value if isinstance(name, Enum) else name  # an OperationType member
    if not text or text.isspace():
        raise ValueError(f"genai_operations: {what} must be a non-empty string, got {name!r}")
    return str(text)


def genai_operations(overrides: Mapping[Any, Any] | None = None) -> dict[str, str]:
    """The ragperf operation -> ``gen_ai.operation.name`` mapping:
    :data:`DEFAULT_GENAI_OPERATIONS` with ``overrides`` merged over it.

    Keys are operation names (str or :class:`~ragperf.OperationType`);
    values are ``gen_ai.operation.name`` values (``chat``, ``embeddings``,
    ``retrieval``, ``text_completion``, ``generate_content``... or a custom
    one without whitespace), or None to drop a default. A bad entry raises
    ``TypeError`` (not a mapping, not a string) or ``ValueError`` (empty, or
    whitespace in the value) naming it.

    Example:
        >>> sorted(genai_operations({"my_llm_step": "chat", "document_retrieval": None}).items())
        [('embedding_generation', 'embeddings'), ('llm_inference', 'chat'), ('my_llm_step', 'chat')]
    """
    merged = dict(DEFAULT_GENAI_OPERATIONS)
    if overrides is None:
        return merged
    if not isinstance(overrides, Mapping):
        raise TypeError(
            "genai_operations must be a mapping of operation name to gen_ai.operation.name "
            f"(or None), got {overrides!r} ({type(overrides).__name__})"
        )
    for name, genai in overrides.items():
        key = _key(name, "an operation name")
        if genai is None:
            merged.pop(key, None)
            continue
        value = _key(genai, f"the gen_ai.operation.name for {key!r}")
        if any(c.isspace() for c in value):
            raise ValueError(
                f"genai_operations: the gen_ai.operation.name for {key!r} must not contain "
                f"whitespace (it starts the span name), got {value!r}"
            )
        merged[key] = value
    return merged


def cancel_reason(op: Any) -> str | None:
    """Why a finished block counts as cancelled (the exception type, or
    ``"abandoned"`` for a stream closed early), or None when it was not."""
    metadata = op.metadata
    if metadata and metadata.get("stream_status") == "abandoned":
        return "abandoned"  # however the stream wrapper ended the block
    if op.cancelled:
        return str(op.error_type or "cancelled")
    return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def span_name(genai_op: str, op: Any) -> str:
    """``"{gen_ai.operation.name} {gen_ai.request.model}"`` (retrieval:
    ``"retrieval {gen_ai.data_source.id}"``), or the operation name alone
    when the second part is unknown.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> span_name("chat", NS(model="gpt-4o-mini", metadata={}))
        'chat gpt-4o-mini'
    """
    if genai_op == _RETRIEVAL:
        target = _text(op.metadata.get(DATA_SOURCE_KEY)) if op.metadata else None
    else:
        target = _text(op.model)
    return genai_op if target is None else f"{genai_op} {target}"


def _common(genai_op: str, op: Any, latest: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {"gen_ai.operation.name": genai_op}
    metadata = op.metadata
    provider = _text(metadata.get(PROVIDER_KEY)) if metadata else None
    if provider is not None:
        attrs["gen_ai.provider.name"] = provider
        if not latest:
            attrs["gen_ai.system"] = provider  # its name before semconv v1.37.0
    model = _text(op.model)
    if model is not None:
        attrs["gen_ai.request.model"] = model
    response_model = _text(getattr(op, "response_model", None))
    if response_model is not None:
        attrs["gen_ai.response.model"] = response_model
    return attrs


def span_attributes(genai_op: str, op: Any, latest: bool, reason: str | None) -> dict[str, Any]:
    """The GenAI attributes of a block's span; ragperf's own ones, and
    ``gen_ai.usage.*`` (set on every block's span), are added by the caller.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> op = NS(model="m", metadata={"provider": "openai"}, success=False,
        ...         error_type="TimeoutError", time_to_first_token_s=0.25)
        >>> attrs = span_attributes("chat", op, latest=True, reason=None)
        >>> attrs["gen_ai.provider.name"], attrs["gen_ai.response.time_to_first_chunk"], attrs["error.type"]
        ('openai', 0.25, 'TimeoutError')
    """
    attrs = _common(genai_op, op, latest)
    if genai_op == _RETRIEVAL and op.metadata:
        source = _text(op.metadata.get(DATA_SOURCE_KEY))
        if source is not None:
            attrs["gen_ai.data_source.id"] = source
    ttft = op.time_to_first_token_s
    if ttft is not None:
        attrs["gen_ai.request.stream"] = True
        attrs["gen_ai.response.time_to_first_chunk"] = float(ttft)
    if reason is None and op.success is False:
        attrs["error.type"] = error_type(op)
    return attrs


def metric_attributes(genai_op: str, op: Any, latest: bool) -> dict[str, Any]:
    """The attributes of a block's ``gen_ai.client.*`` measurements
    (``error.type`` is added by the caller for the duration of a failure).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> metric_attributes("embeddings", NS(model="e5", metadata={}), latest=True)
        {'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'e5'}
    """
    return _common(genai_op, op, latest)


def error_type(op: Any) -> str:
    """``error.type`` of a failed block: its exception type, else ``_OTHER``."""
    return str(op.error_type or _ERROR_FALLBACK)
