"""A one-line progress bar on stderr for the demo's indexing phase.

Drawn only when the stream is a terminal (a log file or a CI capture would get
one line per redraw otherwise), so ``make demo`` shows it and tests see
nothing. No dependency: the bar is a ``\\r``-rewritten line.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> with ProgressBar(4, "embedding", stream=out, enabled=True, width=8) as bar:
    ...     bar.update(4)
    >>> out.getvalue().rsplit("\\r", 1)[-1].split(" 0.")[0]
    'embedding [########] 4/4'
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Counts ``total`` units of work and redraws ``label [###---] done/total 1.2s``.

    ``enabled=None`` (the default) draws only when ``stream`` (default stderr)
    is a TTY. Usable as a context manager; :meth:`close` ends the line.

    Raises:
        ValueError: ``total`` is negative or ``width`` is not positive (names the value).

    Example:
        >>> bar = ProgressBar(10, "chunks", enabled=False)
        >>> bar.update(3); bar.done
        3
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        width: int = 30,
    ) -> None:
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total!r}")
        if width < 1:
            raise ValueError(f"width must be positive, got {width!r}")
        self.total = total
        self.label = label
        self.width = width
        self.done = 0
        self._stream = sys.stderr if stream is None else stream
        isatty = getattr(self._stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) if enabled is None else enabled
        self._start = time.perf_counter()
        self._closed = False

    def update(self, n: int = 1) -> None:
        """Add ``n`` finished units (capped at ``total``) and redraw."""
        self.done = min(self.total, self.done + n)
        self._draw()

    def _draw(self) -> None:
        if not self.enabled:
            return
        filled = self.width * self.done // self.total if self.total else 0
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self._start
        self._stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {elapsed:.1f}s")
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line (once)."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def __enter__(self) -> ProgressBar:
        self._draw()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
