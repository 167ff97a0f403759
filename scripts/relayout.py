#!/usr/bin/env python3
"""Moves ragperf's modules into the subpackages of issue #24 and rewrites every import.

The move table, :data:`MOVES`, is the one place that says where a module goes.
For each entry whose module exists at its old path the script

* moves it (``git mv``; a package directory moves whole) and creates the
  subpackage's ``__init__.py`` when there is none yet;
* rewrites (scripts/relayout_imports.py) every import of a moved module in ``python/``, ``tests/``,
  ``benchmarks/``, ``scripts/`` and ``notebooks/`` (code cells), the import
  lines of the docs (``README.md``, ``docs/*.md``) and of doctests. Import
  statements are found with :mod:`ast` and edited by position; a relative
  import is resolved from where its file was and written relative to where it
  is now. ``import ragperf.x`` also rewrites the file's ``ragperf.x`` attribute
  chains, and a module path given as a string to ``monkeypatch.setattr``,
  ``mock.patch``, ``importlib.import_module``, ``importlib.util.find_spec``,
  ``pytest.importorskip`` or ``runpy.run_module`` is rewritten too, and so are cross-references in
  docstrings (``:mod:`ragperf.x```, ``:class:`~ragperf.x.Name```);
* leaves at the old path of every public module (no leading ``_``) an alias
  module, so ``import ragperf.alerts`` and ``from ragperf.alerts import X``
  keep working and ``ragperf.alerts is ragperf.watch.alerts`` (the alias puts
  the real module in ``sys.modules``; its ``from ... import *`` is for type
  checkers and pdoc), and gives the package a ``__getattr__`` that imports
  those old names on first access (``import ragperf`` then ``ragperf.alerts``);

It is idempotent: a module already at its new path is "done", its alias is
rewritten only if it differs, and imports of old paths that appeared since
(code merged later) are rewritten on the next run. An entry whose module is at
neither path is reported as missing, not an error; files of the subpackages
that are not in the table are left alone.

Usage::

    python scripts/relayout.py            # dry run: print the plan, change nothing
    python scripts/relayout.py --apply    # move, rewrite, write the aliases

Exit status: 0; 1 when an entry is in conflict (a real module at both paths)
or a file to rewrite does not parse.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relayout_imports import (  # noqa: E402  (how imports are rewritten)
    PACKAGE,
    Rewriter,
    _relative,
    rewrite_markdown,
    rewrite_notebook,
    rewrite_roles,
    rewrite_text_lines,
)

# relayout: keep the old module paths

#: Old module -> new module, both relative to the ``ragperf`` package (dots,
#: no ``.py``). A name that is a directory moves as a package. Edit this table,
#: nothing else, to change the layout.
MOVES: dict[str, str] = {
    # The report model and its readers: the report as text, comparing two reports.
    "report": "model.report",
    "compare": "model.compare",
    # Components that watch the monitor's statistics.
    # The rule and detection engines beside the components of ragperf.watch
    # (watch/alerts.py, regressions.py, overhead.py, queues.py hold
    # monitor.alerts, .regressions, .overhead, .queues).
    "alerts": "watch.alert_rules",
    "alert_evaluator": "watch.alert_evaluator",
    "regressions": "watch.regression_check",
    "overhead": "watch.calibration",
    "queues": "watch.queue_monitors",
    "traces": "watch.traces",
    # Exporters and the one periodic, fork-aware runner.
    "exporting": "export.exporting",
    "_runner": "export._runner",
    "prometheus": "export.prometheus",
    "otel": "export.otel",
    "_otel_genai": "export._otel_genai",
    "multiproc": "export.multiproc",
    "_multiproc_writer": "export._multiproc_writer",
    "logs": "export.logs",
    "persistence": "export.persistence",
    # The panel: data and charts, the Streamlit page, the dashboard server.
    "dashboard": "panel.dashboard",
    "streamlit": "panel.streamlit",
    "_panel_data": "panel._panel_data",
    "_panel_charts": "panel._panel_charts",
    "_dashboard": "panel._dashboard",
    # Measuring helpers: what an operation's figures are measured with.
    "timing": "measure.timing",
    "memory": "measure.memory",
    "resources": "measure.resources",
    "tokens": "measure.tokens",
    "usage": "measure.usage",
    "pricing": "measure.pricing",
    "streaming": "measure.streaming",
}

#: The docstring of a subpackage's ``__init__.py`` when the script creates it.
SUBPACKAGE_DOCS: dict[str, str] = {
    "model": "The statistics and report model and its readers: the report as text\n"
    "(:mod:`ragperf.model.report`) and the comparison of two reports\n"
    "(:mod:`ragperf.model.compare`).",
    "watch": "Components that watch the monitor's statistics: alerts and their\n"
    "evaluator, regressions against a baseline, the monitor's own overhead,\n"
    "queues and traces (used when the script creates this package).",
    "export": "Exporters and the one periodic, fork-aware runner (``_runner``): JSON and\n"
    "CSV files, periodic and multi-process export, Prometheus, OpenTelemetry,\n"
    "logs and persisted state.",
    "panel": "The dashboard: panel data and charts, the Streamlit panel and the\n"
    "``ragperf dashboard`` server.",
    "measure": "Measuring helpers: timing, process memory and resources, token counting,\n"
    "usage from model responses, pricing and streamed responses.",
}
SOURCE_ROOT = Path("python")  # where the package directory lives, from the repo root
CODE_DIRS = ("python", "tests", "benchmarks", "scripts")
NOTEBOOK_DIRS = ("notebooks",)
DOC_FILES = ("README.md", "docs")
ALIAS_MARK = "# Written by scripts/relayout.py: an alias of a moved module."
#: A file with this line is not rewritten (it names the old paths on purpose).
KEEP_MARK = "# relayout: keep the old module paths"


# ----------------------------------------------------------------- the plan


@dataclass
class Entry:
    """One row of the table, with what was found on disk."""

    old: str  # full dotted names
    new: str
    status: str = ""  # move, done, missing, conflict
    old_path: Path | None = None  # where the module is now (file or package dir), relative to root
    new_path: Path | None = None
    alias: str = ""  # written, unchanged, "" (private: none)


def module_path(root: Path, dotted: str) -> tuple[Path | None, Path, Path]:
    """(existing file or package dir or None, the .py path, the package dir) of ``dotted``."""
    rel = SOURCE_ROOT.joinpath(*dotted.split("."))
    as_file, as_dir = rel.with_suffix(".py"), rel
    if (root / as_dir / "__init__.py").is_file():
        return as_dir, as_file, as_dir
    if (root / as_file).is_file():
        return as_file, as_file, as_dir
    return None, as_file, as_dir


def is_alias(root: Path, path: Path) -> bool:
    return path.suffix == ".py" and (root / path).is_file() and ALIAS_MARK in (root / path).read_text(encoding="utf-8")


def plan(root: Path, moves: dict[str, str] = MOVES) -> list[Entry]:
    entries = []
    for old_short, new_short in moves.items():
        e = Entry(f"{PACKAGE}.{old_short}", f"{PACKAGE}.{new_short}")
        old_found, _, _ = module_path(root, e.old)
        new_found, new_file, new_dir = module_path(root, e.new)
        old_real = old_found is not None and not is_alias(root, old_found)
        if old_real and new_found is None:
            e.status, e.old_path = "move", old_found
            assert old_found is not None
            e.new_path = new_dir if old_found.suffix != ".py" else new_file
        elif new_found is not None and not old_real:
            e.status, e.new_path = "done", new_found
        elif old_real and new_found is not None:
            e.status, e.old_path, e.new_path = "conflict", old_found, new_found
        else:
            e.status = "missing"
        entries.append(e)
    return entries


# ------------------------------------------------------------------- the files


def package_of(root: Path, path: Path) -> list[str] | None:
    """The package a module file sits in (for relative imports), or None outside the package."""
    rel = path.relative_to(SOURCE_ROOT) if path.is_relative_to(SOURCE_ROOT) else None
    if rel is None or rel.parts[0] != PACKAGE:
        return None
    return list(rel.parts[:-1])


def code_files(root: Path) -> Iterator[Path]:
    for d in CODE_DIRS:
        base = root / d
        if base.is_dir():
            for p in sorted(base.rglob("*")):
                if p.suffix in (".py", ".pyi") and p.is_file() and "/." not in str(p.relative_to(root)):
                    yield p.relative_to(root)


def doc_files(root: Path) -> Iterator[Path]:
    for d in DOC_FILES:
        p = root / d
        if p.is_file():
            yield Path(d)
        elif p.is_dir():
            yield from (q.relative_to(root) for q in sorted(p.rglob("*.md")))


def notebook_files(root: Path) -> Iterator[Path]:
    for d in NOTEBOOK_DIRS:
        if (root / d).is_dir():
            yield from (q.relative_to(root) for q in sorted((root / d).rglob("*.ipynb")) if ".ipynb_checkpoints" not in q.parts)


def alias_source(old: str, new: str) -> str:
    parent, _, name = new.rpartition(".")
    old_parent = old.rpartition(".")[0].split(".")
    level, rel_parent = _relative(parent, old_parent)
    dots = "." * level
    return f'''"""``{old}`` moved to :mod:`{new}`; this alias keeps the old path working.

