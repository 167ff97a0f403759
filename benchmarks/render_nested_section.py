"""The "Realistic nested query" section of docs/benchmarks.md, from nested.json
(bench_nested.py) and, when present, nested_instructions.json
(bench_instructions.py's ``nested_*`` cases). Imported by render_docs.py,
which owns the page; the helpers come from render_common.py (no import
back). An optional section."""

from __future__ import annotations

from typing import Any, Dict, List

import render_common as rd

NESTED_INTRO = """\
What ragperf costs a RAG query as code writes it (issue #20 item 1: at most
2.5× the same nesting of bare `with` blocks). One query, memory tracking on
(the default), `t = monitor.track_operation`:

```python
with t(OperationType.QUERY_PROCESSING, user="u1") as q:
    with t(OperationType.EMBEDDING_GENERATION, model="all-MiniLM-L6-v2") as e:
        e.tokens = 12
    with t(OperationType.DOCUMENT_RETRIEVAL, k=5, index="docs"):
        pass
    with t(OperationType.LLM_INFERENCE, model="qwen", tenant="acme") as g:
        g.prompt_tokens = 100
        g.completion_tokens = 20
```

`ragperf_query4` is this query; `ragperf_query4_positional` passes the
metadata as positional dicts (`t(OperationType.LLM_INFERENCE, {"model":
"qwen", "tenant": "acme"})`); `ragperf_query3` drops the embedding block.
Their peers (`bare_query4`, `bare_query3`) are the same nesting of
`contextlib.nullcontext(ns)` blocks (`ns` a `types.SimpleNamespace`) setting
the same attributes, the context managers built once outside the loop;
`bare_query4_new` builds a `nullcontext(ns)` per block. Every round times
every side once (N queries, `time.perf_counter_ns`, order rotated per round);
the ratio is the median of the per-round ratios ragperf / peer. Each
ragperf side's monitor is checked to hold exactly the queries it ran."""


def _machine(ctx: Dict[str, Any]) -> str:
    core = (ctx.get("ragperf_core") or {}).get("sha256")
    parts = [f"{ctx.get('num_cpus')} × {ctx.get('cpu_model')}", f"{ctx.get('mem_total_gib')} GiB RAM",
             str(ctx.get("platform")),
             f"{ctx.get('python_implementation', 'Python')} {ctx.get('python_version')}",
             f"ragperf {ctx.get('ragperf_version')}" + (f" (`_core` sha256 `{core}`)" if core else ""),
             f"source `{ctx.get('source_git')}`",
             f"load average {ctx.get('loadavg_before')} before, {ctx.get('loadavg_after')} after"]
    line = "Machine: " + "; ".join(parts) + "."
    if ctx.get("ragperf_core_replaced_during_run"):
        line += " The compiled core was reinstalled during the run (the one loaded at start was measured)."
    return line


def _range(lo: Any, hi: Any, fmt: str) -> str:
    return f"{rd.num(lo, fmt)}–{rd.num(hi, fmt)}"


def section_nested(res: Any) -> List[str]:
    out, data = rd.section_start(res, "nested", NESTED_INTRO)
    if data is None:
        return out
    ctx: Dict[str, Any] = data.get("context", {})
    out += [_machine(ctx), "",
            f"{rd.num(ctx.get('iterations'))} queries per side per round, {ctx.get('repetitions')} rounds.", ""]
    rows = [[f"`{s.get('name')}`", s.get("blocks_per_query"), rd.num(s.get("us_per_query"), ",.3f"),
             _range(s.get("us_per_query_min"), s.get("us_per_query_max"), ",.3f"),
             rd.num(s.get("us_per_block"), ",.3f")]
            for s in data.get("sides", [])]
    out += rd.table(["side", "blocks", "µs / query (median)", "min–max", "µs / block"], rows, "lrrrr")
    out += [""]
    rows = [[f"`{r.get('variant')}`", f"`{r.get('ragperf')}` / `{r.get('peer')}`",
             rd.num(r.get("median"), ".2f") + "×", _range(r.get("min"), r.get("max"), ".2f"),
             rd.num(r.get("ratio_of_medians"), ".2f") + "×"]
            for r in data.get("ratios", [])]
    out += rd.table(["variant", "ragperf / peer", "median of per-round ratios", "min–max",
                     "ratio of the medians"], rows, "llrrr")
    out += ["", "Targets:", ""]
    out += [rd.target_item(t) + (" (informational)" if t.get("informational") else "")
            for t in data.get("targets", [])]
    instr = res.data.get("nested_instructions")
    if instr:
        ictx = instr.get("context", {})
        out += ["", "The same queries in CPU instructions per query (`benchmarks/bench_instructions.py`, "
                f"valgrind, (I(2N) − I(N)) / N with N = {rd.num(ictx.get('queries'))} queries; run "
                f"{rd.date_of(instr)} UTC, source `{ictx.get('source_git')}`; raw data: "
                f"`{res.path('nested_instructions')}`):", ""]
        out += rd.table(["build", "case", "blocks", "instructions / query"],
                        [[b.get("build"), f"`{b.get('case')}`", b.get("blocks_per_query"),
                          rd.num(b.get("instructions_per_query"))]
                         for b in instr.get("benchmarks", []) if "instructions_per_query" in b], "llrr")
        out += ["", *[rd.target_item(t) + (" (informational)" if t.get("informational") else "")
                      for t in instr.get("targets", [])]]
    return out
