"""A monitor with known numbers for the Streamlit panel tests: durations,
tokens, a priced model, nested blocks and failures of two kinds."""

from __future__ import annotations

from ragperf import PerformanceMonitor

#: Operations the monitor from :func:`populate` has, sorted.
OPERATIONS = ["document_retrieval", "llm_inference", "query_processing", "reranking"]


def populate(monitor: PerformanceMonitor) -> PerformanceMonitor:
    """Records into ``monitor``: 4 retrievals (0.1-0.4 s), 4 llm_inference
    (3 recorded with tokens, 1 tracked with model 'qwen' priced at $1/$2 per
    1M tokens, inside query_processing), 2 failed rerankings."""
    monitor.set_model_prices({"qwen": {"input": 1.0, "output": 2.0}})
    for seconds in (0.1, 0.2, 0.3, 0.4):
        monitor.record("document_retrieval", seconds)
    for seconds, completion in ((0.5, 100), (1.0, 200), (1.5, 300)):
        monitor.record("llm_inference", seconds, prompt_tokens=50, completion_tokens=completion)
    with monitor.track_operation("query_processing", question="q1"):
        with monitor.track_operation("llm_inference", model="qwen") as op:
            op.prompt_tokens = 1000
            op.completion_tokens = 500
    try:
        with monitor.track_operation("reranking"):
            raise TimeoutError("reranker timed out")
    except TimeoutError:
        pass
    monitor.record("reranking", 2.0, success=False, error_type="ConnectionError")
    monitor.snapshot_memory("after_setup")
    return monitor


def known_monitor() -> PerformanceMonitor:
    """A fresh monitor with :func:`populate`'s records."""
    return populate(PerformanceMonitor(enable_memory_tracking=True))
