"""ragperf.prometheus: RagperfCollector's exposition equals the monitor's
statistics; start_http_server serves it, validates its inputs and stops.

Tests marked ``needs_monitor_api`` use a real PerformanceMonitor's
``get_cache_stats()`` / ``get_in_flight_operations()`` / ``PerformanceStats.cost_usd``
and are skipped while the installed package lacks them; the others export an
:class:`Extended` monitor (a real monitor plus given cache, in-flight and cost
values) so every metric is checked against known numbers."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

prometheus_client = pytest.importorskip("prometheus_client")

from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import ragperf.export.prometheus as rp  # noqa: E402
from ragperf import PerformanceMonitor, PerformanceStats, get_performance_monitor  # noqa: E402
from ragperf.export.prometheus import MetricsServer, RagperfCollector, start_http_server  # noqa: E402

HAS_MONITOR_API = (
    hasattr(PerformanceMonitor, "get_cache_stats")
    and hasattr(PerformanceMonitor, "get_in_flight_operations")
    and "cost_usd" in {f.name for f in dataclasses.fields(PerformanceStats)}
)
needs_monitor_api = pytest.mark.skipif(
    not HAS_MONITOR_API,
    reason="the installed ragperf lacks PerformanceMonitor.get_cache_stats / get_in_flight_operations "
    "or PerformanceStats.cost_usd",
)

needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian package 'prometheus') is absent"
)

MB = 1024.0 * 1024.0


class WithCost:
    """A PerformanceStats with a given ``cost_usd``."""

    def __init__(self, stats: PerformanceStats, cost_usd: float | None) -> None:
        self._stats = stats
        self.cost_usd = cost_usd

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stats, name)


class Extended:
    """A real monitor with given cache stats, in-flight counts and costs
    (ragperf.prometheus.MonitorLike)."""

    def __init__(
        self,
        monitor: PerformanceMonitor,
        cache: Mapping[str, Mapping[str, Any]] | None = None,
        in_flight: Mapping[str, int] | None = None,
        costs: Mapping[str, float | None] | None = None,
    ) -> None:
        self.monitor = monitor
        self.cache = dict(cache or {})
        self.in_flight = dict(in_flight or {})
        self.costs = dict(costs or {})

    def get_all_stats(self) -> dict[Any, WithCost]:
        return {
            key: WithCost(s, self.costs.get(s.operation_type))
            for key, s in self.monitor.get_all_stats().items()
        }

    def get_memory_stats(self) -> dict[str, float]:
        return self.monitor.get_memory_stats()

    def get_health_status(self) -> dict[str, Any]:
        return self.monitor.get_health_status()

    def get_cache_stats(self) -> dict[str, Mapping[str, Any]]:
        return self.cache

    def get_in_flight_operations(self) -> dict[str, int]:
        return self.in_flight


def record_sample(monitor: PerformanceMonitor) -> None:
    """llm_inference: 4 records (one failed with TimeoutError, one with
    ValueError), prompt/completion tokens; document_retrieval: 3 records."""
    monitor.record("llm_inference", 0.5, prompt_tokens=100, completion_tokens=20)
    monitor.record("llm_inference", 1.0, prompt_tokens=80, completion_tokens=40)
    monitor.record("llm_inference", 1.5, success=False, error_type="TimeoutError")
    monitor.record("llm_inference", 2.5, success=False, error_type="ValueError", tokens=7)
    for seconds in (0.01, 0.02, 0.04):
        monitor.record("document_retrieval", seconds)


@pytest.fixture
def monitor() -> PerformanceMonitor:
    m = PerformanceMonitor(enable_memory_tracking=False)
    record_sample(m)
    return m


@pytest.fixture
def extended(monitor: PerformanceMonitor) -> Extended:
    return Extended(
        monitor,
        cache={
            "embeddings": {"hits": 7, "misses": 3, "hit_rate": 0.7},
            "responses": {"hits": 0, "misses": 2, "hit_rate": 0.0},
        },
        in_flight={"llm_inference": 2, "reranking": 1},
        costs={"llm_inference": 0.125, "document_retrieval": None},
    )


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def exposition(source: Any) -> str:
    registry = CollectorRegistry()
    registry.register(source if isinstance(source, RagperfCollector) else RagperfCollector(source))
    return generate_latest(registry).decode()


def parse(text: str) -> tuple[Samples, dict[str, str]]:
    """(samples keyed by (name, sorted labels), family name -> type)."""
    samples: Samples = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, types


def ops_of(samples: Samples, name: str, **fixed: str) -> dict[tuple[tuple[str, str], ...], float]:
    want = set(fixed.items())
    return {labels: v for (n, labels), v in samples.items() if n == name and want <= set(labels)}


def check_stats(samples: Samples, monitor: Any) -> None:
    """Every per-operation series equals the monitor's statistics."""
    stats = {s.operation_type: s for s in monitor.get_all_stats().values()}
    assert len(ops_of(samples, "ragperf_operation_duration_seconds_count")) == len(stats)
    for op, s in stats.items():
        lab = (("operation", op),)
        assert samples[("ragperf_operation_duration_seconds_count", lab)] == s.total_operations
        total = samples[("ragperf_operation_duration_seconds_sum", lab)]
        assert total == pytest.approx(s.total_duration, rel=1e-12)
        values = (s.p50_duration, s.p90_duration, s.p95_duration, s.p99_duration)
        for q, value in zip(("0.5", "0.9", "0.95", "0.99"), values):
            key = ("ragperf_operation_duration_seconds", (("operation", op), ("quantile", q)))
            if s.total_operations == 0:  # no quantiles of nothing
                assert key not in samples
            else:
                assert samples[key] == pytest.approx(value, rel=1e-12)
        assert samples[("ragperf_operation_failed_total", lab)] == s.failed_operations
        errors = ops_of(samples, "ragperf_operation_errors_total", operation=op)
        assert {dict(k)["error_type"]: v for k, v in errors.items()} == dict(s.errors_by_type)
        tokens = ops_of(samples, "ragperf_operation_tokens_total", operation=op)
        assert {dict(k)["kind"]: v for k, v in tokens.items()} == {
            "prompt": s.prompt_tokens,
            "completion": s.completion_tokens,
            "total": s.total_tokens,
        }
        cost_key = ("ragperf_operation_cost_usd_total", lab)
        if s.cost_usd is None:
            assert cost_key not in samples
        else:
            assert samples[cost_key] == pytest.approx(s.cost_usd, rel=1e-12)


