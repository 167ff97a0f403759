"""One version number: pyproject.toml's ``[project] version`` is the package's
(``ragperf.__version__``), the extension's (``ragperf._core.__version__``,
compiled in by CMake from scikit-build-core's SKBUILD_PROJECT_VERSION), the
installed distribution's metadata and what ``ragperf --version`` prints; the
C++-only CMake configure reads the same line. The supported CPython versions
(classifiers) are the ones ``make wheels`` builds for."""

from __future__ import annotations

import re
import runpy
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest

import ragperf
from ragperf import _core

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    with open(REPO / "pyproject.toml", "rb") as f:
        data: dict[str, Any] = tomllib.load(f)["project"]
    return data


def test_package_extension_metadata_and_cli_agree_with_pyproject(project: dict[str, Any]) -> None:
    cli = subprocess.run(
        [sys.executable, "-m", "ragperf", "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    versions = {
        "pyproject.toml": project["version"],
        "ragperf.__version__": ragperf.__version__,
        "ragperf._core.__version__": _core.__version__,
        "importlib.metadata": dist_version("ragperf"),
        "ragperf --version": cli.stdout.strip().removeprefix("ragperf "),
    }
    assert len(set(versions.values())) == 1, versions
    assert cli.stdout == f"ragperf {project['version']}\n"


def test_package_version_is_the_extensions_object() -> None:
    """Not a second copy: ragperf.__version__ is read from the extension."""
    assert ragperf.__version__ is _core.__version__


def test_cmake_reads_the_pyproject_version_without_scikit_build(tmp_path: Path, project: dict[str, Any]) -> None:
    """The C++-only configure (tests, benchmarks) takes its project version
    from the same pyproject line (its numeric part: CMake's project VERSION)."""
    cmake = shutil.which("cmake", path=str(Path(sys.executable).parent)) or shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake not available")
    proc = subprocess.run(
        [cmake, "-S", str(REPO), "-B", str(tmp_path), "-DRAGPERF_BUILD_PYTHON=OFF", "-DRAGPERF_BUILD_TESTS=OFF"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    cache = (tmp_path / "CMakeCache.txt").read_text()
    m = re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(.*)$", cache, re.M)
    assert m is not None, "no CMAKE_PROJECT_VERSION in the cache"
    numeric = re.match(r"\d+(\.\d+)*", project["version"])  # CMake's VERSION takes no suffix like rc1
    assert numeric is not None and m.group(1) == numeric.group()


def test_supported_pythons_match_the_classifiers(project: dict[str, Any]) -> None:
    supported = runpy.run_path(str(REPO / "scripts" / "build_wheels.py"), run_name="build_wheels")["SUPPORTED"]
    classified = {
        tuple(int(x) for x in c.rsplit(" ", 1)[1].split("."))
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert classified == set(supported)
    low = min(supported)
    assert project["requires-python"] == f">={low[0]}.{low[1]}"


def test_readme_install_section_lists_one_wheel_per_supported_python(project: dict[str, Any]) -> None:
    supported = runpy.run_path(str(REPO / "scripts" / "build_wheels.py"), run_name="build_wheels")["SUPPORTED"]
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    wheels = re.findall(r"ragperf-([^-\s`]+)-cp3(\d+)-cp3\d+-manylinux_\w+\.whl", section)
    assert wheels, section
    assert {v for v, _ in wheels} == {project["version"]}, wheels
    assert {(3, int(minor)) for _, minor in wheels} == set(supported), wheels
