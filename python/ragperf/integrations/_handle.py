"""The handle every ``instrument()`` of ragperf.integrations returns."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["Handle"]


class Handle:
    """Something an ``instrument()`` call changed, undone by
    :meth:`uninstrument`; also a context manager that undoes it on exit.

    Example:
        >>> with instrument(client, monitor):      # doctest: +SKIP
        ...     client.chat.completions.create(model="gpt-4o-mini", messages=msgs)
    """

    def uninstrument(self) -> bool:
        """Undoes the instrumentation; False when already undone.

        Example:
            >>> handle.uninstrument()   # doctest: +SKIP
            True
        """
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstrument()
