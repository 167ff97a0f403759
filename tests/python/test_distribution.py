"""The distributions in dist/: the manylinux wheel (`make wheel`) and the
sdist (`make sdist`), each installed into a fresh virtual environment.

Wheel: the seed's documented usage works in a fresh venv with nothing but the
wheel installed (cwd outside the source tree, isolated mode, so the source
tree cannot be imported); ``_core`` resolves abseil and libproc2 to the copies
vendored in ``ragperf.libs/`` (ldd, and /proc/self/maps at run time), never to
/usr/lib; ``auditwheel show`` reports a manylinux tag and no abseil/libproc2
as an external system library; the metadata version is pyproject's.

Sdist: it holds everything a build needs (and no .venv/, build/, dist/);
configuring the extracted tree without abseil or pkg-config fails with the
Debian package to install; and ``pip install ragperf-*.tar.gz`` compiles and
works in a fresh venv on this machine (where the -dev packages are present).

Missing distributions skip these tests with the command that builds them;
with ``RAGPERF_REQUIRE_DIST=1`` (CI, after ``make wheel sdist``) they fail
instead. A distribution older than the sources it is built from counts as
missing (rebuild it).
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
PACKAGE_SRC = REPO / "python" / "ragperf"
REQUIRE_DIST = os.environ.get("RAGPERF_REQUIRE_DIST") == "1"
PY_TAG = f"cp{sys.version_info.major}{sys.version_info.minor}"
VENDORED = re.compile(r"^(libabsl_\w+|libproc2)[-.]")


# ------------------------------------------------------------------ helpers


def unavailable(reason: str) -> None:
    """Skips (or, with RAGPERF_REQUIRE_DIST=1, fails) for a missing prerequisite."""
    if REQUIRE_DIST:
        pytest.fail(f"{reason} (required: RAGPERF_REQUIRE_DIST=1)")
    pytest.skip(reason)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment minus anything that could make a venv see other code or libraries."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
        and k not in {"LD_LIBRARY_PATH", "LD_PRELOAD"}
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(extra)
    return env


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [os.fspath(c) for c in cmd],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
            f"--- stdout (tail)\n{proc.stdout[-4000:]}\n--- stderr (tail)\n{proc.stderr[-4000:]}"
        )
    return proc


def tool(name: str) -> Path:
    """A build tool from the project's .venv (where `make` installs it), else PATH."""
    for candidate in (Path(sys.executable).parent / name, REPO / ".venv" / "bin" / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found is None:
        unavailable(f"{name} not found; `make wheel` installs it into .venv")
    return Path(str(found))


def newest_mtime(paths: Sequence[Path]) -> float:
    files = [p for root in paths for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()]
    return max(p.stat().st_mtime for p in files if "__pycache__" not in p.parts)


def package_sources() -> dict[str, bytes]:
    """python/ragperf as {path relative to python/: bytes} (what the wheel must hold)."""
    return {
        p.relative_to(PACKAGE_SRC.parent).as_posix(): p.read_bytes()
        for p in sorted(PACKAGE_SRC.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".so"}
    }


def find_dist(pattern: str, make_target: str, inputs: Sequence[Path]) -> Path:
    """The newest dist/<pattern>; missing or older than its inputs -> unavailable."""
    found = sorted(DIST.glob(pattern), key=lambda p: p.stat().st_mtime)
    if not found:
        unavailable(f"no dist/{pattern}: run `make {make_target}` (in {REPO}) to build it")
    path = found[-1]
    if path.stat().st_mtime < newest_mtime(inputs):
        unavailable(f"{path.name} is older than the sources: run `make {make_target}` to rebuild it")
    return path


@dataclass(frozen=True)
class Venv:
    root: Path
    python: Path
    site_packages: Path

    @property
    def bin(self) -> Path:
        return self.python.parent


def make_venv(where: Path) -> Venv:
    """A fresh venv (no system site-packages) with pip; never the project's .venv."""
    root = where / "venv"
    run([sys.executable, "-m", "venv", root], cwd=where, timeout=120)
    python = root / "bin" / "python"
    purelib = run(
        [python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=where,
        timeout=60,
    ).stdout.strip()
    return Venv(root, python, Path(purelib))


# The seed's documented usage (README/DESIGN), asserted. argv[1] = site-packages.
SEED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import ragperf
    from ragperf import (MemoryMonitor, OperationType, PerformanceMonitor,
                         ResponseTimeTracker, TokenCounter, get_performance_monitor)

    site = Path(sys.argv[1]).resolve()
    assert Path(ragperf.__file__).resolve().is_relative_to(site), ragperf.__file__

    monitor = get_performance_monitor()
    for _ in range(5):
        with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
            op.tokens = 150
    with monitor.track_operation(OperationType.DOCUMENT_RETRIEVAL, {"top_k": 5}) as op:
        op.metadata["hits"] = 3
    try:
        with monitor.track_operation("reranking"):
            raise TimeoutError("slow reranker")
    except TimeoutError:
        pass

    stats = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
    assert stats.total_operations == 5, stats
    assert stats.successful_operations == 5 and stats.failed_operations == 0, stats
    assert stats.total_tokens == 750 and stats.avg_tokens == 150, stats
    assert 0 <= stats.min_duration <= stats.p50_duration <= stats.p95_duration
    assert stats.p95_duration <= stats.p99_duration <= stats.max_duration
    assert set(stats.to_dict()) >= {"total_operations", "p95_duration", "total_tokens"}
    assert monitor.get_operation_stats(OperationType.RERANKING).failed_operations == 1

    report = monitor.generate_report()
    assert report["total_operations"] == 7, report
    assert report["operations"]["llm_inference"]["total"] == 5
    assert report["operations"]["llm_inference"]["tokens"]["total"] == 750
    assert report["operations"]["reranking"]["failed"] == 1
    assert set(report["memory"]) >= {"current_rss_mb", "min_rss_mb", "max_rss_mb", "avg_rss_mb"}
    json.dumps(report)

    path = monitor.export_metrics_json("metrics.json")
    with open(path) as f:
        assert json.load(f)["operations"]["llm_inference"]["tokens"]["total"] == 750

    health = monitor.get_health_status()
    assert health["status"] in ("healthy", "warning"), health
    assert set(health) >= {"status", "memory_mb", "total_operations", "issues"}, health
    assert health["total_operations"] == 7

    tracker = ResponseTimeTracker(max_history=1000)
    tracker.record_duration(OperationType.LLM_INFERENCE, 1.5)
    tracker.record_duration(OperationType.LLM_INFERENCE, 0.5)
    t = tracker.get_stats(OperationType.LLM_INFERENCE)
    assert t["count"] == 2 and abs(t["max"] - 1.5) < 1e-9 and abs(t["avg"] - 1.0) < 1e-9, t

    mm = MemoryMonitor(max_history=1000)
    start = mm.get_current_usage()
    assert start["rss_mb"] > 0 and start["vms_mb"] >= start["rss_mb"], start
    assert isinstance(mm.get_memory_delta(start, mm.get_current_usage()), float)

    assert TokenCounter.count_tokens("Your text here") == 4
    assert TokenCounter.count_tokens_in_list(["Your text here", "more"]) == 5

    fresh = PerformanceMonitor(enable_memory_tracking=True, max_history=1000)
    with fresh.track_operation("embedding_generation", model="e5") as op:
        op.tokens = 10
    assert fresh.get_operation_count() == 1
    print("SEED-USAGE-OK", ragperf.__version__)
    """
)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def wheel() -> Path:
    path = find_dist(
        f"ragperf-*-{PY_TAG}-*.whl", "wheel", [PACKAGE_SRC, REPO / "cpp", REPO / "CMakeLists.txt"]
    )
    return path


@pytest.fixture(scope="module")
def wheel_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    where = tmp_path_factory.mktemp("wheel_venv")
    venv = make_venv(where)
    run([venv.python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], cwd=where, timeout=300)
    return venv


@pytest.fixture(scope="module")
def sdist() -> Path:
    return find_dist(
        "ragperf-*.tar.gz",
        "sdist",
        [PACKAGE_SRC, REPO / "cpp", REPO / "CMakeLists.txt", REPO / "README.md"],
    )


@pytest.fixture(scope="module")
def sdist_tree(sdist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("sdist_tree")
    with tarfile.open(sdist) as tar:
        tar.extractall(where, filter="data")
    (top,) = where.iterdir()
    return top


@pytest.fixture
def work(tmp_path: Path) -> Iterator[Path]:
    """A working directory outside the source tree."""
    assert not tmp_path.resolve().is_relative_to(REPO)
    yield tmp_path


# ------------------------------------------------------------------ wheel


def test_wheel_metadata_matches_pyproject(wheel: Path, pyproject: dict[str, Any]) -> None:
    project = pyproject["project"]
    with zipfile.ZipFile(wheel) as zf:
        dist_info = f"ragperf-{project['version']}.dist-info"
        names = set(zf.namelist())
        assert f"{dist_info}/METADATA" in names, sorted(n for n in names if ".dist-info/" in n)
        meta = email.parser.Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode())
        ep_name = f"{dist_info}/entry_points.txt"
        entry_points = zf.read(ep_name).decode() if ep_name in names else ""
    assert meta["Name"] == project["name"] == "ragperf"
    assert meta["Version"] == project["version"]
    assert wheel.name.startswith(f"ragperf-{project['version']}-")
    assert meta["Requires-Python"] == project["requires-python"]
    for script, target in project.get("scripts", {}).items():
        line = rf"^{re.escape(script)}\s*=\s*{re.escape(target)}$"
        assert re.search(line, entry_points, re.M), entry_points


def test_wheel_holds_the_package_and_vendored_libraries(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for rel, content in package_sources().items():
            assert rel in names, f"{rel} missing from {wheel.name}"
            assert zf.read(rel) == content, f"{rel} in {wheel.name} differs from the source tree"
    assert any(re.fullmatch(r"ragperf/_core\.cpython-\d+.*\.so", n) for n in names), "no _core extension"
    libs = {n.split("/", 1)[1] for n in names if n.startswith("ragperf.libs/") and n != "ragperf.libs/"}
    assert any(n.startswith("libabsl_") for n in libs), libs
    assert any(n.startswith("libproc2") for n in libs), libs
    assert not any(n.endswith(".a") or "/.venv/" in n or n.startswith("build/") for n in names)


def test_seed_usage_in_a_fresh_venv(wheel_venv: Venv, work: Path, pyproject: dict[str, Any]) -> None:
    script = work / "seed_usage.py"
    script.write_text(SEED_SCRIPT)
    proc = run([wheel_venv.python, "-I", script, wheel_venv.site_packages], cwd=work, timeout=120)
    assert proc.stdout.split() == ["SEED-USAGE-OK", pyproject["project"]["version"]], proc.stdout
    assert (work / "metrics.json").is_file()


def test_cli_in_a_fresh_venv(wheel_venv: Venv, work: Path, pyproject: dict[str, Any]) -> None:
    version = pyproject["project"]["version"]
    proc = run([wheel_venv.python, "-I", "-m", "ragperf", "--version"], cwd=work, timeout=60)
    assert proc.stdout.strip() == f"ragperf {version}"
    if "ragperf" in pyproject["project"].get("scripts", {}):
        script = wheel_venv.bin / "ragperf"
        assert script.is_file(), "[project.scripts] declares ragperf but the wheel installed no script"
        assert run([script, "--version"], cwd=work, timeout=60).stdout.strip() == f"ragperf {version}"
    # The wheel was installed without extras, so the demo explains what it needs.
    demo = run(
        [wheel_venv.python, "-I", "-m", "ragperf", "demo", "--quiet"], cwd=work, timeout=60, check=False
    )
    assert demo.returncode == 1, demo
    assert "ragperf[demo]" in demo.stderr


def _ldd(path: Path) -> dict[str, str]:
    """{soname: resolved path or 'not found'} from ldd."""
    out = run(["ldd", path], cwd=path.parent, timeout=60).stdout
    resolved: dict[str, str] = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(.+?)(?:\s+\(0x[0-9a-f]+\))?$", line)
        if m:
            resolved[m.group(1)] = m.group(2)
    return resolved


def test_core_resolves_abseil_and_libproc2_inside_the_wheel(wheel_venv: Venv, work: Path) -> None:
    if shutil.which("ldd") is None:
        pytest.skip("ldd not available")
    (core,) = (wheel_venv.site_packages / "ragperf").glob("_core*.so")
    libs_dir = (wheel_venv.site_packages / "ragperf.libs").resolve()

    resolved = _ldd(core)
    vendored = {name: where for name, where in resolved.items() if VENDORED.match(name)}
    assert any(n.startswith("libabsl_") for n in vendored), resolved
    assert any(n.startswith("libproc2") for n in vendored), resolved
    for name, where in vendored.items():
        assert where != "not found", f"{name} not found (ldd {core})"
        assert Path(where).resolve().parent == libs_dir, f"{name} resolves to {where}, not into {libs_dir}"
        assert not where.startswith(("/usr/", "/lib")), f"{name} resolves to the system copy {where}"
    assert "not found" not in resolved.values(), resolved

    # And at run time: the libraries the interpreter actually mapped.
    maps = run(
        [
            wheel_venv.python,
            "-I",
            "-c",
            "import ragperf; ragperf.get_performance_monitor().get_health_status(); "
            "print(open('/proc/self/maps').read())",
        ],
        cwd=work,
        timeout=60,
    ).stdout
    fields = [line.split() for line in maps.splitlines()]
    mapped = {Path(f[-1]) for f in fields if len(f) >= 6 and f[-1].startswith("/")}
    loaded = {p for p in mapped if VENDORED.match(p.name)}
    assert any(p.name.startswith("libabsl_") for p in loaded), sorted(map(str, mapped))
    assert any(p.name.startswith("libproc2") for p in loaded), sorted(map(str, mapped))
    for p in loaded:
        assert p.resolve().parent == libs_dir, f"loaded {p}, not the vendored copy"


SMOKE_SCRIPT = REPO / "scripts" / "smoke_wheel.py"


def test_smoke_script_passes_in_a_fresh_venv(wheel_venv: Venv, work: Path, pyproject: dict[str, Any]) -> None:
    """scripts/smoke_wheel.py, which `make wheel(s)` runs for every
    interpreter's wheel, passes on this interpreter's wheel."""
    script = work / "smoke_wheel.py"
    shutil.copy(SMOKE_SCRIPT, script)
    version = pyproject["project"]["version"]
    proc = run([wheel_venv.python, "-I", script, "--expect-version", version], cwd=work, timeout=300)
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("SMOKE-OK ")]
    summary = json.loads(line.removeprefix("SMOKE-OK "))
    assert summary["ragperf"] == version and summary["vendored"] > 0, summary
    allowed = runpy.run_path(str(SMOKE_SCRIPT), run_name="smoke_wheel")["MANYLINUX_SYSTEM_LIBS"]
    assert {entry.split(" => ")[0] for entry in summary["system"]} <= allowed, summary


def test_smoke_system_libraries_are_within_the_manylinux_policy(wheel: Path) -> None:
    """The smoke script's system-library allowlist is a subset of auditwheel's
    manylinux policy ``lib_whitelist`` for the wheel's tag (it is narrower:
    glibc and the GCC runtime only, no libz/libexpat/X11/GL)."""
    try:
        from importlib.resources import files

        policies = json.loads((files("auditwheel.policy") / "manylinux-policy.json").read_text())
    except ModuleNotFoundError:
        unavailable("auditwheel is not installed; `make wheel` installs it into .venv")
    tag = re.search(r"-(manylinux_\d+_\d+)_x86_64\.whl$", wheel.name)
    assert tag is not None, wheel.name
    (policy,) = [p for p in policies if p["name"] == tag.group(1)]
    allowed = runpy.run_path(str(SMOKE_SCRIPT), run_name="smoke_wheel")["MANYLINUX_SYSTEM_LIBS"]
    assert allowed <= set(policy["lib_whitelist"]), sorted(allowed - set(policy["lib_whitelist"]))


def test_smoke_script_fails_on_a_missing_vendored_library(wheel: Path, work: Path) -> None:
    venv = make_venv(work)
    run([venv.python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel], cwd=work, timeout=300)
    (libproc2,) = (venv.site_packages / "ragperf.libs").glob("libproc2*")
    libproc2.unlink()
    script = work / "smoke_wheel.py"
    shutil.copy(SMOKE_SCRIPT, script)
    proc = run([venv.python, "-I", script], cwd=work, timeout=300, check=False)
    assert proc.returncode == 1, proc
    assert "SMOKE-FAIL ldd " in proc.stderr and f"{libproc2.name} not found" in proc.stderr, proc.stderr


def test_smoke_script_refuses_abseil_from_the_system(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The project's own build (.venv, not repaired) links /usr/lib's abseil:
    with it in a wheel-like layout, the ldd check names the system copy."""
    from ragperf import _core

    site = work / "site"
    (site / "ragperf").mkdir(parents=True)
    (site / "ragperf.libs").mkdir()
    shutil.copy(_core.__file__, site / "ragperf" / Path(_core.__file__).name)
    check_ldd = runpy.run_path(str(SMOKE_SCRIPT), run_name="smoke_wheel")["check_ldd"]
    with pytest.raises(SystemExit):
        check_ldd(site)
    err = capsys.readouterr().err
    assert re.search(r"SMOKE-FAIL ldd .*: libabsl_\w+\.so\S* resolves to /(usr/)?lib\S*/libabsl_", err), err
    assert "neither in" in err and "nor a manylinux system library" in err, err


def test_auditwheel_show(wheel: Path, work: Path) -> None:
    auditwheel = tool("auditwheel")
    text = run([auditwheel, "show", wheel], cwd=work, timeout=120).stdout
    flat = " ".join(text.split())
    m = re.search(r'is consistent with the following platform tag: "([^"]+)"', flat)
    assert m and m.group(1).startswith("manylinux_"), text
    assert m.group(1) in wheel.name
    # The external-library list (text output stops before it when the symbol
    # versions constrain the tag, as glibc 2.34 does here) is read from --json.
    info = json.loads(run([auditwheel, "show", "--json", wheel], cwd=work, timeout=120).stdout)
    assert info["overall_tag"].startswith("manylinux_"), info["overall_tag"]
    external = [lib for lib in info["external_libs"] if VENDORED.match(lib)]
    assert external == [], f"abseil/libproc2 left as external system libraries: {external}"
    # Versioned-symbol references to abseil/libproc2 are to the grafted copies
    # (renamed with a hash, shipped in ragperf.libs/), not to system libraries.
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n.split("/", 1)[1] for n in zf.namelist() if n.startswith("ragperf.libs/")}
    for lib in info["versioned_symbols"]:
        if VENDORED.match(lib):
            assert lib in shipped, f"{lib} is referenced but not shipped in ragperf.libs/"


