"""ragperf.otel: tracked blocks as OpenTelemetry spans and metrics."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode  # noqa: E402

import ragperf  # noqa: E402
import ragperf.export.otel as rotel  # noqa: E402

MS_NS = 1_000_000


@pytest.fixture
def monitor() -> ragperf.PerformanceMonitor:
    return ragperf.PerformanceMonitor(enable_memory_tracking=False)


@pytest.fixture
def otel() -> Any:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])

    class O:
        pass

    o = O()
    o.exporter = exporter  # type: ignore[attr-defined]
    o.tp = tracer_provider  # type: ignore[attr-defined]
    o.reader = reader  # type: ignore[attr-defined]
    o.mp = meter_provider  # type: ignore[attr-defined]
    yield o
    tracer_provider.shutdown()
    meter_provider.shutdown()


def _instrument(monitor: Any, otel: Any) -> rotel.Instrumentation:
    return rotel.instrument(monitor, tracer_provider=otel.tp, meter_provider=otel.mp)


def _by_name(spans: Any) -> dict[str, ReadableSpan]:
    """Spans by ragperf operation (GenAI operations' span names follow the
    GenAI conventions instead: see test_otel_genai.py)."""
    return {s.attributes.get("ragperf.operation", s.name): s for s in spans}


def _metric_points(reader: InMemoryMetricReader, name: str) -> list[Any]:
    data = reader.get_metrics_data()
    points: list[Any] = []
    if data is None:
        return points
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    points.extend(metric.data.data_points)
    return points


def test_nested_tree_parents_trace_and_times(monitor: Any, otel: Any) -> None:
    ops: dict[str, Any] = {}
    with _instrument(monitor, otel):
        with monitor.track_operation("query_processing", user="u1") as a:
            time.sleep(0.002)
            with monitor.track_operation("document_retrieval") as b:
                with monitor.track_operation("embedding_generation") as c:
                    time.sleep(0.001)
        ops = {"query_processing": a, "document_retrieval": b, "embedding_generation": c}
    spans = otel.exporter.get_finished_spans()
    assert len(spans) == 3
    by = _by_name(spans)
    root, mid, leaf = (
        by["query_processing"],
        by["document_retrieval"],
        by["embedding_generation"],
    )
    assert root.parent is None
    assert mid.parent is not None and mid.parent.span_id == root.context.span_id
    assert leaf.parent is not None and leaf.parent.span_id == mid.context.span_id
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    for name, span in by.items():
        op = ops[name]
        assert span.attributes is not None
        assert span.attributes["ragperf.operation"] == name
        assert span.start_time is not None and span.end_time is not None
        assert abs(span.start_time - op.start_time_s * 1e9) < MS_NS
        assert abs(span.end_time - op.end_time_s * 1e9) < MS_NS
        assert abs((span.end_time - span.start_time) / 1e9 - op.duration_s) < 1e-3
        assert span.status.status_code != StatusCode.ERROR
    assert root.attributes is not None and root.attributes["ragperf.metadata.user"] == "u1"


def test_failed_block_has_error_status(monitor: Any, otel: Any) -> None:
    _instrument(monitor, otel)
    with pytest.raises(ValueError, match="boom"):
        with monitor.track_operation("llm_inference"):
            raise ValueError("boom")
    (span,) = otel.exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "boom"
    assert span.attributes["error.type"] == "ValueError"
    (event,) = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "boom"


def test_model_tokens_cost_attributes(monitor: Any, otel: Any) -> None:
    monitor.set_model_prices({"m": {"input": 1.0, "output": 2.0}})
    _instrument(monitor, otel)
    with monitor.track_operation("llm_inference", model="m", obj=[1, 2]) as op:
        op.prompt_tokens = 100
        op.completion_tokens = 50
        op.cache_hit = False
    (span,) = otel.exporter.get_finished_spans()
    attrs = span.attributes
    assert attrs["gen_ai.request.model"] == "m"
    assert attrs["gen_ai.usage.input_tokens"] == 100
    assert attrs["gen_ai.usage.output_tokens"] == 50
    assert attrs["ragperf.tokens"] == 150
    assert attrs["ragperf.cost_usd"] == pytest.approx((100 * 1.0 + 50 * 2.0) / 1e6)
    assert attrs["ragperf.cache_hit"] is False
    assert attrs["ragperf.metadata.obj"] == "[1, 2]"
    tokens = _metric_points(otel.reader, rotel.TOKENS_COUNTER)
    assert sum(p.value for p in tokens) == 150


def test_unpriced_model_has_no_cost_attribute(monitor: Any, otel: Any) -> None:
    _instrument(monitor, otel)
    with monitor.track_operation("plain"):
        pass
    (span,) = otel.exporter.get_finished_spans()
    assert "ragperf.cost_usd" not in span.attributes
    assert "gen_ai.request.model" not in span.attributes


def test_histogram_matches_monitor_stats(monitor: Any, otel: Any) -> None:
    _instrument(monitor, otel)
    for i in range(5):
        with monitor.track_operation("retrieval"):
            with monitor.track_operation("rerank"):
                time.sleep(0.0005 * i)
    with pytest.raises(RuntimeError):
        with monitor.track_operation("retrieval"):
            raise RuntimeError("x")
    points = _metric_points(otel.reader, rotel.DURATION_HISTOGRAM)
    for name in ("retrieval", "rerank"):
        stats = monitor.get_operation_stats(name)
        mine = [p for p in points if p.attributes["operation"] == name]
        assert sum(p.count for p in mine) == stats.total_operations
        assert sum(p.sum for p in mine) == pytest.approx(stats.total_duration, abs=1e-6)
    failed = [
        p for p in points if p.attributes["operation"] == "retrieval" and not p.attributes["success"]
    ]
    assert sum(p.count for p in failed) == 1


def test_uninstrument_stops_spans_and_is_idempotent(monitor: Any, otel: Any) -> None:
    handle = _instrument(monitor, otel)
    assert handle.active
    with monitor.track_operation("a"):
        pass
    assert handle.uninstrument() is True
    assert handle.uninstrument() is False
    assert not handle.active
    with monitor.track_operation("b"):
        pass
    assert [s.name for s in otel.exporter.get_finished_spans()] == ["a"]
    assert monitor._exit_hooks == []


def test_instrument_twice_returns_same_handle(monitor: Any, otel: Any) -> None:
    first = _instrument(monitor, otel)
    second = _instrument(monitor, otel)
    assert first is second
    with monitor.track_operation("a"):
        pass
    assert len(otel.exporter.get_finished_spans()) == 1
    assert rotel.uninstrument(monitor) == 1
    assert rotel.uninstrument(monitor) == 0


def test_uninstrumented_monitor_produces_nothing(otel: Any) -> None:
    other = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    watched = ragperf.PerformanceMonitor(enable_memory_tracking=False)
    _instrument(watched, otel)
    with other.track_operation("not_watched"):
        pass
    assert otel.exporter.get_finished_spans() == ()
    assert other._exit_hooks == []
    assert _metric_points(otel.reader, rotel.DURATION_HISTOGRAM) == []


def test_asyncio_tasks_make_separate_trees(monitor: Any, otel: Any) -> None:
    _instrument(monitor, otel)

    async def request(i: int) -> None:
        with monitor.track_operation(f"request_{i}"):
            await asyncio.sleep(0.001 * (3 - i))
            with monitor.track_operation(f"retrieval_{i}"):
                await asyncio.sleep(0.001)
                with monitor.track_operation(f"llm_{i}"):
                    await asyncio.sleep(0.001)

    async def main() -> None:
        await asyncio.gather(*(request(i) for i in range(3)))

    asyncio.run(main())
    by = _by_name(otel.exporter.get_finished_spans())
    assert len(by) == 9
    trace_ids = set()
    for i in range(3):
        root, mid, leaf = by[f"request_{i}"], by[f"retrieval_{i}"], by[f"llm_{i}"]
        assert root.parent is None
        assert mid.parent.span_id == root.context.span_id
        assert leaf.parent.span_id == mid.context.span_id
        assert root.context.trace_id == mid.context.trace_id == leaf.context.trace_id
        trace_ids.add(root.context.trace_id)
    assert len(trace_ids) == 3


def test_blocks_outliving_their_root_keep_their_parent(monitor: Any, otel: Any) -> None:
    _instrument(monitor, otel)

    async def background() -> None:
        with monitor.track_operation("late"):
            await asyncio.sleep(0.02)
            with monitor.track_operation("late_child"):
                pass

    async def main() -> None:
        with monitor.track_operation("root"):
            task = asyncio.create_task(background())
            await asyncio.sleep(0.005)
        await task

    asyncio.run(main())
    by = _by_name(otel.exporter.get_finished_spans())
    assert set(by) == {"root", "late", "late_child"}
    assert by["late"].parent.span_id == by["root"].context.span_id
    assert by["late_child"].parent.span_id == by["late"].context.span_id
    assert len({s.context.trace_id for s in by.values()}) == 1


def test_root_nests_under_current_otel_span(monitor: Any, otel: Any) -> None:
    _instrument(monitor, otel)
    tracer = otel.tp.get_tracer("app")
    with tracer.start_as_current_span("http_request") as outer:
        with monitor.track_operation("query_processing"):
            pass
    by = _by_name(otel.exporter.get_finished_spans())
    assert by["query_processing"].parent.span_id == outer.get_span_context().span_id


class _FailingExporter(SpanExporter):
    def export(self, spans: Any) -> Any:
        raise RuntimeError("exporter down")


class _FailingProcessor(SimpleSpanProcessor):
    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("processor down")


def test_export_failure_does_not_break_user_code(
    monitor: Any, otel: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    otel.tp.add_span_processor(SimpleSpanProcessor(_FailingExporter()))
    otel.tp.add_span_processor(_FailingProcessor(InMemorySpanExporter()))
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    _instrument(monitor, otel)
    with monitor.track_operation("outer") as op:
        with monitor.track_operation("inner"):
            pass
        result = 42
    assert result == 42 and op.success is True
    assert monitor.get_operation_stats("outer").total_operations == 1
    assert reported == [] and monitor.get_internal_error_count() >= 1  # counted, not raised
    # Every span was still ended (and reached the healthy exporter).
    assert sorted(s.name for s in otel.exporter.get_finished_spans()) == ["inner", "outer"]


def test_instrument_rejects_non_monitor(otel: Any) -> None:
    with pytest.raises(TypeError, match="'not a monitor'"):
        rotel.instrument("not a monitor", tracer_provider=otel.tp, meter_provider=otel.mp)  # type: ignore[arg-type]


def test_global_providers_are_the_default(monitor: Any) -> None:
    from opentelemetry import metrics, trace

    handle = rotel.instrument(monitor)
    try:
        assert handle.tracer_provider is trace.get_tracer_provider()
        assert handle.meter_provider is metrics.get_meter_provider()
        with monitor.track_operation("x"):  # no SDK configured: a no-op, no error
            pass
    finally:
        handle.uninstrument()


def test_import_ragperf_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, ragperf\n"
        "m = ragperf.PerformanceMonitor(enable_memory_tracking=False)\n"
        "with m.track_operation('x'): pass\n"
        "bad = [n for n in sys.modules if n.startswith('opentelemetry')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_opentelemetry_gives_install_hint() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "try:\n"
        "    import ragperf.otel\n"
        "except ImportError as exc:\n"
        "    assert 'pip install ragperf[otel]' in str(exc), exc\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