# ------------------------------------------------------------------ the collector


def test_exposition_equals_monitor_stats(extended: Extended, monitor: PerformanceMonitor) -> None:
    samples, types = parse(exposition(extended))
    check_stats(samples, extended)
    # The sample's known values, spelled out.
    llm = (("operation", "llm_inference"),)
    assert samples[("ragperf_operation_duration_seconds_count", llm)] == 4
    assert samples[("ragperf_operation_duration_seconds_sum", llm)] == pytest.approx(5.5)
    assert samples[("ragperf_operation_duration_seconds", llm + (("quantile", "0.99"),))] == pytest.approx(
        2.5, rel=0.006
    )
    assert samples[("ragperf_operation_failed_total", llm)] == 2
    assert samples[("ragperf_operation_tokens_total", (("kind", "prompt"),) + llm)] == 180
    assert samples[("ragperf_operation_tokens_total", (("kind", "total"),) + llm)] == 247
    assert samples[("ragperf_operation_errors_total", (("error_type", "TimeoutError"),) + llm)] == 1
    assert samples[("ragperf_operation_cost_usd_total", llm)] == 0.125
    assert ("ragperf_operation_cost_usd_total", (("operation", "document_retrieval"),)) not in samples
    assert types == {
        "ragperf_operation_duration_seconds": "summary",
        "ragperf_operation_failed": "counter",
        "ragperf_operation_errors": "counter",
        "ragperf_operation_tokens": "counter",
        "ragperf_operation_cost_usd": "counter",
        "ragperf_operations_in_flight": "gauge",
        "ragperf_cache_hits": "counter",
        "ragperf_cache_misses": "counter",
        "ragperf_memory_rss_bytes": "gauge",
        "ragperf_memory_vms_bytes": "gauge",
        "ragperf_health_status": "gauge",
        "ragperf_dimension_duration_seconds": "summary",
        "ragperf_dimension_failed": "counter",
        "ragperf_dimension_tokens": "counter",
        "ragperf_dimension_cost_usd": "counter",
    }


def test_cache_in_flight_memory_health(extended: Extended, monitor: PerformanceMonitor) -> None:
    samples, _ = parse(exposition(extended))
    assert samples[("ragperf_cache_hits_total", (("cache", "embeddings"),))] == 7
    assert samples[("ragperf_cache_misses_total", (("cache", "embeddings"),))] == 3
    assert samples[("ragperf_cache_hits_total", (("cache", "responses"),))] == 0
    assert samples[("ragperf_cache_misses_total", (("cache", "responses"),))] == 2
    assert samples[("ragperf_operations_in_flight", (("operation", "llm_inference"),))] == 2
    assert samples[("ragperf_operations_in_flight", (("operation", "reranking"),))] == 1
    rss = samples[("ragperf_memory_rss_bytes", ())]
    assert rss > 0
    assert rss == pytest.approx(monitor.get_memory_stats()["current_rss_mb"] * MB, rel=0.2)
    assert samples[("ragperf_memory_vms_bytes", ())] >= rss
    # 50% of llm_inference failed: health is "warning".
    assert monitor.get_health_status()["status"] == "warning"
    assert samples[("ragperf_health_status", ())] == 0


