"""Helpers shared by the benchmark scripts in this directory.

The conventions every ``bench_*.py`` script here follows:

* the environment goes into the result JSON under ``"context"`` with the same
  key names (``date``, ``python_version``, ``cpu_model``, ``num_cpus``,
  ``mem_total_gib``, ``ragperf_version``, ``source_git``, ``ragperf_core`` ...);
* timings are repeated (at least ``MIN_REPETITIONS`` times) and reported as
  the median with min and max, every repetition kept in the JSON;
* targets are dicts ``{"name", "value", "op", "threshold", "unit", "status",
  "informational"}`` with status ``"PASS"`` or ``"MISS"`` (``"SKIP"`` when
  there is no value; ``bench_accuracy.py`` keeps its own shape, with a
  ``detail`` and no ``op``);
* results are written atomically (``<file>.tmp`` then ``os.replace``);
* progress goes to stderr as ``# message``, the readable table to stdout.

Nothing here imports ragperf at module level, so ``render_docs.py`` can use
it on a machine without the package.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import hashlib
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Callable, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS_DIR = HERE / "results"
MIN_REPETITIONS = 5


class SanityError(RuntimeError):
    """A benchmark did not record or compute what it was asked to."""


def log(msg: str) -> None:
    print(f"# {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Environment.
# --------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib() -> Optional[float]:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / (1024 * 1024), 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _run_first_line(argv: Sequence[str], cwd: Optional[Path] = None) -> Optional[str]:
    try:
        out = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=10, check=False, cwd=cwd
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0].strip() if lines else None


def git_describe() -> Optional[str]:
    return _run_first_line(["git", "-C", str(REPO), "describe", "--always", "--dirty"])


def compiler_version(cxx: str = "g++") -> Optional[str]:
    """First line of ``g++ --version`` (None when there is no such compiler)."""
    return _run_first_line([cxx, "--version"])


def loadavg() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def dist_version(name: str) -> Optional[str]:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # pragma: no cover
        return None


def gil_enabled() -> bool:
    """False only on a free-threaded CPython build running without the GIL."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def core_build() -> Dict[str, Any]:
    """Which compiled ragperf core is loaded (others may reinstall it while we run)."""
    from ragperf import _core

    path = Path(_core.__file__)
    info: Dict[str, Any] = {"path": str(path)}
    try:
        info["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        info["mtime"] = _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.timezone.utc).isoformat(
            timespec="seconds"
        )
    except OSError:  # pragma: no cover
        pass
    return info


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def command_line(argv: Optional[Sequence[str]] = None) -> str:
    """The command as typed, relative to the repository when possible."""
    args = list(sys.argv if argv is None else argv)
    exe = sys.executable
    if Path(os.path.abspath(exe)).is_relative_to(REPO):
        exe = os.path.relpath(os.path.abspath(exe), REPO)
    if args:
        script = Path(os.path.abspath(args[0]))
        if script.is_relative_to(REPO):
            args[0] = str(script.relative_to(REPO))
    return shlex.join([exe, *args])


