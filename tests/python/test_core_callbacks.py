"""The extension never imports the Python package back: OperationTracker.
set_usage() reads a response's usage through the function ragperf.usage
registers once at import (``_core._set_usage_extractor``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ragperf import PerformanceMonitor, _core
from ragperf.measure import usage


def test_set_usage_calls_the_registered_extractor() -> None:
    seen: list[object] = []

    def extractor(response: object) -> usage.Usage | None:
        seen.append(response)
        if response == "no usage":
            return None
        return usage.Usage(prompt_tokens=7, completion_tokens=2, total_tokens=9, model="served-model")

    _core._set_usage_extractor(extractor)
    try:
        monitor = PerformanceMonitor(enable_memory_tracking=False)
        with monitor.track_operation("llm", model="asked-model") as op:
            assert op.set_usage("no usage") is False
            assert op.set_usage("a response") is True
    finally:
        _core._set_usage_extractor(usage.extract_usage)
    assert seen == ["no usage", "a response"]
    assert (op.prompt_tokens, op.completion_tokens, op.tokens) == (7, 2, 9)
    assert op.response_model == "served-model"
    assert op.model == "asked-model"
    assert monitor.get_operation_stats("llm").total_tokens == 9


def test_bad_counts_from_the_extractor_raise_and_set_nothing() -> None:
    _core._set_usage_extractor(lambda _r: usage.Usage(prompt_tokens=-1, completion_tokens=0, total_tokens=0))
    try:
        monitor = PerformanceMonitor(enable_memory_tracking=False)
        op = monitor.track_operation("llm")
        with pytest.raises(ValueError, match="prompt_tokens must be a non-negative int below 2\\*\\*63, got -1"):
            op.set_usage(object())
        assert op.prompt_tokens == 0
    finally:
        _core._set_usage_extractor(usage.extract_usage)


def test_extractor_must_be_callable() -> None:
    with pytest.raises(TypeError, match="usage extractor must be callable, got 42"):
        _core._set_usage_extractor(42)  # type: ignore[arg-type]


def test_importing_ragperf_registers_extract_usage() -> None:
    # A fresh interpreter: the real extractor is in place after `import ragperf`
    # and parses an OpenAI-style dict.
    code = (
        "import ragperf\n"
        "m = ragperf.PerformanceMonitor(enable_memory_tracking=False)\n"
        "with m.track_operation('llm') as op:\n"
        "    ok = op.set_usage({'usage': {'prompt_tokens': 3, 'completion_tokens': 4, 'total_tokens': 7}})\n"
        "print(ok, op.tokens)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.split() == ["True", "7"]
