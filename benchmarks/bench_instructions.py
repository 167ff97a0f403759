"""CPU instructions per tracked block, counted by valgrind (noise-free).

Wall-clock overhead on a shared machine moves by 2x from run to run; the
number of instructions a block executes does not. This script runs a loop of
``with monitor.track_operation("x"): pass`` (and a bare ``with
nullcontext()`` for reference) under ``valgrind --tool=callgrind`` twice, with
N and 2N blocks, and reports ``(I(2N) - I(N)) / N``: start-up and import cost
cancel out. PYTHONHASHSEED is fixed because hash randomisation moves
CPython's dict probes by ~90 instructions between runs.

``--baseline-site DIR`` also measures another installed ragperf (e.g. a
release built with ``pip install --target DIR``) in the same run, which is
how "the plain block did not get slower" is checked.

Usage::

    python benchmarks/bench_instructions.py [--blocks 20000] [--queries 5000]
        [--cases nested_bare,nested_query] [--baseline-site /tmp/old/site] [--json PATH]

The ``nested_*`` cases count per query (N queries of 3 or 4 blocks) instead
of per block: bench_nested.py's realistic query and its bare peer.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

from common import HERE, RESULTS_DIR, callgrind_total, environment, finish, log, run_start, target

LOOP = """
import contextlib, sys
from ragperf import PerformanceMonitor
mode, n = sys.argv[1], int(sys.argv[2])
m = PerformanceMonitor(enable_memory_tracking=(mode == "memory_on"))
if mode == "dimensions":
    m.set_dimensions(["model"])

def run(t, nc):
    # In a function, as real code is: module-level names would add a dict
    # store and lookups per block that are the interpreter's, not ragperf's.
    if mode == "bare":
        for _ in range(n):
            with nc: pass
    elif mode in ("dimensions", "metadata"):
        for _ in range(n):
            with t("x", model="qwen"): pass
    elif mode == "model_tokens":
        for _ in range(n):
            with t("x", model="qwen", tenant="acme", k=3) as op:
                op.prompt_tokens = 100
                op.completion_tokens = 20
    elif mode.startswith("nested"):  # bench_nested.py's own loops (sys.argv[3]: its directory)
        sys.path.insert(0, sys.argv[3])
        import bench_nested
        bench_nested.run_side(bench_nested.INSTRUCTION_CASES[mode], n)
    else:
        for _ in range(n):
            with t("x"): pass

run(m.track_operation, contextlib.nullcontext())
"""

# metadata: a block with model="qwen" metadata; dimensions: the same block
# with "model" declared as a dimension (the difference is the split's cost);
# model_tokens: a realistic LLM block, a model plus two small metadata keys
# and token counts (issue #20's target: <= 1.3x memory_off).
CASES = ("bare", "memory_off", "memory_on", "metadata", "dimensions", "model_tokens")

# Per QUERY, not per block: bench_nested.py's realistic query, its loops
# run as they are there (function locals, memory tracking on, the monitor
# checked after the run) -- nested_query: a root and 3 children with keyword
# metadata and tokens; nested_query_positional: the same with positional
# metadata dicts; nested3_query: a root and 2 children -- and its peers, the
# same nesting of bare `with nullcontext(ns)` blocks setting the same
# attributes (issue #20's target: nested_query <= 2.5x nested_bare).
NESTED_CASES: Dict[str, int] = {  # case -> blocks per query
    "nested_bare": 4, "nested_query": 4, "nested_query_positional": 4, "nested3_bare": 3, "nested3_query": 3,
}
# ratio name -> (case, peer case, informational)
NESTED_RATIOS = {
    "nested_query / nested_bare": ("nested_query", "nested_bare", False),
    "nested_query_positional / nested_bare": ("nested_query_positional", "nested_bare", True),
    "nested3_query / nested3_bare": ("nested3_query", "nested3_bare", True),
}
NESTED_TARGET = 2.5
# Issue #20: the realistic LLM block against the empty block (memory off in
# both), per block.
BLOCK_RATIO = ("model_tokens", "memory_off")
BLOCK_TARGET = 1.3


def instructions(site: Optional[str], mode: str, n: int, workdir: Path) -> int:
    """Total instructions of one run of LOOP (callgrind's summary line)."""
    script = workdir / "loop.py"
    script.write_text(LOOP)
    out = workdir / f"cg.{mode}.{n}"
    env = dict(os.environ, PYTHONHASHSEED="0")
    if site is not None:
        env["PYTHONPATH"] = site
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
         str(script), mode, str(n), str(HERE)],
        check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return callgrind_total(out)


