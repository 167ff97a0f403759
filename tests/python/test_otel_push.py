"""instrument(metric_exporter=...): ragperf's statistics pushed as OTel
exponential histograms through the real OTLP/HTTP exporter into a local
receiver decoding opentelemetry-proto; and trace sampling decided per trace
at the root (issue #23 items 4 and 5)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("opentelemetry.proto")

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

import ragperf  # noqa: E402
import ragperf.export.otel as rotel  # noqa: E402
from _otlp_receiver import Receiver, attrs  # noqa: E402


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # loopback only, never a proxy
    r = Receiver()
    yield r
    r.close()


def _exporter(receiver: Receiver) -> OTLPMetricExporter:
    return OTLPMetricExporter(endpoint=f"{receiver.endpoint}/v1/metrics", timeout=10)


def _points(metric: Any) -> dict[str, Any]:
    """operation -> exponential histogram data point."""
    assert metric.WhichOneof("data") == "exponential_histogram"
    return {
        attrs(p.attributes).get("operation") or attrs(p.attributes)["ragperf.operation"]: p
        for p in metric.exponential_histogram.data_points
    }


def _quantile(point: Any, q: float) -> float:
    """The q-quantile read from an OTLP exponential histogram point the way a
    backend does: the bucket holding rank q*(count-1), its midpoint in
    relative terms (2*upper/(1+gamma))."""
    gamma = 2.0 ** (2.0 ** -point.scale)
    rank = q * (point.count - 1)
    seen = point.zero_count
    if rank < seen:
        return 0.0
    for k, c in enumerate(point.positive.bucket_counts):
        seen += c
        if rank < seen:
            upper = gamma ** (point.positive.offset + k + 1)
            return 2.0 * upper / (1.0 + gamma)
    raise AssertionError("rank beyond the buckets")


def test_exported_buckets_are_the_sketch_bins_and_p99_is_within_1_5_percent(receiver: Receiver) -> None:
    rng = random.Random(23)
    values = [rng.lognormvariate(-1.0, 0.8) for _ in range(20_000)]
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    for v in values:
        monitor.record("llm_inference", v)  # record() reaches OTel too
    for _ in range(5):
        with monitor.track_operation("llm_inference", model="m", provider="p") as op:
            op.prompt_tokens, op.completion_tokens = 100, 20
        values.append(op.duration_s)
    monitor.record("reranking", 0.01, success=False, error_type="TimeoutError")
    handle = rotel.instrument(
        monitor,
        tracer_provider=TracerProvider(),
        metric_exporter=_exporter(receiver),
        resource=Resource.create({"service.name": "rag-app"}),
    )
    try:
        assert handle.force_flush()
        (request,) = receiver.metrics
        ((rm,),) = [[rm for rm in request.resource_metrics]]
        assert attrs(rm.resource.attributes)["service.name"] == "rag-app"
        metrics = receiver.last_metrics()
        assert {
            "ragperf.operation.duration",
            "gen_ai.client.operation.duration",
            "ragperf.operation.tokens",
            "ragperf.operation.errors",
        } <= set(metrics)
        sketches = {name: duration for name, duration, _, _ in monitor._core.sketches()}
        for metric_name in ("ragperf.operation.duration", "gen_ai.client.operation.duration"):
            metric = metrics[metric_name]
            assert metric.unit == "s"
            assert metric.exponential_histogram.aggregation_temporality == 2  # CUMULATIVE
            point = _points(metric)["llm_inference"]
            scale, zero, offset, counts = sketches["llm_inference"].buckets()
            first = next(i for i, c in enumerate(counts) if c)
            last = max(i for i, c in enumerate(counts) if c)
            assert point.scale == scale == 6
            assert point.zero_count == zero
            # OTel bucket j = (g^j, g^(j+1)] is the sketch's bin j+1.
            assert point.positive.offset == offset + first - 1
            assert list(point.positive.bucket_counts) == list(counts[first : last + 1])
            assert point.count == len(values) == sum(point.positive.bucket_counts) + zero
            assert point.sum == pytest.approx(sum(values), rel=1e-6)
            assert point.min == pytest.approx(min(values), rel=1e-6)
            assert point.start_time_unix_nano < point.time_unix_nano
        genai_attrs = attrs(_points(metrics["gen_ai.client.operation.duration"])["llm_inference"].attributes)
        assert genai_attrs == {"gen_ai.operation.name": "chat", "ragperf.operation": "llm_inference"}
        # p99 (and more) from the exported buckets against the truth.
        truth_values = sorted(values)
        point = _points(metrics["ragperf.operation.duration"])["llm_inference"]
        for q in (0.5, 0.9, 0.99):
            truth = truth_values[int(q * (len(truth_values) - 1))]
            assert math.isclose(_quantile(point, q), truth, rel_tol=0.015), q
        tokens = {
            (attrs(p.attributes)["operation"], attrs(p.attributes).get("gen_ai.token.type")): p.as_int
            for p in metrics["ragperf.operation.tokens"].sum.data_points
        }
        assert tokens == {("llm_inference", "input"): 500, ("llm_inference", "output"): 100}
        assert metrics["ragperf.operation.tokens"].sum.is_monotonic
        errors = [(attrs(p.attributes), p.as_int) for p in metrics["ragperf.operation.errors"].sum.data_points]
        assert errors == [({"operation": "reranking", "error.type": "TimeoutError"}, 1)]
        # Cumulative: a second push holds everything again, plus the new block.
        monitor.record("llm_inference", 0.25)
        assert handle.force_flush()
        assert _points(receiver.last_metrics()["ragperf.operation.duration"])["llm_inference"].count == len(values) + 1
    finally:
        handle.shutdown()


def test_pushed_path_records_nothing_per_block_and_pushes_on_interval_and_uninstrument(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A global meter provider that the per-block path would record into.
    reader = InMemoryMetricReader()
    monkeypatch.setattr(rotel.metrics, "get_meter_provider", lambda: MeterProvider(metric_readers=[reader]))
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    handle = rotel.instrument(
        monitor, tracer_provider=TracerProvider(), metric_exporter=_exporter(receiver), metric_export_interval_s=0.1
    )
    assert handle.meter_provider is None
    for _ in range(20):
        with monitor.track_operation("llm_inference", model="m") as op:
            op.prompt_tokens = 3
    deadline = time.monotonic() + 10
    while len(receiver.metrics) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(receiver.metrics) >= 2, "the runner pushed on its interval"
    data = reader.get_metrics_data()
    assert data is None or not any(
        sm.scope.name == "ragperf" for rm in data.resource_metrics for sm in rm.scope_metrics
    ), "no SDK instrument was recorded per block"
    monitor.record("llm_inference", 1.0)
    before = len(receiver.metrics)
    assert handle.uninstrument()
    assert len(receiver.metrics) > before, "uninstrument() pushed once more"
    point = _points(receiver.last_metrics()["ragperf.operation.duration"])["llm_inference"]
    assert point.count == 21
    count = len(receiver.metrics)
    time.sleep(0.3)
    assert len(receiver.metrics) == count, "no push after uninstrument()"


def test_per_block_path_unchanged_without_metric_exporter() -> None:
    reader = InMemoryMetricReader()
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    with rotel.instrument(
        monitor, tracer_provider=TracerProvider(), meter_provider=MeterProvider(metric_readers=[reader])
    ) as handle:
        assert handle.metric_exporter is None
        with monitor.track_operation("reranking"):
            pass
    data = reader.get_metrics_data()
    assert data is not None
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert rotel.DURATION_HISTOGRAM in names


def test_bad_options_raise_clear_errors() -> None:
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    tp = TracerProvider()
    exporter = InMemorySpanExporter()  # not a MetricExporter
    with pytest.raises(ValueError, match="trace_sample_ratio must be between 0 and 1"):
        rotel.instrument(monitor, tracer_provider=tp, trace_sample_ratio=1.5)
    with pytest.raises(TypeError, match="trace_sample_ratio"):
        rotel.instrument(monitor, tracer_provider=tp, trace_sample_ratio="0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trace_slow_threshold_s"):
        rotel.instrument(monitor, tracer_provider=tp, trace_slow_threshold_s=-1)
    with pytest.raises(ValueError, match="not both"):
        rotel.instrument(monitor, tracer_provider=tp, meter_provider=MeterProvider(), metric_exporter=object())
    with pytest.raises(ValueError, match="interval_s"):
        rotel.instrument(monitor, tracer_provider=tp, metric_exporter=object(), metric_export_interval_s=0.001)
    with pytest.raises(TypeError, match="MetricExporter"):
        rotel.instrument(monitor, tracer_provider=tp, metric_exporter=exporter.get_finished_spans)
    assert rotel.uninstrument(monitor) == 0


def _rag_query(monitor: ragperf.PerformanceMonitor, i: int, sleep_s: float = 0.0) -> None:
    """query -> retrieval, embedding, LLM; LLM of every 100th query fails
    (caught in the query when i % 200 == 0, so only the child failed)."""
    try:
        with monitor.track_operation("query_processing"):
            with monitor.track_operation("document_retrieval", data_source_id="docs"):
                pass
            with monitor.track_operation("embedding_generation", model="e5", provider="local") as emb:
                emb.prompt_tokens = 8
            try:
                with monitor.track_operation("llm_inference", model="gpt-4o-mini", provider="openai") as llm:
                    llm.prompt_tokens, llm.completion_tokens = 120, 40
                    if i % 100 == 0:
                        raise ConnectionError("refused")
            except ConnectionError:
                if i % 200 != 0:
                    raise
            if sleep_s:
                time.sleep(sleep_s)
    except ConnectionError:
        pass


def _traces(exporter: InMemorySpanExporter) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for span in exporter.get_finished_spans():
        out.setdefault(span.context.trace_id, []).append(span)
    return out


def test_sampling_keeps_a_fraction_every_failed_trace_whole_and_metrics_at_100_percent() -> None:
    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    reader_exporter = _Collect()
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    n = 3000
    with rotel.instrument(monitor, tracer_provider=tp, metric_exporter=reader_exporter, trace_sample_ratio=0.05) as h:
        for i in range(n):
            _rag_query(monitor, i)
        assert h.force_flush()
    traces = _traces(spans)
    failed = [t for t in traces.values() if any(not s.status.is_ok for s in t)]
    assert len(failed) == n // 100, "every failed trace is exported"
    assert all(len(t) == 4 for t in traces.values()), "a kept trace is exported whole"
    others = len(traces) - len(failed)
    # 2970 successful traces at 5%: 148.5 expected, sd 11.9.
    assert 90 <= others <= 210
    assert h.traces_emitted == len(traces) and h.traces_emitted + h.traces_dropped == n
    # Metrics are not sampled.
    assert monitor.get_operation_count("query_processing") == n
    pushed = reader_exporter.last_counts()
    assert pushed["query_processing"] == n and pushed["llm_inference"] == n


def test_slow_traces_are_always_kept() -> None:
    spans = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(spans))
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    with rotel.instrument(
        monitor, tracer_provider=tp, metric_exporter=_Collect(), trace_sample_ratio=0.0, trace_slow_threshold_s=0.05
    ):
        for i in range(1, 41):
            _rag_query(monitor, i, sleep_s=0.06 if i % 10 == 0 else 0.0)
    traces = _traces(spans)
    roots = sorted(s.end_time - s.start_time for t in traces.values() for s in t if s.parent is None)
    assert len(roots) == 4 and all(d >= 0.05e9 for d in roots)


class _Collect:
    """A MetricExporter keeping what it is given (no network)."""

    def __init__(self) -> None:
        self.data: list[Any] = []

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> Any:
        from opentelemetry.sdk.metrics.export import MetricExportResult

        self.data.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

    def last_counts(self) -> dict[str, int]:
        for metric in self.data[-1].resource_metrics[0].scope_metrics[0].metrics:
            if metric.name == "ragperf.operation.duration":
                return {p.attributes["operation"]: p.count for p in metric.data.data_points}
        raise AssertionError("no duration metric")


def _span_shape(spans: Any) -> list[tuple[Any, ...]]:
    """What a backend shows of a trace, without ids and times: name, kind,
    parent's name, attributes, status, event names and attributes."""
    by_id = {s.context.span_id: s for s in spans}
    return sorted(
        (
            s.name,
            s.kind,
            by_id[s.parent.span_id].name if s.parent is not None and s.parent.span_id in by_id else None,
            tuple(sorted(s.attributes.items())),
            (s.status.status_code, s.status.description),
            tuple((e.name, tuple(sorted(e.attributes.items()))) for e in s.events),
        )
        for s in spans
    )