# ------------------------------------------------------------------ sdist


def test_sdist_contents(sdist: Path, pyproject: dict[str, Any]) -> None:
    version = pyproject["project"]["version"]
    top = f"ragperf-{version}"
    assert sdist.name == f"{top}.tar.gz"
    with tarfile.open(sdist) as tar:
        members = {m.name for m in tar.getmembers() if m.isfile()}
        pkg_file = tar.extractfile(f"{top}/PKG-INFO")
        assert pkg_file is not None
        pkg_info = email.parser.Parser().parsestr(pkg_file.read().decode())
    rel = {name.split("/", 1)[1] for name in members if name.startswith(f"{top}/")}
    assert len(rel) == len(members), "every member lives under the top directory"
    assert pkg_info["Version"] == version

    required = {
        "CMakeLists.txt",
        "pyproject.toml",
        "README.md",
        "LICENSE",
        "python/ragperf/_core.pyi",
        "python/ragperf/py.typed",
    }
    assert required <= rel, sorted(required - rel)
    for pattern in ("cpp/ragperf/*.h", "cpp/ragperf/*.cc", "cpp/bindings/*.cpp", "cpp/bindings/*.h"):
        tree = {p.relative_to(REPO).as_posix() for p in REPO.glob(pattern)}
        assert tree, pattern
        assert tree <= rel, f"{pattern}: missing {sorted(tree - rel)}"
    assert set(package_sources()) <= {r.removeprefix("python/") for r in rel if r.startswith("python/")}

    for name in rel:
        first = name.split("/", 1)[0]
        assert first not in {".venv", "build", "dist", ".git", "_skbuild"}, name
        assert "__pycache__" not in name and not name.endswith((".so", ".pyc", ".whl")), name


