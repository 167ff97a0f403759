"""Smoke test of benchmarks/bench_nested.py (a realistic nested query vs the
same nesting of bare ``with`` blocks): a run with a few queries completes,
checks its monitors and writes every field docs/benchmarks.md renders, and
the sanity check catches a monitor that did not record the queries. The
figures themselves are measurements (docs/benchmarks.md), never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPT = BENCH / "bench_nested.py"

SIDES = {"bare_query4", "ragperf_query4", "ragperf_query4_positional", "bare_query3", "ragperf_query3",
         "bare_query4_new"}
VARIANTS = {"query4": ("ragperf_query4", "bare_query4"),
            "query4_positional": ("ragperf_query4_positional", "bare_query4"),
            "query3": ("ragperf_query3", "bare_query3"),
            "query4_vs_new": ("ragperf_query4", "bare_query4_new")}


@pytest.fixture
def bench_modules() -> Iterator[Any]:
    """bench_nested and bench_instructions, imported from benchmarks/ (and
    forgotten afterwards: their ``common`` is not a package module)."""
    before = set(sys.modules)
    sys.path.insert(0, str(BENCH))
    try:
        import bench_instructions  # type: ignore[import-not-found]
        import bench_nested  # type: ignore[import-not-found]

        yield bench_nested, bench_instructions
    finally:
        sys.path.remove(str(BENCH))
        for name in ("bench_nested", "bench_instructions", "common"):
            if name not in before:
                sys.modules.pop(name, None)


def test_small_run_writes_every_field(tmp_path: Path) -> None:
    out = tmp_path / "nested.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--iterations", "20", "--repetitions", "5", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert "ragperf / peer" in proc.stdout

    ctx = result["context"]
    assert (ctx["iterations"], ctx["repetitions"], ctx["memory_tracking"]) == (20, 5, True)
    for key in ("cpu_model", "num_cpus", "python_version", "ragperf_version", "ragperf_core", "started", "date"):
        assert ctx[key], key

    sides = {s["name"]: s for s in result["sides"]}
    assert set(sides) == SIDES
    for name, s in sides.items():
        assert s["blocks_per_query"] == (3 if "query3" in name else 4), name
        assert len(s["repetitions_us"]) == s["repetitions"] == 5, name
        assert 0 < s["us_per_query_min"] <= s["us_per_query"] <= s["us_per_query_max"], name
        assert s["us_per_block"] == pytest.approx(s["us_per_query"] / s["blocks_per_query"]), name
        assert s["ragperf"] == name.startswith("ragperf"), name
        # Checked before and after timing, and what was found is what was expected.
        assert {c["when"] for c in s["sanity_checks"]} == {"before timing", "after timing"}, name
        assert all(c["recorded"] == c["expected"] for c in s["sanity_checks"]), name
    # A ragperf side's monitor holds the warm-up pass plus every round: 20 * 6 queries.
    llm = [c for c in sides["ragperf_query4"]["sanity_checks"]
           if c["when"] == "after timing" and c["what"] == "llm_inference"]
    assert llm == [{"when": "after timing", "what": "llm_inference",
                    "expected": {"operations": 120, "tokens": 120 * 120},
                    "recorded": {"operations": 120, "tokens": 120 * 120}}]

    ratios = {r["variant"]: r for r in result["ratios"]}
    assert set(ratios) == set(VARIANTS)
    for variant, (rp, peer) in VARIANTS.items():
        r = ratios[variant]
        assert (r["ragperf"], r["peer"]) == (rp, peer)
        expected = [a / b for a, b in zip(sides[rp]["repetitions_us"], sides[peer]["repetitions_us"])]
        assert r["per_round"] == pytest.approx(expected)
        assert r["min"] <= r["median"] <= r["max"]
    assert [r["informational"] for r in result["ratios"]] == [False, True, True, True]

    targets = result["targets"]
    assert len(targets) == 4
    assert targets[0]["value"] == ratios["query4"]["median"] and targets[0]["threshold"] == 2.5
    assert targets[0]["informational"] is False
    for t in targets:
        assert t["status"] == ("PASS" if t["value"] <= 2.5 else "MISS")

    # docs/benchmarks.md's section renders from it: the figures of this run appear.
    page = tmp_path / "benchmarks.md"
    proc = subprocess.run([sys.executable, str(BENCH / "render_docs.py"), "--results", str(tmp_path),
                           "--out", str(page)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stdout + proc.stderr
    md = page.read_text(encoding="utf-8")
    section = md[md.index("## Realistic nested query (`benchmarks/bench_nested.py`)"):md.index("## Smoke tests")]
    assert "Could not render" not in section
    assert f"| `ragperf_query4` | 4 | {sides['ragperf_query4']['us_per_query']:,.3f} |" in section
    assert f"| `query4` | `ragperf_query4` / `bare_query4` | {ratios['query4']['median']:.2f}× |" in section
    assert ctx["cpu_model"] in section and "20 queries per side per round, 5 rounds" in section
    assert md.count(f"[{targets[0]['status']}] {targets[0]['name']}") == 1


def test_sanity_check_catches_missing_records(bench_modules: Any) -> None:
    bench_nested, _ = bench_modules
    side = bench_nested.SIDES["ragperf_query4"]()
    side.run(3)
    bench_nested.check_side(side, "ok")
    side.queries += 1  # claims one query more than the monitor holds
    with pytest.raises(bench_nested.SanityError, match="query_processing holds"):
        bench_nested.check_side(side, "one short")
    bare = bench_nested.SIDES["bare_query3"]()
    with pytest.raises(bench_nested.SanityError, match="attributes"):
        bench_nested.check_side(bare, "never run")  # the attributes are set only by running


def test_instruction_cases_run_bench_nested_sides(bench_modules: Any) -> None:
    """bench_instructions.py's nested_* cases are bench_nested.py's sides,
    with the blocks per query it reports."""
    bench_nested, bench_instructions = bench_modules
    assert set(bench_instructions.NESTED_CASES) == set(bench_nested.INSTRUCTION_CASES)
    for case, side_name in bench_nested.INSTRUCTION_CASES.items():
        side = bench_nested.run_side(side_name, 2)
        assert side.blocks_per_query == bench_instructions.NESTED_CASES[case], case
        assert side.queries == 2
