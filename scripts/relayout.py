#!/usr/bin/env python3
"""Moves ragperf's modules into the subpackages of issue #24 and rewrites every import.

The move table, :data:`MOVES`, is the one place that says where a module goes.
For each entry whose module exists at its old path the script

* moves it (``git mv``; a package directory moves whole) and creates the
  subpackage's ``__init__.py`` when there is none yet;
* rewrites every import of a moved module in ``python/``, ``tests/``,
  ``benchmarks/``, ``scripts/`` and ``notebooks/`` (code cells), the import
  lines of the docs (``README.md``, ``docs/*.md``) and of doctests. Import
  statements are found with :mod:`ast` and edited by position; a relative
  import is resolved from where its file was and written relative to where it
  is now. ``import ragperf.x`` also rewrites the file's ``ragperf.x`` attribute
  chains, and a module path given as a string to ``monkeypatch.setattr``,
  ``mock.patch``, ``importlib.import_module``, ``pytest.importorskip`` or
  ``runpy.run_module`` is rewritten too;
* leaves at the old path of every public module (no leading ``_``) an alias
  module, so ``import ragperf.alerts`` and ``from ragperf.alerts import X``
  keep working and ``ragperf.alerts is ragperf.watch.alerts`` (the alias puts
  the real module in ``sys.modules``; its ``from ... import *`` is for type
  checkers and pdoc).

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
import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# relayout: keep the old module paths

#: Old module -> new module, both relative to the ``ragperf`` package (dots,
#: no ``.py``). A name that is a directory moves as a package. Edit this table,
#: nothing else, to change the layout.
MOVES: dict[str, str] = {
    # The report model and its readers: the report as text, comparing two reports.
    "report": "model.report",
    "compare": "model.compare",
    # Components that watch the monitor's statistics.
    "alerts": "watch.alerts",
    "alert_evaluator": "watch.alert_evaluator",
    "regressions": "watch.regressions",
    "overhead": "watch.overhead",
    "queues": "watch.queues",
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
    "queues and traces.",
    "export": "Exporters and the one periodic, fork-aware runner (``_runner``): JSON and\n"
    "CSV files, periodic and multi-process export, Prometheus, OpenTelemetry,\n"
    "logs and persisted state.",
    "panel": "The dashboard: panel data and charts, the Streamlit panel and the\n"
    "``ragperf dashboard`` server.",
    "measure": "Measuring helpers: timing, process memory and resources, token counting,\n"
    "usage from model responses, pricing and streamed responses.",
}

PACKAGE = "ragperf"
SOURCE_ROOT = Path("python")  # where the package directory lives, from the repo root
CODE_DIRS = ("python", "tests", "benchmarks", "scripts")
NOTEBOOK_DIRS = ("notebooks",)
DOC_FILES = ("README.md", "docs")
ALIAS_MARK = "# Written by scripts/relayout.py: an alias of a moved module."
#: A file with this line is not rewritten (it names the old paths on purpose).
KEEP_MARK = "# relayout: keep the old module paths"
STRING_PATH_CALLS = frozenset({"setattr", "delattr", "patch", "import_module", "importorskip", "run_module"})
LINE_LIMIT = 100


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


def map_module(name: str, mapping: dict[str, str]) -> str:
    """``name`` with its longest moved prefix replaced (``ragperf._dashboard.app`` too)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        head = ".".join(parts[:i])
        if head in mapping:
            return ".".join([mapping[head], *parts[i:]])
    return name


# ------------------------------------------------------------- rewriting code


@dataclass
class Edit:
    start: int  # offsets into the text
    end: int
    text: str


@dataclass
class FileResult:
    path: Path
    text: str
    edits: int = 0
    errors: list[str] = field(default_factory=list)


def _offsets(text: str) -> list[int]:
    starts, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line.encode("utf-8").decode("utf-8"))
        starts.append(pos)
    return starts


