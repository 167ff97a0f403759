"""The import rewriting of scripts/relayout.py: given a table old module -> new
module, rewrite the imports of a Python source (found with :mod:`ast`, edited
by position; relative imports resolved from the file's old package and written
from its new one), module paths given as strings to monkeypatch/mock/importlib,
``ragperf.x`` attribute chains after ``import ragperf.x``, import lines in
Markdown and doctests, and notebook cells."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass


PACKAGE = "ragperf"
STRING_PATH_CALLS = frozenset(
    {"setattr", "delattr", "patch", "import_module", "importorskip", "run_module", "find_spec"}
)
LINE_LIMIT = 100  # a rewritten ``from x import a, b`` longer than this is parenthesised


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


def _offsets(text: str) -> list[int]:
    """The offset of the start of every line of ``text`` (and of its end)."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
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


_ROLE = re.compile(r"(:(?:mod|class|func|meth|attr|data|exc|obj):`~?)(" + PACKAGE + r"(?:\.\w+)+)(`)")


def rewrite_roles(text: str, mapping: dict[str, str]) -> tuple[str, int]:
    """Docstring cross-references (``:mod:`ragperf.x```, ``:class:`~ragperf.x.Name```)
    to a moved module, pointed at its new path."""
    count = 0

    def role(m: re.Match[str]) -> str:
        nonlocal count
        new = map_module(m.group(2), mapping)
        if new == m.group(2):
            return m.group(0)
        count += 1
        return m.group(1) + new + m.group(3)

    return _ROLE.sub(role, text), count