@pytest.mark.parametrize(
    "hide, package, reason",
    [
        ("-DCMAKE_DISABLE_FIND_PACKAGE_absl=ON", "libabsl-dev", "abseil not found"),
        ("-DPKG_CONFIG_EXECUTABLE=/nonexistent", "libproc2-dev", "libproc2 not found"),
    ],
    ids=["no-abseil", "no-pkg-config"],
)
def test_sdist_configure_names_the_missing_debian_package(
    sdist_tree: Path, work: Path, hide: str, package: str, reason: str
) -> None:
    """A machine without the -dev package is simulated by hiding it from CMake:
    CMAKE_DISABLE_FIND_PACKAGE_absl makes find_package(absl) fail as if
    libabsl-dev were absent; a nonexistent PKG_CONFIG_EXECUTABLE makes the
    libproc2 lookup (through pkg-config) fail as if libproc2-dev or pkg-config
    were absent. The configure must stop with the package to install."""
    cmake = tool("cmake")
    proc = run(
        [cmake, "-S", sdist_tree, "-B", work / "build", hide, "-DRAGPERF_BUILD_PYTHON=OFF"],
        cwd=work,
        timeout=120,
        check=False,
    )
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, output
    assert reason in output, output
    assert f"apt-get install {package}" in output, output


