"""Builds the documentation site into a directory (``make docs`` -> build/docs).

* ``api/``: the API reference, rendered by pdoc from the *installed* package:
  pdoc imports it, so the C++ extension's docstrings are there, and it reads
  ``ragperf/_core.pyi`` for the extension's signatures and types. A module
  that moved (an alias at its old path) gets a page there that links to it.
* one HTML page per ``docs/*.md`` (``index.md`` becomes ``index.html``), with
  links between the pages rewritten from ``.md`` to ``.html``.

Usage: ``python scripts/build_docs.py --out build/docs``; exit 0 on success,
1 if a module failed to import or a page is missing.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def api_modules() -> list[str]:
    """Every public module of the installed package, plus the extension ``_core``.

    Listed one by one because pdoc hides submodules that a package's
    ``__all__`` does not name. A module whose optional dependency is missing
    makes pdoc warn, which :func:`render_api` turns into a failure.
    """
    import pkgutil

    import ragperf

    names = ["ragperf", "ragperf._core"]
    for info in pkgutil.walk_packages(ragperf.__path__, "ragperf."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            if moved_to(info.name) is None:
                names.append(info.name)
    return names


def moved_to(name: str) -> str | None:
    """The real name of module ``name`` when ``name`` is an alias of a moved
    module (``ragperf.alerts`` -> ``ragperf.watch.alerts``), else None.

    The alias puts the real module in ``sys.modules``, so importing the old
    name gives a module whose ``__name__`` is the new one. A module that
    cannot be imported is not an alias (pdoc reports it).
    """
    import importlib

    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return module.__name__ if module.__name__ != name else None


REDIRECT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0; url={url}">
<title>{old} - ragperf</title></head>
<body><p><code>{old}</code> moved to <a href="{url}"><code>{new}</code></a>;
the old name still imports it.</p></body></html>
"""


def write_redirects(out: Path) -> list[Path]:
    """A page at each moved module's old place that sends the reader to the new one."""
    import os
    import pkgutil

    import ragperf

    written = []
    for info in pkgutil.walk_packages(ragperf.__path__, "ragperf."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        new = moved_to(info.name)
        if new is None:
            continue
        page = out.joinpath(*info.name.split(".")).with_suffix(".html")
        target = out.joinpath(*new.split(".")).with_suffix(".html")
        url = os.path.relpath(target, page.parent)
        page.write_text(REDIRECT.format(old=info.name, new=new, url=url), encoding="utf-8")
        written.append(page)
    return written

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ragperf</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 56rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1d1d1f; }}
pre {{ background: #f5f5f7; padding: .8rem; overflow-x: auto; }}
code {{ font-family: ui-monospace, monospace; font-size: .92em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: .25rem .5rem; }}
nav a {{ margin-right: 1rem; }}
</style></head>
<body><nav>{nav}</nav>
{body}
</body></html>
"""

_MD_LINK = re.compile(r'href="([A-Za-z0-9_\-]+)\.md(#[^"]*)?"')


def _nav(pages: list[Path]) -> str:
    links = ['<a href="api/ragperf.html">API reference</a>']
    links += [f'<a href="{p.stem}.html">{html.escape(p.stem)}</a>' for p in pages]
    return " ".join(links)


def render_pages(docs: Path, out: Path) -> list[Path]:
    """Render every ``docs/*.md`` to ``out/<stem>.html``; returns the written files."""
    import markdown2  # a dependency of pdoc

    pages = sorted(docs.glob("*.md"))
    nav = _nav(pages)
    written = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        body = markdown2.markdown(
            text, extras=["fenced-code-blocks", "tables", "header-ids", "code-friendly"]
        )
        body = _MD_LINK.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', body)
        title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), page.stem)
        target = out / f"{page.stem}.html"
        target.write_text(PAGE.format(title=html.escape(title), nav=nav, body=body), encoding="utf-8")
        written.append(target)
    img = docs / "img"
    if img.is_dir():
        shutil.copytree(img, out / "img", dirs_exist_ok=True)
    return written


def render_api(out: Path) -> None:
    """Render the API reference of :func:`api_modules` into ``out``; raise if pdoc warned."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(docformat="google", search=True, show_source=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*api_modules(), output_directory=out)
        write_redirects(out)
    problems = [str(w.message) for w in caught if "import" in str(w.message).lower()]
    if problems:
        raise RuntimeError("pdoc could not import: " + "; ".join(problems))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "docs")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    try:
        render_api(out / "api")
    except RuntimeError as e:
        print(f"build_docs: {e}", file=sys.stderr)
        return 1
    pages = render_pages(args.docs, out)
    if not (out / "index.html").exists():
        print("build_docs: docs/index.md is missing", file=sys.stderr)
        return 1
    print(f"build_docs: {len(pages)} pages and the API reference in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
