"""notebooks/walkthrough.ipynb: committed without outputs, and it runs top to bottom.

The notebook is executed with nbclient on a kernel spec written by this test
that points at the interpreter running the tests (the venv's), so CI does not
depend on whichever ``python3`` kernel a machine has registered.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "walkthrough.ipynb"
KERNEL = "ragperf-test-venv"
QUESTIONS = 40  # the notebook's toy run size
OPS = ("document_retrieval", "reranking", "llm_inference", "query_processing")


def _text(cell: dict[str, Any]) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] in ("execute_result", "display_data"):
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def test_committed_notebook_has_no_outputs() -> None:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 6
    for cell in code:
        assert cell["outputs"] == [], "commit the notebook with outputs cleared"
        assert cell["execution_count"] is None


@pytest.mark.slow
def test_notebook_runs_and_shows_real_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    share = tmp_path / "jupyter"
    spec_dir = share / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "ragperf tests",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(share))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no platformdirs migration warning
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    work = tmp_path / "work"
    work.mkdir()

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL, timeout=300, resources={"metadata": {"path": str(work)}}
    )
    client.execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    texts = [_text(c) for c in cells]

    # the toy run: 4 operations per question
    assert texts[1].strip() == str(4 * QUESTIONS)
    for name in OPS:
        assert f"{name:20s} n={QUESTIONS:3d}" in texts[2], name
    assert "query_processing -> ['document_retrieval', 'reranking', 'llm_inference']" in texts[2]
    assert "time to first token p50 (ms):" in texts[2]
    # the operations CSV has one row per recorded block
    assert ast.literal_eval(texts[3].strip()) == {name: QUESTIONS for name in OPS}
    # both figures rendered as images
    for index in (4, 6):
        kinds = [set(o.get("data", {})) for o in cells[index].outputs]
        assert any("image/png" in k for k in kinds), index
    # the comparison table lists every operation of both runs
    for name in OPS:
        assert name in texts[5], name
    assert (work / "walkthrough-output" / "run_b.json").is_file()