``import {old}`` gives the real module
(``{old} is {new}``), so an attribute set on it
(monkeypatching) reaches the code that uses it.
"""

{ALIAS_MARK}

import sys

from {dots}{rel_parent} import {name} as _module
from {dots}{rel_parent}.{name} import *  # noqa: F403  (its names, for type checkers and pdoc)

sys.modules[__name__] = _module
'''


MOVED_BEGIN = "# --- the old names of moved modules (written by scripts/relayout.py) ---"
MOVED_END = "# --- end of the old names of moved modules ---"


def with_moved_attributes(text: str, names: list[str]) -> str | None:
    """The package ``__init__`` with a module ``__getattr__`` that imports
    ``names`` (old module names) on first access; None when the file has a
    ``__getattr__`` of its own."""
    if MOVED_BEGIN in text and MOVED_END in text:
        head, _, rest = text.partition(MOVED_BEGIN)
        tail = rest.partition(MOVED_END)[2]
        text = head.rstrip("\n") + "\n" + tail.lstrip("\n") if tail.strip() else head.rstrip("\n") + "\n"
    elif "def __getattr__" in text:
        return None
    if not names:
        return text
    listed = "".join(f'        "{n}",\n' for n in names)
    block = f'''{MOVED_BEGIN}
# ``import {PACKAGE}`` then ``{PACKAGE}.{names[0]}``: a moved module's old name as an
# attribute of the package, as before the move (it imports the alias module).
# Hidden from type checkers, for which unknown attributes stay errors.
from typing import TYPE_CHECKING as _TYPE_CHECKING  # noqa: E402

_MOVED_MODULES = frozenset(
    {{
{listed}    }}
)

if not _TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        if name in _MOVED_MODULES:
            import importlib

            return importlib.import_module(f"{{__name__}}.{{name}}")
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")
{MOVED_END}
'''
    return text.rstrip("\n") + "\n\n\n" + block


def subpackage_init(name: str) -> str:
    doc = SUBPACKAGE_DOCS.get(name, f"The ``{PACKAGE}.{name}`` subpackage.")
    return f'"""{doc}\n"""\n'


# ------------------------------------------------------------------ the run


@dataclass
class Run:
    root: Path
    apply: bool
    entries: list[Entry]
    rewritten: dict[Path, int] = field(default_factory=dict)
    created: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def mapping(self) -> dict[str, str]:
        """Old -> new for every entry whose module is (or will be) at its new path."""
        return {e.old: e.new for e in self.entries if e.status in ("move", "done")}


def _git(root: Path, *args: str) -> bool:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def _move(root: Path, src: Path, dst: Path) -> None:
    (root / dst).parent.mkdir(parents=True, exist_ok=True)
    tracked = _git(root, "ls-files", "--error-unmatch", str(src))
    if not (tracked and _git(root, "mv", str(src), str(dst))):
        (root / src).rename(root / dst)


def run(root: Path, apply: bool, moves: dict[str, str] = MOVES) -> Run:
    r = Run(root, apply, plan(root, moves))
    mapping = r.mapping
    moved_from: dict[Path, Path] = {}  # new file path -> its old path (this run)
    for e in r.entries:
        if e.status != "move":
            continue
        assert e.old_path is not None and e.new_path is not None
        if e.old_path.suffix == ".py":
            moved_from[e.new_path] = e.old_path
        else:
            for f in sorted((root / e.old_path).rglob("*.py")):
                rel = f.relative_to(root / e.old_path)
                moved_from[e.new_path / rel] = e.old_path / rel

    # 1. new contents of every code file, computed at the old location
    new_text: dict[Path, str] = {}
    old_to_new = {old: new for new, old in moved_from.items()}
    for path in code_files(root):
        if is_alias(root, path):
            continue
        new_path = old_to_new.get(path, path)
        text = (root / path).read_text(encoding="utf-8")
        if KEEP_MARK in text.splitlines():
            continue
        rw = Rewriter(mapping, package_of(root, path), package_of(root, new_path))
        try:
            out, n = rw.rewrite(text)
        except SyntaxError as exc:
            r.errors.append(f"{path}: does not parse ({exc.msg}, line {exc.lineno}); left as it is")
            continue
        out, m = rewrite_text_lines(out, mapping, prompts_only=True)
        out, k = rewrite_roles(out, mapping)
        if n + m + k:
            new_text[new_path] = out
            r.rewritten[new_path] = n + m + k
    for path in doc_files(root):
        text = (root / path).read_text(encoding="utf-8")
        out, n = rewrite_markdown(text, mapping)
        if n:
            new_text[path], r.rewritten[path] = out, n
    for path in notebook_files(root):
        text = (root / path).read_text(encoding="utf-8")
        out, n = rewrite_notebook(text, mapping)
        if n:
            new_text[path], r.rewritten[path] = out, n

    # 2. subpackages, aliases
    inits: dict[Path, str] = {}
    aliases: dict[Path, str] = {}
    for e in r.entries:
        if e.status not in ("move", "done"):
            continue
        sub = e.new.split(".")[1:-1]
        for i in range(1, len(sub) + 1):
            init = SOURCE_ROOT / PACKAGE / Path(*sub[:i]) / "__init__.py"
            if not (root / init).exists() and init not in inits:
                inits[init] = subpackage_init(".".join(sub[:i]))
        short = e.old.split(".")[-1]
        if short.startswith("_"):
            continue
        _, old_file, old_dir = module_path(root, e.old)
        if e.status == "done" and (root / old_dir / "__init__.py").is_file():
            continue  # a package: left as found
        src = alias_source(e.old, e.new)
        current = (root / old_file).read_text(encoding="utf-8") if (root / old_file).is_file() else None
        e.alias = "unchanged" if current == src else "written"
        if current != src:
            aliases[old_file] = src

    # The package's __init__.py: the old names as attributes of the package
    # (``import ragperf`` then ``ragperf.alerts``, as before the move).
    init_path = SOURCE_ROOT / PACKAGE / "__init__.py"
    if (root / init_path).is_file():
        public = sorted(e.old.split(".")[-1] for e in r.entries if e.status in ("move", "done") and e.alias)
        init_text = new_text.get(init_path, (root / init_path).read_text(encoding="utf-8"))
        new_init = with_moved_attributes(init_text, public)
        if new_init is None:
            r.errors.append(f"{init_path} defines __getattr__ itself: the moved modules' old names are not added")
        elif new_init != init_text:
            new_text[init_path] = new_init
            r.rewritten[init_path] = r.rewritten.get(init_path, 0) + 1

    if apply:
        for e in r.entries:
            if e.status == "move":
                assert e.old_path is not None and e.new_path is not None
                _move(root, e.old_path, e.new_path)
        for init, text in inits.items():
            (root / init).parent.mkdir(parents=True, exist_ok=True)
            (root / init).write_text(text, encoding="utf-8")
            _git(root, "add", str(init))
        for path, text in new_text.items():
            (root / path).write_text(text, encoding="utf-8")
        for path, text in aliases.items():
            (root / path).write_text(text, encoding="utf-8")
            _git(root, "add", str(path))
    r.created = sorted(inits) + sorted(aliases)
    for e in r.entries:
        if e.status == "conflict":
            r.errors.append(f"{e.old}: a module at both {e.old_path} and {e.new_path}; not moved")
    return r


def summary(r: Run) -> str:
    rows = [("old path", "new path", "status", "alias")]
    for e in r.entries:
        old = e.old.replace(".", "/") + ("/" if e.old_path is not None and e.old_path.suffix != ".py" else ".py")
        new = e.new.replace(".", "/") + ("/" if e.new_path is not None and e.new_path.suffix != ".py" else ".py")
        status = {"move": "moved" if r.apply else "to move"}.get(e.status, e.status)
        if e.status == "missing":
            status = "missing (in the table, at neither path)"
        rows.append((old, new, status, e.alias or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    out = []
    for k, row in enumerate(rows):
        out.append(f"{row[0]:<{widths[0]}}  ->  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
        if k == 0:
            out.append("-" * len(out[0]))
    verb = "rewrote" if r.apply else "would rewrite"
    out.append("")
    out.append(f"{verb} imports in {len(r.rewritten)} file(s), {sum(r.rewritten.values())} edit(s)")
    for path, n in sorted(r.rewritten.items()):
        out.append(f"  {path}: {n}")
    if r.created:
        out.append(("wrote" if r.apply else "would write") + f" {len(r.created)} new file(s): subpackage __init__.py / aliases")
        out += [f"  {p}" for p in r.created]
    for err in r.errors:
        out.append(f"error: {err}")
    if not r.apply:
        out.append("\ndry run: nothing changed (--apply to act)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--apply", action="store_true", help="act (default: a dry run that prints the plan)")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the repository (default: the one this script is in)")
    args = parser.parse_args(argv)
    r = run(args.root.resolve(), args.apply)
    print(summary(r))
    return 1 if r.errors else 0


if __name__ == "__main__":
    sys.exit(main())
