"""scripts/relayout.py: moves modules into subpackages, rewrites imports, leaves aliases.

A small package in a temporary git repository is laid out with a table of its
own: the dry run changes nothing, ``--apply`` moves the modules (``git mv``),
rewrites absolute, relative and string imports in code, doctests, Markdown and
a notebook, writes alias modules that ARE the moved modules, leaves new files
of a subpackage alone, reports a missing entry, and a second run changes
nothing. The real table is checked against the installed package: where a
module has moved, its old name imports the same module object.
"""

# relayout: keep the old module paths

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "relayout.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("relayout_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


relayout = load_script()

MOVES = {"alpha": "sub.alpha", "_priv": "sub._priv", "_pkgdir": "sub._pkgdir", "gone": "sub.gone"}

FILES = {
    "python/ragperf/__init__.py": "from .alpha import A\nfrom . import beta\n",
    "python/ragperf/alpha.py": (
        '"""Alpha, see :mod:`ragperf.beta` and :class:`~ragperf._priv.P`.\n\n'
        '>>> from ragperf.alpha import A\n>>> A\n1\n"""\n'
        "from ._priv import P\nfrom .beta import (  # a comment kept\n    B,\n)\n\nA = 1\n"
    ),
    "python/ragperf/_priv.py": "P = 2\n",
    "python/ragperf/beta.py": "def B() -> int:\n    from .alpha import A\n    return A\n",
    "python/ragperf/gamma.py": (
        "import ragperf.alpha\nfrom . import alpha, beta\nfrom .alpha import A as AA\n\n"
        "VALUE = ragperf.alpha.A + AA + alpha.A\n"
    ),
    "python/ragperf/_pkgdir/__init__.py": "",
    "python/ragperf/_pkgdir/mod.py": "from ..beta import B\nfrom .. import _priv\n",
    "python/ragperf/sub/__init__.py": '"""Written by another branch: left as it is."""\n',
    "python/ragperf/sub/extra.py": "from .._priv import P\n",
    "tests/test_x.py": (
        "import importlib\n\nimport ragperf.alpha as al\nfrom ragperf import alpha\n\n\n"
        "def test(monkeypatch):\n    monkeypatch.setattr(\"ragperf.alpha.A\", 5)\n"
        "    assert importlib.import_module(\"ragperf._priv\").P == 2\n"
        "    assert importlib.util.find_spec(\"ragperf._priv\") is not None\n"
        "    label = \"ragperf.alpha\"  # not a module path argument: left\n"
    ),
    "tests/test_keep.py": "# relayout: keep the old module paths\nimport ragperf.alpha\n",
    "docs/page.md": (
        "Prose about `ragperf.alpha`.\n\n```python\nimport ragperf.alpha\nprint(ragperf.alpha.A)\n```\n\n"
        "```pycon\n>>> from ragperf.alpha import A\n```\n"
    ),
}

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
         "source": ["from ragperf.alpha import A\n", "print(A)"]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


def make_repo(root: Path) -> None:
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "n.ipynb").write_text(json.dumps(NOTEBOOK, indent=1) + "\n", encoding="utf-8")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".py", ".pyi", ".md", ".ipynb")
        and ".git" not in p.relative_to(root).parts and "__pycache__" not in p.parts
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    make_repo(tmp_path)
    return tmp_path


def read(root: Path, rel: str) -> str:
    return (root / rel).read_text(encoding="utf-8")


def test_dry_run_changes_nothing_and_reports_the_plan(repo: Path) -> None:
    before = snapshot(repo)
    r = relayout.run(repo, apply=False, moves=MOVES)
    assert snapshot(repo) == before
    assert {e.old: e.status for e in r.entries} == {
        "ragperf.alpha": "move", "ragperf._priv": "move", "ragperf._pkgdir": "move", "ragperf.gone": "missing",
    }
    text = relayout.summary(r)
    assert "ragperf/alpha.py" in text and "ragperf/sub/alpha.py" in text and "to move" in text
    assert "missing" in text and "dry run: nothing changed" in text


