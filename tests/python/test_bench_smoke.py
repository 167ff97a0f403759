"""Smoke test of benchmarks/bench_overhead.py: a --quick run completes and
writes a JSON result with every case and a positive time for each."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("prometheus_client")
pytest.importorskip("psutil")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_overhead.py"

EXPECTED_CASES = {
    "bare_with/nullcontext",
    "prometheus/Histogram.time",
    "prometheus/labels().time",
    "prometheus/labels_cached.time",
    "seed_style/memory_on",
    "seed_style/memory_off",
    "ragperf/memory_off",
    "ragperf/memory_on",
    "ragperf/optype_tokens",
    "bare_async_with/nullcontext",
    "ragperf/async_with",
    "plain_call/empty_function",
    "ragperf/timed_call",
    "ragperf/record_call",
}

OTEL_CASES = {"otel/span_no_processor", "otel/span_batch_in_memory"}


def _has_otel_sdk() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk.trace") is not None
    except ModuleNotFoundError:
        return False


HAS_OTEL = _has_otel_sdk()
if HAS_OTEL:
    EXPECTED_CASES |= OTEL_CASES

OPTIONAL_CASES = {"ragperf/memory_on_exact"}


def test_quick_run_writes_every_case(tmp_path: Path) -> None:
    out = tmp_path / "overhead.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))

    rows = {row["name"]: row for row in result["benchmarks"]}
    # ragperf/memory_on_exact exists only in builds with the RSS cache.
    assert EXPECTED_CASES <= set(rows) <= EXPECTED_CASES | OPTIONAL_CASES
    for name, row in rows.items():
        assert row["median_ns"] > 0, name
        assert 0 < row["min_ns"] <= row["median_ns"] <= row["max_ns"], name
        assert len(row["repetitions_ns"]) == row["repetitions"] >= 5, name
        assert row["ratio_to_bare_with"] > 0, name
        assert [c["recorded"] for c in row["sanity_checks"]] == [
            c["expected"] for c in row["sanity_checks"]
        ], name
    assert rows["ragperf/memory_off"]["sanity_checks"][-1]["recorded"] == (
        rows["ragperf/memory_off"]["iterations"] * (rows["ragperf/memory_off"]["repetitions"] + 1)
    )

    # The OTel cases run when the SDK is importable, else they are skipped with a note.
    skipped = {s["case"] for s in result["skipped"]}
    if HAS_OTEL:
        assert not skipped & OTEL_CASES
        checks = rows["otel/span_no_processor"]["sanity_checks"]
        # The untimed in-memory check saw one span per block of the loop.
        assert any(
            "InMemorySpanExporter" in c.get("what", "") and c["recorded"] == rows["otel/span_no_processor"]["iterations"]
            for c in checks
        )
    else:
        assert OTEL_CASES <= skipped
        assert "otel/span_no_processor" in proc.stdout

    targets = {t["name"]: t for t in result["targets"]}
    assert len(targets) == 5
    assert {t["status"] for t in targets.values()} <= {"PASS", "MISS"}
    assert sum(not t["informational"] for t in targets.values()) == 3

    ctx = result["context"]
    for key in ("python_version", "platform", "cpu_model", "ragperf_version", "date"):
        assert ctx[key], key
    assert ctx["quick"] is True

    # The readable table is printed too.
    assert "ragperf/memory_off" in proc.stdout and "Targets" in proc.stdout
