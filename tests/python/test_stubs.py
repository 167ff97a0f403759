"""python/ragperf/_core.pyi matches the compiled ragperf._core, and the typed
public API type-checks for users (py.typed + stubs) under ``mypy --strict``."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ragperf
from ragperf import _core

STUB_PATH = Path(__file__).parents[2] / "python" / "ragperf" / "_core.pyi"

# Attributes pybind11 adds to every bound class (its cross-extension ABI
# "conduit"); not part of ragperf's API.
PYBIND11_INTERNALS = {"_pybind11_conduit_v1_"}


def _is_property(node: ast.FunctionDef) -> bool:
    return any(
        (isinstance(d, ast.Name) and d.id == "property")
        or (isinstance(d, ast.Attribute) and d.attr in ("setter", "getter", "deleter"))
        for d in node.decorator_list
    )


def _is_staticmethod(node: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)


class StubClass:
    def __init__(self, node: ast.ClassDef) -> None:
        self.methods: set[str] = set()
        self.staticmethods: set[str] = set()
        self.attributes: set[str] = set()  # properties and annotated attributes
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if isinstance(item, ast.FunctionDef) and _is_property(item):
                    self.attributes.add(item.name)
                elif isinstance(item, ast.FunctionDef) and _is_staticmethod(item):
                    self.staticmethods.add(item.name)
                    self.methods.add(item.name)
                else:
                    self.methods.add(item.name)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                self.attributes.add(item.target.id)
            elif isinstance(item, ast.Assign):
                for t in item.targets:
                    if isinstance(t, ast.Name):
                        self.attributes.add(t.id)

    @property
    def names(self) -> set[str]:
        return self.methods | self.attributes


def parse_stub() -> tuple[set[str], dict[str, StubClass]]:
    tree = ast.parse(STUB_PATH.read_text(encoding="utf-8"), filename=str(STUB_PATH))
    names: set[str] = set()
    classes: dict[str, StubClass] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            classes[node.name] = StubClass(node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    names.add(t.id)
    return names, classes


def module_public_names() -> set[str]:
    return {n for n in dir(_core) if not n.startswith("__")}


def runtime_classes() -> dict[str, type]:
    return {n: obj for n in module_public_names() if isinstance(obj := getattr(_core, n), type)}


def class_public_names(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("__") and n not in PYBIND11_INTERNALS}


# ------------------------------------------------------------------ stub sync


def test_stub_file_exists_in_source_tree() -> None:
    assert STUB_PATH.is_file(), STUB_PATH


def test_stub_is_installed_with_py_typed() -> None:
    pkg_dir = Path(ragperf.__file__).parent
    assert (pkg_dir / "py.typed").is_file()
    assert (pkg_dir / "_core.pyi").is_file()


def test_every_module_name_is_in_the_stub() -> None:
    stub_names, _ = parse_stub()
    missing = sorted(module_public_names() - stub_names)
    assert missing == [], f"ragperf._core names missing from _core.pyi: {missing}"


def test_every_stub_name_exists_in_the_module() -> None:
    stub_names, _ = parse_stub()
    extra = sorted(n for n in stub_names if not hasattr(_core, n))
    assert extra == [], f"_core.pyi declares names ragperf._core does not have: {extra}"


@pytest.mark.parametrize("class_name", sorted(runtime_classes()))
def test_class_members_match_stub(class_name: str) -> None:
    _, stub_classes = parse_stub()
    assert class_name in stub_classes, f"class {class_name} missing from _core.pyi"
    stub = stub_classes[class_name]
    cls = runtime_classes()[class_name]
    missing = sorted(class_public_names(cls) - stub.names)
    assert missing == [], f"{class_name}: members missing from the stub: {missing}"
    extra = sorted(n for n in stub.names if not hasattr(cls, n))
    assert extra == [], f"{class_name}: stub members that do not exist: {extra}"


@pytest.mark.parametrize("class_name", sorted(runtime_classes()))
def test_member_kinds_match_stub(class_name: str) -> None:
    """A stub property/attribute is a data descriptor at runtime, a stub method
    is not, and staticmethods are staticmethods."""
    _, stub_classes = parse_stub()
    if class_name not in stub_classes:
        pytest.skip(f"{class_name} is not in the stub (reported by test_class_members_match_stub)")
    stub = stub_classes[class_name]
    cls = runtime_classes()[class_name]
    wrong: list[str] = []
    for name in stub.names:
        if not hasattr(cls, name) or name.startswith("__"):
            continue
        raw = inspect.getattr_static(cls, name)
        is_data = inspect.isdatadescriptor(raw)
        if name in stub.attributes and not is_data:
            wrong.append(f"{name}: stub says attribute/property, runtime is {type(raw).__name__}")
        if name in stub.methods and is_data:
            wrong.append(f"{name}: stub says method, runtime is a property")
        if name in stub.staticmethods and not isinstance(raw, staticmethod):
            wrong.append(f"{name}: stub says staticmethod, runtime is {type(raw).__name__}")
    assert wrong == [], f"{class_name}: {wrong}"


def test_module_functions_are_functions_in_stub() -> None:
    tree = ast.parse(STUB_PATH.read_text(encoding="utf-8"))
    funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for name in funcs:
        assert callable(getattr(_core, name)), name
    for name in module_public_names():
        obj = getattr(_core, name)
        if callable(obj) and not isinstance(obj, type):
            assert name in funcs, f"{name} is a function but the stub does not declare it as one"


# ------------------------------------------------------------------- mypy


USER_SCRIPT = '''
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ragperf import (
    MemoryMonitor,
    OperationTracker,
    OperationType,
    PerformanceMonitor,
    PerformanceStats,
    QuantileSketch,
    ResponseTimeTracker,
    TokenCounter,
    format_report,
    get_performance_monitor,
    get_system_memory,
)

monitor: PerformanceMonitor = get_performance_monitor()
local = PerformanceMonitor(enable_memory_tracking=True, max_history=1000)

with monitor.track_operation(OperationType.LLM_INFERENCE, {"model": "qwen"}) as op:
    op.tokens = 150
    op.prompt_tokens = 100
    op.completion_tokens = 50
    op.metadata["k"] = "v"
with monitor.track_operation("any_name", model="qwen"):
    pass
duration: float | None = op.duration_s
ok: bool | None = op.success
delta: float | None = op.memory_delta_mb

stats: PerformanceStats = monitor.get_operation_stats(OperationType.LLM_INFERENCE)
avg: float = stats.avg_duration_seconds
p95: float = stats.p95_duration
windowed = monitor.get_operation_stats("llm_inference", window_minutes=5)
for op_type, s in monitor.get_all_stats().items():
    n: int = s.total_operations
total_ops: int = monitor.get_operation_count()
llm_ops: int = monitor.get_operation_count(OperationType.LLM_INFERENCE)
rss: float = monitor.get_memory_stats()["current_rss_mb"]


@monitor.timed("reranking")
def rerank(docs: list[str]) -> list[str]:
    return sorted(docs)


@monitor.timed
def bare(x: int) -> int:
    return x


@monitor.timed(OperationType.EMBEDDING_GENERATION, model="bge")
async def embed(text: str) -> list[float]:
    async with monitor.track_operation("embedding_generation") as t:
        t.tokens = 1
    return [float(len(text))]


ranked: list[str] = rerank(["b", "a"])
same: int = bare(1)
vec: list[float] = asyncio.run(embed("x"))
monitor.record("reranking", duration_s=0.012, tokens=0, success=True)

report: dict[str, Any] = monitor.generate_report()
text: str = format_report(report)
monitor.print_report()
path: str = monitor.export_metrics_json(Path("metrics.json"))
status: str = monitor.get_health_status()["status"]
monitor.clear_metrics()

sketch = QuantileSketch()
sketch.add(0.5)
q: float = sketch.quantile(0.5)
blob: bytes = sketch.serialize()
again: QuantileSketch = QuantileSketch.deserialize(blob)
same_contents: bool = again.same_contents(sketch)

tokens: int = TokenCounter.count_tokens("abc") + TokenCounter.count_tokens_in_list(["a", "b"])
mm = MemoryMonitor(max_history=10)
usage = mm.get_current_usage()
mem_delta: float = mm.get_memory_delta(usage, mm.get_current_usage())
tracker = ResponseTimeTracker(max_history=100)
tracker.record_duration(OperationType.RERANKING, 0.1)
count: int = tracker.get_stats(OperationType.RERANKING)["count"]
total_mb: float = get_system_memory()["total_mb"]
handle: OperationTracker = monitor.track_operation(OperationType.PDF_LOADING)
'''

BAD_SCRIPT = '''
from ragperf import PerformanceMonitor, QuantileSketch

monitor = PerformanceMonitor()
with monitor.track_operation("x") as op:
    op.tokens = "many"
name: int = QuantileSketch().quantile(0.5)
'''


def _run_mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(source), encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            "--config-file",
            "",  # ignore the project's own [tool.mypy] section
            str(script),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def mypy_available() -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed in this environment")


@pytest.mark.usefixtures("mypy_available")
def test_user_script_passes_mypy_strict(tmp_path: Path) -> None:
    result = _run_mypy(tmp_path, USER_SCRIPT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.usefixtures("mypy_available")
def test_mypy_catches_misuse(tmp_path: Path) -> None:
    # The stubs give real types (not Any): misuse is reported.
    result = _run_mypy(tmp_path, BAD_SCRIPT)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "user_script.py:6" in result.stdout  # op.tokens = "many"
    assert "user_script.py:7" in result.stdout  # float assigned to int
