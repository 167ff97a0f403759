"""Model price tables: USD per one million input (prompt) and output
(completion) tokens.

Accepted forms (``PerformanceMonitor.set_model_prices``)::

    {"gpt-4o-mini": {"input": 0.15, "output": 0.60}}     # per 1M tokens
    {"gpt-4o-mini": (0.15, 0.60)}                         # (input, output)
    "prices.json"                                         # a JSON file of the first form

Example:
    >>> parse_prices({"m": {"input": 1, "output": 2}})
    [('m', 1.0, 2.0)]
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["parse_prices"]


def _price(model: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{what} price of model {model!r} must be a number (USD per 1M tokens), got {value!r}"
        )
    price = float(value)
    if not math.isfinite(price) or price < 0:
        raise ValueError(f"{what} price of model {model!r} must be finite and >= 0, got {value!r}")
    return price


def _row(model: Any, entry: Any) -> tuple[str, float, float]:
    if not isinstance(model, str) or not model or len(model) > 200:
        raise ValueError(f"model name must be a str of 1 to 200 characters, got {model!r}")
    if isinstance(entry, Mapping):
        unknown = set(entry) - {"input", "output"}
        if unknown or "input" not in entry or "output" not in entry:
            raise ValueError(
                f"price of model {model!r} must have exactly the keys 'input' and 'output' "
                f"(USD per 1M tokens), got {dict(entry)!r}"
            )
        return model, _price(model, entry["input"], "input"), _price(model, entry["output"], "output")
    if isinstance(entry, Sequence) and not isinstance(entry, (str, bytes)) and len(entry) == 2:
        return model, _price(model, entry[0], "input"), _price(model, entry[1], "output")
    raise TypeError(
        f"price of model {model!r} must be {{'input': x, 'output': y}} or (input, output), "
        f"got {entry!r}"
    )


def parse_prices(prices: Any) -> list[tuple[str, float, float]]:
    """Validated ``(model, input_per_million, output_per_million)`` rows from
    a mapping or a JSON file path. Errors name the model and the value (and
    the file).

    Example:
        >>> parse_prices({"m": (0.5, 1.5)})
        [('m', 0.5, 1.5)]
    """
    if isinstance(prices, (str, os.PathLike)):
        path = os.fspath(prices)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"price file {path!r} is not valid JSON: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ValueError(f"price file {path!r} must hold a JSON object of models, got {type(data).__name__}")
        try:
            return [_row(model, entry) for model, entry in data.items()]
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{exc} (in {path!r})") from exc
    if not isinstance(prices, Mapping):
        raise TypeError(
            f"prices must be a dict of model -> price or a path to a JSON file, got {prices!r}"
        )
    return [_row(model, entry) for model, entry in prices.items()]
