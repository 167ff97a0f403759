#!/usr/bin/env python3
"""Renders docs/benchmarks.md from the JSON results in benchmarks/results/.

Every figure on the page comes from a result file: overhead.json
(bench_overhead.py), accuracy.json (bench_accuracy.py), concurrency.json
(bench_concurrency.py), reads.json (bench_reads.py) and cpp_tracker.json
(google-benchmark JSON written by build/bench/tracker_bench); extra runs of
the overhead benchmark named overhead_run*.json feed a run-to-run spread
table. The prose around the numbers is static text kept in this file. A
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
import json
import math
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402  (no ragperf import at module level)
import render_integration_sections  # noqa: E402
import render_memory_section  # noqa: E402

DEFAULT_RESULTS = HERE / "results"
DEFAULT_OUT = REPO / "docs" / "benchmarks.md"

# key -> (file name, title)
KNOWN: Dict[str, Tuple[str, str]] = {
    "overhead": ("overhead.json", "Per-block overhead vs peers"),
    "accuracy": ("accuracy.json", "Percentile accuracy, memory and merge"),
    "concurrency": ("concurrency.json", "Concurrency: Python threads"),
    "cpp_tracker": ("cpp_tracker.json", "Concurrency: C++ core (google-benchmark)"),
    "reads": ("reads.json", "Cost of reads"),
    "asgi": ("asgi.json", "ASGI middleware under uvicorn"),
    "stream": ("stream.json", "Streamed chunks"),
    "memory": ("memory.json", "Memory per operation"),
}
SPREAD_GLOB = "overhead_run*.json"

CPP_CONFIGURE = (
    ".venv/bin/cmake -S . -B build/bench -G Ninja -DCMAKE_MAKE_PROGRAM=$PWD/.venv/bin/ninja "
    "-DRAGPERF_BUILD_BENCHMARKS=ON -DRAGPERF_BUILD_PYTHON=OFF -DCMAKE_BUILD_TYPE=Release"
)
CPP_BUILD = ".venv/bin/cmake --build build/bench"
CPP_RUN = (
    "build/bench/tracker_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true "
    "--benchmark_out=benchmarks/results/cpp_tracker.json --benchmark_out_format=json"
)
# Sections rendered only when their result file exists (added after the
# page's first five; a checkout without them reads as before).
OPTIONAL_SECTIONS = frozenset({"asgi", "stream", "memory"})

COMMANDS: Dict[str, List[str]] = {
    "asgi": ["sudo apt-get install apache2-utils  # ab",
             ".venv/bin/python benchmarks/bench_asgi.py --json benchmarks/results/asgi.json"],
    "stream": [".venv/bin/python benchmarks/bench_stream.py --json benchmarks/results/stream.json"],
    "memory": [".venv/bin/python benchmarks/bench_memory.py --json benchmarks/results/memory.json"],
    "overhead": [".venv/bin/python benchmarks/bench_overhead.py --json benchmarks/results/overhead.json"],
    "accuracy": [".venv/bin/python benchmarks/bench_accuracy.py --json benchmarks/results/accuracy.json"],
    "concurrency": [
        ".venv/bin/python benchmarks/bench_concurrency.py --json benchmarks/results/concurrency.json"
    ],
    "reads": [".venv/bin/python benchmarks/bench_reads.py --json benchmarks/results/reads.json"],
    "cpp_tracker": [CPP_CONFIGURE, CPP_BUILD, CPP_RUN],
}
RENDER_COMMAND = ".venv/bin/python benchmarks/render_docs.py"

# C++ targets (the JSON is google-benchmark's own format, which has none).
CPP_MIN_ITEMS_PER_S = 2_000_000.0
CPP_TARGET_BENCHMARKS = (
    "BM_RecordSameOperation/real_time/threads:4",
    "BM_RecordDistinctOperations/real_time/threads:4",
)

DASH = "—"


# --------------------------------------------------------------------------
# Small helpers.
# --------------------------------------------------------------------------


def get(d: Any, *keys: Any, default: Any = None) -> Any:
    for k in keys:
        if isinstance(d, dict) and k in d:
            d = d[k]
        elif isinstance(d, list) and isinstance(k, int) and -len(d) <= k < len(d):
            d = d[k]
        else:
            return default
    return d


def cell(v: Any) -> str:
    s = DASH if v is None or v == "" else str(v)
    return s.replace("|", "\\|").replace("\n", " ")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: Optional[str] = None) -> List[str]:
    """A markdown table; ``align``: one char per column, "l" or "r"."""
    align = align or "l" * len(header)
    seps = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "|".join(seps) + "|"]
    for r in rows:
        out.append("| " + " | ".join(cell(c) for c in r) + " |")
    return out


def num(v: Any, fmt: str = ",.0f") -> str:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return DASH if v is None else str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
    return format(v, fmt)


def fmt_value(v: Any, unit: Optional[str]) -> str:
    """A value with its unit, formatted for a reader."""
    if v is None:
        return DASH
    if isinstance(v, bool):
        return "true" if v else "false"
    if not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return num(v)
    u = unit or ""
    if u == "ns":
        return f"{v:,.0f} ns"
    if u == "x":
        return f"{v:.2f}×"
    if u == "fraction":
        return f"{v * 100:.3f} %"
    if u == "bytes":
        return f"{v:,.0f} B"
    if u == "ms":
        return f"{v:,.3f} ms"
    if u in ("us", "µs", "μs"):
        return f"{v:,.2f} µs"
    if u in ("items/s", "records/s", "blocks/s"):
        return f"{v / 1e6:,.2f} M {u}"
    if u in ("count", "records"):
        return f"{v:,.0f}" + (f" {u}" if u == "records" else "")
    return f"{v:g} {u}".strip()


def pct(e: Any) -> str:
    if e is None:
        return "n/a"
    if isinstance(e, float) and math.isinf(e):
        return "inf"
    return f"{e * 100:.3f} %"


_OP_IN_NAME = re.compile(r"(<=|>=|==|<|>|≤|≥)")


def target_op(t: Dict[str, Any]) -> str:
    if t.get("op"):
        return str(t["op"])
    if t.get("unit") == "bool" or isinstance(t.get("threshold"), bool):
        return "=="
    m = _OP_IN_NAME.search(str(t.get("name", "")))
    return {"≤": "<=", "≥": ">="}.get(m.group(1), m.group(1)) if m else ""


def status_text(t: Dict[str, Any]) -> str:
    s = str(t.get("status", DASH))
    return f"{s} (informational)" if t.get("informational") else s


def target_item(t: Dict[str, Any]) -> str:
    """A target as a list item: ``- [STATUS] name: value op threshold``."""
    return (f"- [{t.get('status')}] {t.get('name')}: {fmt_value(t.get('value'), t.get('unit'))} "
            f"{target_op(t)} {fmt_value(t.get('threshold'), t.get('unit'))}")


def bullets(title: str, items: Sequence[Any]) -> List[str]:
    """A blank line, ``title``, a blank line and one list item per entry;
    nothing at all when there are no entries."""
    return ["", title, "", *[f"- {i}" for i in items]] if items else []


def rel(path: Path) -> str:
    return common.relpath(path)


def date_of(data: Dict[str, Any]) -> str:
    ctx = data.get("context", {})
    started, ended = ctx.get("started"), ctx.get("date")
    if started and ended and started != ended:
        return f"{started} .. {ended}"
    return str(ended or started or DASH)


# --------------------------------------------------------------------------
# Loading.
# --------------------------------------------------------------------------


class Results:
    def __init__(self, results_dir: Path) -> None:
        self.dir = results_dir
        self.data: Dict[str, Optional[Dict[str, Any]]] = {}
        self.errors: Dict[str, str] = {}
        for key, (fname, _) in KNOWN.items():
            self.data[key] = self._load(key, results_dir / fname)
        self.spread: List[Tuple[str, Dict[str, Any]]] = []
        for p in sorted(results_dir.glob(SPREAD_GLOB)):
            d = self._load(p.name, p)
            if d is not None:
                self.spread.append((p.name, d))
        known = {f for f, _ in KNOWN.values()}
        self.others = sorted(
            p.name
            for p in results_dir.glob("*.json")
            if p.name not in known and not p.match(SPREAD_GLOB)
        )

    def _load(self, key: str, path: Path) -> Optional[Dict[str, Any]]:
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.errors[key] = f"{type(exc).__name__}: {exc}"
            return None
        if not isinstance(data, dict):
            self.errors[key] = "not a JSON object"
            return None
        return data

    def path(self, key: str) -> str:
        return rel(self.dir / KNOWN[key][0])


def not_run(res: Results, key: str) -> List[str]:
    where = res.path(key)
    if key in res.errors:
        head = f"**Not run** — `{where}` could not be read ({res.errors[key]})."
    else:
        head = f"**Not run** — `{where}` does not exist."
    cmds = COMMANDS[key]
    return [head, "", "To run it:", "", "```sh", *cmds, "```"]


# --------------------------------------------------------------------------
# Targets.
# --------------------------------------------------------------------------


def _finite_or_none(v: Any) -> Optional[float]:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def cpp_rows(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per benchmark: the ``median`` aggregate when the run had
    repetitions (``--benchmark_repetitions``), else the median of the
    repetition rows, else the single row. ``lost`` is the worst repetition
    when they are in the file; with aggregates only it is the mean over the
    repetitions (0 only when no repetition lost anything, as lost >= 0) and
    ``_lost_exact`` also requires its standard deviation to be 0."""
    groups: Dict[str, Dict[str, Any]] = {}
    order: List[str] = []
    for b in data.get("benchmarks", []):
        run = b.get("run_name") or b.get("name", "?")
        if run not in groups:
            groups[run] = {"iterations": [], "aggregates": {}}
            order.append(run)
        if b.get("run_type") == "aggregate":
            groups[run]["aggregates"][b.get("aggregate_name")] = b
        else:
            groups[run]["iterations"].append(b)
    rows = []
    for run in order:
        g = groups[run]
        its: List[Dict[str, Any]] = g["iterations"]
        aggs: Dict[str, Dict[str, Any]] = g["aggregates"]
        if "median" in aggs:
            row = dict(aggs["median"])
            row["_reps"] = row.get("repetitions") or len(its)
            row["_agg"] = f"median of {row['_reps']} repetitions"
        elif len(its) > 1:
            row = dict(its[0])
            for k in ("real_time", "cpu_time", "items_per_second"):
                vals = [i[k] for i in its if isinstance(i.get(k), (int, float))]
                if vals:
                    row[k] = statistics.median(vals)
            row["_reps"] = len(its)
            row["_agg"] = f"median of {len(its)} repetitions"
        elif its:
            row = dict(its[0])
            row["_reps"] = 1
            row["_agg"] = "single run"
        else:
            continue
        row.pop("lost", None)
        if any("lost" in i for i in its):
            vals = [_finite_or_none(i.get("lost")) for i in its if "lost" in i]
            row["lost"] = None if None in vals else max(v for v in vals if v is not None)
            row["_lost_exact"] = row["lost"] == 0
        elif "lost" in aggs.get("mean", {}) or "lost" in aggs.get("median", {}):
            mean = _finite_or_none(aggs.get("mean", aggs.get("median", {})).get("lost"))
            sd = _finite_or_none(aggs.get("stddev", {}).get("lost", 0.0))
            row["lost"] = mean
            row["_lost_exact"] = mean == 0 and sd in (0, None)
        cv = aggs.get("cv", {})
        if isinstance(cv.get("real_time"), (int, float)) and math.isfinite(cv["real_time"]):
            row["_cv"] = cv["real_time"]
        row["name"] = run
        row["_error"] = next(
            (i.get("error_message") or "error" for i in its + list(aggs.values()) if i.get("error_occurred")),
            None,
        )
        rows.append(row)
    return rows