def environment(**extra: Any) -> Dict[str, Any]:
    """The run's context: machine, Python, compiler, library versions, plus
    ``extra`` (which may also override a key, e.g. ``timer``)."""
    import ragperf

    env: Dict[str, Any] = {
        "date": now_iso(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "num_cpus": os.cpu_count(),
        "mem_total_gib": mem_total_gib(),
        "compiler": compiler_version(),
        "ragperf_version": ragperf.__version__,
        "ragperf_path": str(Path(ragperf.__file__).parent),
        "source_git": git_describe(),
        "gil_enabled": gil_enabled(),
        "gc_enabled": gc.isenabled(),
        "timer": "time.perf_counter_ns",
        "aggregate": "median over repetitions (min and max reported too)",
        "loadavg_after": loadavg(),
    }
    env.update(extra)
    return env


CORE_REPLACED_NOTE = "ragperf's _core was reinstalled during the run; the one loaded at start was measured."


def run_start() -> Dict[str, Any]:
    """What a run notes before it starts, as context keys: ``started``,
    ``loadavg_before`` and ``ragperf_core`` (the compiled core loaded now)."""
    return {"started": now_iso(), "loadavg_before": loadavg(), "ragperf_core": core_build()}


def core_replaced(env: Dict[str, Any]) -> bool:
    """Whether the compiled core installed now differs from ``env["ragperf_core"]``
    (noted at the start); if so, also records it as
    ``env["ragperf_core_replaced_during_run"]``."""
    now = core_build()
    if now == env.get("ragperf_core"):
        return False
    env["ragperf_core_replaced_during_run"] = now
    return True


# --------------------------------------------------------------------------
# Timing.
# --------------------------------------------------------------------------


def time_call_ns(fn: Callable[[], Any], inner: int = 1) -> float:
    """Wall time of ``inner`` calls of ``fn``, in ns per call."""
    t0 = perf_counter_ns()
    for _ in range(inner):
        fn()
    return (perf_counter_ns() - t0) / inner


def repeat_ns(fn: Callable[[], Any], repetitions: int, inner: int = 1, warmup: int = 1) -> List[float]:
    """``repetitions`` samples of ns per call (each sample: ``inner`` calls),
    after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    return [time_call_ns(fn, inner) for _ in range(repetitions)]


def summarize(samples: Sequence[float], scale: float = 1.0, unit: str = "ns") -> Dict[str, Any]:
    """Median, min and max of ``samples`` divided by ``scale`` (e.g. 1e6 for
    ns -> ms), plus every sample, in ``unit``."""
    if not samples:
        raise ValueError("no samples")
    vals = [s / scale for s in samples]
    return {
        "median": statistics.median(vals),
        "min": min(vals),
        "max": max(vals),
        "unit": unit,
        "repetitions": len(vals),
        "samples": vals,
    }


# --------------------------------------------------------------------------
# Targets and output.
# --------------------------------------------------------------------------


def callgrind_total(out: Path) -> int:
    """The instructions a callgrind output file counted (its ``summary:``
    line); RuntimeError naming the file when it has none.

    Example:
        >>> callgrind_total(Path("cg.out"))  # doctest: +SKIP
        822818351
    """
    match = re.search(r"^summary:\s+(\d+)", out.read_text(errors="replace"), re.M)
    if match is None:
        raise RuntimeError(f"no summary line in {out}")
    return int(match.group(1))


def target(
    name: str,
    value: Any,
    op: str,
    threshold: Any,
    unit: str,
    informational: bool = False,
    detail: Optional[str] = None,
) -> Dict[str, Any]:
    """A target in the shape bench_overhead.py writes. ``op``: "<", "<=",
    ">=", ">" or "=="; ``value`` None (e.g. a skipped peer): status "SKIP"."""
    if value is None:
        status = "SKIP"
    else:
        ok = {
            "<": lambda: value < threshold,
            "<=": lambda: value <= threshold,
            ">": lambda: value > threshold,
            ">=": lambda: value >= threshold,
            "==": lambda: value == threshold,
        }[op]()
        status = "PASS" if ok else "MISS"
    t: Dict[str, Any] = {
        "name": name,
        "value": value,
        "op": op,
        "threshold": threshold,
        "unit": unit,
        "status": status,
        "informational": informational,
    }
    if detail is not None:
        t["detail"] = detail
    return t


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def write_atomic(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically (``<path>.tmp`` then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(
    path: Path, result: Dict[str, Any], default: Optional[Callable[[Any], Any]] = None
) -> None:
    """Writes ``result`` atomically (``<path>.tmp`` then rename). NaN and
    infinities become null (strict JSON); ``default`` converts what json
    cannot (as in ``json.dumps``)."""
    write_atomic(path, json.dumps(_finite(result), indent=2, allow_nan=False, default=default) + "\n")


def finish(path: Path, result: Dict[str, Any], check: bool = False,
           default: Optional[Callable[[Any], Any]] = None) -> int:
    """Writes ``result`` (see ``write_json``), says where on stdout, and returns
    the exit status: 1 when ``check`` and a non-informational target of
    ``result["targets"]`` was missed (said on stderr), else 0."""
    write_json(path, result, default)
    print(f"results written to {path}")
    missed = [
        t for t in result.get("targets") or [] if t.get("status") == "MISS" and not t.get("informational")
    ]
    if check and missed:
        print(f"--check: {len(missed)} target(s) missed", file=sys.stderr)
        return 1
    return 0


def relpath(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO.resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------
# Command line.
# --------------------------------------------------------------------------


def add_output_args(
    p: argparse.ArgumentParser, default_json: Path, quick_help: str, check_help: Optional[str] = None
) -> None:
    """``--json``, ``--quick`` and, when ``check_help`` is given, ``--check``."""
    p.add_argument("--json", type=Path, default=default_json,
                   help=f"where to write the results (default {Path(default_json).relative_to(REPO)})")
    p.add_argument("--quick", action="store_true", help=quick_help)
    if check_help is not None:
        p.add_argument("--check", action="store_true", help=check_help)


def resolve_size(
    p: argparse.ArgumentParser, args: argparse.Namespace, name: str, full: int, quick: int, minimum: int = 1
) -> None:
    """Fills in ``args.<name>`` when not given (``quick`` with --quick, else
    ``full``) and requires it to be at least ``minimum``."""
    if getattr(args, name) is None:
        setattr(args, name, quick if args.quick else full)
    if getattr(args, name) < minimum:
        p.error(f"--{name.replace('_', '-')} must be >= {minimum}")


def resolve_repetitions(p: argparse.ArgumentParser, args: argparse.Namespace, default: int) -> None:
    """``--repetitions``: ``MIN_REPETITIONS`` with --quick, else ``default``;
    never fewer than ``MIN_REPETITIONS``."""
    resolve_size(p, args, "repetitions", default, MIN_REPETITIONS, MIN_REPETITIONS)
