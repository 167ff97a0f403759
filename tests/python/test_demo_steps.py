"""The demo is split by pipeline step, and the library never imports it.

``ragperf.demo.pipeline`` keeps every name it had (re-exported from the step
modules); the step modules' doctests run; no module of the library (anything
under ``ragperf`` outside ``ragperf/demo``) imports ``ragperf.demo``, read
from the source with ``ast`` and checked again at run time in a fresh
interpreter that imports every library module.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import ragperf

PACKAGE = Path(ragperf.__file__).parent
STEPS = ("terms", "loading", "embedding", "retrieval", "generation")


@pytest.mark.parametrize("module", STEPS)
def test_step_module_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"ragperf.demo.{module}"), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


def test_pipeline_names_are_the_step_modules_objects() -> None:
    from ragperf.demo import embedding, generation, loading, pipeline, retrieval, terms

    assert pipeline.HashingEmbedder is embedding.HashingEmbedder
    assert pipeline.load_documents is loading.load_documents
    assert pipeline.VectorIndex is retrieval.VectorIndex
    assert pipeline.BM25Reranker is retrieval.BM25Reranker
    assert pipeline.ExtractiveGenerator is generation.ExtractiveGenerator
    assert pipeline.build_prompt is generation.build_prompt
    assert pipeline.tokenize is terms.tokenize
    for name in pipeline.__all__:
        assert hasattr(pipeline, name), name


def _library_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "demo" not in p.relative_to(PACKAGE).parts)


def _imported_names(path: Path) -> list[str]:
    """Absolute names of everything ``path`` imports (relative imports resolved)."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    package = parts[:-1]  # the package a relative import starts from (also for __init__)
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.append(module)
            names += [f"{module}.{a.name}" for a in node.names]
    return names


def test_no_library_module_imports_the_demo() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): name
        for path in _library_modules()
        for name in _imported_names(path)
        if name == "ragperf.demo" or name.startswith("ragperf.demo.")
    }
    assert offenders == {}
    # the check reads relative imports: the demo's own modules do import each other
    assert "ragperf.demo.chunking" in _imported_names(PACKAGE / "demo" / "pipeline.py")


def test_importing_every_library_module_loads_no_demo_module() -> None:
    modules = [
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in _library_modules()
        if p.name != "__main__.py"
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except ImportError:\n"
        "        pass  # an optional dependency (streamlit, opentelemetry, ...) not installed\n"
        "print(sorted(m for m in sys.modules if m.startswith('ragperf.demo')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert len(modules) > 30
