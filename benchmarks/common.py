"""Helpers shared by the benchmark scripts in this directory.

The conventions are those of ``bench_overhead.py`` and ``bench_accuracy.py``:

* the environment goes into the result JSON under ``"context"`` with the same
  key names (``date``, ``python_version``, ``cpu_model``, ``num_cpus``,
  ``mem_total_gib``, ``ragperf_version``, ``source_git``, ``ragperf_core`` ...);
* timings are repeated (at least ``MIN_REPETITIONS`` times) and reported as
  the median with min and max, every repetition kept in the JSON;
* targets are dicts ``{"name", "value", "op", "threshold", "unit", "status",
  "informational"}`` with status ``"PASS"`` or ``"MISS"``;
* results are written atomically (``<file>.tmp`` then ``os.replace``);
* progress goes to stderr as ``# message``, the readable table to stdout.

Nothing here imports ragperf at module level, so ``render_docs.py`` can use
it on a machine without the package.
"""

from __future__ import annotations

import datetime as _dt
import gc
import hashlib
import json
import math
import os
import platform
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
    """The run's context: machine, Python, compiler, library versions. Same
    key names as bench_overhead.py / bench_accuracy.py, plus ``extra``."""
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
    ">=", ">" or "=="."""
    ok = {
        "<": lambda: value < threshold,
        "<=": lambda: value <= threshold,
        ">": lambda: value > threshold,
        ">=": lambda: value >= threshold,
        "==": lambda: value == threshold,
    }[op]()
    t: Dict[str, Any] = {
        "name": name,
        "value": value,
        "op": op,
        "threshold": threshold,
        "unit": unit,
        "status": "PASS" if ok else "MISS",
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


def write_json(path: Path, result: Dict[str, Any]) -> None:
    """Writes ``result`` atomically (``<path>.tmp`` then rename). NaN and
    infinities become null (strict JSON)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_finite(result), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def relpath(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO.resolve()))
    except ValueError:
        return str(path)
