"""Tests of benchmarks/render_docs.py (docs/benchmarks.md from the result
JSON files) and smoke runs of benchmarks/bench_reads.py and
benchmarks/bench_concurrency.py with --quick.

Rendering is tested on small synthetic result files in tmp_path: every
section is present, figures from the JSON appear, a missing file makes its
section say "not run", --check detects a stale page. The benchmark scripts
are run in a subprocess with --quick and their JSON shape is checked. No
timing is ever asserted (the machine is shared and noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
RENDER = BENCH / "render_docs.py"
READS = BENCH / "bench_reads.py"
CONCURRENCY = BENCH / "bench_concurrency.py"

SECTION_TITLES = [
    "## Targets",
    "## Machine and software",
    "## Commands",
    "## Per-block overhead vs peers",
    "## Percentile accuracy, memory and merge",
    "## Concurrency: Python threads",
    "## Concurrency: C++ core",
    "## Cost of reads",
]


def _run(*args: Any, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )


def _write(dir_: Path, name: str, data: Dict[str, Any]) -> None:
    dir_.mkdir(parents=True, exist_ok=True)
    (dir_ / name).write_text(json.dumps(data), encoding="utf-8")


def _ctx(**extra: Any) -> Dict[str, Any]:
    ctx = {
        "date": "2031-02-03T04:05:06+00:00",
        "started": "2031-02-03T04:00:00+00:00",
        "python_version": "3.99.1",
        "python_implementation": "CPython",
        "platform": "Linux-synthetic",
        "cpu_model": "Synthetic CPU 9000",
        "num_cpus": 7,
        "mem_total_gib": 12.5,
        "compiler": "g++ (Synthetic) 99.1.0",
        "ragperf_version": "9.8.7",
        "source_git": "abc1234",
        "ragperf_core": {"sha256": "feedfacecafebeef", "mtime": "2031-02-03T03:00:00+00:00"},
        "loadavg_before": [0.11, 0.22, 0.33],
        "loadavg_after": [0.44, 0.55, 0.66],
        "quick": False,
    }
    ctx.update(extra)
    return ctx


def _target(name: str, value: Any, op: str, threshold: Any, unit: str, status: str, info: bool = False) -> Dict[str, Any]:
    return {"name": name, "value": value, "op": op, "threshold": threshold, "unit": unit,
            "status": status, "informational": info}


def overhead_json() -> Dict[str, Any]:
    rows = []
    for name, group, med in (("bare_with/nullcontext", "core", 211.0),
                             ("ragperf/memory_off", "core", 123457.0),
                             ("ragperf/timed_call", "extra", 777.0)):
        rows.append({"name": name, "label": f"label of {name}", "group": group, "median_ns": med,
                     "min_ns": med - 1, "max_ns": med + 1, "ratio_to_bare_with": med / 211.0,
                     "repetitions_ns": [med] * 5, "repetitions": 5})
    return {
        "context": _ctx(iterations=4321, repetitions=5, prometheus_client_version="0.0.1",
                        psutil_version="0.0.2"),
        "benchmarks": rows,
        "targets": [_target("ragperf memory off: ns per block", 123457.0, "<=", 500.0, "ns", "MISS")],
        "derived": [{"name": "seed-style memory on - memory off (cost of the psutil reads)",
                     "value": 65432.0, "unit": "ns"}],
    }


def accuracy_json() -> Dict[str, Any]:
    q = {"p50": 0.5, "p99": 0.99}
    return {
        "context": _ctx(n=31337, seed=5, relative_accuracy=0.005, max_bins=2048, quantiles=q,
                        numpy_version="0.0.3"),
        "distributions": {
            "lognormal": {
                "name": "lognormal", "description": "synthetic lognormal", "n": 31337,
                "exact": {"p50": 0.05, "p99": 0.5},
                "methods": {
                    "ragperf": {"label": "ragperf QuantileSketch", "rel_error": {"p50": 0.004321, "p99": 0.001},
                                "memory_bytes": 12345},
                    "ddsketch": {"available": False, "note": "ddsketch not importable (synthetic)"},
                    "seed_deque_1000": {"label": "seed deque", "rel_error": {"p50": 0.05, "p99": 0.2},
                                        "memory_bytes": 33208,
                                        "windows": {"count": 31, "median": {"p50": 0.03, "p99": 0.1},
                                                    "fraction_over_1pct": {"p50": 0.8, "p99": 0.9}}},
                },
            }
        },
        "merge": {"distribution": "lognormal", "shards": 16, "serialized_bytes_total": 2222,
                  "median_ms": 0.654, "min_ms": 0.6, "max_ms": 0.7, "repetitions": 9, "same_contents": True},
        "targets": [{"name": "ragperf relative error <= 1% at every quantile on every distribution",
                     "status": "PASS", "value": 0.004321, "threshold": 0.01, "unit": "fraction",
                     "detail": "worst 0.432% (lognormal p50)"}],
        "notes": ["a synthetic accuracy note"],
    }


def concurrency_json() -> Dict[str, Any]:
    rows = []
    for mode in ("same_operation", "distinct_operations"):
        for n in (1, 2, 4):
            rows.append({"name": f"python_threads/{mode}/threads:{n}", "mode": mode, "threads": n,
                         "blocks_per_thread": 1000, "total_blocks": 1000 * n, "repetitions": 5,
                         "blocks_per_second": 2_468_013.0 + n, "min_blocks_per_second": 1.0e6,
                         "max_blocks_per_second": 3.0e6, "ns_per_block": 405.0,
                         "ratio_to_1_thread": 1.0, "lost": 0, "count_checks": [{"lost": 0}] * 6})
    return {"context": _ctx(blocks_per_thread=1000, repetitions=5, threads=[1, 2, 4], gil_enabled=True,
                            switch_interval_s=0.005, command=".venv/bin/python benchmarks/bench_concurrency.py"),
            "benchmarks": rows, "targets": [], "notes": ["the GIL serialises Python threads (synthetic)"]}


def reads_json() -> Dict[str, Any]:
    return {
        "context": _ctx(operations=100, records_per_operation=1000, snapshots=16, repetitions=5),
        "benchmarks": [
            {"name": "generate_report", "call": "monitor.generate_report()", "unit": "ms",
             "median": 3.2109, "min": 3.0, "max": 4.0, "calls_per_repetition": 1},
            {"name": "get_operation_stats_window_5min", "call": "monitor.get_operation_stats(op, window_minutes=5)",
             "unit": "us", "median": 17.25, "min": 16.0, "max": 19.0, "calls_per_repetition": 100},
        ],
        "merge": {"snapshots": 16, "operations": 100, "values_per_sketch": 1000, "blobs": 1600,
                  "serialized_bytes_total": 999999, "serialized_bytes_per_blob_median": 600,
                  "merged_count_per_operation": 16000, "same_contents": True,
                  "time": {"median": 8.765, "min": 8.0, "max": 9.0, "unit": "ms"}},
        "sanity_checks": {"report_operations": 100, "report_total_operations": 100000, "exported_bytes": 4242},
        "targets": [
            _target("generate_report() with 100 operations x 1,000 records < 10 ms", 3.2109, "<", 10.0, "ms", "PASS"),
            _target("deserialize + merge 16 snapshots x 100 serialized sketches < 50 ms", 8.765, "<", 50.0, "ms", "PASS"),
        ],
        "notes": ['A "snapshot" here is the set of serialized per-operation QuantileSketch blobs'],
    }


def cpp_json(rate4: float = 3_456_789.0, lost: float = 0.0) -> Dict[str, Any]:
    benches = []
    for fam in ("BM_RecordSameOperation", "BM_RecordDistinctOperations"):
        for n in (1, 2, 4):
            name = f"{fam}/real_time/threads:{n}"
            benches.append({"name": name, "run_name": name, "run_type": "iteration", "threads": n,
                            "iterations": 1000, "real_time": 100.0, "cpu_time": 150.0, "time_unit": "ns",
                            "items_per_second": rate4 if n == 4 else 9_000_000.0, "lost": lost})
    benches.append({"name": "BM_GetAllStats100Operations", "run_name": "BM_GetAllStats100Operations",
                    "run_type": "iteration", "threads": 1, "iterations": 10, "real_time": 654.5,
                    "cpu_time": 650.0, "time_unit": "us"})
    return {"context": {"date": "2031-02-03T05:00:00+00:00", "executable": "build/bench/tracker_bench",
                        "num_cpus": 7, "mhz_per_cpu": 1234, "load_avg": [0.1, 0.2, 0.3],
                        "library_build_type": "release"},
            "benchmarks": benches}


def all_results(dir_: Path) -> None:
    _write(dir_, "overhead.json", overhead_json())
    _write(dir_, "accuracy.json", accuracy_json())
    _write(dir_, "concurrency.json", concurrency_json())
    _write(dir_, "reads.json", reads_json())
    _write(dir_, "cpp_tracker.json", cpp_json())


def _render(results: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run(RENDER, "--results", results, "--out", out, *extra)


def test_render_all_sections_and_numbers(tmp_path: Path) -> None:
    results, out = tmp_path / "results", tmp_path / "out.md"
    all_results(results)
    proc = _render(results, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in proc.stderr
    md = out.read_text(encoding="utf-8")
    pos = [md.find(t) for t in SECTION_TITLES]
    assert all(p >= 0 for p in pos), [t for t, p in zip(SECTION_TITLES, pos) if p < 0]
    assert pos == sorted(pos)
    assert "**Not run**" not in md
    assert "Could not render" not in md
    # Machine and software, from the JSON.
    for s in ("Synthetic CPU 9000", "| 7 |", "12.5 GiB", "CPython 3.99.1", "g++ (Synthetic) 99.1.0", "9.8.7",
              "feedfacecafebeef", "2031-02-03T04:00:00+00:00", "2031-02-03T05:00:00+00:00",
              "prometheus_client 0.0.1", "numpy 0.0.3", "library built as release"):
        assert s in md, s
    # Commands.
    assert "make bench" in md and "bench_reads.py" in md and "bench_concurrency.py" in md
    assert "--benchmark_out=benchmarks/results/cpp_tracker.json" in md
    # Figures from each file.
    for s in ("123,457", "4,321 blocks", "65,432 ns",                      # overhead
              "0.432 %", "12,345", "31,337", "0.654 ms", "ddsketch not importable (synthetic)",  # accuracy
              "2,468,014", "2,468,017",                                  # concurrency
              "3.211 ms", "17.25 µs", "8.765 ms", "999,999", "4,242",    # reads
              "3.46 M", "654.5 µs"):                                     # C++
        assert s in md, s
    # Targets table: every target, with value, limit and status.
    targets = md[md.index("## Targets"):md.index("## Machine and software")]
    assert "| ragperf memory off: ns per block | 123,457 ns | <= 500 ns | MISS |" in targets
    assert "0.432 %" in targets and "<= 1.000 %" in targets
    assert "3.211 ms | < 10.000 ms | PASS" in targets
    assert "8.765 ms | < 50.000 ms | PASS" in targets
    assert targets.count("BM_Record") == 2 and "3.46 M records/s | >= 2.00 M records/s | PASS" in targets
    assert "lost records" in targets
    assert "GIL" in md and "snapshot" in md


def test_missing_results_say_not_run(tmp_path: Path) -> None:
    results, out = tmp_path / "results", tmp_path / "out.md"
    _write(results, "reads.json", reads_json())
    proc = _render(results, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    md = out.read_text(encoding="utf-8")
    for name in ("overhead.json", "accuracy.json", "concurrency.json", "cpp_tracker.json"):
        assert f"**Not run** — `{results}/{name}` does not exist." in md or f"{name}` does not exist" in md, name
    assert md.count("**Not run**") == 4
    assert "8.765 ms" in md  # the present one is rendered
    targets = md[md.index("## Targets"):md.index("## Machine and software")]
    assert targets.count("| not run | — | — | not run |") == 4


def test_empty_and_unreadable_results(tmp_path: Path) -> None:
    results, out = tmp_path / "results", tmp_path / "out.md"
    results.mkdir()
    (results / "reads.json").write_text("{not json", encoding="utf-8")
    proc = _render(results, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    md = out.read_text(encoding="utf-8")
    assert md.count("**Not run**") == 5
    assert "could not be read" in md


def test_cpp_target_miss_and_lost(tmp_path: Path) -> None:
    results, out = tmp_path / "results", tmp_path / "out.md"
    _write(results, "cpp_tracker.json", cpp_json(rate4=1_000_000.0, lost=3.0))
    assert _render(results, out).returncode == 0
    md = out.read_text(encoding="utf-8")
    targets = md[md.index("## Targets"):md.index("## Machine and software")]
    assert targets.count("| MISS |") == 3  # two rates and the lost records


def test_check_flag(tmp_path: Path) -> None:
    results, out = tmp_path / "results", tmp_path / "out.md"
    all_results(results)
    assert _render(results, out, "--check").returncode == 1  # no page yet
    assert _render(results, out).returncode == 0
    first = out.read_text(encoding="utf-8")
    proc = _render(results, out, "--check")
    assert proc.returncode == 0, proc.stderr
    assert _render(results, out).returncode == 0
    assert out.read_text(encoding="utf-8") == first  # deterministic
    out.write_text(first.replace("123,457", "1"), encoding="utf-8")
    proc = _render(results, out, "--check")
    assert proc.returncode == 1 and "out of date" in proc.stderr
    assert out.read_text(encoding="utf-8") != first  # --check never writes


def test_repository_results_render_cleanly(tmp_path: Path) -> None:
    """Whatever result files the repository holds render without falling
    back to the "could not render" note (catches format drift)."""
    out = tmp_path / "out.md"
    proc = _render(BENCH / "results", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in proc.stderr, proc.stderr
    assert "Could not render" not in out.read_text(encoding="utf-8")


def test_bench_reads_quick(tmp_path: Path) -> None:
    pytest.importorskip("ragperf")
    path = tmp_path / "reads.json"
    proc = _run(READS, "--quick", "--json", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Targets" in proc.stdout and "snapshot" in proc.stdout
    result = json.loads(path.read_text(encoding="utf-8"))
    ctx = result["context"]
    assert ctx["quick"] is True
    for key in ("date", "python_version", "cpu_model", "num_cpus", "ragperf_version", "command"):
        assert ctx[key], key
    rows = {r["name"]: r for r in result["benchmarks"]}
    assert {"generate_report", "export_metrics_json", "get_operation_stats_window_5min",
            "get_operation_stats_all_time", "get_all_stats"} <= set(rows)
    for name, r in rows.items():
        assert r["repetitions"] >= 5 and len(r["samples"]) == r["repetitions"], name
        assert 0 < r["min"] <= r["median"] <= r["max"], name
        assert r["unit"] in ("ms", "us"), name
    merge = result["merge"]
    assert merge["blobs"] == merge["snapshots"] * merge["operations"]
    assert merge["same_contents"] is True
    assert merge["merged_count_per_operation"] == merge["snapshots"] * merge["values_per_sketch"]
    assert merge["time"]["unit"] == "ms" and merge["time"]["repetitions"] >= 5
    assert "snapshot" in merge["what"]
    chk = result["sanity_checks"]
    assert chk["report_operations"] == ctx["operations"]
    assert chk["report_total_operations"] == ctx["operations"] * ctx["records_per_operation"]
    assert len(result["targets"]) == 2
    for t in result["targets"]:
        assert t["status"] in ("PASS", "MISS") and t["unit"] == "ms" and t["op"] == "<"


def test_bench_concurrency_quick(tmp_path: Path) -> None:
    pytest.importorskip("ragperf")
    path = tmp_path / "concurrency.json"
    proc = _run(CONCURRENCY, "--quick", "--json", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "GIL" in proc.stdout and "lost" in proc.stdout
    result = json.loads(path.read_text(encoding="utf-8"))
    ctx = result["context"]
    assert ctx["quick"] is True and ctx["threads"] == [1, 2, 4]
    rows = result["benchmarks"]
    assert {(r["mode"], r["threads"]) for r in rows} == {
        (m, n) for m in ("same_operation", "distinct_operations") for n in (1, 2, 4)
    }
    for r in rows:
        assert r["lost"] == 0, r["name"]
        assert r["repetitions"] >= 5 and len(r["repetitions_blocks_per_second"]) == r["repetitions"]
        assert 0 < r["min_blocks_per_second"] <= r["blocks_per_second"] <= r["max_blocks_per_second"]
        assert r["total_blocks"] == r["threads"] * r["blocks_per_thread"]
        # warm-up + every repetition checked, every one exact
        assert len(r["count_checks"]) == r["repetitions"] + 1
        for c in r["count_checks"]:
            assert c["lost"] == 0 and c["counted_total"] == c["expected_total"] == r["total_blocks"]
            assert c["counted_per_operation"] == c["expected_per_operation"]
        if r["mode"] == "distinct_operations":
            assert len(r["count_checks"][0]["expected_per_operation"]) == r["threads"]
    assert result["targets"] == []
    assert any("GIL" in n for n in result["notes"])

    # The quick results render, marked as a smoke run.
    out = tmp_path / "out.md"
    rproc = _render(tmp_path, out)
    assert rproc.returncode == 0, rproc.stderr
    md = out.read_text(encoding="utf-8")
    assert "quick (smoke) run" in md and "Could not render" not in md
    assert md.count("**Not run**") == 4


def cpp_aggregates_json(mean_lost: float) -> Dict[str, Any]:
    """As written by `make bench`: --benchmark_repetitions=5
    --benchmark_report_aggregates_only=true (mean/median/stddev/cv rows only)."""
    benches = []
    for fam in ("BM_RecordSameOperation", "BM_RecordDistinctOperations"):
        for n in (1, 2, 4):
            run = f"{fam}/real_time/threads:{n}"
            for agg, rt, ips, lost in (("mean", 100.0, 5.5e6, mean_lost), ("median", 99.0, 5_678_901.0, 0.0),
                                       ("stddev", 1.0, 1e5, 0.0), ("cv", 0.0123, 0.01, float("nan"))):
                benches.append({"name": f"{run}_{agg}", "run_name": run, "run_type": "aggregate",
                                "aggregate_name": agg, "repetitions": 5, "threads": n, "iterations": 5,
                                "real_time": rt, "cpu_time": rt, "time_unit": "ns",
                                "items_per_second": ips, "lost": lost})
    return {"context": {"date": "2031-02-03T05:00:00+00:00", "num_cpus": 7, "library_build_type": "debug"},
            "benchmarks": benches}


@pytest.mark.parametrize("mean_lost,status", [(0.0, "PASS"), (0.4, "MISS")])
def test_cpp_aggregates_only(tmp_path: Path, mean_lost: float, status: str) -> None:
    results, out = tmp_path / "results", tmp_path / "out.md"
    _write(results, "cpp_tracker.json", cpp_aggregates_json(mean_lost))  # NaN in the cv rows, as google-benchmark writes
    proc = _render(results, out)
    assert proc.returncode == 0, proc.stderr
    md = out.read_text(encoding="utf-8")
    assert "Could not render" not in md
    assert "5.68 M/s" in md and "median of 5 repetitions" in md and "cv 1.2 %" in md
    targets = md[md.index("## Targets"):md.index("## Machine and software")]
    assert targets.count("5.68 M records/s | >= 2.00 M records/s | PASS") == 2
    lost_row = next(line for line in targets.splitlines() if "lost records" in line)
    assert lost_row.endswith(f"| {status} |"), lost_row