def _provider(direct: bool) -> tuple[TracerProvider, InMemorySpanExporter]:
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    # ALWAYS_ON is not the default sampler: ragperf then goes through the tracer API.
    tp = TracerProvider() if direct else TracerProvider(sampler=ALWAYS_ON)
    exporter = InMemorySpanExporter()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp, exporter


def test_direct_spans_equal_tracer_api_spans() -> None:
    shapes = []
    for direct in (True, False):
        tp, exporter = _provider(direct)
        monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
        with rotel.instrument(monitor, tracer_provider=tp, metric_exporter=_Collect()) as handle:
            assert handle._builder.direct is direct
            for i in (1, 100):
                _rag_query(monitor, i)
        spans = exporter.get_finished_spans()
        assert len(spans) == 8
        for s in spans:
            assert s.end_time >= s.start_time > 0
            assert s.instrumentation_scope.name == "ragperf"
            assert s.instrumentation_scope.version == ragperf.__version__
        shapes.append(_span_shape(spans))
    assert shapes[0] == shapes[1]
    assert any(shape[4][0].name == "ERROR" for shape in shapes[0])


@pytest.mark.parametrize("direct", [True, False])
def test_blocks_finishing_after_their_root_are_emitted_under_their_parent(direct: bool) -> None:
    import asyncio

    tp, exporter = _provider(direct)
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    with rotel.instrument(monitor, tracer_provider=tp, metric_exporter=_Collect()):

        async def background() -> None:
            with monitor.track_operation("late"):
                await asyncio.sleep(0.02)
                with monitor.track_operation("late_child"):
                    pass

        async def main() -> None:
            with monitor.track_operation("root"):
                with monitor.track_operation("inner"):
                    pass
                task = asyncio.create_task(background())
                await asyncio.sleep(0.005)
            await task

        asyncio.run(main())
    by = {s.name: s for s in exporter.get_finished_spans()}
    assert set(by) == {"root", "inner", "late", "late_child"}
    assert by["inner"].parent.span_id == by["root"].context.span_id
    assert by["late"].parent.span_id == by["root"].context.span_id
    assert by["late_child"].parent.span_id == by["late"].context.span_id
    assert len({s.context.trace_id for s in by.values()}) == 1


