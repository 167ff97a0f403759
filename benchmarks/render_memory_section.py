"""The "Memory per operation" section of docs/benchmarks.md, from memory.json
(bench_memory.py). Imported by render_docs.py, which owns the page; the
helpers (section_start, table, ...) come from render_common.py, so nothing
here imports the page back. The section appears when the result file exists
(an optional section)."""

from __future__ import annotations

from typing import Any, List

import render_common as rd

MEMORY_INTRO = """\
How much memory one operation's statistics hold, and whether it depends on
the number of threads recording it. Each case runs in a fresh interpreter:
RSS (`/proc/self/statm`) is read once the monitor, the names and one warm-up
record per operation from every thread exist, and again after the
recording; the growth per operation is compared with the growth of
`monitor.memory_bytes()` (the core's own count). `threads_T`: 200
operations, each recorded 1,000 times by each of T threads through
`track_operation` with a small metadata dict (`_plain`: none),
`max_history=1000`, so every recent-record ring is full. `hour`: 50
operations, 60 one-minute windows of 1,200 records each
(`record(timestamp_s=...)`, log-normal durations around 100 ms),
`max_history=100`."""


def section_memory(res: Any) -> List[str]:
    out, data = rd.section_start(res, "memory", MEMORY_INTRO)
    if data is None:
        return out
    rows = [[f"`{b.get('case')}`", rd.num(b.get("operations")), rd.num(b.get("records")),
             rd.num(b.get("rss_kib_per_operation"), ",.1f"),
             rd.num(b.get("accounted_kib_per_operation"), ",.1f"),
             rd.num(b.get("accounted_over_rss"), ".2f")]
            for b in data.get("benchmarks", [])]
    out += rd.table(["case", "operations", "records", "RSS KiB / operation",
                     "memory_bytes() KiB / operation", "memory_bytes() / RSS"], rows, "lrrrrr")
    out += ["", "Targets:", ""]
    out += [rd.target_item(t) for t in data.get("targets", [])]
    return out
