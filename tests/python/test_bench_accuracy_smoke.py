"""Smoke test of benchmarks/bench_accuracy.py: a --quick run completes, writes a
JSON result with every distribution and method, ragperf stays within 1% at every
quantile, and merging serialized shard sketches is exact. A second run with
ddsketch made unimportable checks that the script skips that method with a note
instead of crashing."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

pytest.importorskip("numpy")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_accuracy.py"

DISTRIBUTIONS = {"lognormal", "pareto", "bimodal", "uniform", "constant"}
METHODS = {"ragperf", "ddsketch", "seed_deque_1000"}
QUANTILES = ["p50", "p90", "p95", "p99", "p99.9"]


def _run(out: Path, env: Optional[Dict[str, str]] = None) -> "subprocess.CompletedProcess[str]":
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _check_common(result: Dict[str, Any], ddsketch_expected: Optional[bool]) -> None:
    dists = result["distributions"]
    assert set(dists) == DISTRIBUTIONS
    for name, d in dists.items():
        assert d["n"] == result["context"]["n"] == 20_000, name
        assert set(d["exact"]) == set(QUANTILES), name
        assert set(d["methods"]) == METHODS, name

        rp = d["methods"]["ragperf"]
        assert rp["available"] is True
        for q in QUANTILES:
            assert rp["rel_error"][q] is not None and rp["rel_error"][q] <= 0.01, (name, q, rp["rel_error"][q])
        assert 0 < rp["memory_bytes"] <= 32 * 1024, name
        assert rp["add_many_values_per_s"] > 0, name

        seed = d["methods"]["seed_deque_1000"]
        assert seed["available"] is True and seed["values_used"] == 1000, name
        assert set(seed["rel_error"]) == set(QUANTILES), name
        assert seed["memory_bytes"] > 1000 * sys.getsizeof(1.0), name

        dd = d["methods"]["ddsketch"]
        if ddsketch_expected is None:
            ddsketch_expected = bool(dd["available"])
        assert dd["available"] is ddsketch_expected, name
        if dd["available"]:
            assert dd["n"] > 0
            assert all(dd["rel_error"][q] is not None for q in QUANTILES), name
            assert dd["memory_bytes"] > 0, name
        else:
            assert dd["note"] and "ddsketch" in dd["note"], name

    merge = result["merge"]
    assert merge["shards"] == 16
    assert merge["same_contents"] is True
    assert merge["median_ms"] > 0

    targets = result["targets"]
    assert len(targets) == 4
    assert {t["status"] for t in targets} <= {"PASS", "MISS"}

    ctx = result["context"]
    for key in ("python_version", "numpy_version", "ragperf_version", "date"):
        assert ctx[key], key
    assert ctx["quick"] is True


def test_quick_run_writes_every_distribution_and_method(tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    proc = _run(out)
    result = json.loads(out.read_text(encoding="utf-8"))
    have_ddsketch = importlib.util.find_spec("ddsketch") is not None
    # When ddsketch is importable it must have been measured; otherwise its
    # absence (a skipped entry with a note) is accepted.
    _check_common(result, True if have_ddsketch else None)
    assert "ragperf QuantileSketch" in proc.stdout and "Targets" in proc.stdout


def test_quick_run_without_ddsketch_skips_it(tmp_path: Path) -> None:
    # A package named ddsketch that fails to import, placed ahead of site-packages.
    shadow = tmp_path / "shadow" / "ddsketch"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('hidden by test')\n", encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shadow.parent), env.get("PYTHONPATH")]))

    out = tmp_path / "x.json"
    proc = _run(out, env)
    result = json.loads(out.read_text(encoding="utf-8"))
    _check_common(result, False)
    assert result["context"]["ddsketch_version"] is None
    assert "hidden by test" in (result["context"]["ddsketch_import_error"] or "")
    assert "skipped" in proc.stdout
