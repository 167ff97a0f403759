"""Smoke test of benchmarks/bench_integrations.py: a tiny run measures every
case (each variant recorded every call, or the script exits 2) and writes
the JSON the docs quote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_integrations.py"
CASES = {
    "openai_create",
    "openai_stream_20_chunks",
    "langchain_llm_invoke",
    "langchain_rag_chain",
    "langchain_rag_chain_noop",
    "llamaindex_llm_complete",
    "llamaindex_query",
    "llamaindex_query_noop",
    "fastapi_request",
}


@pytest.mark.slow
def test_tiny_run_writes_every_case(tmp_path: Path) -> None:
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    pytest.importorskip("fastapi")
    out = tmp_path / "integrations.json"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--calls", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(out.read_text())
    rows = {r["name"]: r for r in result["benchmarks"]}
    assert set(rows) == CASES and result["skipped"] == []
    for row in rows.values():
        assert row["with"]["repetitions"] == row["without"]["repetitions"] == 5
        assert row["added_us_best"] == pytest.approx(row["with"]["min"] - row["without"]["min"])
    assert "added" in run.stdout
