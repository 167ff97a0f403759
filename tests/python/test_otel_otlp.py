"""ragperf.otel through the real OTLP/HTTP exporters to a local receiver.

The receiver is a stdlib HTTP server on 127.0.0.1 (ephemeral port) that
decodes what it is sent as the OTLP protobuf messages
(``ExportTraceServiceRequest`` / ``ExportMetricsServiceRequest`` of
opentelemetry-proto) and answers like a collector does; the exporters are
opentelemetry-exporter-otlp-proto-http's, behind a BatchSpanProcessor and a
PeriodicExportingMetricReader. What is checked is what a user reads in a
backend: span kinds, names, parents, statuses and attributes; metric names,
units, types, bucket bounds and attributes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("opentelemetry.proto")

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402

import ragperf  # noqa: E402
import ragperf.export.otel as rotel  # noqa: E402
from _otlp_receiver import Receiver as _Receiver  # noqa: E402
from _otlp_receiver import attrs as _attrs  # noqa: E402

DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Receiver]:
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # loopback only, never a proxy
    r = _Receiver()
    yield r
    r.close()


def test_spans_and_metrics_reach_an_otlp_http_receiver(receiver: _Receiver) -> None:
    resource = Resource.create({"service.name": "rag-app"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces", timeout=10))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{receiver.endpoint}/v1/metrics", timeout=10),
        export_interval_millis=3_600_000,  # exported by force_flush below
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    try:
        with rotel.instrument(monitor, tracer_provider=tracer_provider, meter_provider=meter_provider):
            with monitor.track_operation("query_processing"):
                with monitor.track_operation(
                    "embedding_generation", model="all-MiniLM-L6-v2", provider="local"
                ) as emb:
                    emb.prompt_tokens = 9
                with monitor.track_operation("document_retrieval", data_source_id="papers"):
                    pass
                with monitor.track_operation("reranking"):
                    pass
                with monitor.track_operation(
                    "llm_inference", model="gpt-4o-mini", provider="openai"
                ) as llm:
                    llm.prompt_tokens, llm.completion_tokens = 120, 40
            with pytest.raises(ConnectionError):
                with monitor.track_operation("llm_inference", model="gpt-4o-mini", provider="openai"):
                    raise ConnectionError("refused")
            with pytest.raises(KeyboardInterrupt):
                with monitor.track_operation("llm_inference", model="gpt-4o-mini", provider="openai"):
                    raise KeyboardInterrupt
        assert tracer_provider.force_flush(10_000)
        assert meter_provider.force_flush(10_000)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()

    assert receiver.content_types == {"application/x-protobuf"}
    spans = receiver.spans()
    assert sorted((name, len(v)) for name, v in spans.items()) == [
        ("chat gpt-4o-mini", 3),
        ("embeddings all-MiniLM-L6-v2", 1),
        ("query_processing", 1),
        ("reranking", 1),
        ("retrieval papers", 1),
    ]
    ((res, scope, root),) = spans["query_processing"]
    assert _attrs(res.attributes)["service.name"] == "rag-app"
    assert scope.name == "ragperf" and scope.version == ragperf.__version__
    assert root.kind == Span.SPAN_KIND_INTERNAL
    ((_, _, rerank),) = spans["reranking"]
    assert rerank.kind == Span.SPAN_KIND_INTERNAL and rerank.parent_span_id == root.span_id
    ((_, _, emb_span),) = spans["embeddings all-MiniLM-L6-v2"]
    assert emb_span.kind == Span.SPAN_KIND_CLIENT and emb_span.parent_span_id == root.span_id
    emb_attrs = _attrs(emb_span.attributes)
    assert emb_attrs["gen_ai.operation.name"] == "embeddings"
    assert emb_attrs["gen_ai.provider.name"] == "local"
    assert emb_attrs["gen_ai.usage.input_tokens"] == 9
    ((_, _, retrieval),) = spans["retrieval papers"]
    assert retrieval.kind == Span.SPAN_KIND_CLIENT
    assert _attrs(retrieval.attributes)["gen_ai.data_source.id"] == "papers"

    chats = {}
    for _, _, span in spans["chat gpt-4o-mini"]:
        attrs = _attrs(span.attributes)
        assert span.kind == Span.SPAN_KIND_CLIENT
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
        outcome = (
            "cancelled" if attrs.get("ragperf.cancelled") else attrs.get("error.type", "ok")
        )
        chats[outcome] = (span, attrs)
    assert set(chats) == {"ok", "ConnectionError", "cancelled"}
    ok_span, ok_attrs = chats["ok"]
    assert ok_span.parent_span_id == root.span_id
    assert ok_span.trace_id == root.trace_id
    assert ok_attrs["gen_ai.usage.input_tokens"] == 120
    assert ok_attrs["gen_ai.usage.output_tokens"] == 40
    assert ok_span.status.code == Status.STATUS_CODE_UNSET
    failed_span, _ = chats["ConnectionError"]
    assert failed_span.status.code == Status.STATUS_CODE_ERROR
    assert failed_span.status.message == "refused"
    assert [e.name for e in failed_span.events] == ["exception"]
    cancelled_span, cancelled_attrs = chats["cancelled"]
    assert cancelled_span.status.code == Status.STATUS_CODE_UNSET
    assert "error.type" not in cancelled_attrs and not cancelled_span.events
    assert cancelled_attrs["ragperf.cancel_reason"] == "KeyboardInterrupt"
    for span in (ok_span, failed_span, cancelled_span):
        assert span.end_time_unix_nano > span.start_time_unix_nano > 0

    metrics = receiver.last_metrics()
    assert {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        rotel.DURATION_HISTOGRAM,
        rotel.TOKENS_COUNTER,
        rotel.CANCELLED_COUNTER,
    } <= set(metrics)
    assert "gen_ai.client.operation.time_to_first_chunk" not in metrics  # nothing streamed

    duration = metrics["gen_ai.client.operation.duration"]
    assert duration.unit == "s" and duration.WhichOneof("data") == "histogram"
    points = {
        (
            _attrs(p.attributes)["gen_ai.operation.name"],
            _attrs(p.attributes).get("error.type"),
        ): p
        for p in duration.histogram.data_points
    }
    assert {k: p.count for k, p in points.items()} == {
        ("embeddings", None): 1,
        ("retrieval", None): 1,
        ("chat", None): 1,  # the cancelled call is not a duration
        ("chat", "ConnectionError"): 1,
    }
    for p in points.values():
        assert list(p.explicit_bounds) == DURATION_BUCKETS
    chat_ok = _attrs(points[("chat", None)].attributes)
    assert chat_ok["gen_ai.provider.name"] == "openai"
    assert chat_ok["gen_ai.request.model"] == "gpt-4o-mini"

    usage = metrics["gen_ai.client.token.usage"]
    assert usage.unit == "{token}" and usage.WhichOneof("data") == "histogram"
    sums = {
        (_attrs(p.attributes)["gen_ai.operation.name"], _attrs(p.attributes)["gen_ai.token.type"]): p.sum
        for p in usage.histogram.data_points
    }
    assert sums == {("embeddings", "input"): 9, ("chat", "input"): 120, ("chat", "output"): 40}
    assert all(list(p.explicit_bounds) == TOKEN_BUCKETS for p in usage.histogram.data_points)

    legacy = metrics[rotel.DURATION_HISTOGRAM]
    assert legacy.unit == "s"
    legacy_counts = {
        (_attrs(p.attributes)["operation"], _attrs(p.attributes)["success"]): p.count
        for p in legacy.histogram.data_points
    }
    assert legacy_counts == {
        ("query_processing", True): 1,
        ("embedding_generation", True): 1,
        ("document_retrieval", True): 1,
        ("reranking", True): 1,
        ("llm_inference", True): 1,
        ("llm_inference", False): 1,
    }
    cancelled = metrics[rotel.CANCELLED_COUNTER]
    assert cancelled.unit == "{operation}" and cancelled.sum.is_monotonic
    assert [(_attrs(p.attributes), p.as_int) for p in cancelled.sum.data_points] == [
        ({"operation": "llm_inference", "reason": "KeyboardInterrupt"}, 1)
    ]
