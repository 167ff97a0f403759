"""The "Instructions per block" section of docs/benchmarks.md, from
instructions.json (bench_instructions.py's per-block cases, optionally with
a baseline build measured in the same run). Imported by render_docs.py,
which owns the page; the helpers come from render_common.py (no import
back). An optional section."""

from __future__ import annotations

from typing import Any, Dict, List

import render_common as rd

INSTRUCTIONS_INTRO = """\
CPU instructions one tracked block executes, counted by valgrind
(`benchmarks/bench_instructions.py`: a loop of N and of 2N blocks, each under
callgrind, (I(2N) − I(N)) / N, so start-up cancels out; PYTHONHASHSEED
fixed). Instruction counts do not move with the machine's load, so they show
what a change did to the hot path where wall-clock runs cannot. The loop runs
inside a function, as real code does. Cases: `bare` = `with
contextlib.nullcontext(): pass` (no ragperf); `memory_off` / `memory_on` =
`with t("x"): pass`; `metadata` = `with t("x", model="qwen"): pass`;
`dimensions` = the same with "model" declared as a dimension; `model_tokens`
= a realistic LLM block, `with t("x", model="qwen", tenant="acme", k=3) as
op:` setting `op.prompt_tokens` and `op.completion_tokens` (issue #20 item 1:
at most 1.3× `memory_off`). `baseline` is another ragperf build measured in
the same run (`--baseline-site`)."""


def section_instructions(res: Any) -> List[str]:
    out, data = rd.section_start(res, "instructions", INSTRUCTIONS_INTRO)
    if data is None:
        return out
    ctx: Dict[str, Any] = data.get("context", {})
    rows = [r for r in data.get("benchmarks", []) if "instructions_per_block" in r]
    builds = list(dict.fromkeys(r["build"] for r in rows))
    value = {(r["build"], r["case"]): r["instructions_per_block"] for r in rows}
    cases = list(dict.fromkeys(r["case"] for r in rows))
    out += [f"N = {rd.num(ctx.get('blocks'))} blocks; source `{ctx.get('source_git')}`"
            + (f"; baseline: `{ctx.get('baseline_site')}`" if ctx.get("baseline_site") else "") + ".", ""]
    header = ["case", *[f"{b} (instructions / block)" for b in builds]]
    if len(builds) == 2:
        header.append(f"{builds[0]} / {builds[1]}")
    table = []
    for case in cases:
        cells = [f"`{case}`", *[rd.num(value.get((b, case))) for b in builds]]
        if len(builds) == 2:
            a, b = value.get((builds[0], case)), value.get((builds[1], case))
            cells.append(rd.num(a / b, ".2f") + "×" if a and b else "–")
        table.append(cells)
    out += rd.table(header, table, "l" + "r" * (len(header) - 1))
    targets = [t for t in data.get("targets", [])]
    if targets:
        out += ["", "Targets:", "", *[rd.target_item(t) + (" (informational)" if t.get("informational") else "")
                                      for t in targets]]
    return out
