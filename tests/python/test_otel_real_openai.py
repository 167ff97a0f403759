"""ragperf.otel + ragperf.integrations.openai with the real ``openai`` SDK
against the local OpenAI-compatible server (tests/python/_openai_server.py,
127.0.0.1): the spans and metrics a user gets from an instrumented client
follow the GenAI conventions, and a plain ``track_operation`` block with the
same model and provider gets exactly the same GenAI attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

openai = pytest.importorskip("openai")
pytest.importorskip("opentelemetry.sdk")
_openai_server = pytest.importorskip("_openai_server")  # the server of the real-client tests

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

import ragperf.export.otel as rotel  # noqa: E402
from ragperf import PerformanceMonitor  # noqa: E402
from ragperf.integrations.openai import instrument as instrument_openai  # noqa: E402

MODEL = "gpt-4o-mini"
DATED = _openai_server.DATED_MODELS[MODEL]
MESSAGES = [{"role": "user", "content": "What does RAG stand for?"}]


class _Setup:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.monitor = PerformanceMonitor(enable_memory_tracking=False)
        self.exporter = InMemorySpanExporter()
        self.tp = TracerProvider()
        self.tp.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.mp = MeterProvider(metric_readers=[self.reader])
        rotel.instrument(self.monitor, tracer_provider=self.tp, meter_provider=self.mp)
        self.client = openai.OpenAI(base_url=server.url, api_key="test-key", max_retries=0, timeout=5.0)
        instrument_openai(self.client, self.monitor)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        return [
            p
            for rm in (data.resource_metrics if data is not None else [])
            for sm in rm.scope_metrics
            for m in sm.metrics
            if m.name == name
            for p in m.data.data_points
        ]

    def close(self) -> None:
        self.client.close()
        self.tp.shutdown()
        self.mp.shutdown()


@pytest.fixture
def setup(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Setup]:
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    with _openai_server.OpenAIServer() as server:
        s = _Setup(server)
        yield s
        s.close()


def _genai(span: ReadableSpan) -> dict[str, Any]:
    return {k: v for k, v in (span.attributes or {}).items() if k.startswith("gen_ai.")}


def test_chat_call_and_plain_block_get_the_same_conventions(setup: _Setup) -> None:
    setup.client.chat.completions.create(model=MODEL, messages=MESSAGES)
    usage = setup.server.exchanges[0].usage
    with setup.monitor.track_operation("llm_inference", model=MODEL, provider="openai") as op:
        op.response_model = DATED
        op.prompt_tokens, op.completion_tokens = usage["prompt_tokens"], usage["completion_tokens"]
    sdk_span, plain_span = sorted(setup.spans(), key=lambda s: s.start_time or 0)
    for span in (sdk_span, plain_span):
        assert span.name == f"chat {MODEL}"
        assert span.kind == SpanKind.CLIENT
        assert span.status.status_code == StatusCode.UNSET
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": DATED,
        "gen_ai.usage.input_tokens": usage["prompt_tokens"],
        "gen_ai.usage.output_tokens": usage["completion_tokens"],
    }
    assert _genai(sdk_span) == expected
    assert _genai(plain_span) == expected
    (point,) = setup.points("gen_ai.client.operation.duration")
    assert point.count == 2  # both calls in one series: the same attributes
    assert point.attributes["gen_ai.response.model"] == DATED


def test_streamed_call_records_time_to_first_chunk(setup: _Setup) -> None:
    stream = setup.client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks
    (span,) = setup.spans()
    attrs = span.attributes or {}
    assert span.name == f"chat {MODEL}" and span.kind == SpanKind.CLIENT
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.model"] == DATED
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0.0
    (ttfc,) = setup.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttfc.count == 1 and ttfc.sum == pytest.approx(attrs["gen_ai.response.time_to_first_chunk"])
    usage = setup.server.exchanges[0].usage
    by_type = {p.attributes["gen_ai.token.type"]: p.sum for p in setup.points("gen_ai.client.token.usage")}
    assert by_type == {"input": usage["prompt_tokens"], "output": usage["completion_tokens"]}


def test_stream_closed_early_is_cancelled_not_error(setup: _Setup) -> None:
    stream = setup.client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    for _ in stream:
        break
    stream.close()
    assert setup.server.wait_done()
    (span,) = setup.spans()
    attrs = span.attributes or {}
    assert span.status.status_code == StatusCode.UNSET and "error.type" not in attrs
    assert attrs["ragperf.cancelled"] is True and attrs["ragperf.cancel_reason"] == "abandoned"
    assert setup.points("gen_ai.client.operation.duration") == []
    assert [p.value for p in setup.points(rotel.CANCELLED_COUNTER)] == [1]


def test_embeddings_call_is_an_embeddings_span(setup: _Setup) -> None:
    setup.client.embeddings.create(model="text-embedding-3-small", input=["retrieval", "generation"])
    (span,) = setup.spans()
    assert span.name == "embeddings text-embedding-3-small" and span.kind == SpanKind.CLIENT
    attrs = _genai(span)
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] == setup.server.exchanges[0].usage["prompt_tokens"]
    (point,) = setup.points("gen_ai.client.operation.duration")
    assert point.attributes["gen_ai.operation.name"] == "embeddings"
