"""ragperf.otel and the OpenTelemetry GenAI semantic conventions: span kinds,
names and attributes, gen_ai.client.* metrics, cancellations, the operation
mapping and OTEL_SEMCONV_STABILITY_OPT_IN."""

from __future__ import annotations

import asyncio
import doctest
from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

import ragperf  # noqa: E402
import ragperf.export.otel as rotel  # noqa: E402
from ragperf.export import _otel_genai  # noqa: E402
from ragperf.measure.streaming import track_stream  # noqa: E402

OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


class _Otel:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tp = TracerProvider()
        self.tp.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.mp = MeterProvider(metric_readers=[self.reader])

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def metrics(self) -> dict[str, Any]:
        """metric name -> the metric (name, unit, data) of the ragperf scope."""
        data = self.reader.get_metrics_data()
        out: dict[str, Any] = {}
        for rm in data.resource_metrics if data is not None else []:
            for sm in rm.scope_metrics:
                assert sm.scope.name == "ragperf"
                for metric in sm.metrics:
                    out[metric.name] = metric
        return out

    def points(self, name: str) -> list[Any]:
        metric = self.metrics().get(name)
        return [] if metric is None else list(metric.data.data_points)


@pytest.fixture
def monitor() -> ragperf.PerformanceMonitor:
    return ragperf.PerformanceMonitor(enable_memory_tracking=False)


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv(OPT_IN, raising=False)
    o = _Otel()
    yield o
    o.tp.shutdown()
    o.mp.shutdown()


def _instrument(monitor: Any, otel: _Otel, **kwargs: Any) -> rotel.Instrumentation:
    return rotel.instrument(monitor, tracer_provider=otel.tp, meter_provider=otel.mp, **kwargs)


