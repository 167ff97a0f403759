"""Integration: a real Prometheus server (Debian package ``prometheus``)
scrapes ragperf.prometheus.start_http_server endpoints, and the values read
back through Prometheus's HTTP query API equal what the monitors recorded.

One Prometheus process (module fixture) on 127.0.0.1 with a 1 s scrape
interval and one job per endpoint:

* ``ragperf_extended``: a real PerformanceMonitor plus given cache, in-flight
  and cost values (always runs);
* ``ragperf_real``: a real PerformanceMonitor with its own cache/in-flight/cost
  API and a block left open during the scrape; only when the installed
  package has that API.

Skipped only when the prometheus binary is absent; ``make test`` installs it
(scripts/install-system-deps.sh)."""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("prometheus_client")

from ragperf import PerformanceMonitor, PerformanceStats  # noqa: E402
from ragperf.export.prometheus import MetricsServer, start_http_server  # noqa: E402

from _prometheus_helpers import (  # noqa: E402
    ABSENT_REASON,
    PROMETHEUS,
    TIMEOUT_S,
    query,
    start_prometheus,
    stop,
)


pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason=ABSENT_REASON)

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

MB = 1024.0 * 1024.0


class WithCost:
    """A PerformanceStats with a given ``cost_usd``."""

    def __init__(self, stats: PerformanceStats, cost_usd: float | None) -> None:
        self._stats = stats
        self.cost_usd = cost_usd

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stats, name)


class Extended:
    """A real monitor with given cache stats, in-flight counts and costs."""

    def __init__(
        self,
        monitor: PerformanceMonitor,
        cache: Mapping[str, Mapping[str, Any]],
        in_flight: Mapping[str, int],
        costs: Mapping[str, float | None],
    ) -> None:
        self.monitor = monitor
        self.cache = dict(cache)
        self.in_flight = dict(in_flight)
        self.costs = dict(costs)

    def get_all_stats(self) -> dict[Any, WithCost]:
        stats = self.monitor.get_all_stats()
        return {k: WithCost(s, self.costs.get(s.operation_type)) for k, s in stats.items()}

    def get_memory_stats(self) -> dict[str, float]:
        return self.monitor.get_memory_stats()

    def get_health_status(self) -> dict[str, Any]:
        return self.monitor.get_health_status()

    def get_cache_stats(self) -> dict[str, Mapping[str, Any]]:
        return self.cache

    def get_in_flight_operations(self) -> dict[str, int]:
        return self.in_flight


def record_sample(monitor: PerformanceMonitor) -> None:
    monitor.record("llm_inference", 0.5, prompt_tokens=100, completion_tokens=20)
    monitor.record("llm_inference", 1.25, prompt_tokens=80, completion_tokens=40)
    monitor.record("llm_inference", 2.0, success=False, error_type="TimeoutError")
    for seconds in (0.01, 0.02, 0.04, 0.08):
        monitor.record("document_retrieval", seconds, tokens=3)


@dataclass
class Target:
    job: str
    monitor: Any  # the object exported (PerformanceMonitor or Extended)
    server: MetricsServer