def test_health_status_healthy_is_1() -> None:
    healthy = PerformanceMonitor(enable_memory_tracking=False)
    healthy.record("reranking", 0.01)
    assert healthy.get_health_status()["status"] == "healthy"
    samples, _ = parse(exposition(Extended(healthy)))
    assert samples[("ragperf_health_status", ())] == 1


def test_empty_monitor_exports_process_gauges_only() -> None:
    samples, types = parse(exposition(Extended(PerformanceMonitor())))
    assert {name for name, _ in samples} == {
        "ragperf_memory_rss_bytes",
        "ragperf_memory_vms_bytes",
        "ragperf_health_status",
    }
    assert "ragperf_operation_duration_seconds" in types  # described even without samples


def test_values_are_read_at_every_scrape(extended: Extended, monitor: PerformanceMonitor) -> None:
    registry = CollectorRegistry()
    registry.register(RagperfCollector(extended))
    count = ("ragperf_operation_duration_seconds_count", (("operation", "reranking"),))
    assert count not in parse(generate_latest(registry).decode())[0]
    monitor.record("reranking", 0.2)
    monitor.record("reranking", 0.3)
    assert parse(generate_latest(registry).decode())[0][count] == 2
    monitor.clear_metrics()
    assert count not in parse(generate_latest(registry).decode())[0]


def test_label_values_are_escaped() -> None:
    m = PerformanceMonitor(enable_memory_tracking=False)
    odd = 'step "quoted" \\ back\nslash — ünïcode'
    m.record(odd, 0.25, tokens=3)
    samples, _ = parse(exposition(Extended(m, in_flight={odd: 1}, cache={odd: {"hits": 1, "misses": 0}})))
    assert samples[("ragperf_operation_duration_seconds_count", (("operation", odd),))] == 1
    assert samples[("ragperf_operations_in_flight", (("operation", odd),))] == 1
    assert samples[("ragperf_cache_hits_total", (("cache", odd),))] == 1


def test_describe_lists_every_family(extended: Extended) -> None:
    described = {m.name: m.type for m in RagperfCollector(extended).describe()}
    assert described == parse(exposition(extended))[1]
    assert all(not m.samples for m in RagperfCollector(extended).describe())


def test_registering_twice_in_one_registry_is_refused(extended: Extended) -> None:
    registry = CollectorRegistry()
    registry.register(RagperfCollector(extended))
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(RagperfCollector(extended))


@pytest.mark.parametrize("bad", [object(), 42, "monitor", {"get_all_stats": None}])
def test_collector_rejects_non_monitors(bad: Any) -> None:
    with pytest.raises(TypeError, match="monitor must be a ragperf PerformanceMonitor") as info:
        RagperfCollector(bad)
    assert "get_all_stats" in str(info.value)


def test_collector_accepts_monitor_like_objects(extended: Extended) -> None:
    collector = RagperfCollector(extended)
    assert collector.monitor is extended
    assert isinstance(extended, rp.MonitorLike)


@needs_promtool
def test_promtool_check_metrics_accepts_the_exposition(extended: Extended) -> None:
    text = exposition(extended)
    proc = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------ with the real monitor API


@needs_monitor_api
def test_real_monitor_exposition_equals_its_stats(monitor: PerformanceMonitor) -> None:
    samples, _ = parse(exposition(monitor))
    check_stats(samples, monitor)
    caches: Any = monitor.get_cache_stats()  # type: ignore[attr-defined]
    for name, counts in caches.items():
        assert samples[("ragperf_cache_hits_total", (("cache", name),))] == counts["hits"]
        assert samples[("ragperf_cache_misses_total", (("cache", name),))] == counts["misses"]
    assert len(ops_of(samples, "ragperf_cache_hits_total")) == len(caches)


@needs_monitor_api
def test_real_monitor_in_flight_operations(monitor: PerformanceMonitor) -> None:
    def in_flight() -> dict[str, float]:
        samples, _ = parse(exposition(monitor))
        return {dict(k)["operation"]: v for k, v in ops_of(samples, "ragperf_operations_in_flight").items()}

    before: Any = monitor.get_in_flight_operations()  # type: ignore[attr-defined]
    assert in_flight() == {k: v for k, v in before.items()}
    assert in_flight().get("reranking", 0) == 0
    with monitor.track_operation("reranking"):
        with monitor.track_operation("reranking"):
            inside: Any = monitor.get_in_flight_operations()  # type: ignore[attr-defined]
            assert inside["reranking"] == 2
            assert in_flight()["reranking"] == 2
    assert in_flight().get("reranking", 0) == 0


