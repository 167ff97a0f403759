#!/usr/bin/env python3
"""Renders docs/benchmarks.md from the JSON results in benchmarks/results/.

Every figure on the page comes from a result file: overhead.json
(bench_overhead.py), accuracy.json (bench_accuracy.py), concurrency.json
(bench_concurrency.py), reads.json (bench_reads.py) and cpp_tracker.json
(google-benchmark JSON written by build/bench/tracker_bench); extra runs of
the overhead benchmark named overhead_run*.json feed a run-to-run spread
table. The prose around the numbers is static text kept beside the code:
this file puts the page together; render_common.py holds what every section
uses, render_page_head.py the targets, machine and commands,
render_core_sections.py the core benchmarks' sections, and
render_integration_sections.py / render_memory_section.py /
render_otel_section.py / render_nested_section.py the optional ones. A
missing file makes its section say "not run". The only things read from
outside the results are the Makefile's ``bench`` recipe (shown verbatim) and,
when no result file recorded it, the first line of ``g++ --version``.

The output depends only on those inputs (no clock), so ``--check`` can tell
whether the committed page is up to date.

Usage:
    .venv/bin/python benchmarks/render_docs.py [--results benchmarks/results]
        [--out docs/benchmarks.md] [--check]

Exit status: 0 when written (or, with --check, up to date); 1 with --check
when the page differs from what would be rendered.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from pathlib import Path
from typing import Callable, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules below, from any cwd
import common  # noqa: E402  (no ragperf import at module level)
import render_integration_sections  # noqa: E402
import render_memory_section  # noqa: E402
import render_instructions_section  # noqa: E402
import render_nested_section  # noqa: E402
import render_otel_section  # noqa: E402
from render_common import (  # noqa: E402
    DEFAULT_OUT,
    DEFAULT_RESULTS,
    KNOWN,
    OPTIONAL_SECTIONS,
    RENDER_COMMAND,
    Results,
    rel,
)
from render_core_sections import (  # noqa: E402
    section_accuracy,
    section_concurrency,
    section_cpp,
    section_overhead,
    section_reads,
)
from render_page_head import render_commands, render_machine, render_targets  # noqa: E402


SMOKE = """\
`tests/python/test_bench_smoke.py` and `test_bench_accuracy_smoke.py` run the
overhead and accuracy scripts with `--quick`; `tests/python/test_bench_render.py`
runs `bench_reads.py` and `bench_concurrency.py` with `--quick` and renders this
page from small synthetic result files; `tests/python/test_bench_nested.py` runs
`bench_nested.py` with a few queries. They check that the benchmarks work and
what they write, never the timings."""


# --------------------------------------------------------------------------
# Page.
# --------------------------------------------------------------------------

SECTIONS: List[Tuple[str, str, Callable[[Results], List[str]]]] = [
    ("overhead", "Per-block overhead vs peers (`benchmarks/bench_overhead.py`)", section_overhead),
    ("accuracy", "Percentile accuracy, memory and merge (`benchmarks/bench_accuracy.py`)", section_accuracy),
    ("concurrency", "Concurrency: Python threads (`benchmarks/bench_concurrency.py`)", section_concurrency),
    ("cpp_tracker", "Concurrency: C++ core (`build/bench/tracker_bench`)", section_cpp),
    ("reads", "Cost of reads (`benchmarks/bench_reads.py`)", section_reads),
    ("asgi", "ASGI middleware under uvicorn (`benchmarks/bench_asgi.py`)", render_integration_sections.section_asgi),
    ("stream", "Streamed chunks (`benchmarks/bench_stream.py`)", render_integration_sections.section_stream),
    ("memory", "Memory per operation (`benchmarks/bench_memory.py`)", render_memory_section.section_memory),
    ("otel_sampling", "OpenTelemetry: sampling and pushed metrics (`benchmarks/bench_otel_sampling.py`)", render_otel_section.section_otel),
    ("nested", "Realistic nested query (`benchmarks/bench_nested.py`)", render_nested_section.section_nested),
    ("instructions", "Instructions per block (`benchmarks/bench_instructions.py`)",
     render_instructions_section.section_instructions),
]


def _sections(res: Results) -> List[Tuple[str, str, Callable[[Results], List[str]]]]:
    return [sec for sec in SECTIONS if sec[0] not in OPTIONAL_SECTIONS or res.data[sec[0]] is not None]


def _guard(key: str, fn: Callable[[Results], List[str]], res: Results) -> List[str]:
    try:
        return fn(res)
    except Exception as exc:  # a schema change must not lose the rest of the page
        msg = f"{type(exc).__name__}: {exc}"
        print(f"render_docs: warning: could not render the {key} section: {msg}", file=sys.stderr)
        return [f"**Could not render this section** from `{res.path(key)}` ({msg}); "
                "the file's format may have changed — update `benchmarks/render_docs.py`."]


def render(results_dir: Path = DEFAULT_RESULTS) -> str:
    res = Results(Path(results_dir))
    out = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/render_docs.py from benchmarks/results/*.json. "
        "Do not edit by hand: re-run the benchmarks, then .venv/bin/python benchmarks/render_docs.py -->",
        "",
        f"Every figure on this page is read from the JSON result files in `{rel(res.dir)}/` "
        "(raw data: every repetition and the environment of each run). The page is written by "
        "`benchmarks/render_docs.py`; a benchmark without a result file is marked **not run**. "
        "The machine these ran on is shared and small, so read the min–max ranges, not just the medians.",
        "",
        "Contents: [targets](#targets) · [machine and software](#machine-and-software) · "
        "[commands](#commands) · " + " · ".join(f"[{KNOWN[k][1].lower()}](#{_anchor(t)})" for k, t, _ in _sections(res))
        + " · [smoke tests](#smoke-tests)",
        "",
        "## Targets",
        "",
        *_guard_targets(res),
        "",
        "## Machine and software",
        "",
        *_guard("machine", render_machine, res),
        "",
        "## Commands",
        "",
        *render_commands(res),
        "",
    ]
    for key, title, fn in _sections(res):
        out += [f"## {title}", "", *_guard(key, fn, res), ""]
    if res.others:
        out += ["## Other result files", "",
                "Present in the results directory but not rendered: "
                + ", ".join(f"`{o}`" for o in res.others) + ".", ""]
    out += ["## Smoke tests", "", SMOKE, ""]
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.rstrip("\n") + "\n"


def _guard_targets(res: Results) -> List[str]:
    try:
        return render_targets(res)
    except Exception as exc:
        print(f"render_docs: warning: could not render the targets table: {exc!r}", file=sys.stderr)
        return [f"**Could not render the targets table** ({type(exc).__name__}: {exc})."]


def _anchor(title: str) -> str:
    """GitHub's heading anchor."""
    a = title.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                   help="directory holding the result JSON files (default benchmarks/results)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="page to write (default docs/benchmarks.md)")
    p.add_argument("--check", action="store_true",
                   help="do not write; exit 1 when --out differs from what would be rendered")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    text = render(args.results)
    if args.check:
        try:
            current = args.out.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"render_docs --check: cannot read {args.out}: {exc}", file=sys.stderr)
            return 1
        if current != text:
            diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(), str(args.out), "rendered",
                                             lineterm="", n=1))
            print(f"render_docs --check: {args.out} is out of date "
                  f"(re-run {RENDER_COMMAND}); first differences:", file=sys.stderr)
            print("\n".join(diff[:40]), file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    common.write_atomic(args.out, text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
