"""Fleet percentiles through a real Prometheus (issue #23 item 3).

Three replica processes on 127.0.0.1 each record a known, different
distribution of ``llm_inference`` durations and serve ragperf's endpoint
(``ragperf.prometheus.start_http_server``). Debian's Prometheus, started with
``--enable-feature=native-histograms``, negotiates the protobuf exposition
format and stores ``ragperf_operation_duration_seconds`` as native
histograms; summed across the replicas in PromQL, they give the pooled
(fleet) percentiles within the sketch's bucket width and the pooled count
exactly.

Skipped only when the prometheus binary is absent; ``make test`` installs it
(scripts/install-system-deps.sh)."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")

from _prometheus_helpers import ABSENT_REASON, PROMETHEUS, TIMEOUT_S, query, start_prometheus, stop  # noqa: E402

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason=ABSENT_REASON)

OP = "llm_inference"
QUANTILES = (0.5, 0.9, 0.99, 0.999)
TOLERANCE = 0.015  # the bound; the schema-6 bucket width is 2**(1/64) - 1 = 1.09%

# A replica: read durations (one per line), record them into its own monitor
# (plus a few of another operation, which the label selector must leave out),
# serve the endpoint, print the port, and serve until stdin closes.
REPLICA = r"""
import sys
from ragperf import PerformanceMonitor
from ragperf.prometheus import start_http_server

monitor = PerformanceMonitor(enable_memory_tracking=False)
with open(sys.argv[1]) as f:
    for line in f:
        monitor.record(sys.argv[2], float(line))
for seconds in (0.01, 0.02, 0.04):
    monitor.record("document_retrieval", seconds)
server = start_http_server(0, monitor=monitor)
print(server.port, flush=True)
sys.stdin.read()
server.stop()
"""


def _distributions() -> list[list[float]]:
    """Three different, known distributions (seeded)."""
    r0, r1, r2 = random.Random(1), random.Random(2), random.Random(3)
    fast = [r0.lognormvariate(math.log(0.5), 0.4) for _ in range(20_000)]
    slow = [r1.lognormvariate(math.log(1.2), 0.25) for _ in range(15_000)]
    # Mostly quick answers with a heavy tail of slow ones.
    mixed = [
        r2.uniform(0.05, 0.3) if r2.random() < 0.9 else 2.0 + r2.expovariate(1.0) for _ in range(10_000)
    ]
    return [fast, slow, mixed]


def _true_quantile(ordered: list[float], q: float) -> float:
    """The rank-``ceil(q * n)`` value of the pooled samples."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Fleet:
    url: str  # Prometheus
    values: list[list[float]]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("fleet")
    values = _distributions()
    replicas: list[subprocess.Popen[str]] = []
    proc: subprocess.Popen[bytes] | None = None
    try:
        ports = []
        for i, durations in enumerate(values):
            path = tmp / f"replica{i}.txt"
            path.write_text("".join(f"{v!r}\n" for v in durations))
            replica = subprocess.Popen(
                [sys.executable, "-c", REPLICA, str(path), OP],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            replicas.append(replica)
        for replica in replicas:
            assert replica.stdout is not None
            line = replica.stdout.readline()
            assert line.strip().isdigit(), f"replica did not start (exit code {replica.poll()})"
            ports.append(int(line))
        config = tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: ragperf_fleet\n    static_configs:\n"
            "      - targets: [" + ", ".join(f"'127.0.0.1:{p}'" for p in ports) + "]\n"
        )
        log = tmp / "prometheus.log"
        proc, url = start_prometheus(config, tmp / "data", log, ["--enable-feature=native-histograms"])
        # Poll until a native histogram of every replica is stored.
        deadline = time.monotonic() + TIMEOUT_S
        expr = f'count(histogram_count(ragperf_operation_duration_seconds{{operation="{OP}"}}))'
        while time.monotonic() < deadline:
            got = query(url, expr)
            if got and float(got[0]["value"][1]) == len(values):
                break
            time.sleep(0.25)
        else:
            raise AssertionError(
                f"Prometheus did not store native histograms of the {len(values)} replicas within "
                f"{TIMEOUT_S:.0f}s; targets: {query(url, 'up')}; log:\n{log.read_text(errors='replace')[-3000:]}"
            )
        yield Fleet(url, values)
    finally:
        if proc is not None:
            stop(proc)
        for replica in replicas:
            if replica.stdin is not None:
                replica.stdin.close()
            try:
                replica.wait(timeout=15)
            except subprocess.TimeoutExpired:
                replica.kill()
                replica.wait(timeout=15)
            if replica.stdout is not None:
                replica.stdout.close()


def _value(url: str, expr: str) -> float:
    got = query(url, expr)
    assert len(got) == 1, f"{expr}: expected one series, got {got}"
    return float(got[0]["value"][1])


def test_replicas_are_scraped_as_native_histograms(fleet: Fleet) -> None:
    per_replica = query(fleet.url, f'histogram_count(ragperf_operation_duration_seconds{{operation="{OP}"}})')
    assert sorted(float(s["value"][1]) for s in per_replica) == sorted(float(len(v)) for v in fleet.values)
    # The counters of the text format come through the protobuf scrape too.
    failed = query(fleet.url, f'ragperf_operation_failed_total{{operation="{OP}"}}')
    assert [float(s["value"][1]) for s in failed] == [0.0, 0.0, 0.0]


def test_fleet_count_is_exact(fleet: Fleet) -> None:
    pooled = sum(len(v) for v in fleet.values)
    expr = f'histogram_count(sum(ragperf_operation_duration_seconds{{operation="{OP}"}}))'
    assert _value(fleet.url, expr) == pooled
    total = sum(sum(v) for v in fleet.values)
    expr = f'histogram_sum(sum(ragperf_operation_duration_seconds{{operation="{OP}"}}))'
    assert _value(fleet.url, expr) == pytest.approx(total, rel=1e-9)


@pytest.mark.parametrize("q", QUANTILES)
def test_fleet_quantiles_within_tolerance(fleet: Fleet, q: float) -> None:
    pooled = sorted(x for v in fleet.values for x in v)
    truth = _true_quantile(pooled, q)
    expr = f'histogram_quantile({q}, sum(ragperf_operation_duration_seconds{{operation="{OP}"}}))'
    got = _value(fleet.url, expr)
    error = abs(got - truth) / truth
    print(f"fleet p{q * 100:g}: prometheus {got:.6f} s, pooled truth {truth:.6f} s, error {error:.3%}")
    assert error <= TOLERANCE, f"q={q}: {got} vs {truth} ({error:.3%})"
    # The fleet's percentile is not any single replica's: summing the
    # replicas' histograms is what makes it right.
    own = [_true_quantile(sorted(v), q) for v in fleet.values]
    assert any(abs(o - truth) / truth > 0.05 for o in own)