class _Source:
    """Maps ast (line, utf-8 byte column) positions to offsets into the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.starts = _offsets(text)

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", errors="replace"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (
            self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
            self.offset(node.end_lineno, node.end_col_offset),  # type: ignore[attr-defined]
        )


def _resolve(level: int, module: str | None, package: list[str]) -> str:
    base = package[: len(package) - level + 1] if level else []
    return ".".join([*base, *([module] if module else [])])


def _relative(target: str, package: list[str]) -> tuple[int, str]:
    """``target`` written relative to ``package``: (level, module after the dots)."""
    parts = target.split(".")
    common = 0
    while common < min(len(parts), len(package)) and parts[common] == package[common]:
        common += 1
    return len(package) - common + 1, ".".join(parts[common:])


def _from_text(level: int, module: str, names: list[str], indent: str, one_line_hint: bool) -> str:
    head = "from " + "." * level + module + " import "
    line = head + ", ".join(names)
    if one_line_hint and len(indent) + len(line) <= LINE_LIMIT:
        return line
    return head + "(\n" + "".join(f"{indent}    {n},\n" for n in names) + f"{indent})"


def _alias_text(a: ast.alias, bound: str | None = None) -> str:
    name = a.name
    asname = a.asname or bound
    return f"{name} as {asname}" if asname and asname != name else name


class Rewriter:
    """Rewrites the imports of one Python source (a module, a notebook cell)."""

    def __init__(self, mapping: dict[str, str], old_package: list[str] | None, new_package: list[str] | None) -> None:
        self.mapping = mapping
        self.old_package = old_package  # None: not inside the package (tests, scripts...)
        self.new_package = new_package

    def _write_module(self, target: str, relative: bool) -> tuple[int, str]:
        if relative and self.new_package is not None and target.split(".")[0] == PACKAGE:
            return _relative(target, self.new_package)
        return 0, target

    def import_from(self, node: ast.ImportFrom, seg: str, indent: str) -> str | None:
        """The new text of ``node`` (its source ``seg``), or None when unchanged."""
        if node.module == "__future__":
            return None
        if node.level and self.old_package is None:
            return None  # a relative import outside the package: not ours
        base = _resolve(node.level, node.module, self.old_package or [])
        if base.split(".")[0] != PACKAGE:
            return None
        # Group the names by the module they now come from (a moved submodule
        # imported by name moves to its new parent).
        groups: dict[str, list[str]] = {}
        for a in node.names:
            full = f"{base}.{a.name}"
            if a.name != "*" and map_module(full, self.mapping) != full:
                new_parent, _, new_name = map_module(full, self.mapping).rpartition(".")
                groups.setdefault(new_parent, []).append(
                    f"{new_name} as {a.asname or a.name}" if (a.asname or a.name) != new_name else new_name
                )
            else:
                groups.setdefault(map_module(base, self.mapping), []).append(_alias_text(a))
        relative = node.level > 0
        original_names = [_alias_text(a) for a in node.names]
        if len(groups) == 1:
            (target,) = groups
            if target == base and self.old_package == self.new_package:
                return None  # nothing it names moved, and neither did the file
            level, module = self._write_module(target, relative)
            if groups[target] == original_names:
                if (level, module) == (node.level, node.module or ""):
                    return None
                # Same names: change only the module between "from" and "import",
                # keeping the rest (parentheses, comments) as written.
                m = re.match(r"from\s+([.\w\s]*?)\s*\bimport\b", seg)
                if m:
                    return seg[: m.start(1)] + "." * level + module + seg[m.end(1) :]
            return _from_text(level, module, groups[target], indent, "\n" not in seg)
        lines = []
        for target, names in groups.items():
            level, module = self._write_module(target, relative)
            lines.append(_from_text(level, module, names, indent, True))
        return ("\n" + indent).join(lines)

    def import_(self, node: ast.Import) -> tuple[str | None, dict[str, str]]:
        """New text of an ``import a.b`` statement, and the dotted chains to rewrite."""
        chains: dict[str, str] = {}
        parts = []
        changed = False
        for a in node.names:
            new = map_module(a.name, self.mapping)
            if new != a.name:
                changed = True
                if a.asname is None:
                    # `import ragperf.x` binds `ragperf`; code says ragperf.x.<name>
                    old_top = ".".join(a.name.split(".")[:2])
                    chains[old_top] = map_module(old_top, self.mapping)
            parts.append(f"{new} as {a.asname}" if a.asname else new)
        return ("import " + ", ".join(parts) if changed else None), chains

    def rewrite(self, text: str) -> tuple[str, int]:
        """``text`` with its imports rewritten, and the number of edits."""
        tree = ast.parse(text)
        src = _Source(text)
        edits: list[Edit] = []
        chains: dict[str, str] = {}
        binds_package = False
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                start, end = src.span(node)
                indent = " " * node.col_offset
                new = self.import_from(node, text[start:end], indent)
                if new is not None and new != text[start:end]:
                    edits.append(Edit(start, end, new))
            elif isinstance(node, ast.Import):
                if any(a.name.split(".")[0] == PACKAGE and a.asname is None for a in node.names):
                    binds_package = True
                new, found = self.import_(node)
                chains.update(found)
                if new is not None:
                    start, end = src.span(node)
                    edits.append(Edit(start, end, new))
            elif isinstance(node, ast.Call):
                edits += self._string_path(node, src)
        if binds_package:
            old_tops = {f"{PACKAGE}.{o.split('.')[1]}" for o in self.mapping}
            for old in old_tops:
                chains.setdefault(old, map_module(old, self.mapping))
            edits += self._chains(tree, src, chains)
        return apply_edits(text, edits), len(edits)

    def _string_path(self, node: ast.Call, src: _Source) -> list[Edit]:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in STRING_PATH_CALLS or not node.args:
            return []
        arg = node.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return []
        value = arg.value
        if not re.fullmatch(r"[A-Za-z_][\w.]*", value) or not value.startswith(PACKAGE + "."):
            return []
        parts = value.split(".")
        # the longest prefix that is a module path (the rest: attributes)
        new = map_module(value, self.mapping)
        if new == value:
            return []
        start, end = src.span(arg)
        seg = src.text[start:end]
        moved_prefix = next(
            ".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in self.mapping
        )
        if moved_prefix not in seg:
            return []
        return [Edit(start, end, seg.replace(moved_prefix, self.mapping[moved_prefix], 1))]

    def _chains(self, tree: ast.AST, src: _Source, chains: dict[str, str]) -> list[Edit]:
        edits = []
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == PACKAGE
                and f"{PACKAGE}.{node.attr}" in chains
            ):
                start, end = src.span(node)
                if src.text[start:end] == f"{PACKAGE}.{node.attr}":
                    edits.append(Edit(start, end, chains[f"{PACKAGE}.{node.attr}"]))
        return edits


def apply_edits(text: str, edits: list[Edit]) -> str:
    edits = sorted(edits, key=lambda e: e.start)
    out, pos = [], 0
    for e in edits:
        if e.start < pos:
            continue  # nested in an edit already made (an Attribute inside a rewritten call)
        out.append(text[pos : e.start])
        out.append(e.text)
        pos = e.end
    out.append(text[pos:])
    return "".join(out)


# --------------------------------------------------------- import lines in text

_PROMPT = re.compile(r"^(\s*(?:>>> |\.\.\. )?)((?:from|import)\s+" + PACKAGE + r"\b.*)$")


_FENCE = re.compile(r"^```(?:python|py)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def rewrite_markdown(text: str, mapping: dict[str, str]) -> tuple[str, int]:
    """A Markdown page: each fenced Python block that parses is rewritten as
    code (its ``ragperf.x`` chains too); import lines elsewhere line by line."""
    count = 0

    def block(m: re.Match[str]) -> str:
        nonlocal count
        try:
            new, n = Rewriter(mapping, None, None).rewrite(m.group(1))
        except SyntaxError:
            return m.group(0)
        count += n
        return m.group(0)[: m.start(1) - m.start(0)] + new + m.group(0)[m.end(1) - m.start(0) :]

    text = _FENCE.sub(block, text)
    text, n = rewrite_text_lines(text, mapping, prompts_only=False)
    return text, count + n


def rewrite_text_lines(text: str, mapping: dict[str, str], prompts_only: bool) -> tuple[str, int]:
    """Rewrite import lines in prose, code blocks and doctests (``>>> from ragperf.x import``).

    ``prompts_only``: only lines after a doctest prompt (Python sources, whose
    real imports the ast pass handles)."""
    lines = text.split("\n")
    count = 0
    rewriter = Rewriter(mapping, None, None)
    i = 0
    while i < len(lines):
        m = _PROMPT.match(lines[i])
        if not m or (prompts_only and not m.group(1).strip()):
            i += 1
            continue
        prompt, stmt = m.group(1), m.group(2)
        # a parenthesised import may go on over the following lines
        j, body = i, stmt
        while body.count("(") > body.count(")") and j + 1 < len(lines) and j - i < 40:
            j += 1
            body += "\n" + re.sub(r"^\s*(?:\.\.\. )?", "", lines[j]) if prompt.strip() else "\n" + lines[j]
        code = body.split("  #")[0] if "\n" not in body else body
        try:
            new, n = rewriter.rewrite(code)
        except SyntaxError:
            i = j + 1
            continue
        if n:
            new_lines = new.split("\n")
            cont = prompt.replace(">>> ", "... ") if prompt.strip() else prompt
            rebuilt = [prompt + new_lines[0] + body[len(code):] if "\n" not in body else prompt + new_lines[0]]
            rebuilt += [cont + line if prompt.strip() else line for line in new_lines[1:]]
            lines[i : j + 1] = rebuilt
            count += n
            i += len(rebuilt)
        else:
            i = j + 1
    return "\n".join(lines), count


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


def rewrite_notebook(text: str, mapping: dict[str, str]) -> tuple[str, int]:
    nb = json.loads(text)
    total = 0
    for cell in nb.get("cells", []):
        source = cell.get("source", [])
        joined = "".join(source) if isinstance(source, list) else source
        if cell.get("cell_type") == "code":
            try:
                new, n = Rewriter(mapping, None, None).rewrite(joined)
            except SyntaxError:  # IPython magics: fall back to the import lines
                new, n = rewrite_text_lines(joined, mapping, prompts_only=False)
        else:
            new, n = rewrite_text_lines(joined, mapping, prompts_only=False)
        if n:
            cell["source"] = new.splitlines(keepends=True) if isinstance(source, list) else new
            total += n
    if not total:
        return text, 0
    indent = 1 if text.startswith("{\n \"") else None
    return json.dumps(nb, indent=indent, ensure_ascii=False) + ("\n" if text.endswith("\n") else ""), total


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
        if n + m:
            new_text[new_path] = out
            r.rewritten[new_path] = n + m
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
