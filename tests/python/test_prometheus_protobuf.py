"""The metrics endpoint's protobuf exposition (issue #23 item 2): a scrape
negotiating ``application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
encoding=delimited`` gets native histograms of the sketch bins under the text
format's names and labels, plus every other family; other scrapes keep the
text format. Served over real HTTP on 127.0.0.1 and decoded with the
official schema (the real-Prometheus scrape is test_prometheus_fleet.py)."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry, Counter  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from ragperf import PerformanceMonitor  # noqa: E402
from ragperf.export import prom_native  # noqa: E402
from ragperf.prometheus import RagperfCollector, start_http_server  # noqa: E402

# What Prometheus 2.42 sends with --enable-feature=native-histograms.
ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.1"
)


def scrape(url: str, accept: str | None) -> tuple[str, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Content-Type"]), bytes(response.read())


def by_name(families: list[Any]) -> dict[str, Any]:
    return {f.name: f for f in families}


def labels(metric: Any) -> dict[str, str]:
    return {pair.name: pair.value for pair in metric.label}


def decoded_counts(h: Any) -> dict[int, int]:
    """{bucket index: count} of a native histogram (spans + deltas)."""
    out: dict[int, int] = {}
    index, count, k = 0, 0, 0
    for n, span in enumerate(h.positive_span):
        index = span.offset if n == 0 else index + span.offset
        for _ in range(span.length):
            count += h.positive_delta[k]
            k += 1
            if count:
                out[index] = count
            index += 1
    return out


@pytest.fixture
def monitor() -> PerformanceMonitor:
    m = PerformanceMonitor(enable_memory_tracking=False)
    for i in range(1, 201):
        m.record("llm_inference", i / 100, prompt_tokens=10, completion_tokens=5)
    m.record("llm_inference", 3.0, success=False, error_type="TimeoutError")
    m.record("document_retrieval", 0.02)
    return m


def test_accept_negotiation() -> None:
    assert prom_native.accepts_protobuf(ACCEPT)
    assert prom_native.accepts_protobuf(ACCEPT.replace("application/vnd.google.protobuf", "Application/Vnd.Google.Protobuf"))
    assert not prom_native.accepts_protobuf("text/plain;version=0.0.4;q=0.3,*/*;q=0.1")
    assert not prom_native.accepts_protobuf("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text")
    assert not prom_native.accepts_protobuf(ACCEPT.replace("q=0.7", "q=0"))
    assert not prom_native.accepts_protobuf("")


def test_protobuf_scrape_serves_native_histograms_and_every_family(monitor: PerformanceMonitor) -> None:
    with start_http_server(0, monitor=monitor) as server:
        content_type, body = scrape(server.url, ACCEPT)
        text_type, text = scrape(server.url, None)
    assert content_type == prom_native.PROTOBUF_CONTENT_TYPE
    assert text_type.startswith("text/plain")
    families = by_name(prom_native.decode_delimited(body))

    duration = families["ragperf_operation_duration_seconds"]
    assert duration.type == prom_native._pb.MetricType.HISTOGRAM
    series = {labels(m)["operation"]: m.histogram for m in duration.metric}
    assert set(series) == {"llm_inference", "document_retrieval"}
    core = {name: d for name, d, _, _ in monitor._core.sketches()}
    for op, h in series.items():
        stats = monitor.get_operation_stats(op)
        assert h.sample_count == stats.total_operations  # exact
        assert h.sample_sum == pytest.approx(stats.total_duration, rel=1e-12)
        scale, zero_count, offset, counts = core[op].buckets()
        assert h.schema == scale and h.zero_count == zero_count
        assert decoded_counts(h) == {offset + k: c for k, c in enumerate(counts) if c}
    assert series["llm_inference"].sample_count == 201

    # Every family of the text format is there, with the text format's
    # sample names and values (durations aside: histogram instead of summary).
    text_samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text.decode())
        for s in f.samples
        if not f.name.startswith("ragperf_operation_duration_seconds")
    }
    proto_samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for f in families.values():
        for m in f.metric:
            key = (f.name, tuple(sorted(labels(m).items())))
            if f.type == prom_native._pb.MetricType.COUNTER:
                proto_samples[key] = m.counter.value
            elif f.type == prom_native._pb.MetricType.GAUGE:
                proto_samples[key] = m.gauge.value
    for key, value in text_samples.items():
        if key[0].startswith("ragperf_memory_"):  # read at each scrape
            assert proto_samples[key] == pytest.approx(value, rel=0.25)
        else:
            assert proto_samples[key] == value, key
    assert proto_samples[("ragperf_operation_failed_total", (("operation", "llm_inference"),))] == 1
    assert proto_samples[
        ("ragperf_operation_tokens_total", (("kind", "completion"), ("operation", "llm_inference")))
    ] == 1000


def test_streamed_operations_get_ttft_and_inter_token_histograms() -> None:
    monitor = PerformanceMonitor(enable_memory_tracking=False)
    for _ in monitor.track_stream(iter(["a", "b", "c"]), "llm_inference"):
        pass
    families = by_name(RagperfCollector(monitor).collect_protobuf())
    ttft = families["ragperf_time_to_first_token_seconds"].metric[0]
    assert labels(ttft) == {"operation": "llm_inference"} and ttft.histogram.sample_count == 1
    itl = families["ragperf_inter_token_latency_seconds"].metric[0]
    assert itl.histogram.sample_count == 2


def test_other_collectors_of_the_registry_are_served_too(monitor: PerformanceMonitor) -> None:
    registry = CollectorRegistry()
    jobs = Counter("app_jobs", "Jobs done.", registry=registry)
    jobs.inc(4)
    with start_http_server(0, monitor=monitor, registry=registry) as server:
        _, body = scrape(server.url, ACCEPT)
    families = prom_native.decode_delimited(body)
    names = [f.name for f in families]
    assert len(names) == len(set(names))  # ragperf's families once, not also as summaries
    assert by_name(families)["app_jobs_total"].metric[0].counter.value == 4
    assert by_name(families)["ragperf_operation_duration_seconds"].metric[0].histogram.sample_count > 0


def test_monitor_like_without_sketches_keeps_the_summary(monitor: PerformanceMonitor) -> None:
    class Wrapper:
        def __getattr__(self, name: str) -> Any:
            if name == "_core":
                raise AttributeError(name)
            return getattr(monitor, name)

    families = by_name(RagperfCollector(Wrapper()).collect_protobuf())  # type: ignore[arg-type]
    duration = families["ragperf_operation_duration_seconds"]
    assert duration.type == prom_native._pb.MetricType.SUMMARY
    llm = next(m for m in duration.metric if labels(m) == {"operation": "llm_inference"})
    assert llm.summary.sample_count == 201
    assert [q.quantile for q in llm.summary.quantile] == [0.5, 0.9, 0.95, 0.99]


def test_multiprocess_mode_serves_the_merged_sketch(tmp_path: Path) -> None:
    values = {"a": [0.1 * i for i in range(1, 101)], "b": [0.5 + 0.01 * i for i in range(300)]}
    merged = PerformanceMonitor(enable_memory_tracking=False)
    for name, durations in values.items():
        m = PerformanceMonitor(enable_memory_tracking=False)
        for x in durations:
            m.record("llm_inference", x)
            merged.record("llm_inference", x)
        m.export_metrics_json(str(tmp_path / f"ragperf-host-{name}.json"))
    with start_http_server(0, multiprocess_dir=tmp_path) as server:
        _, body = scrape(server.url, ACCEPT)
    h = by_name(prom_native.decode_delimited(body))["ragperf_operation_duration_seconds"].metric[0].histogram
    assert h.sample_count == 400
    _, sketch, _, _ = merged._core.sketches()[0]
    scale, _, offset, counts = sketch.buckets()
    assert decoded_counts(h) == {offset + k: c for k, c in enumerate(counts) if c}
