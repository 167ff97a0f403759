"""Settable monitor properties kept by the C++ monitor: one typed
descriptor instead of a property/setter pair per setting.

Example:
    >>> class Monitor:
    ...     threshold = CoreSetting(float, "memory_threshold_mb", "number", "RSS threshold.")
    ...     def __init__(self, core): self._core = core
    >>> m = Monitor(type("Core", (), {"memory_threshold_mb": 1.0})())
    >>> m.threshold = 2
    >>> m.threshold
    2.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NoReturn, Protocol, TypeVar, overload

from ._validate import check_real

__all__ = ["CoreSetting", "CoreValue", "check_setting"]

T = TypeVar("T")


class _HasCore(Protocol):
    _core: Any


def check_setting(kind: str, name: str, value: Any) -> Any:
    """``value`` of the setting ``name`` checked: ``kind`` "bool" (a bool,
    returned as is), "number" (int or float, not bool, as float) or "real"
    (:func:`ragperf._validate.check_real`); TypeError naming it otherwise.

    Example:
        >>> check_setting("number", "memory_threshold_mb", 512)
        512.0
    """
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be a bool, got {value!r}")
        return value
    if kind == "real":
        return check_real(value, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


class CoreSetting(Generic[T]):
    """A settable monitor property kept by the C++ monitor (``_core.<attr>``),
    validated on assignment (``kind``: "bool", "number" or "real"), with
    :func:`check_setting`.

    Example:
        >>> PerformanceMonitor.memory_threshold_mb.__doc__  # doctest: +SKIP
        'RSS (MB) above which health is "warning"; settable (> 0).'
    """

    def __init__(self, convert: Callable[[Any], T], attr: str, kind: str, doc: str) -> None:
        self._convert, self._attr, self._kind, self.__doc__ = convert, attr, kind, doc
        self._name = attr

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> CoreSetting[T]: ...

    @overload
    def __get__(self, obj: _HasCore, objtype: type | None = None) -> T: ...

    def __get__(self, obj: _HasCore | None, objtype: type | None = None) -> T | CoreSetting[T]:
        return self if obj is None else self._convert(getattr(obj._core, self._attr))

    def __set__(self, obj: _HasCore, value: T) -> None:
        setattr(obj._core, self._attr, check_setting(self._kind, self._name, value))


class CoreValue(Generic[T]):
    """A read-only monitor property read from the C++ monitor (``_core.<attr>``).

    Example:
        >>> PerformanceMonitor().max_history  # doctest: +SKIP
        1000
    """

    def __init__(self, convert: Callable[[Any], T], attr: str, doc: str) -> None:
        self._convert, self._attr, self.__doc__ = convert, attr, doc

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> CoreValue[T]: ...

    @overload
    def __get__(self, obj: _HasCore, objtype: type | None = None) -> T: ...

    def __get__(self, obj: _HasCore | None, objtype: type | None = None) -> T | CoreValue[T]:
        return self if obj is None else self._convert(getattr(obj._core, self._attr))

    def __set__(self, obj: _HasCore, value: NoReturn) -> NoReturn:
        raise AttributeError(f"{self._attr} is read-only (set it in the constructor)")
