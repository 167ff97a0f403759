"""What every section of docs/benchmarks.md uses (render_docs.py owns the page):
the result files it knows and the commands that write them, the markdown
helpers (table, num, pct, target lines), the loaded results (:class:`Results`)
and a section's opening lines (:func:`section_start`: intro, run line or "not run").
Nothing here imports ragperf."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import common  # no ragperf import at module level


HERE = Path(__file__).resolve().parent
REPO = HERE.parent

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
    "otel_sampling": ("otel_sampling.json", "OpenTelemetry: sampling and pushed metrics"),
    "otel_instructions": ("otel_instructions.json", "OpenTelemetry: instructions per block"),
    "nested": ("nested.json", "Realistic nested query"),
    "nested_instructions": ("nested_instructions.json", "Realistic nested query: instructions per query"),
    "instructions": ("instructions.json", "Instructions per block"),
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
OPTIONAL_SECTIONS = frozenset({"asgi", "stream", "memory", "otel_sampling", "otel_instructions", "nested",
                               "nested_instructions", "instructions"})
BLOCK_INSTRUCTION_CASES = "bare,memory_off,memory_on,metadata,dimensions,model_tokens"
NESTED_INSTRUCTION_CASES = "nested_bare,nested_query,nested_query_positional,nested3_bare,nested3_query"

COMMANDS: Dict[str, List[str]] = {
    "asgi": ["sudo apt-get install apache2-utils  # ab",
             ".venv/bin/python benchmarks/bench_asgi.py --json benchmarks/results/asgi.json"],
    "stream": [".venv/bin/python benchmarks/bench_stream.py --json benchmarks/results/stream.json"],
    "memory": [".venv/bin/python benchmarks/bench_memory.py --json benchmarks/results/memory.json"],
    "otel_sampling": [".venv/bin/python benchmarks/bench_otel_sampling.py --json benchmarks/results/otel_sampling.json"],
    "otel_instructions": [".venv/bin/python benchmarks/bench_otel_instructions.py --baseline-otel /tmp/otel_main.py"],
    "nested": [".venv/bin/python benchmarks/bench_nested.py --json benchmarks/results/nested.json"],
    "nested_instructions": [
        "sudo apt-get install valgrind",
        ".venv/bin/python benchmarks/bench_instructions.py --cases " + NESTED_INSTRUCTION_CASES
        + " --json benchmarks/results/nested_instructions.json",
    ],
    "instructions": [
        "sudo apt-get install valgrind",
        ".venv/bin/python benchmarks/bench_instructions.py --cases " + BLOCK_INSTRUCTION_CASES
        + " [--baseline-site DIR] --json benchmarks/results/instructions.json",
    ],
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