@dataclass
class Prometheus:
    url: str
    targets: dict[str, Target]
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        return query(self.url, expr)

    def values(self, expr: str) -> dict[tuple[tuple[str, str], ...], float]:
        """{labels without __name__/job/instance: value} of an instant query."""
        out = {}
        for series in self.query(expr):
            own = {k: v for k, v in series["metric"].items() if k not in ("__name__", "job", "instance")}
            labels = tuple(sorted(own.items()))
            out[labels] = float(series["value"][1])
        return out

    def value(self, expr: str) -> float:
        values = self.values(expr)
        assert len(values) == 1, f"{expr}: expected one series, got {values}"
        return next(iter(values.values()))


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    tmp = tmp_path_factory.mktemp("prometheus")
    targets: dict[str, Target] = {}
    open_blocks: list[Any] = []
    proc: subprocess.Popen[bytes] | None = None
    try:
        extended_monitor = PerformanceMonitor(enable_memory_tracking=False)
        record_sample(extended_monitor)
        extended = Extended(
            extended_monitor,
            cache={"embeddings": {"hits": 7, "misses": 3, "hit_rate": 0.7}},
            in_flight={"llm_inference": 2},
            costs={"llm_inference": 0.375},
        )
        server = start_http_server(0, monitor=extended)
        targets["ragperf_extended"] = Target("ragperf_extended", extended, server)
        if HAS_MONITOR_API:
            real = PerformanceMonitor(enable_memory_tracking=False)
            record_sample(real)
            block = real.track_operation("reranking")  # open during the scrapes: in flight
            block.__enter__()
            open_blocks.append(block)
            targets["ragperf_real"] = Target("ragperf_real", real, start_http_server(0, monitor=real))

        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            + "".join(
                f"  - job_name: {t.job}\n"
                f"    static_configs:\n"
                f"      - targets: ['127.0.0.1:{t.server.port}']\n"
                for t in targets.values()
            )
        )
        log = tmp / "prometheus.log"
        proc, url = start_prometheus(config, tmp / "data", log)
        prom = Prometheus(url, targets, log)
        # Wait until every job has been scraped successfully once.
        deadline = time.monotonic() + TIMEOUT_S
        pending = set(targets)
        while pending and time.monotonic() < deadline:
            for job in list(pending):
                got = prom.query(f'ragperf_health_status{{job="{job}"}}')
                up = prom.query(f'up{{job="{job}"}}')
                if got and up and up[0]["value"][1] == "1":
                    pending.discard(job)
            if pending:
                time.sleep(0.25)
        if pending:
            raise AssertionError(
                f"Prometheus did not scrape {sorted(pending)} within {TIMEOUT_S:.0f}s; "
                f"targets: {prom.query('up')}; log:\n{log.read_text(errors='replace')[-3000:]}"
            )
        yield prom
    finally:
        if proc is not None:
            stop(proc)
        for block in open_blocks:
            block.__exit__(None, None, None)
        for target in targets.values():
            target.server.stop()


JOBS = [
    "ragperf_extended",
    pytest.param("ragperf_real", marks=needs_monitor_api),
]


def _stats(prom: Prometheus, job: str) -> dict[str, Any]:
    return {s.operation_type: s for s in prom.targets[job].monitor.get_all_stats().values()}


@pytest.mark.parametrize("job", JOBS)
def test_target_is_up(prometheus: Prometheus, job: str) -> None:
    assert prometheus.value(f'up{{job="{job}"}}') == 1


@pytest.mark.parametrize("job", JOBS)
def test_duration_count_sum_and_quantiles(prometheus: Prometheus, job: str) -> None:
    stats = _stats(prometheus, job)
    counts = prometheus.values(f'ragperf_operation_duration_seconds_count{{job="{job}"}}')
    assert counts == {(("operation", op),): float(s.total_operations) for op, s in stats.items()}
    assert counts[(("operation", "llm_inference"),)] == 3
    assert counts[(("operation", "document_retrieval"),)] == 4
    sums = prometheus.values(f'ragperf_operation_duration_seconds_sum{{job="{job}"}}')
    for op, s in stats.items():
        assert sums[(("operation", op),)] == pytest.approx(s.total_duration, rel=1e-12)
    assert sums[(("operation", "llm_inference"),)] == pytest.approx(3.75)
    quantiles = prometheus.values(f'ragperf_operation_duration_seconds{{job="{job}"}}')
    for op, s in stats.items():
        values = (s.p50_duration, s.p90_duration, s.p95_duration, s.p99_duration)
        for q, v in zip(("0.5", "0.9", "0.95", "0.99"), values):
            key = (("operation", op), ("quantile", q))
            if s.total_operations == 0:  # no quantiles of nothing
                assert key not in quantiles
            else:
                assert quantiles[key] == pytest.approx(v, rel=1e-12)
    assert quantiles[(("operation", "llm_inference"), ("quantile", "0.99"))] == pytest.approx(2.0, rel=0.006)