def test_plain_llm_block_is_a_genai_chat_client_span(monitor: Any, otel: _Otel) -> None:
    _instrument(monitor, otel)
    with monitor.track_operation("llm_inference", model="gpt-4o-mini", provider="openai") as op:
        op.prompt_tokens, op.completion_tokens = 120, 40
    (span,) = otel.spans()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind == SpanKind.CLIENT
    assert span.status.status_code == StatusCode.UNSET
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.system"] == "openai"  # pre-1.37 name, kept without the opt-in
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] == 120
    assert attrs["gen_ai.usage.output_tokens"] == 40
    assert "error.type" not in attrs and "gen_ai.response.model" not in attrs
    assert attrs["ragperf.operation"] == "llm_inference"  # ragperf's names are kept
    assert attrs["ragperf.metadata.provider"] == "openai"

    metrics = otel.metrics()
    duration = metrics["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    (point,) = duration.data.data_points
    assert dict(point.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
    }
    assert point.count == 1 and point.sum == pytest.approx(op.duration_s, abs=1e-9)
    assert list(point.explicit_bounds) == DURATION_BUCKETS
    usage = metrics["gen_ai.client.token.usage"]
    assert usage.unit == "{token}"
    by_type = {p.attributes["gen_ai.token.type"]: p for p in usage.data.data_points}
    assert set(by_type) == {"input", "output"}
    assert by_type["input"].sum == 120 and by_type["output"].sum == 40
    assert list(by_type["input"].explicit_bounds) == TOKEN_BUCKETS
    assert by_type["input"].attributes["gen_ai.request.model"] == "gpt-4o-mini"
    # Non-streamed: no time-to-first-chunk measurement.
    assert "gen_ai.client.operation.time_to_first_chunk" not in metrics
    # ragperf's own metrics still come without the opt-in.
    (legacy,) = metrics[rotel.DURATION_HISTOGRAM].data.data_points
    assert dict(legacy.attributes) == {"operation": "llm_inference", "success": True}
    assert sum(p.value for p in metrics[rotel.TOKENS_COUNTER].data.data_points) == 160


def test_embeddings_and_retrieval_spans(monitor: Any, otel: _Otel) -> None:
    _instrument(monitor, otel)
    with monitor.track_operation("query_processing"):
        with monitor.track_operation(
            ragperf.OperationType.EMBEDDING_GENERATION, model="all-MiniLM-L6-v2", provider="local"
        ) as emb:
            emb.prompt_tokens = 12
        with monitor.track_operation("document_retrieval", data_source_id="papers-index"):
            pass
        with monitor.track_operation("document_retrieval"):
            pass
        with monitor.track_operation("reranking", model="bge-reranker"):
            pass
    by_name = {s.name: s for s in otel.spans()}
    assert set(by_name) == {
        "query_processing",
        "embeddings all-MiniLM-L6-v2",
        "retrieval papers-index",
        "retrieval",
        "reranking",
    }
    emb_span = by_name["embeddings all-MiniLM-L6-v2"]
    assert emb_span.kind == SpanKind.CLIENT
    assert emb_span.attributes["gen_ai.operation.name"] == "embeddings"
    assert emb_span.attributes["gen_ai.usage.input_tokens"] == 12
    retrieval = by_name["retrieval papers-index"]
    assert retrieval.kind == SpanKind.CLIENT
    assert retrieval.attributes["gen_ai.operation.name"] == "retrieval"
    assert retrieval.attributes["gen_ai.data_source.id"] == "papers-index"
    assert "gen_ai.data_source.id" not in by_name["retrieval"].attributes
    # No GenAI convention for reranking or the pipeline step: INTERNAL, ragperf names.
    for name in ("query_processing", "reranking"):
        assert by_name[name].kind == SpanKind.INTERNAL
        assert "gen_ai.operation.name" not in by_name[name].attributes
    root = by_name["query_processing"]
    assert all(s.parent.span_id == root.context.span_id for s in otel.spans() if s is not root)

    ops = {p.attributes["gen_ai.operation.name"] for p in otel.points("gen_ai.client.operation.duration")}
    assert ops == {"embeddings", "retrieval"}  # not reranking, not query_processing
    (usage,) = otel.points("gen_ai.client.token.usage")
    assert usage.attributes["gen_ai.token.type"] == "input" and usage.sum == 12
    legacy_ops = {p.attributes["operation"] for p in otel.points(rotel.DURATION_HISTOGRAM)}
    assert legacy_ops == {"query_processing", "embedding_generation", "document_retrieval", "reranking"}


def test_failure_sets_error_type_on_span_and_duration(monitor: Any, otel: _Otel) -> None:
    _instrument(monitor, otel)
    with pytest.raises(TimeoutError):
        with monitor.track_operation("llm_inference", model="m", provider="openai"):
            raise TimeoutError("slow")
    with monitor.track_operation("llm_inference", model="m", provider="openai"):
        pass
    (failed, ok) = sorted(otel.spans(), key=lambda s: s.start_time or 0)
    assert failed.name == "chat m" and failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "TimeoutError"
    assert "error.type" not in ok.attributes
    points = otel.points("gen_ai.client.operation.duration")
    by_error = {p.attributes.get("error.type"): p.count for p in points}
    assert by_error == {"TimeoutError": 1, None: 1}


def _cancelled_views(otel: _Otel, operation: str, reason: str) -> ReadableSpan:
    (span,) = [s for s in otel.spans() if s.attributes["ragperf.operation"] == operation]
    assert span.status.status_code == StatusCode.UNSET
    assert "error.type" not in span.attributes
    assert not [e for e in span.events if e.name == "exception"]
    assert span.attributes["ragperf.cancelled"] is True
    assert span.attributes["ragperf.cancel_reason"] == reason
    assert [p for p in otel.points(rotel.DURATION_HISTOGRAM) if p.attributes["operation"] == operation] == []
    assert otel.points("gen_ai.client.operation.duration") == []
    cancelled = [p for p in otel.points(rotel.CANCELLED_COUNTER) if p.attributes["operation"] == operation]
    assert [(p.attributes["reason"], p.value) for p in cancelled] == [(reason, 1)]
    return span


def test_keyboard_interrupt_is_cancelled_not_error(monitor: Any, otel: _Otel) -> None:
    _instrument(monitor, otel)
    with pytest.raises(KeyboardInterrupt):
        with monitor.track_operation("llm_inference", model="m") as op:
            op.prompt_tokens, op.completion_tokens = 10, 5
            raise KeyboardInterrupt
    span = _cancelled_views(otel, "llm_inference", "KeyboardInterrupt")
    assert span.kind == SpanKind.CLIENT and span.name == "chat m"
    assert span.attributes["gen_ai.usage.input_tokens"] == 10
    # Like get_operation_stats: counted as cancelled, in no other number.
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.cancelled_operations, stats.total_operations, stats.total_tokens) == (1, 0, 0)
    assert otel.points("gen_ai.client.token.usage") == []
    assert otel.points(rotel.TOKENS_COUNTER) == []


