"""docs/: the site builds (``make docs``: pdoc API reference + pages), links resolve,
and the quick start's code runs."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.slow
def test_make_docs_builds_the_api_reference_and_pages(tmp_path: Path) -> None:
    pytest.importorskip("pdoc")
    out = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_docs.py"), "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    api = (out / "api" / "ragperf.html").read_text(encoding="utf-8")
    for name in (
        "PerformanceMonitor.track_operation",
        "PerformanceMonitor.get_operation_stats",
        "PerformanceMonitor.export_metrics_json",
        "OperationType",
        "TokenCounter",
    ):
        assert f'id="{name}"' in api, name
    # the extension module: its docstrings, with the signatures from _core.pyi
    core_html = (out / "api" / "ragperf" / "_core.html").read_text(encoding="utf-8")
    core = " ".join(html.unescape(re.sub(r"<[^>]+>", "", core_html)).split())
    assert "def add_tokens(self, n: int = 1, /) -> None:" in core
    assert "n completion tokens arrived now" in core  # the C++ docstring
    for module in ("monitor", "compare", "exporting", "demo/pipeline", "demo/minilm"):
        assert (out / "api" / "ragperf" / f"{module}.html").is_file(), module
    # one page per docs/*.md, with .md links rewritten
    for page in DOCS.glob("*.md"):
        assert (out / f"{page.stem}.html").is_file(), page.name
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Quick start" in index and 'href="guide.html"' in index


def test_relative_links_resolve() -> None:
    broken = []
    for page in [*DOCS.glob("*.md"), ROOT / "README.md"]:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_every_docs_page_is_linked_from_the_index() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(LINK.findall(index))
    missing = [p.name for p in DOCS.glob("*.md") if p.name != "index.md" and p.name not in linked]
    assert missing == []


def test_quick_start_code_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ragperf import get_performance_monitor

    text = (DOCS / "index.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    (code,) = [b for b in blocks if "track_operation" in b]
    monkeypatch.chdir(tmp_path)
    monitor = get_performance_monitor()
    monitor.clear_metrics()
    namespace = {
        "retriever": SimpleNamespace(search=lambda q: ["hit"]),
        "llm": SimpleNamespace(stream=lambda p: iter(["The", " answer", "."])),
        "question": "q",
        "prompt": "p",
    }
    exec(compile(code, "docs/index.md", "exec"), namespace)
    stats = monitor.get_operation_stats("llm_inference")
    assert (stats.total_operations, stats.total_tokens) == (1, 423)
    assert stats.time_to_first_token_p50_s is not None
    assert (tmp_path / "metrics.json").is_file() and (tmp_path / "metrics.csv").is_file()
    monitor.clear_metrics()
