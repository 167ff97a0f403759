"""Smoke tests of benchmarks/bench_stream.py and benchmarks/bench_asgi.py:
a --quick run completes, checks its own counts and writes every figure.
(The figures themselves are measurements, read in docs/benchmarks.md.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, out: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", "--json", str(out), *extra],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_bench_stream_quick(tmp_path: Path) -> None:
    pytest.importorskip("openai")
    result = _run("bench_stream.py", tmp_path / "stream.json")
    assert set(result["shapes"]) == {"openai", "dict", "str"}
    for shape in result["shapes"].values():
        assert shape["bare_ns_per_chunk"]["median"] > 0
        assert shape["tracked_ns_per_chunk"]["median"] > shape["bare_ns_per_chunk"]["min"]
    # Every pass was one recorded operation with the chunks' tokens.
    ctx = result["context"]
    # (cpu_per_chunk_ns warms up once per call: two passes per repetition.)
    assert result["operations_recorded"] == result["tracked_passes"] == 3 * 2 * ctx["repetitions"]
    assert result["tokens_recorded"] > 0
    assert {t["status"] for t in result["targets"]} <= {"PASS", "MISS"}


def test_bench_asgi_quick(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    if shutil.which("ab") is None:
        pytest.skip("ApacheBench (apache2-utils) is not installed")
    result = _run("bench_asgi.py", tmp_path / "asgi.json")
    variants = {"plain", "noop", "ragperf", "ragperf_no_header"}
    assert set(result["variants"]) == variants
    assert len(result["rounds"]) == result["context"]["rounds"] == 3
    for rd in result["rounds"]:
        for v in variants:
            assert rd[v]["cpu_us_per_request"] > 0 and rd[v]["rps"] > 0
    assert set(result["added_cpu_us_per_request"]) == variants - {"plain"}
    assert result["throughput_ratio_ragperf_no_header_vs_plain"]["median"] > 0


def test_bench_asgi_counts_instructions_under_callgrind(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    if shutil.which("ab") is None or shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        pytest.skip("needs ApacheBench and valgrind (apache2-utils, valgrind)")
    result = _run("bench_asgi.py", tmp_path / "asgi.json", "--rounds", "1", "--instructions",
                  "--instruction-requests", "40")
    counted = result["instructions"]
    assert counted["requests"] == 40
    per_request = counted["per_request"]
    assert set(per_request) == {"plain", "noop", "ragperf", "ragperf_no_header"}
    # A FastAPI request is hundreds of thousands of instructions. Over 40
    # requests the servers' batching moves a count by a few thousand per
    # request, more than the middleware adds: only the arithmetic is checked.
    assert all(n > 100_000 for n in per_request.values())
    for v in ("noop", "ragperf", "ragperf_no_header"):
        assert counted["added_per_request"][v] == pytest.approx(per_request[v] - per_request["plain"])
    line = [t for t in result["targets"] if "instructions" in t["name"]]
    assert len(line) == 1 and line[0]["informational"] is True
