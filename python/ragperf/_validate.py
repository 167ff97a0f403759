"""Argument checks shared by the Python facade: each raises TypeError or
ValueError with a message that names the bad value."""

from __future__ import annotations

import math
import numbers
import operator
import os
from enum import Enum
from typing import Any

from . import _core

# Longest duration accepted (about 31.7 years): anything longer is a unit bug
# (nanoseconds passed as seconds), not a measurement.
#: The longest duration a record may have (seconds), the core's limit.
MAX_DURATION_S: float = _core.MAX_DURATION_S

__all__ = ["MAX_DURATION_S", "check_duration", "check_token_count", "check_positive_int", "operation_name", "check_path"]


def check_duration(value: Any, name: str = "duration_s") -> float:
    """A number of seconds in [0, 1e9] (any real number type, not bool), as float.

    Example:
        >>> check_duration(0.5)
        0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number of seconds, got {value!r} ({type(value).__name__})")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or seconds > MAX_DURATION_S:
        raise ValueError(
            f"{name} must be a finite number of seconds between 0 and {MAX_DURATION_S:g}, got {value!r}"
        )
    return seconds


def check_token_count(value: Any, name: str = "tokens") -> int:
    """A non-negative int (bool rejected).

    Example:
        >>> check_token_count(3)
        3
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a non-negative int, got {value!r} ({type(value).__name__})")
    try:
        count = operator.index(value)  # int and integer-like types (numpy)
    except TypeError:
        raise TypeError(f"{name} must be a non-negative int, got {value!r} ({type(value).__name__})") from None
    if count < 0 or count >= 2**63:
        raise ValueError(f"{name} must be a non-negative int below 2**63, got {value!r}")
    return count


def check_real(value: Any, name: str, what: str = "a number") -> float:
    """A real number (int, float, numpy scalar; bool rejected) as float;
    TypeError naming ``name`` and the value otherwise.

    Example:
        >>> check_real(2, "interval_s", "a number of seconds")
        2.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    return float(value)


def check_name(value: Any, what: str, max_length: int = 200) -> str:
    """A non-empty str of at most ``max_length`` characters (cache names,
    labels, model names), returned as a plain str.

    Example:
        >>> check_name("embeddings", "cache name")
        'embeddings'
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {value!r} ({type(value).__name__})")
    text = str.__str__(value)
    if not text or len(text) > max_length:
        raise ValueError(f"{what} must be 1 to {max_length} characters, got {text!r}")
    return text


def check_positive_int(value: Any, name: str) -> int:
    """An int >= 1 (bool rejected).

    Example:
        >>> check_positive_int(5, "window_minutes")
        5
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def check_window_minutes(value: Any, name: str = "window_minutes") -> int:
    """A statistics window: an int from 1 to 60 minutes.

    Example:
        >>> check_window_minutes(5)
        5
    """
    minutes = check_positive_int(value, name)
    if minutes > 60:
        raise ValueError(f"{name} must be between 1 and 60, got {value!r}")
    return minutes


def operation_name(operation: Any) -> str:
    """The plain string name of an operation (str or str-valued enum).

    Example:
        >>> operation_name("reranking")
        'reranking'
    """
    if isinstance(operation, str):
        name = str.__str__(operation)
    elif isinstance(operation, Enum) and isinstance(operation.value, str):
        name = operation.value
    else:
        raise TypeError(
            f"operation must be a str or OperationType, got {operation!r} ({type(operation).__name__})"
        )
    if not name or len(name) > 200:
        raise ValueError(f"operation name must be 1 to 200 characters, got {name!r}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"operation name must be valid Unicode text (no lone surrogates), got {name!r}") from None
    return name


def check_path(path: Any, name: str = "path") -> str:
    """A filesystem path (str or os.PathLike) as str.

    Example:
        >>> check_path("metrics.json")
        'metrics.json'
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {path!r} ({type(path).__name__})")
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise ValueError(f"{name} must not be empty")
    return text
