"""The sections of docs/benchmarks.md for the core benchmarks: per-block overhead
against peers (with the run-to-run spread), percentile accuracy, Python-thread
and C++ concurrency, and the cost of reads. Each is the section's static prose
and the figures of its result file."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from render_common import (
    CPP_MIN_ITEMS_PER_S,
    DASH,
    KNOWN,
    Results,
    SPREAD_GLOB,
    bullets,
    fmt_value,
    get,
    not_run,
    num,
    pct,
    section_start,
    table,
    target_item,
)
from render_page_head import cpp_rows, cpp_targets


# --------------------------------------------------------------------------
# Sections.
# --------------------------------------------------------------------------

OVERHEAD_INTRO = """\
What does `with monitor.track_operation("op"):` cost, compared with doing
nothing, with `prometheus_client`, and with the pure-Python monitor ragperf
replaces? Every case times an **empty** block: a loop of N blocks is timed with
`time.perf_counter_ns` and divided by N. Nothing is subtracted — every case
pays the same loop overhead, so the bare `with` row is the floor. All cases run
in one process; each repetition visits every case once (round-robin, starting
case rotated per repetition) so drift hits all cases alike. The figure reported
is the median over the repetitions (min and max shown too). The garbage
collector stays on, as in production.

Before timing, each case runs N blocks untimed (warm-up) and the benchmark
checks the monitor actually recorded them (ragperf and prometheus counts ==
blocks run, seed-style history full and percentiles computable); the totals are
checked again after timing. A failed check aborts with exit status 2, so no
row can be measuring a no-op."""



def _derived(data: Dict[str, Any], prefix: str) -> Optional[Dict[str, Any]]:
    for d in data.get("derived") or []:
        if isinstance(d, dict) and str(d.get("name", "")).startswith(prefix):
            return dict(d)
    return None


def overhead_peers(data: Dict[str, Any]) -> List[str]:
    psutil_cost = _derived(data, "seed-style memory on - memory off")
    exact = _derived(data, "ragperf exact memory mode - memory off")
    seed_vs_exact = _derived(data, "seed-style (memory on) / ragperf exact memory mode")
    psutil_sentence = (
        f"in this run the memory-on block cost {fmt_value(psutil_cost['value'], psutil_cost['unit'])} more "
        "than the memory-off block (two psutil reads plus two sample dicts appended to a bounded history)."
        if psutil_cost
        else "the two psutil reads plus two sample dicts appended to a bounded history."
    )
    exact_sentence = "(`ragperf/memory_on_exact`"
    if exact:
        exact_sentence += f": {fmt_value(exact['value'], exact['unit'])} more than memory off in this run"
        if seed_vs_exact:
            exact_sentence += (
                f", still {fmt_value(seed_vs_exact['value'], seed_vs_exact['unit'])} cheaper than the "
                "seed-style block with psutil"
            )
    exact_sentence += ")."
    return [
        "- **bare `with`** records nothing: it is the cost of the `with` statement and",
        "  the loop, the floor for every other row.",
        "- **prometheus_client `Histogram.time()`** creates a pure-Python `Timer` per",
        "  block, reads `perf_counter` twice and calls `observe()`, which adds the",
        "  duration to `_sum` and 1 to the first bucket whose bound is ≥ the duration",
        "  (a linear scan over the default bounds, 5 ms … 10 s, +Inf), each under a",
        "  `threading.Lock`. That is all it keeps: count, sum and fixed-bucket counts.",
        "  There are no client-side percentiles — quantiles are estimated later by the",
        "  Prometheus server (`histogram_quantile`) by interpolating inside a bucket,",
        "  so their accuracy is set by the bucket bounds (every empty block here lands",
        "  in the first bucket, `le=0.005`). No tokens, memory, errors or metadata.",
        "- **seed-style monitor** (`benchmarks/seed_style_monitor.py`, our",
        "  re-implementation of the seed's design) builds an `OperationTracker` with",
        "  pure-Python `__enter__`/`__exit__`, reads `time.time()` twice, allocates an",
        "  `OperationMetrics` dataclass per block and appends it, under a",
        "  `threading.RLock`, to an operation history (`deque(maxlen=10000)`), and the",
        "  duration to a per-operation `deque(maxlen=1000)` under a second `RLock`.",
        "  Percentiles are computed on read by sorting that deque: they only describe",
        "  the last 1000 samples of each operation, and every read costs O(n log n).",
        "  With memory tracking on (the seed's default) each block calls",
        "  `psutil.Process().memory_info()` twice (one `Process` object is reused, the",
        "  cheaper reading of the seed). Each call opens `/proc/<pid>/statm` through a",
        "  Python file object, reads and parses it and closes it — syscall-heavy; "
        + psutil_sentence,
        "- **ragperf** (`PerformanceMonitor.track_operation`) returns a C++ tracker",
        "  object (`__enter__`/`__exit__` implemented in C); a block reads the",
        "  monotonic clock twice and records count, errors, sum/min/max, tokens, a",
        "  relative-error quantile sketch (all-time and per-minute windows) and a",
        "  bounded ring of recent records, without allocating a Python dict unless",
        "  metadata is passed. With memory tracking on, a block reuses a process-wide",
        "  RSS reading up to `memory_max_age_us` old (default 100 µs) instead of reading",
        "  `/proc/self/statm` again, so a stream of empty blocks mostly skips the read",
        "  (`ragperf/memory_on`); blocks longer than that measure their own RSS change",
        "  (see [architecture.md](architecture.md)). With `memory_max_age_us=0` every",
        "  block reads statm at its start and end, as the seed does",
        "  " + exact_sentence,
    ]


def overhead_spread(res: Results) -> List[str]:
    runs: List[Tuple[str, Dict[str, Any]]] = list(res.spread)
    if res.data["overhead"] is not None:
        runs.append((KNOWN["overhead"][0], res.data["overhead"]))
    if len(runs) < 2:
        return []
    runs.sort(key=lambda r: str(get(r[1], "context", "started") or get(r[1], "context", "date") or ""))
    names: List[str] = []
    for _, d in runs:
        for b in d.get("benchmarks", []):
            if b.get("group", "core") == "core" or b.get("name") == "ragperf/memory_on_exact":
                if b.get("name") not in names:
                    names.append(b["name"])
    header = ["row"] + [f"`{f}` ({get(d, 'context', 'started') or get(d, 'context', 'date') or '?'})" for f, d in runs]
    rows = []
    for n in names:
        r: List[Any] = [n]
        for _, d in runs:
            med = {b["name"]: b.get("median_ns") for b in d.get("benchmarks", [])}
            r.append(num(med.get(n)))
        rows.append(r)
    out = [
        "### Run-to-run spread",
        "",
        f"Medians (ns per block) of every overhead run in the results directory "
        f"(`{SPREAD_GLOB}` and `overhead.json`), oldest first:",
        "",
        *table(header, rows, "l" + "r" * len(runs)),
        "",
    ]
    tnames: List[str] = []
    for _, d in runs:
        for t in d.get("targets", []):
            if t.get("name") not in tnames:
                tnames.append(t["name"])
    for tn in tnames:
        sts = [next((t for t in d.get("targets", []) if t.get("name") == tn), None) for _, d in runs]
        passed = sum(1 for t in sts if t and t.get("status") == "PASS")
        vals = ", ".join(fmt_value(t.get("value"), t.get("unit")) if t else DASH for t in sts)
        out.append(f"- {tn}: PASS in {passed} of {len(runs)} runs ({vals}).")
    return out + [""]


def section_overhead(res: Results) -> List[str]:
    out, data = section_start(res, "overhead", OVERHEAD_INTRO)
    if data is None:
        return out
    ctx = data.get("context", {})
    out += [
        f"{num(ctx.get('iterations'))} blocks per repetition, {num(ctx.get('repetitions'))} repetitions, "
        "ns per block (loop overhead included, nothing subtracted). The 1-minute load average was "
        f"{get(ctx, 'loadavg_before', 0, default=DASH)} before and {get(ctx, 'loadavg_after', 0, default=DASH)} "
        f"after the run ({num(ctx.get('num_cpus'))} CPUs): on a shared machine other work competes for the "
        "CPUs, so compare the min–max columns — rows whose ranges overlap are not distinguishable here.",
        "",
    ]
    rows = []
    for b in data.get("benchmarks", []):
        name = b.get("name")
        if b.get("group") == "extra":
            name = f"{name} (extra)"
        rows.append([f"`{name}`", num(b.get("median_ns")), num(b.get("min_ns")), num(b.get("max_ns")),
                     num(b.get("ratio_to_bare_with"), ".2f"), b.get("label")])
    out += table(["benchmark", "median ns/block", "min", "max", "× bare `with`", "block"], rows, "lrrrrl")
    out += ["", "Targets (from the medians above):", ""]
    for t in data.get("targets", []):
        out.append(target_item(t) + (" (informational)" if t.get("informational") else ""))
    out += bullets("Derived:", [f"{d.get('name')}: {fmt_value(d.get('value'), d.get('unit'))}"
                                for d in data.get("derived") or []])
    skipped = data.get("skipped") or ctx.get("skipped_cases") or []
    out += bullets("Skipped (peer not importable):",
                   [f"`{sk.get('case')}`: {sk.get('reason')}" if isinstance(sk, dict) else sk for sk in skipped])
    out += [""]
    out += overhead_spread(res)
    out += ["### What each peer records per block", ""]
    out += overhead_peers(data)
    notes = [b["note"] for b in data.get("benchmarks", []) if b.get("note")]
    notes += [n for n in data.get("notes") or [] if isinstance(n, str)]
    return out + bullets("Notes on individual rows (from the result file):", notes)


ACCURACY_INTRO = """\
How close are the percentiles to the exact ones, how much memory does one
operation's state take, and what does merging cost? Five latency-like
distributions (seconds), n values each, from numpy's `default_rng` with fixed
seeds, are streamed in a shuffled order. For p50, p90, p95, p99 and p99.9 the
exact value is `np.quantile(x, q, method="inverted_cdf")` (nearest rank,
`sorted[ceil(q*n)-1]`, ragperf's convention) and each method's relative error
is `|estimate - exact| / exact`.

The methods (peers):

- **ragperf `QuantileSketch`** — a relative-error, mergeable sketch (DDSketch
  family, bounded bins), fed with `add_many` in chunks (each numpy chunk
  converted with `.tolist()`); add throughput is reported with and without that
  conversion. Memory is `memory_bytes()` after all values were added.
- **`ddsketch`** — the PyPI `ddsketch` package, `DDSketch` at the same relative
  accuracy, fed one value at a time from Python. If a calibration run projects
  more than the time budget for all distributions, it only gets the first part
  of each stream (measured against the exact quantiles of the values it saw)
  and the notes say so. Its own rank convention is `sorted[floor(q*(n-1))]`
  (numpy `method="lower"`); the JSON also holds its error under that convention.
  Memory is a recursive `sys.getsizeof` walk of the sketch's object graph.
- **seed-style `deque(maxlen=1000)`** — the seed monitor's approach: the most
  recent 1000 samples, percentile = `sorted(d)[min(int(q*len), len-1)]`. The
  stream is shuffled, so the last 1000 samples are a random subsample; the
  table shows that one draw, and further rows show the median error over every
  disjoint window of 1000 consecutive samples (what the deque holds after each
  1000th sample) and how many windows are off by more than 1 %, so one lucky or
  unlucky draw does not decide the verdict. Memory is
  `sys.getsizeof(deque) + 1000 * sys.getsizeof(float)`.

Merge: the lognormal stream is split into contiguous shards, each fed to its own
ragperf sketch and serialized; the timed step deserializes the blobs and merges
them into one (median of several repetitions), and the result is checked with
`same_contents` against the sketch fed the whole stream."""


def section_accuracy(res: Results) -> List[str]:
    out, data = section_start(res, "accuracy", ACCURACY_INTRO)
    if data is None:
        return out
    ctx = data.get("context", {})
    out += [
        f"n = {num(ctx.get('n'))} values per distribution, seed {ctx.get('seed', DASH)}; ragperf "
        f"`QuantileSketch(relative_accuracy={ctx.get('relative_accuracy', DASH)}, "
        f"max_bins={ctx.get('max_bins', DASH)})`. Relative errors (lower is better) and bytes per operation:",
        "",
    ]
    qnames = list((ctx.get("quantiles") or {}).keys()) or ["p50", "p90", "p95", "p99", "p99.9"]
    for name, d in (data.get("distributions") or {}).items():
        out += [f"**{name}** — {d.get('description', '')} (n = {num(d.get('n'))})", ""]
        rows: List[List[Any]] = [["exact value (s)", *[num(get(d, "exact", q), ".4g") for q in qnames], DASH]]
        m = d.get("methods", {})
        r = m.get("ragperf")
        if r:
            rows.append([r.get("label", "ragperf"), *[pct(get(r, "rel_error", q)) for q in qnames],
                         num(r.get("memory_bytes"))])
        dd = m.get("ddsketch")
        if dd:
            if dd.get("available", True) and dd.get("rel_error"):
                label = dd.get("label", "ddsketch")
                if dd.get("n") not in (None, d.get("n")):
                    label += f" (first {num(dd['n'])} values)"
                rows.append([label, *[pct(get(dd, "rel_error", q)) for q in qnames], num(dd.get("memory_bytes"))])
            else:
                rows.append(["ddsketch", f"skipped: {dd.get('note') or dd.get('import_error') or 'not available'}",
                             *[""] * (len(qnames) - 1), DASH])
        s = m.get("seed_deque_1000")
        if s:
            rows.append([f"{s.get('label', 'seed deque(1000)')}, last 1000", *[pct(get(s, 'rel_error', q)) for q in qnames],
                         num(s.get("memory_bytes"))])
            win = s.get("windows") or {}
            if win.get("count"):
                rows.append([f"  median over {num(win['count'])} windows", *[pct(get(win, 'median', q)) for q in qnames], ""])
                rows.append(["  windows with error > 1 %",
                             *[f"{get(win, 'fraction_over_1pct', q) * 100:.1f} %" if get(win, 'fraction_over_1pct', q) is not None else DASH
                               for q in qnames], ""])
        out += table(["method", *qnames, "bytes"], rows, "l" + "r" * (len(qnames) + 1))
        speeds = []
        if r and r.get("add_many_values_per_s"):
            speeds.append(f"ragperf `add_many` {r['add_many_values_per_s'] / 1e6:.1f} M values/s"
                          + (f" ({r['add_many_incl_tolist_values_per_s'] / 1e6:.1f} M/s including `.tolist()`)"
                             if r.get("add_many_incl_tolist_values_per_s") else ""))
        if dd and dd.get("add_values_per_s"):
            speeds.append(f"ddsketch `add` {dd['add_values_per_s'] / 1e6:.2f} M values/s (one call per value)")
        if speeds:
            out += ["", "Add throughput: " + "; ".join(speeds) + "."]
        out += [""]
    mg = data.get("merge") or {}
    if mg:
        out += [
            f"Merge: {mg.get('distribution', DASH)} split into {mg.get('shards', DASH)} shards, "
            f"{num(mg.get('serialized_bytes_total'))} B serialized in all; {mg.get('timed_step', 'deserialize + merge')}: "
            f"median {fmt_value(mg.get('median_ms'), 'ms')} (min {fmt_value(mg.get('min_ms'), 'ms')}, "
            f"max {fmt_value(mg.get('max_ms'), 'ms')}, {mg.get('repetitions', DASH)} repetitions); "
            f"`same_contents` with the whole-stream sketch: {fmt_value(mg.get('same_contents'), 'bool')}.",
            "",
        ]
    out += ["Targets:", ""]
    for t in data.get("targets", []):
        out.append(f"- [{t.get('status')}] {t.get('name')}: {t.get('detail') or fmt_value(t.get('value'), t.get('unit'))}")
    return out + bullets("Notes:", data.get("notes") or [])


CONCURRENCY_INTRO = """\
{threads} Python threads each run a fixed number of empty blocks
`with monitor.track_operation(op): pass` (memory tracking off) into one
`PerformanceMonitor`, either all into the **same** operation or each into its
**own** operation. The threads are released together by a
`threading.Barrier`; a run's wall time is last thread's end minus first
thread's start and its aggregate throughput is total blocks / wall time. Every
run uses a fresh monitor and is checked afterwards: every operation's count
must equal the blocks run into it (`lost` = expected − counted = 0), or the
benchmark fails. Each repetition visits every case once (round-robin); the
figure is the median over the repetitions.

**The GIL serialises Python threads**: one thread runs Python bytecode at a
time, so aggregate Python throughput does not grow with threads. What these
rows show is that it does not collapse under contention and that counts stay
exact. There are no targets for them (informational); the scaling of the C++
core without the GIL is in the next section."""


def section_concurrency(res: Results) -> List[str]:
    data = res.data["concurrency"]
    threads = get(data, "context", "threads") or []
    words = ", ".join(str(t) for t in threads[:-1]) + f" and {threads[-1]}" if len(threads) > 1 else (
        str(threads[0]) if threads else "Several")
    out, data = section_start(res, "concurrency", CONCURRENCY_INTRO.format(threads=words))
    if data is None:
        return out
    ctx = data.get("context", {})
    out += [
        f"{num(ctx.get('blocks_per_thread'))} blocks per thread per run, {num(ctx.get('repetitions'))} repetitions, "
        f"Python {ctx.get('python_version', DASH)} with the GIL "
        f"{'enabled' if ctx.get('gil_enabled', True) else 'disabled'} (switch interval "
        f"{num((ctx.get('switch_interval_s') or 0) * 1e3, 'g')} ms), {num(ctx.get('num_cpus'))} CPUs.",
        "",
    ]
    rows = []
    for b in data.get("benchmarks", []):
        rows.append([
            b.get("mode"), b.get("threads"), num(b.get("blocks_per_second")), num(b.get("min_blocks_per_second")),
            num(b.get("max_blocks_per_second")), num(b.get("ns_per_block")),
            num(b.get("ratio_to_1_thread"), ".2f"), num(b.get("lost")),
            len(b.get("count_checks") or []),
        ])
    out += table(["operation(s)", "threads", "median blocks/s", "min", "max", "ns/block", "× 1 thread", "lost",
                  "runs checked"], rows, "lrrrrrrrr")
    return out + bullets("Notes:", data.get("notes") or [])


CPP_INTRO = """\
`benchmarks/cpp/tracker_bench.cc` (google-benchmark) measures the C++
`ResponseTimeTracker` directly, without Python or the GIL: records/s with 1, 2
and 4 threads into the same operation (`BM_RecordSameOperation`) and into one
operation per thread (`BM_RecordDistinctOperations`), with real (wall) time, so
`items_per_second` is the aggregate over all threads. Each threaded case checks
after its timed loop that no record was lost (count == iterations × threads)
and reports the difference as the `lost` counter, failing the case otherwise.
Also: one `QuantileSketch::Add` (`BM_SketchAdd`), `GetAllStats` over 100
operations × 1,000 records and the JSON report of the same.

Targets: ≥ {min_rate} records/s aggregate with 4 threads in both threaded families,
and `lost` == 0 everywhere. `library_build_type` in the JSON describes how the
google-benchmark library itself was compiled (Debian's `libbenchmark-dev`), not
`tracker_bench`, which the commands above build with
`CMAKE_BUILD_TYPE=Release`. On a machine with fewer CPUs than threads the
threads time-share the CPUs. With `--benchmark_repetitions` (as `make bench`
runs it) each row is the median of the repetitions, with the coefficient of
variation of its real time, and `lost` is the mean over the repetitions (0 only
when no repetition lost a record)."""


def section_cpp(res: Results) -> List[str]:
    out = [CPP_INTRO.format(min_rate=f"{CPP_MIN_ITEMS_PER_S:,.0f}"), ""]
    data = res.data["cpp_tracker"]
    if data is None:
        return out + not_run(res, "cpp_tracker")
    ctx = data.get("context", {})
    out += [
        f"Run {ctx.get('date', DASH)}, executable `{ctx.get('executable', DASH)}`, {num(ctx.get('num_cpus'))} CPUs "
        f"at {num(ctx.get('mhz_per_cpu'))} MHz, load average "
        f"{', '.join(f'{x:.2f}' for x in ctx.get('load_avg') or []) or DASH}, google-benchmark library built as "
        f"{ctx.get('library_build_type', DASH)}; raw data: `{res.path('cpp_tracker')}`.",
        "",
    ]
    rows = []
    for r in cpp_rows(data):
        unit = {"us": "µs"}.get(r.get("time_unit", "ns"), r.get("time_unit", "ns"))
        ips = r.get("items_per_second")
        rows.append([
            f"`{r['name']}`", r.get("threads", 1),
            f"{num(r.get('real_time'), ',.1f')} {unit}" + (f" (cv {r['_cv'] * 100:.1f} %)" if "_cv" in r else ""),
            f"{num(r.get('cpu_time'), ',.1f')} {unit}",
            num(r.get("iterations")) if r.get("run_type") != "aggregate" else DASH,
            f"{ips / 1e6:,.2f} M/s" if isinstance(ips, (int, float)) else DASH,
            num(r.get("lost"), ",.4g") if "lost" in r else DASH,
            r.get("_agg"),
            r.get("_error") or "",
        ])
    out += table(["benchmark", "threads", "real time", "CPU time", "iterations", "items/s", "lost", "figure",
                  "error"], rows, "lrrrrrrll")
    out += ["", "Targets:", ""]
    for t in cpp_targets(data):
        out.append(target_item(t) + (f" ({t['detail']})" if t.get("detail") else ""))
    return out


def reads_intro(data: Optional[Dict[str, Any]]) -> str:
    ctx = (data or {}).get("context", {})
    ops = num(ctx.get("operations")) if ctx.get("operations") else "N"
    rec = num(ctx.get("records_per_operation")) if ctx.get("records_per_operation") else "M"
    snaps = num(ctx.get("snapshots")) if ctx.get("snapshots") else "S"
    total = (
        num(ctx["snapshots"] * ctx["records_per_operation"])
        if ctx.get("snapshots") and ctx.get("records_per_operation")
        else "S × M"
    )
    window = "5-minute" if data is None or any(
        "window_minutes=5" in str(b.get("call", "")) for b in (data or {}).get("benchmarks", [])
    ) else "time"
    return f"""\
What do reads cost when a monitor holds {ops} operation types with {rec} records
each (recorded with `monitor.record(op, duration_s=...)`, memory tracking off)?
Each read is timed after one untimed warm-up call; the figure is the median of
the repetitions (min and max too). `get_operation_stats` is timed once per
operation per repetition and reported per call. Before timing, every read is
checked to see every record (report, exported file, `get_all_stats()`, the
{window} window).

Merging {snaps} snapshots: a **"snapshot" here is the set of serialized
per-operation `QuantileSketch` blobs** (one per operation) that a monitor's
percentile state amounts to — {snaps} snapshots × {ops} operations, each sketch fed
its own {rec} values and serialized. The timed step deserializes all {snaps} × {ops}
blobs and merges them per operation into {ops} sketches; each merged sketch must
then have the same contents as one sketch fed all {total} values of its
operation. Full monitor snapshots (persistence and resume of a whole monitor)
come in a later issue."""


def section_reads(res: Results) -> List[str]:
    out, data = section_start(res, "reads", reads_intro(res.data["reads"]))
    if data is None:
        return out
    ctx = data.get("context", {})
    out += [
        f"{num(ctx.get('operations'))} operations × {num(ctx.get('records_per_operation'))} records, "
        f"{num(ctx.get('repetitions'))} repetitions.",
        "",
    ]
    rows = []
    for b in data.get("benchmarks", []):
        unit = b.get("unit")
        rows.append([f"`{b.get('call', b.get('name'))}`", fmt_value(b.get("median"), unit),
                     fmt_value(b.get("min"), unit), fmt_value(b.get("max"), unit),
                     "per call" if (b.get("calls_per_repetition") or 1) > 1 else "per call (one per repetition)"])
    mg = data.get("merge") or {}
    t = mg.get("time") or {}
    if mg:
        rows.append([f"deserialize + merge {mg.get('snapshots')} snapshots × {mg.get('operations')} sketches",
                     fmt_value(t.get("median"), t.get("unit")), fmt_value(t.get("min"), t.get("unit")),
                     fmt_value(t.get("max"), t.get("unit")), "whole step"])
    out += table(["read", "median", "min", "max", "figure"], rows, "lrrrl")
    chk = data.get("sanity_checks") or {}
    if chk:
        out += ["", f"The report held {num(chk.get('report_operations'))} operations and "
                    f"{num(chk.get('report_total_operations'))} records; the exported file was "
                    f"{num(chk.get('exported_bytes'))} B."]
    if mg:
        out += ["", f"Merge input: {num(mg.get('blobs'))} blobs, {num(mg.get('serialized_bytes_total'))} B in all "
                    f"(median {num(mg.get('serialized_bytes_per_blob_median'))} B per blob, "
                    f"{num(mg.get('values_per_sketch'))} values each); merged sketches hold "
                    f"{num(mg.get('merged_count_per_operation'))} values each; `same_contents` with the "
                    f"whole-stream sketches: {fmt_value(mg.get('same_contents'), 'bool')}."]
    out += ["", "Targets:", ""]
    out += [target_item(tg) for tg in data.get("targets", [])]
    return out + bullets("Notes:", data.get("notes") or [])