def cpp_targets(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    rows = {r["name"]: r for r in cpp_rows(data)}
    out: List[Dict[str, Any]] = []
    for name in CPP_TARGET_BENCHMARKS:
        r = rows.get(name)
        v = None if r is None else r.get("items_per_second")
        ok = r is not None and r.get("_error") is None and isinstance(v, (int, float)) and v >= CPP_MIN_ITEMS_PER_S
        out.append(
            {
                "name": f"{name}: records/s (aggregate, 4 threads)",
                "value": v,
                "op": ">=",
                "threshold": CPP_MIN_ITEMS_PER_S,
                "unit": "records/s",
                "status": "PASS" if ok else "MISS",
                "informational": False,
                "detail": None if r is not None else "benchmark not in the JSON",
            }
        )
    threaded = [r for r in rows.values() if (r.get("threads") or 1) > 1 or "lost" in r]
    lost_vals: List[float] = [r["lost"] for r in threaded if r.get("lost") is not None]
    errors = [r["name"] for r in threaded if r.get("_error")]
    worst = max(lost_vals) if lost_vals else None
    ok = (
        bool(threaded)
        and not errors
        and len(lost_vals) == len(threaded)
        and all(r.get("_lost_exact") for r in threaded)
    )
    out.append(
        {
            "name": "threaded C++ benchmarks: lost records",
            "value": worst,
            "op": "==",
            "threshold": 0,
            "unit": "count",
            "status": "PASS" if ok else "MISS",
            "informational": False,
            "detail": f"errors in {', '.join(errors)}" if errors else f"worst of {len(threaded)} threaded rows",
        }
    )
    return out


def concurrency_checks(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    rows = data.get("benchmarks", [])
    lost = [r.get("lost") for r in rows if r.get("lost") is not None]
    worst = max(lost) if lost else None
    return [
        {
            "name": "Python threads: lost records (checked after every run; no throughput targets)",
            "value": worst,
            "op": "==",
            "threshold": 0,
            "unit": "count",
            "status": "PASS" if worst == 0 else "MISS",
            "informational": True,
        }
    ]


def all_targets(res: Results) -> List[Tuple[str, Optional[Dict[str, Any]]]]:
    out: List[Tuple[str, Optional[Dict[str, Any]]]] = []
    for key in ("overhead", "accuracy", "concurrency", "cpp_tracker", "reads", "asgi", "stream", "memory"):
        data = res.data[key]
        if data is None:
            if key not in OPTIONAL_SECTIONS:
                out.append((key, None))
            continue
        if key == "cpp_tracker":
            ts = cpp_targets(data)
        else:
            ts = list(data.get("targets") or [])
            if key == "concurrency":
                ts += concurrency_checks(data)
        out += [(key, t) for t in ts]
    return out


def render_targets(res: Results) -> List[str]:
    rows: List[List[Any]] = []
    for key, t in all_targets(res):
        if t is None:
            rows.append([KNOWN[key][1], "not run", DASH, DASH, "not run"])
            continue
        op = target_op(t)
        limit = f"{op} {fmt_value(t.get('threshold'), t.get('unit'))}".strip()
        rows.append([KNOWN[key][1], t.get("name"), fmt_value(t.get("value"), t.get("unit")), limit, status_text(t)])
    return table(["benchmark", "target", "value", "limit", "status"], rows, "lllll")


# --------------------------------------------------------------------------
# Machine and commands.
# --------------------------------------------------------------------------


def compiler_line(res: Results) -> Tuple[Optional[str], str]:
    for key in ("concurrency", "reads", "overhead", "accuracy"):
        c = get(res.data[key], "context", "compiler")
        if c:
            return c, f"recorded in {KNOWN[key][0]}"
    c = common.compiler_version()
    return c, "`g++ --version`, captured when this page was rendered"


def render_machine(res: Results) -> List[str]:
    present = [k for k in ("overhead", "accuracy", "concurrency", "reads", "cpp_tracker") if res.data[k] is not None]
    if not present:
        return ["No result file exists yet: every benchmark below is **not run**."]
    ctxs = {k: res.data[k].get("context", {}) for k in present}  # type: ignore[union-attr]

    def row(label: str, fn: Callable[[str, Dict[str, Any]], Any]) -> List[Any]:
        return [label] + [fn(k, ctxs[k]) for k in present]

    def py(k: str, c: Dict[str, Any]) -> Any:
        if k == "cpp_tracker":
            return "n/a (C++)"
        v = c.get("python_version")
        return f"{c.get('python_implementation', '')} {v}".strip() if v else None

    def ram(k: str, c: Dict[str, Any]) -> Any:
        v = c.get("mem_total_gib")
        return f"{v} GiB" if v is not None else None

    def cpu(k: str, c: Dict[str, Any]) -> Any:
        if k == "cpp_tracker":
            mhz = c.get("mhz_per_cpu")
            return f"{mhz} MHz per CPU (google-benchmark does not record the model)" if mhz else None
        return c.get("cpu_model")

    def core(k: str, c: Dict[str, Any]) -> Any:
        rc = c.get("ragperf_core") or {}
        if not rc.get("sha256"):
            return None
        s = f"`{rc['sha256']}`"
        if rc.get("mtime"):
            s += f" ({rc['mtime']})"
        if c.get("ragperf_core_replaced_during_run"):
            s += " — reinstalled during the run"
        return s

    def libs(k: str, c: Dict[str, Any]) -> Any:
        items = []
        for label, key in (
            ("prometheus_client", "prometheus_client_version"),
            ("psutil", "psutil_version"),
            ("opentelemetry-sdk", "opentelemetry_sdk_version"),
            ("numpy", "numpy_version"),
            ("ddsketch", "ddsketch_version"),
        ):
            if c.get(key):
                items.append(f"{label} {c[key]}")
        if k == "cpp_tracker":
            bt = c.get("library_build_type")
            items.append(f"google-benchmark (library built as {bt})" if bt else "google-benchmark")
        return ", ".join(items) or None

    def load(k: str, c: Dict[str, Any]) -> Any:
        if k == "cpp_tracker":
            la = c.get("load_avg")
            return f"{', '.join(f'{x:.2f}' for x in la)} (at start)" if la else None
        b, a = c.get("loadavg_before"), c.get("loadavg_after")
        if b is None and a is None:
            return None
        return f"{b} before, {a} after"

    def gil(k: str, c: Dict[str, Any]) -> Any:
        v = c.get("gil_enabled")
        return None if v is None else ("enabled" if v else "disabled")

    rows = [
        row("run (UTC)", lambda k, c: date_of(res.data[k] or {})),
        row("CPUs (`nproc`)", lambda k, c: c.get("num_cpus")),
        row("CPU model (`/proc/cpuinfo`)", cpu),
        row("RAM (MemTotal)", ram),
        row("OS", lambda k, c: c.get("platform")),
        row("Python", py),
        row("GIL", gil),
        row("C++ compiler", lambda k, c: c.get("compiler")),
        row("ragperf", lambda k, c: c.get("ragperf_version")),
        row("ragperf `_core` sha256 (installed)", core),
        row("source tree (`git describe`)", lambda k, c: c.get("source_git")),
        row("libraries", libs),
        row("load average 1/5/15 min", load),
        row("quick (smoke) run", lambda k, c: None if "quick" not in c else ("yes" if c["quick"] else "no")),
    ]
    rows = [r for r in rows if any(v not in (None, "") for v in r[1:])]
    out = table(["field", *[KNOWN[k][0] for k in present]], rows)
    comp, source = compiler_line(res)
    out += ["", f"C++ compiler: `{comp or 'not found'}` ({source})."]
    missing = [KNOWN[k][0] for k in KNOWN if res.data[k] is None and k not in OPTIONAL_SECTIONS]
    if missing:
        out += ["", "Not run (no result file): " + ", ".join(f"`{m}`" for m in missing) + "."]
    return out


def makefile_bench_recipe(repo: Path = REPO) -> Optional[List[str]]:
    try:
        lines = (repo / "Makefile").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for i, line in enumerate(lines):
        if re.match(r"^bench\s*:", line):
            recipe = []
            for nxt in lines[i + 1:]:
                if nxt.startswith("\t"):
                    recipe.append(nxt.strip())
                elif nxt.strip() == "" or nxt.lstrip().startswith("#"):
                    if recipe:
                        break
                else:
                    break
            return [line.strip(), *recipe]
    return None


def render_commands(res: Results) -> List[str]:
    out = ["From the repository root:", "", "```sh", "make bench"]
    out += ["# or step by step:"]
    for key in ("overhead", "accuracy", "concurrency", "reads", "cpp_tracker"):
        out += COMMANDS[key]
    out += [f"{RENDER_COMMAND}            # writes docs/benchmarks.md from benchmarks/results/*.json",
            f"{RENDER_COMMAND} --check    # exit 1 when docs/benchmarks.md is out of date", "```", ""]
    recipe = makefile_bench_recipe()
    if recipe:
        out += ["The Makefile's `bench` target, verbatim (what `make bench` runs):", "", "```make", *recipe, "```", ""]
    else:
        out += ["(The Makefile has no `bench` target.)", ""]
    out += [
        "Each Python script takes `--quick` (a smoke run with small sizes, not a "
        "measurement) and `--json PATH`; `bench_overhead.py`, `bench_accuracy.py` "
        "and `bench_reads.py` take `--check` (exit 1 when a target is missed). "
        "The command each result file was produced with, where it recorded it, is "
        "given in its section.",
    ]
    return out


def run_line(res: Results, key: str) -> List[str]:
    data = res.data[key] or {}
    ctx = data.get("context", {})
    parts = [f"Run {date_of(data)} UTC"]
    if ctx.get("runtime_seconds") is not None:
        parts.append(f"{ctx['runtime_seconds']:.1f} s")
    if ctx.get("quick"):
        parts.append("**quick (smoke) run — not a measurement**")
    line = ", ".join(parts) + f"; raw data: `{res.path(key)}`."
    cmd = ctx.get("command")
    out = [line]
    if cmd:
        out += ["", f"Command of this run: `{cmd}`"]
    return out


def section_start(res: Results, key: str, intro: str) -> Tuple[List[str], Optional[Dict[str, Any]]]:
    """A section's opening lines and its result file's data: the intro, then
    the run line, or "not run" (and None) when there is no result file."""
    out = [intro, ""]
    data = res.data[key]
    if data is None:
        return out + not_run(res, key), None
    return out + run_line(res, key) + [""], data


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


SMOKE = """\
`tests/python/test_bench_smoke.py` and `test_bench_accuracy_smoke.py` run the
overhead and accuracy scripts with `--quick`; `tests/python/test_bench_render.py`
runs `bench_reads.py` and `bench_concurrency.py` with `--quick` and renders this
page from small synthetic result files. They check that the benchmarks work and
what they write, never the timings."""


# --------------------------------------------------------------------------
# Page.
# --------------------------------------------------------------------------

# The extra section modules get this module's helpers passed in (no import
# back, so no import circle).
THIS_MODULE = sys.modules[__name__]

SECTIONS: List[Tuple[str, str, Callable[[Results], List[str]]]] = [
    ("overhead", "Per-block overhead vs peers (`benchmarks/bench_overhead.py`)", section_overhead),
    ("accuracy", "Percentile accuracy, memory and merge (`benchmarks/bench_accuracy.py`)", section_accuracy),
    ("concurrency", "Concurrency: Python threads (`benchmarks/bench_concurrency.py`)", section_concurrency),
    ("cpp_tracker", "Concurrency: C++ core (`build/bench/tracker_bench`)", section_cpp),
    ("reads", "Cost of reads (`benchmarks/bench_reads.py`)", section_reads),
    ("asgi", "ASGI middleware under uvicorn (`benchmarks/bench_asgi.py`)", lambda res: render_integration_sections.section_asgi(res, THIS_MODULE)),
    ("stream", "Streamed chunks (`benchmarks/bench_stream.py`)", lambda res: render_integration_sections.section_stream(res, THIS_MODULE)),
    ("memory", "Memory per operation (`benchmarks/bench_memory.py`)", lambda res: render_memory_section.section_memory(res, THIS_MODULE)),
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
