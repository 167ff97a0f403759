"""Token usage reported by LLM APIs, read from their response objects.

:func:`extract_usage` understands the shapes the common SDKs return, as
objects (attributes, e.g. ``openai.types.chat.ChatCompletion``) or as plain
dicts (e.g. parsed JSON of the HTTP response):

* OpenAI Chat Completions (and compatible servers: vLLM, Ollama, LiteLLM...):
  ``response.usage.prompt_tokens / completion_tokens / total_tokens``; in a
  stream only the final chunk carries ``usage`` (with
  ``stream_options={"include_usage": True}``), the others have
  ``usage=None``.
* OpenAI Responses API and Anthropic Messages:
  ``response.usage.input_tokens / output_tokens``. Anthropic counts cached
  prompt tokens separately (``cache_creation_input_tokens``,
  ``cache_read_input_tokens``); they are added to ``prompt_tokens`` so that,
  as with OpenAI, ``prompt_tokens`` is every input token the model read.
* Google Gemini: ``response.usage_metadata.prompt_token_count /
  candidates_token_count / total_token_count``.

The usage object itself (``response.usage``) is accepted too.

Example:
    >>> extract_usage({"model": "gpt-4o", "usage": {"prompt_tokens": 12, "completion_tokens": 30}})
    Usage(prompt_tokens=12, completion_tokens=30, total_tokens=42, model='gpt-4o')
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .. import _core

__all__ = ["Usage", "extract_usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one LLM call (all ints >= 0) and the model that served it.

    Example:
        >>> u = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, model="gpt-4o")
        >>> u.total_tokens
        15
    """

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    model: str | None = None


class _Missing:
    __slots__ = ()


_MISSING: Final = _Missing()

# Field names per side, first present wins.
_PROMPT_FIELDS: Final = ("prompt_tokens", "input_tokens", "prompt_token_count")
_COMPLETION_FIELDS: Final = ("completion_tokens", "output_tokens", "candidates_token_count")
_TOTAL_FIELDS: Final = ("total_tokens", "total_token_count")
# Anthropic: prompt tokens read from / written to the cache, not in input_tokens.
_CACHE_FIELDS: Final = ("cache_creation_input_tokens", "cache_read_input_tokens")
_ALL_FIELDS: Final = _PROMPT_FIELDS + _COMPLETION_FIELDS + _TOTAL_FIELDS


def _get(obj: object, name: str) -> object:
    """``obj[name]`` for mappings, ``obj.name`` otherwise; _MISSING if absent
    or None (SDK models spell "not reported" as None)."""
    if isinstance(obj, Mapping):
        value = obj.get(name, _MISSING)
    else:
        value = getattr(obj, name, _MISSING)
    return _MISSING if value is None else value


def _count(value: object, field: str) -> int:
    """A token count: a non-negative int (bool rejected), or an error naming
    the field and the value."""
    if isinstance(value, bool):
        raise TypeError(f"usage.{field} must be a non-negative int, got {value!r} (bool)")
    try:
        n = operator.index(value)  # type: ignore[arg-type]  # int and numpy ints
    except TypeError:
        raise TypeError(
            f"usage.{field} must be a non-negative int, got {value!r} ({type(value).__name__})"
        ) from None
    if n < 0 or n >= 2**63:
        raise ValueError(f"usage.{field} must be a non-negative int below 2**63, got {value!r}")
    return n


def _first(usage: object, fields: tuple[str, ...]) -> int | None:
    for field in fields:
        value = _get(usage, field)
        if value is not _MISSING:
            return _count(value, field)
    return None


def _looks_like_usage(obj: object) -> bool:
    return any(_get(obj, field) is not _MISSING for field in _ALL_FIELDS)


#: Where a response or stream event reports usage (besides being a usage
#: object itself): OpenAI/Anthropic ``usage``, Gemini ``usage_metadata``,
#: the ``response`` of an OpenAI Responses ``response.completed`` event.
_USAGE_KEYS: Final = ("usage", "usage_metadata", "response")  # spelled out in carries_no_usage