def test_cancelled_task_is_cancelled_not_error(monitor: Any, otel: _Otel) -> None:
    _instrument(monitor, otel)

    async def call() -> None:
        with monitor.track_operation("embedding_generation", model="e5"):
            await asyncio.sleep(10)

    async def main() -> None:
        task = asyncio.create_task(call())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    _cancelled_views(otel, "embedding_generation", "CancelledError")


def test_abandoned_stream_is_cancelled_not_error(monitor: Any, otel: _Otel) -> None:
    _instrument(monitor, otel)

    def chunks() -> Any:
        yield from ("Hello", " world", "!")

    stream = track_stream(monitor, chunks(), "llm_inference", model="m", provider="openai")
    for _ in stream:
        break
    stream.close()
    span = _cancelled_views(otel, "llm_inference", "abandoned")
    # The span keeps what was measured; the metrics count it as cancelled only.
    assert span.attributes["gen_ai.response.time_to_first_chunk"] == pytest.approx(
        stream.tracker.time_to_first_token_s
    )
    assert span.attributes["gen_ai.usage.output_tokens"] > 0
    assert otel.points("gen_ai.client.operation.time_to_first_chunk") == []
    assert otel.points("gen_ai.client.token.usage") == []
    assert otel.points(rotel.TOKENS_COUNTER) == []


def test_streamed_call_records_time_to_first_chunk(monitor: Any, otel: _Otel) -> None:
    _instrument(monitor, otel)

    def chunks() -> Any:
        yield from ("a", "b", "c")

    stream = track_stream(monitor, chunks(), "llm_inference", model="m", provider="openai")
    for _ in stream:
        pass
    ttft = stream.tracker.time_to_first_token_s
    assert ttft is not None
    (span,) = otel.spans()
    attrs = span.attributes
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(ttft)
    assert attrs["ragperf.time_to_first_token_s"] == pytest.approx(ttft)
    metric = otel.metrics()["gen_ai.client.operation.time_to_first_chunk"]
    assert metric.unit == "s"
    (point,) = metric.data.data_points
    assert point.count == 1
    assert point.sum == pytest.approx(attrs["gen_ai.response.time_to_first_chunk"])
    assert list(point.explicit_bounds) == DURATION_BUCKETS
    assert point.attributes["gen_ai.operation.name"] == "chat"
    assert "error.type" not in point.attributes


def test_custom_mapping_merged_over_defaults(monitor: Any, otel: _Otel) -> None:
    handle = _instrument(
        monitor, otel, genai_operations={"my_llm_step": "chat", "document_retrieval": None}
    )
    assert dict(handle.genai_operations) == {
        "llm_inference": "chat",
        "embedding_generation": "embeddings",
        "my_llm_step": "chat",
    }
    with monitor.track_operation("my_llm_step", model="qwen2.5", provider="ollama"):
        pass
    with monitor.track_operation("document_retrieval"):
        pass
    by_name = {s.name: s for s in otel.spans()}
    assert by_name["chat qwen2.5"].kind == SpanKind.CLIENT
    assert by_name["chat qwen2.5"].attributes["ragperf.operation"] == "my_llm_step"
    assert by_name["document_retrieval"].kind == SpanKind.INTERNAL
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["gen_ai.provider.name"] == "ollama"