def test_sdist_configure_succeeds_when_nothing_is_hidden(sdist_tree: Path, work: Path) -> None:
    """Control for the test above: the same configure, nothing hidden, succeeds here."""
    cmake = tool("cmake")
    run([cmake, "-S", sdist_tree, "-B", work / "build", "-DRAGPERF_BUILD_PYTHON=OFF"], cwd=work, timeout=120)


def test_sdist_pip_install_in_a_fresh_venv(sdist: Path, work: Path, pyproject: dict[str, Any]) -> None:
    """Builds from source (build isolation fetches scikit-build-core and
    pybind11 from the configured index) against the system -dev packages."""
    venv = make_venv(work)
    env = clean_env(CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
    run([venv.python, "-m", "pip", "install", "-q", sdist], cwd=work, env=env, timeout=600)
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        import ragperf
        from ragperf import OperationType, get_performance_monitor
        assert Path(ragperf.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), ragperf.__file__
        monitor = get_performance_monitor()
        with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
            op.tokens = 150
        stats = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
        assert stats.total_operations == 1 and stats.total_tokens == 150, stats
        print("SDIST-OK", ragperf.__version__)
        """
    )
    (work / "check.py").write_text(script)
    proc = run([venv.python, "-I", work / "check.py", venv.site_packages], cwd=work, timeout=120)
    assert proc.stdout.split() == ["SDIST-OK", pyproject["project"]["version"]]