def carries_no_usage(obj: object, fields: dict[str, Any] | None = None) -> bool:
    """True when ``obj`` visibly reports no token usage, decided cheaply: a
    dict, or an object keeping its attributes in a ``__dict__`` (the SDKs'
    pydantic models, SimpleNamespace), with no usage key set (not None) and
    none of the token-count fields. False means "maybe": call
    :func:`extract_usage`. Streams use it to skip the full extraction on the
    chunks before the last one; it never probes a missing attribute (on a
    pydantic model every miss raises and catches an AttributeError).
    ``fields``: ``obj``'s ``__dict__`` when the caller already has it.

    Example:
        >>> carries_no_usage({"choices": [{"delta": {"content": "Hi"}}], "usage": None})
        True
        >>> carries_no_usage({"usage": {"prompt_tokens": 3}})
        False
    """
    if type(obj) is dict:
        fields = obj
        keys: tuple[str, ...] = _USAGE_AND_COUNT_KEYS
    else:
        if fields is None:
            fields = getattr(obj, "__dict__", None)
            if type(fields) is not dict:
                return False
        keys = _keys_by_type.get(type(obj)) or _keys_of_type(type(obj))
        if keys is not _USAGE_AND_COUNT_KEYS and getattr(obj, "__pydantic_extra__", None):
            return False  # undeclared fields of a pydantic model live outside __dict__
    if keys is _USAGE_AND_COUNT_KEYS:
        # A dict or a plain object: the three usage keys, then the count
        # fields in one C-level pass (a chunk rarely has any of them).
        get = fields.get
        if get("usage") is not None or get("usage_metadata") is not None or get("response") is not None:
            return False
        if fields.keys().isdisjoint(_ALL_FIELDS):
            return True
    for key in keys:
        if fields.get(key) is not None:
            return False
    return True


_USAGE_AND_COUNT_KEYS: Final = _USAGE_KEYS + _ALL_FIELDS
# Per class, the keys worth looking at: for a pydantic model only its
# declared fields can be in __dict__ (a chat chunk has just "usage").
_keys_by_type: dict[type, tuple[str, ...]] = {}
_MAX_CACHED_TYPES: Final = 256


def _keys_of_type(cls: type) -> tuple[str, ...]:
    declared = getattr(cls, "model_fields", None)  # pydantic v2
    keys: tuple[str, ...]
    if isinstance(declared, dict) and declared:
        # ("",): a model declaring none of them; never empty, so the
        # cache lookup's `or` does not recompute it.
        keys = tuple(k for k in _USAGE_AND_COUNT_KEYS if k in declared) or ("",)
    else:
        keys = _USAGE_AND_COUNT_KEYS
    if len(_keys_by_type) < _MAX_CACHED_TYPES:
        _keys_by_type[cls] = keys
    return keys


def extract_usage(response: object) -> Usage | None:
    """The token usage reported in an LLM API response, or None if it has none.

    ``response`` is a response object or dict (OpenAI chat completion or
    streamed chunk, OpenAI Responses, Anthropic message, Gemini response), or
    its usage object/dict. Returns None when there is no usage (e.g. a
    streamed chunk other than the last one, or a plain string). A missing
    total is ``prompt_tokens + completion_tokens``; a missing side is 0. The
    model comes from ``response.model`` / ``response["model"]`` when it is a
    str.

    Raises:
        TypeError: a count is not an int (bool, float, str...), naming the
            field and the value.
        ValueError: a count is negative, naming the field and the value.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> chunk = NS(model="gpt-4o-mini", choices=[], usage=NS(prompt_tokens=9, completion_tokens=12, total_tokens=21))
        >>> extract_usage(chunk)
        Usage(prompt_tokens=9, completion_tokens=12, total_tokens=21, model='gpt-4o-mini')
        >>> extract_usage({"choices": [{"delta": {"content": "Hi"}}], "usage": None}) is None
        True
        >>> extract_usage({"usage": {"input_tokens": 20, "output_tokens": 7}})
        Usage(prompt_tokens=20, completion_tokens=7, total_tokens=27, model=None)
    """
    if response is None or isinstance(response, (str, bytes, bytearray)):
        return None
    usage = _get(response, "usage")
    if usage is _MISSING:
        usage = _get(response, "usage_metadata")  # Gemini
    if usage is _MISSING:
        if not _looks_like_usage(response):
            return None
        usage = response  # the usage object itself
    elif isinstance(usage, (str, bytes, bytearray, int, float, list, tuple)):
        raise TypeError(f"usage must be an object or a dict, got {usage!r} ({type(usage).__name__})")
    if not _looks_like_usage(usage):
        return None  # e.g. an empty usage dict
    prompt = _first(usage, _PROMPT_FIELDS)
    completion = _first(usage, _COMPLETION_FIELDS)
    total = _first(usage, _TOTAL_FIELDS)
    if prompt is not None and _get(usage, "prompt_tokens") is _MISSING:
        # input_tokens (Anthropic style): cached prompt tokens are separate.
        for field in _CACHE_FIELDS:
            value = _get(usage, field)
            if value is not _MISSING:
                prompt += _count(value, field)
    prompt = prompt or 0
    completion = completion or 0
    if total is None:
        total = prompt + completion
    model = _get(response, "model")
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        model=str(model) if isinstance(model, str) else None,
    )


# OperationTracker.set_usage() (C++) reads usage through this function; the
# extension never imports the package back.
_core._set_usage_extractor(extract_usage)