@needs_monitor_api
def test_default_monitor_is_the_process_wide_one() -> None:
    assert RagperfCollector().monitor is get_performance_monitor()
    assert RagperfCollector(None).monitor is get_performance_monitor()


# ------------------------------------------------------------------ start_http_server


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        body: bytes = response.read()
    return body.decode()


@pytest.fixture
def server(extended: Extended) -> Iterator[MetricsServer]:
    handle = start_http_server(0, monitor=extended)
    try:
        yield handle
    finally:
        handle.stop()


def test_server_port_0_picks_a_free_port(server: MetricsServer, extended: Extended) -> None:
    assert 0 < server.port <= 65535
    assert server.url == f"http://127.0.0.1:{server.port}/metrics"
    assert server.running
    samples, _ = parse(fetch(server.url))
    check_stats(samples, extended)
    assert samples[("ragperf_cache_hits_total", (("cache", "embeddings"),))] == 7
    # Only the collector: no process_/python_ metrics from the global registry.
    assert all(name.startswith("ragperf_") for name, _ in samples)
    assert "MetricsServer" in repr(server) and "running" in repr(server)


def test_server_stop_is_idempotent_and_frees_the_port(extended: Extended) -> None:
    handle = start_http_server(0, monitor=extended)
    port = handle.port
    fetch(handle.url)
    handle.stop()
    handle.stop()
    assert not handle.running and "stopped" in repr(handle)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(handle.url, timeout=5)
    # The same port can be bound again at once.
    again = start_http_server(port, monitor=extended)
    try:
        assert again.port == port
        fetch(again.url)
    finally:
        again.stop()


def test_server_context_manager(extended: Extended) -> None:
    with start_http_server(0, monitor=extended) as handle:
        assert "ragperf_operation_duration_seconds_count" in fetch(handle.url)
    assert not handle.running


def test_server_with_a_given_registry_unregisters_on_stop(extended: Extended) -> None:
    registry = CollectorRegistry()
    with start_http_server(0, monitor=extended, registry=registry) as handle:
        assert handle.registry is registry
        assert "ragperf_health_status" in generate_latest(registry).decode()
    assert generate_latest(registry).decode() == ""


def test_server_port_in_use_raises_and_leaves_the_registry_clean(extended: Extended) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        registry = CollectorRegistry()
        with pytest.raises(OSError):
            start_http_server(busy.getsockname()[1], monitor=extended, registry=registry)
        assert generate_latest(registry).decode() == ""


def test_server_on_old_prometheus_client(extended: Extended, monkeypatch: pytest.MonkeyPatch) -> None:
    """prometheus_client < 0.20 returns nothing from start_http_server: our
    own server on the same WSGI app keeps a handle."""
    monkeypatch.setattr(rp, "_returns_server", lambda: False)
    monkeypatch.setattr(prometheus_client, "start_http_server", None)  # must not be called
    with start_http_server(0, monitor=extended) as handle:
        samples, _ = parse(fetch(handle.url))
        check_stats(samples, extended)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(handle.url, timeout=5)


def test_client_version_detection() -> None:
    assert rp._client_version() >= (0, 17)
    assert rp._returns_server() is (rp._client_version() >= (0, 20))


@pytest.mark.parametrize("port", ["8000", 8000.0, None, True, [8000]])
def test_port_type_is_checked(port: Any, extended: Extended) -> None:
    with pytest.raises(TypeError, match="port must be an int") as info:
        start_http_server(port, monitor=extended)
    assert repr(port) in str(info.value)


@pytest.mark.parametrize("port", [-1, 65536, 10**6])
def test_port_range_is_checked(port: int, extended: Extended) -> None:
    with pytest.raises(ValueError, match=f"port must be between 0 and 65535, got {port}"):
        start_http_server(port, monitor=extended)


def test_addr_and_registry_are_checked(extended: Extended) -> None:
    with pytest.raises(TypeError, match="addr must be a str, got 127"):
        start_http_server(0, addr=127, monitor=extended)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="addr must not be empty"):
        start_http_server(0, addr="", monitor=extended)
    with pytest.raises(TypeError, match="registry must be a prometheus_client CollectorRegistry"):
        start_http_server(0, monitor=extended, registry="global")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="monitor must be a ragperf PerformanceMonitor"):
        start_http_server(0, monitor=object())  # type: ignore[arg-type]


@needs_promtool
def test_promtool_check_metrics_on_the_endpoint(server: MetricsServer) -> None:
    proc = subprocess.run(
        ["promtool", "check", "metrics"], input=fetch(server.url), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_monitor_api
def test_server_with_the_real_monitor(monitor: PerformanceMonitor) -> None:
    with start_http_server(0, monitor=monitor) as handle:
        samples, _ = parse(fetch(handle.url))
    check_stats(samples, monitor)
