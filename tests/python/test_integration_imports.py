"""The integrations import their frameworks lazily: importing ragperf (or
ragperf.integrations, or the framework-free integrations) pulls in no
framework, and an integration whose framework is missing says which extra
to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

FRAMEWORKS = ("langchain_core", "llama_index", "fastapi", "starlette", "openai")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


def test_importing_ragperf_and_light_integrations_pulls_no_framework() -> None:
    code = (
        "import sys, ragperf, ragperf.integrations, ragperf.integrations.openai, ragperf.integrations.fastapi\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS!r}))\n"
    )
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("module", "framework", "extra"),
    [("langchain", "langchain_core", "ragperf[langchain]"), ("llamaindex", "llama_index", "ragperf[llamaindex]")],
)
def test_missing_framework_names_the_extra(module: str, framework: str, extra: str) -> None:
    code = (
        "import sys\n"
        f"sys.modules[{framework!r}] = None  # as if not installed\n"
        f"import ragperf.integrations.{module}\n"
    )
    out = _run(code)
    assert out.returncode != 0
    assert "ImportError" in out.stderr and extra in out.stderr