@pytest.mark.parametrize(
    ("mapping", "error", "match"),
    [
        (["llm_inference"], TypeError, r"genai_operations must be a mapping.*\['llm_inference'\]"),
        ({3: "chat"}, TypeError, r"operation name must be a string, got 3"),
        ({"": "chat"}, ValueError, r"operation name must be a non-empty string, got ''"),
        ({"step": ""}, ValueError, r"for 'step' must be a non-empty string, got ''"),
        ({"step": 7}, TypeError, r"for 'step' must be a string, got 7"),
        ({"step": "chat gpt"}, ValueError, r"must not contain whitespace.*'chat gpt'"),
    ],
)
def test_bad_mapping_is_rejected(
    monitor: Any, otel: _Otel, mapping: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        _instrument(monitor, otel, genai_operations=mapping)
    assert monitor._exit_hooks == []


def test_operation_type_keys_and_reinstrument_with_other_mapping(monitor: Any, otel: _Otel) -> None:
    handle = _instrument(monitor, otel, genai_operations={ragperf.OperationType.RERANKING: "rerank"})
    assert handle.genai_operations["reranking"] == "rerank"
    assert _instrument(monitor, otel, genai_operations={"reranking": "rerank"}) is handle
    with pytest.raises(ValueError, match="already instrumented.*uninstrument"):
        _instrument(monitor, otel)
    handle.uninstrument()
    assert _instrument(monitor, otel) is not handle


def test_opt_in_emits_latest_conventions_only(
    monitor: Any, otel: _Otel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(OPT_IN, "http, gen_ai_latest_experimental")
    handle = _instrument(monitor, otel)
    assert handle.latest_experimental is True

    def chunks() -> Any:
        yield from ("a", "b")

    with monitor.track_operation("query_processing"):
        for _ in track_stream(monitor, chunks(), "llm_inference", model="m", provider="openai"):
            pass
        with monitor.track_operation("reranking"):
            pass
    by_op = {s.attributes["ragperf.operation"]: s for s in otel.spans()}
    llm = by_op["llm_inference"].attributes
    assert llm["gen_ai.provider.name"] == "openai"
    assert "gen_ai.system" not in llm
    assert "ragperf.time_to_first_token_s" not in llm and "gen_ai.response.time_to_first_chunk" in llm
    # ragperf's own metrics only for the operations without a GenAI convention.
    legacy_ops = {p.attributes["operation"] for p in otel.points(rotel.DURATION_HISTOGRAM)}
    assert legacy_ops == {"query_processing", "reranking"}
    assert otel.points(rotel.TOKENS_COUNTER) == []
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert "gen_ai.system" not in point.attributes
    assert sum(p.sum for p in otel.points("gen_ai.client.token.usage")) == 2


def test_response_model_attribute_from_the_tracker() -> None:
    op = SimpleNamespace(
        model="gpt-4o-mini",
        response_model="gpt-4o-mini-2024-07-18",
        metadata={"provider": "openai"},
        prompt_tokens=0,
        completion_tokens=0,
        success=True,
        time_to_first_token_s=None,
    )
    attrs = _otel_genai.span_attributes("chat", op, latest=True, reason=None)
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert _otel_genai.metric_attributes("chat", op, latest=True)["gen_ai.response.model"] == (
        "gpt-4o-mini-2024-07-18"
    )


def test_response_model_on_real_tracker(monitor: Any, otel: _Otel) -> None:
    probe = monitor.track_operation("x")
    if not hasattr(probe, "response_model"):
        pytest.skip("OperationTracker.response_model not in this build yet")
    _instrument(monitor, otel)
    with monitor.track_operation("llm_inference", model="gpt-4o-mini", provider="openai") as op:
        op.response_model = "gpt-4o-mini-2024-07-18"
    (span,) = otel.spans()
    assert span.name == "chat gpt-4o-mini"  # the requested model names the span
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    (point,) = otel.points("gen_ai.client.operation.duration")
    assert point.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gen_ai_latest_experimental", True),
        (" http , gen_ai_latest_experimental ", True),
        ("gen_ai_latest_experimental/dup", False),
        ("http", False),
        ("", False),
    ],
)
def test_opt_in_parsing(value: str, expected: bool) -> None:
    assert _otel_genai.latest_experimental({OPT_IN: value}) is expected


def test_module_examples_run() -> None:
    result = doctest.testmod(_otel_genai)
    assert result.attempted >= 8 and result.failed == 0
