"""The "OpenTelemetry: sampling and pushed metrics" section of
docs/benchmarks.md, from otel_sampling.json (bench_otel_sampling.py) and,
when present, otel_instructions.json (bench_otel_instructions.py).
Imported by render_docs.py, which owns the page; the helpers come from
render_common.py (no import back). An optional section."""

from __future__ import annotations

from typing import Any, List

import render_common as rd

OTEL_INTRO = """\
What OpenTelemetry export costs per RAG query with statistics pushed as
exponential histograms (nothing per block for metrics) and traces sampled
at the root (`trace_sample_ratio=0.01`, every failed trace kept), against
the same monitor without OpenTelemetry. A query is `query_processing` ->
`document_retrieval`, `embedding_generation` (tokens), `llm_inference`
(model, provider, metadata, tokens); every 100th LLM call raises. Each case
runs the queries then `handle.force_flush()` (span queue sent, statistics
pushed), timed together; cases alternate over rounds (fresh monitor each),
medians shown. `sampled_in_memory`: BatchSpanProcessor(InMemorySpanExporter)
and a MetricExporter that keeps what it is given (ragperf's own cost);
`sampled`: the OTLP/HTTP exporters to a receiver process on 127.0.0.1
(transport included: the OTLP encoding and HTTP of the ~2% kept traces);
`per_block`: the path without `metric_exporter` (SDK instruments recorded per
block) and every trace, OTLP/HTTP, for comparison (its BatchSpanProcessor
drops spans past its 2,048-span queue). Wall-clock times on this shared
2-core machine move between runs; the instruction counts below do not."""


def section_otel(res: Any) -> List[str]:
    out, data = rd.section_start(res, "otel_sampling", OTEL_INTRO)
    if data is None:
        return out
    rows = [[f"`{b.get('case')}`", rd.num(b.get("us_per_query"), ",.2f"),
             f"{rd.num(b.get('us_min'), ',.2f')}–{rd.num(b.get('us_max'), ',.2f')}",
             rd.num(b.get("ratio_to_monitor", 1.0), ".2f"), rd.num(b.get("flush_ms"), ",.1f"),
             rd.num(b.get("traces_exported")), rd.num(b.get("failed_traces_exported"))]
            for b in data.get("benchmarks", [])]
    out += rd.table(["case", "µs / query (median)", "min–max", "× monitor", "flush ms (last round)",
                     "traces exported (first round)", "of them failed"], rows, "lrrrrrr")
    out += ["", "Targets:", ""]
    out += [rd.target_item(t) for t in data.get("targets", [])]
    instr = res.data.get("otel_instructions")
    if instr:
        out += ["", "CPU instructions per instrumented block "
                "(`benchmarks/bench_otel_instructions.py`, valgrind, (I(2N) − I(N)) / N; "
                "`baseline` = the hook before this change):", ""]
        out += rd.table(["build", "case", "instructions / block"],
                        [[b.get("build"), b.get("case"), rd.num(b.get("instructions_per_block"))]
                         for b in instr.get("benchmarks", [])], "llr")
    return out