@pytest.mark.parametrize("direct", [True, False])
def test_trees_under_a_sampled_out_span_are_not_emitted(direct: bool) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    tp, exporter = _provider(direct)
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    with rotel.instrument(monitor, tracer_provider=tp, metric_exporter=_Collect()):
        for sampled in (False, True):
            parent = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(int(sampled)))
            with trace.use_span(NonRecordingSpan(parent)):
                _rag_query(monitor, 1)
    spans = exporter.get_finished_spans()
    if direct:
        # The default sampler (ParentBased) keeps only the sampled parent's tree.
        assert len(spans) == 4
    else:
        # ALWAYS_ON ignores the parent's flag: both trees.
        assert len(spans) == 8
    assert {s.context.trace_id for s in spans} == {0xABC}
    (root,) = [s for s in spans if s.name == "query_processing" and s.parent.span_id == 0xDEF][:1]
    assert root.parent.span_id == 0xDEF


def test_roots_only_hooks_skip_children_unless_another_hook_needs_them() -> None:
    monitor = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    seen: list[str] = []
    every: list[str] = []

    def roots(op: Any) -> None:
        seen.append(op.operation)

    roots.roots_only = True  # type: ignore[attr-defined]

    def tree() -> None:
        with monitor.track_operation("root"):
            with monitor.track_operation("a"):
                with monitor.track_operation("b"):
                    pass

    monitor._add_exit_hook(roots)
    tree()
    assert seen == ["root"]
    monitor._add_exit_hook(every.append)  # a hook that wants every block
    tree()
    assert seen == ["root", "b", "a", "root"] and [op.operation for op in every] == ["b", "a", "root"]
    monitor._remove_exit_hook(every.append)
    tree()
    assert seen[-1] == "root" and len(seen) == 5
