"""The operation names ragperf knows out of the box."""

from __future__ import annotations

from enum import Enum

__all__ = ["Operation", "OperationType"]


class OperationType(str, Enum):
    """Common RAG pipeline steps.

    Members are strings: ``OperationType.LLM_INFERENCE == "llm_inference"``,
    and they hash like their value, so dicts keyed by members can be read with
    plain strings too. Any other string is accepted as an operation name.

    Example:
        >>> OperationType.RERANKING.value
        'reranking'
        >>> {OperationType.RERANKING: 1}["reranking"]
        1
    """

    DOCUMENT_RETRIEVAL = "document_retrieval"
    EMBEDDING_GENERATION = "embedding_generation"
    RERANKING = "reranking"
    LLM_INFERENCE = "llm_inference"
    QUERY_PROCESSING = "query_processing"
    PDF_LOADING = "pdf_loading"
    SEMANTIC_CHUNKING = "semantic_chunking"

    # Enum hashes members by name; hash by value so members and their string
    # values are interchangeable dict keys (and the C hot path can use its
    # str fast path).
    __hash__ = str.__hash__

    def __str__(self) -> str:
        return self.value


Operation = OperationType | str
"""An operation as the API takes it: an :class:`OperationType` or any
non-empty string (``ragperf.monitor.Operation`` is this alias)."""