def test_apply_moves_rewrites_and_aliases(repo: Path) -> None:
    r = relayout.run(repo, apply=True, moves=MOVES)
    assert r.errors == []
    # moved with git (renames), a package directory whole
    status = git(repo, "status", "--porcelain")
    assert "R  python/ragperf/_priv.py -> python/ragperf/sub/_priv.py" in status
    assert (repo / "python/ragperf/sub/_pkgdir/mod.py").is_file()
    assert not (repo / "python/ragperf/_pkgdir").exists() and not (repo / "python/ragperf/_priv.py").exists()
    # the subpackage's own files stay where they are (their imports follow the moves)
    assert read(repo, "python/ragperf/sub/__init__.py") == FILES["python/ragperf/sub/__init__.py"]
    assert read(repo, "python/ragperf/sub/extra.py") == "from ._priv import P\n"
    # relative imports: resolved from the old place, written from the new one
    alpha = read(repo, "python/ragperf/sub/alpha.py")
    assert "from ._priv import P\n" in alpha
    assert "from ..beta import (  # a comment kept\n    B,\n)\n" in alpha
    assert ">>> from ragperf.sub.alpha import A\n" in alpha  # its doctest
    assert "see :mod:`ragperf.beta` and :class:`~ragperf.sub._priv.P`." in alpha  # cross-references
    assert read(repo, "python/ragperf/sub/_pkgdir/mod.py") == "from ...beta import B\nfrom .. import _priv\n"
    init = read(repo, "python/ragperf/__init__.py")
    assert init.startswith("from .sub.alpha import A\nfrom . import beta\n")
    assert '_MOVED_MODULES = frozenset(\n    {\n        "alpha",\n    }\n)' in init  # public old names only
    assert "    from .sub.alpha import A\n" in read(repo, "python/ragperf/beta.py")
    gamma = read(repo, "python/ragperf/gamma.py")
    assert gamma.startswith(
        "import ragperf.sub.alpha\nfrom .sub import alpha\nfrom . import beta\nfrom .sub.alpha import A as AA\n"
    )
    assert "VALUE = ragperf.sub.alpha.A + AA + alpha.A\n" in gamma
    # tests: absolute imports and module paths given as strings
    test = read(repo, "tests/test_x.py")
    assert "import ragperf.sub.alpha as al\nfrom ragperf.sub import alpha\n" in test
    assert 'monkeypatch.setattr("ragperf.sub.alpha.A", 5)' in test
    assert 'importlib.import_module("ragperf.sub._priv")' in test
    assert 'importlib.util.find_spec("ragperf.sub._priv")' in test
    assert 'label = "ragperf.alpha"' in test
    assert read(repo, "tests/test_keep.py") == FILES["tests/test_keep.py"]
    # docs: a fenced block as code (chains too), prose left, doctest lines
    page = read(repo, "docs/page.md")
    assert "import ragperf.sub.alpha\nprint(ragperf.sub.alpha.A)\n" in page
    assert "Prose about `ragperf.alpha`." in page and ">>> from ragperf.sub.alpha import A" in page
    nb = json.loads(read(repo, "notebooks/n.ipynb"))
    assert nb["cells"][0]["source"] == ["from ragperf.sub.alpha import A\n", "print(A)"]
    # an alias at the public old path only
    assert relayout.ALIAS_MARK in read(repo, "python/ragperf/alpha.py")
    assert not (repo / "python/ragperf/_priv.py").exists()
    assert [e.alias for e in r.entries] == ["written", "", "", ""]


def test_the_moved_package_imports_and_the_alias_is_the_module(repo: Path) -> None:
    relayout.run(repo, apply=True, moves=MOVES)
    code = (
        "import importlib, ragperf\n"
        "assert ragperf.alpha is importlib.import_module('ragperf.sub.alpha')  # the old name as an attribute\n"
        "assert not hasattr(ragperf, '_priv') and not hasattr(ragperf, 'nope')\n"
        "import ragperf.alpha, ragperf.sub.alpha, ragperf.gamma\n"
        "from ragperf.alpha import A\n"
        "assert ragperf.alpha is ragperf.sub.alpha and A == 1\n"
        "ragperf.alpha.A = 7\n"
        "assert ragperf.sub.alpha.A == 7 and ragperf.beta.B() == 7\n"
        "import ragperf.sub._pkgdir.mod, ragperf.sub.extra\n"
        "print(ragperf.gamma.VALUE)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(repo / "python")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "3"


def test_a_second_run_changes_nothing(repo: Path) -> None:
    relayout.run(repo, apply=True, moves=MOVES)
    after_first = snapshot(repo)
    r = relayout.run(repo, apply=True, moves=MOVES)
    assert snapshot(repo) == after_first
    assert [e.status for e in r.entries] == ["done", "done", "done", "missing"]
    assert r.rewritten == {} and r.created == []
    assert "rewrote imports in 0 file(s)" in relayout.summary(r)


def test_code_merged_later_with_old_paths_is_rewritten(repo: Path) -> None:
    relayout.run(repo, apply=True, moves=MOVES)
    (repo / "python/ragperf/late.py").write_text("from .alpha import A\nfrom ._priv import P\n", encoding="utf-8")
    r = relayout.run(repo, apply=True, moves=MOVES)
    assert read(repo, "python/ragperf/late.py") == "from .sub.alpha import A\nfrom .sub._priv import P\n"
    assert r.rewritten == {Path("python/ragperf/late.py"): 2}


def test_a_module_at_both_paths_is_a_conflict(repo: Path) -> None:
    (repo / "python/ragperf/sub/alpha.py").write_text("A = 9\n", encoding="utf-8")
    before = snapshot(repo)
    r = relayout.run(repo, apply=True, moves={"alpha": "sub.alpha"})
    assert [e.status for e in r.entries] == ["conflict"]
    assert r.errors and "both" in r.errors[0]
    assert snapshot(repo) == before


def test_command_line_dry_run_on_this_checkout() -> None:
    before = snapshot(ROOT / "python")
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "old path" in proc.stdout and "dry run: nothing changed" in proc.stdout
    assert snapshot(ROOT / "python") == before


@pytest.mark.parametrize("old, new", [(o, n) for o, n in sorted(relayout.MOVES.items()) if not o.startswith("_")])
def test_old_public_path_is_the_moved_module(old: str, new: str) -> None:
    try:
        moved = importlib.import_module(f"ragperf.{new}")
    except ModuleNotFoundError as e:
        if e.name is not None and e.name.startswith("ragperf"):
            pytest.skip(f"ragperf.{old} is not moved in this tree")
        raise
    assert importlib.import_module(f"ragperf.{old}") is moved
    assert sys.modules[f"ragperf.{old}"] is moved
    # a fresh interpreter: the old name is an attribute of the package, the moved module
    code = f"import importlib, ragperf; assert ragperf.{old} is importlib.import_module('ragperf.{new}')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