@pytest.mark.parametrize("job", JOBS)
def test_failures_errors_and_tokens(prometheus: Prometheus, job: str) -> None:
    stats = _stats(prometheus, job)
    failed = prometheus.values(f'ragperf_operation_failed_total{{job="{job}"}}')
    assert failed == {(("operation", op),): float(s.failed_operations) for op, s in stats.items()}
    errors = prometheus.values(f'ragperf_operation_errors_total{{job="{job}"}}')
    assert errors == {(("error_type", "TimeoutError"), ("operation", "llm_inference")): 1.0}
    tokens = prometheus.values(f'ragperf_operation_tokens_total{{job="{job}"}}')
    for op, s in stats.items():
        assert tokens[(("kind", "prompt"), ("operation", op))] == s.prompt_tokens
        assert tokens[(("kind", "completion"), ("operation", op))] == s.completion_tokens
        assert tokens[(("kind", "total"), ("operation", op))] == s.total_tokens
    assert tokens[(("kind", "total"), ("operation", "llm_inference"))] == 240
    assert tokens[(("kind", "total"), ("operation", "document_retrieval"))] == 12


@pytest.mark.parametrize("job", JOBS)
def test_cost_cache_and_in_flight(prometheus: Prometheus, job: str) -> None:
    target = prometheus.targets[job]
    stats = _stats(prometheus, job)
    cost = prometheus.values(f'ragperf_operation_cost_usd_total{{job="{job}"}}')
    known = {op: s.cost_usd for op, s in stats.items() if s.cost_usd is not None}
    assert cost == {(("operation", op),): pytest.approx(usd, rel=1e-12) for op, usd in known.items()}
    caches = target.monitor.get_cache_stats()
    hits = prometheus.values(f'ragperf_cache_hits_total{{job="{job}"}}')
    misses = prometheus.values(f'ragperf_cache_misses_total{{job="{job}"}}')
    assert hits == {(("cache", name),): float(c["hits"]) for name, c in caches.items()}
    assert misses == {(("cache", name),): float(c["misses"]) for name, c in caches.items()}
    in_flight = prometheus.values(f'ragperf_operations_in_flight{{job="{job}"}}')
    expected = target.monitor.get_in_flight_operations()
    assert in_flight == {(("operation", op),): float(n) for op, n in expected.items()}
    if job == "ragperf_extended":
        assert cost == {(("operation", "llm_inference"),): 0.375}
        assert hits == {(("cache", "embeddings"),): 7.0} and misses == {(("cache", "embeddings"),): 3.0}
        assert in_flight == {(("operation", "llm_inference"),): 2.0}
    else:
        assert in_flight[(("operation", "reranking"),)] == 1.0  # the block left open


@pytest.mark.parametrize("job", JOBS)
def test_memory_and_health(prometheus: Prometheus, job: str) -> None:
    target = prometheus.targets[job]
    rss = prometheus.value(f'ragperf_memory_rss_bytes{{job="{job}"}}')
    now = target.monitor.get_memory_stats()["current_rss_mb"] * MB
    assert rss > 0 and math.isfinite(rss)
    assert rss == pytest.approx(now, rel=0.25)  # the process's RSS at scrape time vs now
    assert prometheus.value(f'ragperf_memory_vms_bytes{{job="{job}"}}') >= rss
    status = target.monitor.get_health_status()["status"]
    assert status == "warning"  # a third of llm_inference failed
    assert prometheus.value(f'ragperf_health_status{{job="{job}"}}') == (1.0 if status == "healthy" else 0.0)


def test_promql_over_the_exported_series(prometheus: Prometheus) -> None:
    """The series work in ordinary PromQL: error ratio and mean latency."""
    job = "ragperf_extended"
    ratio = prometheus.value(
        f'ragperf_operation_failed_total{{job="{job}",operation="llm_inference"}}'
        f' / ragperf_operation_duration_seconds_count{{job="{job}",operation="llm_inference"}}'
    )
    assert ratio == pytest.approx(1 / 3)
    mean = prometheus.value(
        f'ragperf_operation_duration_seconds_sum{{job="{job}",operation="document_retrieval"}}'
        f' / ragperf_operation_duration_seconds_count{{job="{job}",operation="document_retrieval"}}'
    )
    assert mean == pytest.approx(0.0375)


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian package 'prometheus') is absent"
)
def test_promtool_check_metrics(prometheus: Prometheus) -> None:
    for target in prometheus.targets.values():
        with urllib.request.urlopen(target.server.url, timeout=10) as response:
            text = response.read()
        proc = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, timeout=60)
        assert proc.returncode == 0, (proc.stdout + proc.stderr).decode()