def per_block(site: Optional[str], mode: str, n: int, workdir: Path) -> float:
    return (instructions(site, mode, 2 * n, workdir) - instructions(site, mode, n, workdir)) / n


def ratio_targets(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Issue #20's ratios in instructions, for each build that measured both
    cases of a pair: the realistic block against the empty one, and the
    nested query against the bare nesting."""
    per_query = {(r["build"], r["case"]): r["instructions_per_query"] for r in rows if "instructions_per_query" in r}
    per_block = {(r["build"], r["case"]): r["instructions_per_block"] for r in rows if "instructions_per_block" in r}
    out = []
    for build in dict.fromkeys(r["build"] for r in rows):
        case, peer = BLOCK_RATIO
        if (build, case) in per_block and (build, peer) in per_block:
            # Only this build's ratio is the target; a baseline's is for comparison.
            out.append(target(f"{build}: {case} / {peer}, CPU instructions per block (valgrind)",
                              per_block[build, case] / per_block[build, peer], "<=", BLOCK_TARGET, "x",
                              informational=build != "current"))
        for name, (case, peer, informational) in NESTED_RATIOS.items():
            if (build, case) in per_query and (build, peer) in per_query:
                out.append(target(f"{build}: {name}, CPU instructions per query (valgrind)",
                                  per_query[build, case] / per_query[build, peer], "<=", NESTED_TARGET, "x",
                                  informational))
    return out


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--blocks", type=int, default=20000, help="N for the per-block cases (default 20,000)")
    p.add_argument("--queries", type=int, default=5000, help="N for the nested (per-query) cases (default 5,000)")
    p.add_argument("--cases", default=None,
                   help="comma-separated cases to run (default: all of " + ", ".join((*CASES, *NESTED_CASES)) + ")")
    p.add_argument("--baseline-site", default=None,
                   help="a directory holding another ragperf build to compare with")
    p.add_argument("--json", type=Path, default=RESULTS_DIR / "instructions.json")
    args = p.parse_args(argv)
    cases = [*CASES, *NESTED_CASES] if args.cases is None else [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES and c not in NESTED_CASES]
    if unknown or not cases:
        p.error(f"unknown case(s) {unknown}; known: {', '.join((*CASES, *NESTED_CASES))}")
    if args.blocks < 1 or args.queries < 1:
        p.error("--blocks and --queries must be >= 1")
    if shutil.which("valgrind") is None:
        p.error("valgrind is not installed (apt-get install valgrind)")
    start = run_start()
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, site in (("current", None), ("baseline", args.baseline_site)):
            if label == "baseline" and site is None:
                continue
            for mode in cases:
                log(f"{label} {mode}")
                nested = mode in NESTED_CASES
                try:
                    value = per_block(site, mode, args.queries if nested else args.blocks, Path(tmp))
                except subprocess.CalledProcessError:
                    log(f"{label} {mode}: failed (not supported by that build, or a nested case's "
                        "sanity check failed), skipped")
                    continue
                if nested:
                    rows.append({"build": label, "case": mode, "instructions_per_query": value,
                                 "blocks_per_query": NESTED_CASES[mode]})
                else:
                    rows.append({"build": label, "case": mode, "instructions_per_block": value})
    print(f"{'build':<10} {'case':<24} {'instructions':>14}")
    for r in rows:
        per = "query" if "instructions_per_query" in r else "block"
        print(f"{r['build']:<10} {r['case']:<24} {r['instructions_per_' + per]:>14,.0f} per {per}")
    targets = ratio_targets(rows)
    for t in targets:
        print(f"[{t['status']}] {t['name']}: {t['value']:.2f}x {t['op']} {t['threshold']}x")
    result: Dict[str, Any] = {
        "context": environment(blocks=args.blocks, queries=args.queries, cases=cases,
                               baseline_site=args.baseline_site, **start),
        "benchmarks": rows}
    if targets:
        result["targets"] = targets
    return finish(args.json, result)


if __name__ == "__main__":
    sys.exit(main())
