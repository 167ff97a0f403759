"""The one exporter interface of ragperf.

An :class:`Exporter` writes a snapshot of a monitor when asked
(``export(monitor)``) and releases what it holds on ``close()``; a
:class:`BlockExporter` is called with every finished block instead (an exit
hook of the monitor) and ``close()`` detaches it. A periodic or background
exporter runs on :class:`ragperf.export._runner.PeriodicRunner` (one thread, fork
reset, exit flush and interval check for all of them).

Example:
    >>> from ragperf.export.files import CsvFileExporter
    >>> exporter: Exporter = CsvFileExporter("stats.csv")
    >>> exporter.export(monitor)  # doctest: +SKIP
    'stats.csv'
    >>> exporter.close()
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["BlockExporter", "Exporter"]


@runtime_checkable
class Exporter(Protocol):
    """Writes what a monitor holds now: ``export(monitor)``; ``close()``
    stops it (a periodic exporter's last write) and is idempotent.

    Example:
        >>> isinstance(CsvFileExporter("stats.csv"), Exporter)  # doctest: +SKIP
        True
    """

    def export(self, monitor: Any) -> object:
        """Writes ``monitor``'s data now; returns what the exporter says it wrote (e.g. a path)."""
        ...

    def close(self) -> None:
        """Stops the exporter (idempotent)."""
        ...


@runtime_checkable
class BlockExporter(Protocol):
    """Called with every finished block of the monitors it is installed on
    (``exporter(tracker)``, as an exit hook); ``close()`` uninstalls it.

    Example:
        >>> hook = enable_logging(monitor)  # doctest: +SKIP
        >>> hook.close()                    # doctest: +SKIP
    """

    def __call__(self, tracker: Any, /) -> object:
        """Exports one finished block."""
        ...

    def close(self) -> None:
        """Uninstalls the exporter from every monitor (idempotent)."""
        ...
