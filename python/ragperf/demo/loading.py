"""The load step of the demo pipeline: the bundled handbook (``corpus/``) read into
:class:`~ragperf.demo.chunking.Document` objects, tracked as ``"document_loading"``
(each PDF also as a nested ``pdf_loading`` block).

>>> [d.doc_id for d in load_documents(include_pdf=False)][:2]
['01_company_overview', '02_product_halyard']
"""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from pathlib import Path
from typing import Final

from ragperf import OperationType, PerformanceMonitor, TokenCounter, get_performance_monitor

from .chunking import Document

if sys.version_info >= (3, 11):
    from importlib.resources.abc import Traversable
else:  # pragma: no cover - the package supports Python 3.9+
    from importlib.abc import Traversable

__all__ = ["DOCUMENT_LOADING", "corpus_root", "load_documents"]

DOCUMENT_LOADING: Final = "document_loading"
"""Operation name used for loading plain-text files (``pdf_loading`` is for PDFs)."""


def corpus_root() -> Traversable:
    """The bundled corpus directory, found through :mod:`importlib.resources`.

    Works from a source checkout, an installed wheel or a zip import.

    >>> any(p.name.endswith(".txt") for p in corpus_root().iterdir())
    True
    """
    return files("ragperf.demo") / "corpus"


def _parse_document(doc_id: str, raw: str) -> Document:
    lines = raw.strip().splitlines()
    if not lines:
        return Document(doc_id=doc_id, title="", text="")
    return Document(doc_id=doc_id, title=lines[0].strip(), text="\n".join(lines[1:]).strip())


def load_documents(
    source: Traversable | str | os.PathLike[str] | None = None,
    *,
    monitor: PerformanceMonitor | None = None,
    suffix: str = ".txt",
    include_pdf: bool = True,
) -> list[Document]:
    """Read every ``*.txt`` (and ``*.pdf``) file under ``source`` (default: the bundled corpus).

    The first line of each file is its title, the rest its body; a PDF's text
    is extracted with pypdf (:func:`ragperf.demo.pdf.read_pdf_text`). Files
    are read in name order so runs are reproducible. The whole load is tracked
    as ``"document_loading"`` with the number of files and an estimate of the
    tokens read; each PDF is also a nested ``pdf_loading`` block with its page
    count. ``include_pdf=False`` reads only the text files.

    >>> docs = load_documents()
    >>> docs[0].doc_id, docs[0].title
    ('01_company_overview', 'About Alderbank Instruments')
    >>> docs[-1].doc_id, docs[-1].title
    ('17_radio_compliance', 'Radio and Regulatory Compliance Data Sheet')
    """
    mon = monitor if monitor is not None else get_performance_monitor()
    root: Traversable = corpus_root() if source is None else _as_traversable(source)
    wanted = (suffix, ".pdf") if include_pdf else (suffix,)
    with mon.track_operation(DOCUMENT_LOADING, {"source": str(root)}) as op:
        entries = sorted(
            (p for p in root.iterdir() if p.is_file() and p.name.endswith(wanted)),
            key=lambda p: p.name,
        )
        documents: list[Document] = []
        pdfs = 0
        for entry in entries:
            if entry.name.endswith(".pdf") and include_pdf:
                documents.append(_load_pdf(entry, mon))
                pdfs += 1
            else:
                raw = entry.read_text(encoding="utf-8")
                documents.append(_parse_document(entry.name[: -len(suffix)], raw))
        op.tokens = TokenCounter.count_tokens_in_list([d.text for d in documents])
        op.metadata["files"] = len(documents)
        op.metadata["pdf_files"] = pdfs
    return documents


def _load_pdf(entry: Traversable, monitor: PerformanceMonitor) -> Document:
    from .pdf import read_pdf_text  # late: only corpora with PDFs need pypdf

    with monitor.track_operation(OperationType.PDF_LOADING, {"file": entry.name}) as op:
        text, pages = read_pdf_text(entry)
        op.tokens = TokenCounter.count_tokens(text)
        op.metadata["pages"] = pages
    return _parse_document(entry.name[: -len(".pdf")], text)


def _as_traversable(source: Traversable | str | os.PathLike[str]) -> Traversable:
    if isinstance(source, (str, os.PathLike)):
        return Path(source)
    return source
