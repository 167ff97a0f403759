"""Smoke test of an installed ragperf wheel, run by the interpreter of the
venv the wheel was installed into (``make wheels`` and
tests/python/test_distribution.py run it):

    venv/bin/python -I scripts/smoke_wheel.py [--expect-version 0.1.0]

It checks, and exits non-zero with the reason when anything fails:

1. ragperf is imported from this venv's site-packages (not a source tree).
2. Linkage (``ldd`` of ``ragperf/_core*.so``, which lists the libraries it
   needs directly and through the libraries it loads): nothing is
   ``not found``; every library either resolves into the wheel's own
   ``ragperf.libs/`` (abseil, libproc2 and what libproc2 needs, grafted by
   ``auditwheel repair``) or is one of MANYLINUX_SYSTEM_LIBS, the glibc and
   GCC runtime libraries that the manylinux policy requires every system to
   provide (so a wheel may, and must, take them from the system). abseil
   and libproc2 in particular must come from ``ragperf.libs/``; at run time
   the interpreter maps them from there too (``/proc/self/maps``), never
   from /usr or /lib.
3. Use: tracked blocks (a failing one too), ``record``, stats and
   percentiles, the report, ``export_metrics_json``, ``PerformanceMonitor.load``
   and ``merge_from`` of that export (same counts and percentiles),
   ``ragperf report`` on it, and a file with a newer ``schema_version``
   refused by ``load``, ``ragperf report`` and ``ragperf compare``.
4. One version: ``ragperf.__version__``, ``ragperf._core.__version__``, the
   installed distribution's metadata, ``ragperf --version`` (and
   ``--expect-version``) agree.

The last line of output is ``SMOKE-OK <json summary>``.

Example:
    $ /tmp/v312/bin/python -I scripts/smoke_wheel.py --expect-version 0.1.0
    SMOKE-OK {"python": "3.12.1", ...}
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from importlib.metadata import version as dist_version
from pathlib import Path

#: Libraries the manylinux policy (PEP 600 / auditwheel's policy
#: ``lib_whitelist``) assumes every system has; a wheel links them from the
#: system and may not vendor them. Plus the dynamic loader and the vDSO.
MANYLINUX_SYSTEM_LIBS = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libpthread.so.0",
        "libdl.so.2",
        "librt.so.1",
        "libgcc_s.so.1",
        "libstdc++.so.6",
    }
)
LOADER = re.compile(r"^(linux-vdso\.so\.1|linux-gate\.so\.1|ld-linux[-\w.]*\.so\.\d+|/.*ld-linux[-\w.]*\.so\.\d+)$")
VENDORED = re.compile(r"^(libabsl_\w+|libproc2)[-.]")


def fail(message: str) -> None:
    print(f"SMOKE-FAIL {message}", file=sys.stderr)
    raise SystemExit(1)


def check(condition: bool, message: str) -> None:
    if not condition:
        fail(message)


def ldd(path: Path) -> dict[str, str]:
    """{soname: resolved path, or 'not found', or '' for the loader/vDSO}."""
    out = subprocess.run(["ldd", os.fspath(path)], capture_output=True, text=True, check=True).stdout
    libs: dict[str, str] = {}
    for line in out.splitlines():
        line = line.strip()
        if m := re.match(r"^(\S+)\s+=>\s+(.+?)(?:\s+\(0x[0-9a-f]+\))?$", line):
            libs[m.group(1)] = m.group(2).strip()
        elif m := re.match(r"^(\S+)\s+\(0x[0-9a-f]+\)$", line):
            libs[m.group(1)] = ""
    return libs


def check_ldd(site: Path) -> dict[str, list[str]]:
    """The ldd half of check 2, on the files alone (before anything imports
    ragperf, so a missing library is reported by name, not as an ImportError)."""
    cores = sorted((site / "ragperf").glob("_core*.so"))
    check(len(cores) == 1, f"expected one ragperf/_core*.so in {site}, found {cores}")
    libs_dir = (site / "ragperf.libs").resolve()
    check(libs_dir.is_dir(), f"no {libs_dir}: the wheel was not repaired by auditwheel")
    vendored: list[str] = []
    system: list[str] = []
    for name, where in sorted(ldd(cores[0]).items()):
        check(where != "not found", f"ldd {cores[0]}: {name} not found")
        if LOADER.match(name):
            continue
        if where and Path(where).resolve().parent == libs_dir:
            vendored.append(name)
        elif name in MANYLINUX_SYSTEM_LIBS:
            system.append(f"{name} => {where}")
        else:
            fail(f"ldd {cores[0]}: {name} resolves to {where}, neither in {libs_dir} nor a manylinux system library")
    check(any(n.startswith("libabsl_") for n in vendored), f"no abseil from {libs_dir}: {vendored}")
    check(any(n.startswith("libproc2") for n in vendored), f"no libproc2 from {libs_dir}: {vendored}")
    return {"vendored": vendored, "system": system}


def check_mapped(site: Path) -> None:
    """The run-time half of check 2: the abseil/libproc2 this interpreter mapped."""
    import ragperf  # noqa: F401 -- loads _core and its libraries

    libs_dir = (site / "ragperf.libs").resolve()
    with open("/proc/self/maps", encoding="utf-8") as f:
        mapped = {Path(fields[-1]) for fields in map(str.split, f) if len(fields) >= 6 and fields[-1].startswith("/")}
    loaded = sorted(p for p in mapped if VENDORED.match(p.name))
    check(any(p.name.startswith("libabsl_") for p in loaded), f"no abseil mapped: {sorted(map(str, mapped))}")
    check(any(p.name.startswith("libproc2") for p in loaded), f"no libproc2 mapped: {sorted(map(str, mapped))}")
    for p in loaded:
        check(p.resolve().parent == libs_dir, f"mapped {p}, not the copy in {libs_dir}")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "ragperf"
    check(script.is_file(), f"the wheel installed no {script}")
    return subprocess.run([os.fspath(script), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def check_use(work: Path) -> dict[str, object]:
    from ragperf import OperationType, PerformanceMonitor
    from ragperf.export.persistence import STATE_SCHEMA_VERSION, SchemaVersionError

    monitor = PerformanceMonitor(enable_memory_tracking=True)
    for i in range(200):
        with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
            op.tokens = 100 + i % 7
    try:
        with monitor.track_operation("reranking"):
            raise TimeoutError("slow reranker")
    except TimeoutError:
        pass
    for i in range(50):
        monitor.record("document_retrieval", duration_s=0.001 * (i + 1), tokens=0, success=True)
    stats = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    check(stats.total_operations == 200 and stats.failed_operations == 0, f"llm stats {stats}")
    check(stats.total_tokens == sum(100 + i % 7 for i in range(200)), f"tokens {stats.total_tokens}")
    check(0 <= stats.p50_duration <= stats.p95_duration <= stats.p99_duration <= stats.max_duration, f"{stats}")
    retrieval = monitor.get_operation_stats("document_retrieval")
    check(abs(retrieval.p50_duration - 0.025) <= 0.025 * 0.02, f"retrieval p50 {retrieval.p50_duration}")
    check(monitor.get_operation_stats("reranking").failed_operations == 1, "failed block not counted")

    report = monitor.generate_report()
    check(report["total_operations"] == 251, f"report total {report['total_operations']}")
    check(report["operations"]["llm_inference"]["total"] == 200, "report llm total")
    path = Path(monitor.export_metrics_json(work / "metrics.json"))
    saved = json.loads(path.read_text(encoding="utf-8"))
    check(saved["schema_version"] == STATE_SCHEMA_VERSION, f"schema_version {saved.get('schema_version')}")

    reloaded = PerformanceMonitor.load(path)
    for name in ("llm_inference", "document_retrieval", "reranking"):
        a, b = monitor.get_operation_stats(name), reloaded.get_operation_stats(name)
        check(
            (a.total_operations, a.failed_operations, a.p50_duration, a.p99_duration)
            == (b.total_operations, b.failed_operations, b.p50_duration, b.p99_duration),
            f"{name}: reloaded {b} != saved {a}",
        )
    reloaded.merge_from(path)
    check(reloaded.get_operation_stats("llm_inference").total_operations == 400, "merge_from did not add")

    shown = run_cli("report", path.name, cwd=work)
    check(shown.returncode == 0 and "llm_inference" in shown.stdout, f"ragperf report: {shown}")

    future = work / "future.json"
    future.write_text(json.dumps({**saved, "schema_version": STATE_SCHEMA_VERSION + 1}), encoding="utf-8")
    expected = f"schema_version {STATE_SCHEMA_VERSION + 1} is newer"
    try:
        PerformanceMonitor.load(future)
        fail("PerformanceMonitor.load accepted a newer schema_version")
    except SchemaVersionError as e:
        check("future.json" in str(e) and expected in str(e), f"load: {e}")
    for args in (("report", future.name), ("compare", path.name, future.name)):
        refused = run_cli(*args, cwd=work)
        check(refused.returncode == 3 and expected in refused.stderr, f"ragperf {' '.join(args)}: {refused}")
    return {"operations": sorted(report["operations"]), "p50_retrieval_s": retrieval.p50_duration}


def check_version(expect: str | None, work: Path) -> str:
    import ragperf
    from ragperf import _core

    cli = run_cli("--version", cwd=work)
    versions = {
        "ragperf.__version__": ragperf.__version__,
        "ragperf._core.__version__": _core.__version__,
        "metadata": dist_version("ragperf"),
        "ragperf --version": cli.stdout.strip().removeprefix("ragperf "),
    }
    if expect is not None:
        versions["expected"] = expect
    check(len(set(versions.values())) == 1, f"versions disagree: {versions}")
    return ragperf.__version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--expect-version", help="the version every source must report (pyproject's)")
    args = parser.parse_args(argv)

    site = Path(sysconfig.get_paths()["platlib"]).resolve()
    linkage = check_ldd(site)
    import ragperf

    check(Path(ragperf.__file__).resolve().is_relative_to(site), f"ragperf from {ragperf.__file__}, not {site}")
    check_mapped(site)
    with tempfile.TemporaryDirectory(prefix="ragperf-smoke-") as tmp:
        work = Path(tmp)
        use = check_use(work)
        version = check_version(args.expect_version, work)
    summary = {
        "python": sys.version.split()[0],
        "ragperf": version,
        "vendored": len(linkage["vendored"]),
        "system": linkage["system"],
        **use,
    }
    print("SMOKE-OK", json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
