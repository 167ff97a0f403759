"""Sections of docs/benchmarks.md for the integration hot paths:
asgi.json (bench_asgi.py) and stream.json (bench_stream.py). Imported by
render_docs.py, which owns the page; the helpers (section_start, table, ...)
come from render_common.py, so nothing here imports the page back. Each
function takes the page's ``Results`` and returns the section's lines."""

from __future__ import annotations

from typing import Any, Dict, List

import render_common as rd

ASGI_INTRO = """\
What `RagperfMiddleware` costs a real ASGI server, measured from outside.
Four uvicorn servers (one worker each) serve the same FastAPI app side by
side on 127.0.0.1: plain, behind a pure-ASGI middleware that only calls the
app (the floor any middleware pays), behind `RagperfMiddleware` with its
defaults, and behind `RagperfMiddleware(response_time_header=None)`: the
difference of the last two is what the `X-Response-Time` header costs,
most of it the server's (uvicorn checks every response header with two
regular expressions).
ApacheBench sends the same number of keep-alive GETs to each in turn, the
order rotating every round. CPU is the server process's own (its threads'
run time from `/proc/PID/task/*/schedstat`), so load from other processes is
not counted; every round checks that ab completed exactly the requests sent,
none failed, and ragperf recorded each one. "Added" is a variant's CPU per
request minus plain's in the same round (median over rounds). Rounds are
many: on this shared machine the throughput ratio of two servers of the
very same app has a standard deviation of 11–16% per round of 1,000
requests, so the median of 200 rounds should be good to ~1–1.5%; yet two
runs of the same build on 2026-12-07 gave 0.984× and 0.943× for the
server without the header (slow drifts in the machine's load do not
average out within a run). Instruction counts of separate server processes
also move by up to ~2,000 per request from run to run (the no-op
middleware measured -479 to +2,183 on 2026-12-07), so a ratio to the
no-op's ~1,000 instructions is not settled by one run either. Why a
ragperf instruction costs ~3x the server's average in wall time: under
callgrind's cache simulation (a 512 KiB L2 as its last level) ragperf adds
~680 L1i, ~350 L1d and ~640 L2 misses per request to plain's ~21,000,
~12,600 and ~2,700 (+3%, +3%, +23%), while its instructions add ~2%: the
cost follows the code and data a request touches, not the instruction
count. Every server is replaced by a fresh process
every few rounds, so that no one process's memory layout decides the
result. "Instructions" are
counted exactly by running each server under callgrind for a fixed number
of requests (user-space only: the kernel's side of a `/proc` read is not
in them)."""

STREAM_INTRO = """\
What `track_stream` adds per streamed chunk: the same list of chunks is
iterated bare and through `track_stream` (alternating, one operation per
pass), CPU time per chunk by `time.process_time_ns`, median over
repetitions. Chunks carry no usage (only the last chunk of a stream does).
`openai` chunks are the SDK's own `ChatCompletionChunk` models."""


def _us(v: Any) -> str:
    return "—" if not isinstance(v, (int, float)) else f"{v:,.1f}"


def section_asgi(res: Any) -> List[str]:
    out, data = rd.section_start(res, "asgi", ASGI_INTRO)
    if data is None:
        return out
    ctx: Dict[str, Any] = data.get("context", {})
    out += [
        f"uvicorn {ctx.get('uvicorn')}, FastAPI {ctx.get('fastapi')}, Starlette {ctx.get('starlette')}, "
        f"HTTP parser {ctx.get('http')}; {ctx.get('rounds')} rounds of {ctx.get('requests_per_round')} requests "
        f"per server" + (f", fresh servers every {ctx['restart_every']} rounds" if ctx.get("restart_every") else "")
        + f", concurrency {ctx.get('concurrency')}; load average before/after "
        f"{ctx.get('loadavg_before')} / {ctx.get('loadavg_after')}.",
        "",
    ]
    variants = data.get("variants", {})
    added = data.get("added_cpu_us_per_request", {})
    rows = []
    for name in ("plain", "noop", "ragperf", "ragperf_no_header"):
        if name not in variants:
            continue  # results of an older run
        v = variants.get(name, {})
        cpu = v.get("cpu_us_per_request", {})
        rps = v.get("rps", {})
        add = added.get(name, {})
        rows.append([
            name,
            f"{_us(cpu.get('median'))} ({_us(cpu.get('min'))}–{_us(cpu.get('max'))})",
            "0" if name == "plain" else f"{_us(add.get('median'))} ({_us(add.get('min'))}–{_us(add.get('max'))})",
            f"{rps.get('median', 0):,.0f}",
        ])
    instructions = data.get("instructions") or {}
    per_request = instructions.get("per_request", {})
    added_instructions = instructions.get("added_per_request", {})
    headers = ["server", "CPU µs per request (min–max)", "added µs (min–max)", "requests/s"]
    if per_request:
        headers += ["instructions per request", "added instructions"]
        for row in rows:
            name = row[0]
            row += [f"{per_request.get(name, 0):,.0f}",
                    "0" if name == "plain" else f"{added_instructions.get(name, 0):,.0f}"]
    out += rd.table(headers, rows, "lrrr" + "rr" * bool(per_request))
    return out


def section_stream(res: Any) -> List[str]:
    out, data = rd.section_start(res, "stream", STREAM_INTRO)
    if data is None:
        return out
    ctx = data.get("context", {})
    out += [f"{ctx.get('chunks')} chunks per pass, {ctx.get('repetitions')} repetitions, "
            f"openai {ctx.get('openai')}.", ""]
    rows = []
    for shape, d in data.get("shapes", {}).items():
        added = d.get("added_ns_per_chunk", {})
        rows.append([
            shape,
            f"{d.get('bare_ns_per_chunk', {}).get('median', 0):,.0f}",
            f"{d.get('tracked_ns_per_chunk', {}).get('median', 0):,.0f}",
            f"{added.get('median', 0) / 1e3:,.2f} ({added.get('min', 0) / 1e3:,.2f}–{added.get('max', 0) / 1e3:,.2f})",
        ])
    out += rd.table(["chunks", "bare ns/chunk", "tracked ns/chunk", "added µs/chunk (min–max)"], rows, "lrrr")
    return out
