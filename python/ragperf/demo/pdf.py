"""Text of a PDF document, read with pypdf (the demo corpus ships one PDF).

Example:
    >>> from ragperf.demo.loading import corpus_root
    >>> text, pages = read_pdf_text(corpus_root() / "17_radio_compliance.pdf")
    >>> text.splitlines()[0], pages
    ('Radio and Regulatory Compliance Data Sheet', 1)
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["read_pdf_text"]


def read_pdf_text(source: Traversable | str | os.PathLike[str]) -> tuple[str, int]:
    """The extracted text of every page of ``source`` (joined by newlines) and the page count.

    ``source`` may be a path or an :mod:`importlib.resources` entry (so it
    also works from a zipped install).

    Raises:
        ModuleNotFoundError: pypdf is not installed (says ``pip install pypdf``).
        ValueError: the file is not a readable PDF (names the file).

    Example:
        >>> read_pdf_text("/nonexistent.pdf")
        Traceback (most recent call last):
        ...
        FileNotFoundError: [Errno 2] No such file or directory: '/nonexistent.pdf'
    """
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        raise ModuleNotFoundError(
            "reading PDFs needs pypdf: pip install pypdf (or pip install 'ragperf[demo]')",
            name="pypdf",
        ) from None
    entry = Path(source) if isinstance(source, (str, os.PathLike)) else source
    data = entry.read_bytes()
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError) as e:
        raise ValueError(f"{entry} is not a readable PDF: {e}") from None
    return "\n".join(p.strip() for p in pages if p.strip()), len(pages)
