"""The operation names ragperf knows out of the box."""

from __future__ import annotations

from enum import Enum, EnumMeta

from ragperf import _core

__all__ = ["Operation", "OperationName", "OperationType", "stats_key"]


class _OperationTypeMeta(EnumMeta):
    """OperationType's metaclass: reading ``OperationType.X`` uses type's own
    attribute lookup. On CPython 3.11 EnumType's ``__getattr__`` hook made
    each read cost ~75 ns, a third of ragperf's cost in a realistic nested
    query (see ``_core._plain_class_getattr``)."""


_core._plain_class_getattr(_OperationTypeMeta)


class OperationType(str, Enum, metaclass=_OperationTypeMeta):
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


class OperationName(str):
    """A custom operation name as a ``get_all_stats()`` key: a plain string
    that, like :class:`OperationType` members, also has ``.value``, so seed
    code such as ``for op_type, s in all_stats.items(): op_type.value`` works
    for any operation.

    Example:
        >>> OperationName("my_step").value
        'my_step'
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        """The name itself (as a plain str)."""
        return str.__str__(self)


_KNOWN_TYPES = {member.value: member for member in OperationType}


def stats_key(name: str) -> OperationType | OperationName:
    """The ``get_all_stats()`` key of operation ``name``: its
    :class:`OperationType` member, or an :class:`OperationName`.

    Example:
        >>> stats_key("reranking") is OperationType.RERANKING
        True
    """
    return _KNOWN_TYPES.get(name) or OperationName(name)
