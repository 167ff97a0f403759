"""The decorator behind ``PerformanceMonitor.timed``: it tracks every call
of a sync or async function, and the whole iteration of a generator or
async generator function.

Example:
    >>> from ragperf import PerformanceMonitor
    >>> monitor = PerformanceMonitor()
    >>> double = timed_decorator(monitor.track_operation, "double", None, {})(lambda x: 2 * x)
    >>> double(2), monitor.get_operation_count("double")
    (4, 1)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from ._validate import operation_name

__all__ = ["timed_decorator"]

F = TypeVar("F", bound=Callable[..., Any])


def timed_decorator(
    track: Callable[..., Any], operation: Any, metadata: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
) -> Any:
    """A decorator that runs every call of the decorated function inside
    ``track(operation or the function's name, metadata, **kwargs)``; given a
    function as ``operation`` (bare ``@monitor.timed``), that function
    decorated under its own name. A bad operation name fails here, at
    decoration time, not per call.

    Example:
        >>> timed_decorator(monitor.track_operation, "reranking", None, {})  # doctest: +SKIP
    """
    if callable(operation) and not isinstance(operation, str):
        return timed_decorator(track, getattr(operation, "__name__", "function"), metadata, kwargs)(operation)
    if operation is not None:
        operation_name(operation)

    def decorate(fn: F) -> F:
        op = operation if operation is not None else getattr(fn, "__name__", "function")

        if inspect.isasyncgenfunction(fn):
            # Times the whole iteration, not the creation of the generator.
            @functools.wraps(fn)
            async def async_gen_wrapper(*args: Any, **kw: Any) -> Any:
                async with track(op, metadata, **kwargs):
                    async for item in fn(*args, **kw):
                        yield item

            return cast(F, async_gen_wrapper)

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kw: Any) -> Any:
                with track(op, metadata, **kwargs):
                    return (yield from fn(*args, **kw))

            return cast(F, gen_wrapper)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kw: Any) -> Any:
                async with track(op, metadata, **kwargs):
                    return await cast(Callable[..., Awaitable[Any]], fn)(*args, **kw)

            return cast(F, async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kw: Any) -> Any:
            with track(op, metadata, **kwargs):
                return fn(*args, **kw)

        return cast(F, wrapper)

    return decorate
