"""The head of docs/benchmarks.md: the targets table (every benchmark's targets,
with the C++ core's derived from cpp_tracker.json and concurrency.json), the
machine and software the results were measured on, and the commands that
produce them (the Makefile's ``bench`` recipe, verbatim)."""

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import common  # no ragperf import at module level
from render_common import (
    COMMANDS,
    CPP_MIN_ITEMS_PER_S,
    CPP_TARGET_BENCHMARKS,
    DASH,
    KNOWN,
    OPTIONAL_SECTIONS,
    RENDER_COMMAND,
    REPO,
    Results,
    date_of,
    fmt_value,
    get,
    status_text,
    table,
    target_op,
)


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
    for key in ("overhead", "accuracy", "concurrency", "cpp_tracker", "reads", "asgi", "stream", "memory", "otel_sampling",
                "nested", "nested_instructions", "instructions"):
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
