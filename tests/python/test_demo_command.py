"""The demo's command line, progress bar and PDF loading (fast: hashing embedder)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ragperf import PerformanceMonitor
from ragperf.demo import minilm
from ragperf.demo.__main__ import main
from ragperf.demo.pdf import read_pdf_text
from ragperf.demo.pipeline import corpus_root, load_documents, run_demo
from ragperf.demo.progress import ProgressBar


def test_progress_bar_draws_only_when_enabled() -> None:
    out = io.StringIO()
    with ProgressBar(3, "embedding", stream=out, enabled=True, width=6) as bar:
        bar.update(1)
        bar.update(5)  # capped at the total
    frames = out.getvalue().split("\r")[1:]
    assert [f.split(" ")[1] for f in frames] == ["[------]", "[##----]", "[######]", "[######]"]
    assert frames[-1].startswith("embedding [######] 3/3 ") and out.getvalue().endswith("\n")

    quiet = io.StringIO()  # StringIO is not a TTY: off by default
    with ProgressBar(3, "x", stream=quiet) as bar:
        bar.update(3)
    assert quiet.getvalue() == "" and bar.done == 3


def test_progress_bar_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="-1"):
        ProgressBar(-1, "x")
    with pytest.raises(ValueError, match="width"):
        ProgressBar(1, "x", width=0)


def test_run_demo_progress_counts_every_chunk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monitor = PerformanceMonitor()
    run_demo(["Who founded Alderbank?"], monitor=monitor, metrics_path=tmp_path / "m.json",
             quiet=True, progress=True)
    err = capsys.readouterr().err
    (chunks,) = {r["metadata"]["chunks"] for r in monitor.get_recent_operations("semantic_chunking")}
    assert err.rstrip("\n").rsplit("\r", 1)[-1].split(" ")[4] == f"{chunks}/{chunks}"
    # the empty bar, one frame per batch of 8, the final frame on close
    assert err.count("\r") == 1 + -(-chunks // 8) + 1


def test_pdf_is_read_with_pypdf_and_nested_under_loading() -> None:
    monitor = PerformanceMonitor()
    docs = load_documents(monitor=monitor)
    pdf = docs[-1]
    assert pdf.doc_id == "17_radio_compliance"
    assert "868 MHz band" in pdf.text and "915 MHz" in pdf.text
    (trace,) = monitor.get_recent_traces(1)
    assert trace["operation"] == "document_loading"
    assert [c["operation"] for c in trace["children"]] == ["pdf_loading"]
    assert trace["children"][0]["metadata"]["pages"] == 1
    assert trace["metadata"]["pdf_files"] == 1

    text_only = load_documents(monitor=PerformanceMonitor(), include_pdf=False)
    assert [d.doc_id for d in text_only] == [d.doc_id for d in docs[:-1]]


def test_pdf_reader_names_a_bad_file(tmp_path: Path) -> None:
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"this is not a PDF")
    with pytest.raises(ValueError, match="fake.pdf is not a readable PDF"):
        read_pdf_text(fake)
    text, pages = read_pdf_text(corpus_root() / "17_radio_compliance.pdf")
    assert pages == 1 and text.startswith("Radio and Regulatory Compliance Data Sheet")


def test_metrics_and_csv_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metrics, table = tmp_path / "run.json", tmp_path / "ops.csv"
    argv = ["--embedder", "hashing", "--metrics", str(metrics), "--csv", str(table)]
    assert main([*argv, "--question", "What are the customer support hours?"]) == 0
    out = capsys.readouterr().out
    assert "08:00 to 18:00" in out
    assert f"ragperf dashboard {metrics}" in out
    ops = json.loads(metrics.read_text(encoding="utf-8"))["operations"]
    header, *rows = table.read_text(encoding="utf-8").splitlines()
    assert header.split(",")[0] == "operation"
    assert sorted(r.split(",")[0] for r in rows) == sorted(ops)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--metrics", "/nonexistent-dir/m.json"], "directory /nonexistent-dir does not exist"),
        (["--csv", "/nonexistent-dir/m.csv"], "directory /nonexistent-dir does not exist"),
        (["--llm-url", "ftp://x", "--llm-model", "m"], "'ftp://x'"),
        (["--repeat", "0"], "--repeat must be at least 1, got 0"),
    ],
)
def test_bad_options_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--quiet", "--embedder", "hashing", *argv]) == 2
    assert message in capsys.readouterr().err


def test_unknown_embedder_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--embedder", "bert-large"]) == 2
    assert "invalid choice: 'bert-large'" in capsys.readouterr().err


def test_missing_model_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def not_installed() -> Path:
        raise minilm.ModelNotInstalledError("the MiniLM embedder needs the model package ...")

    monkeypatch.setattr(minilm, "find_model_dir", not_installed)
    assert main(["--quiet", "--metrics", str(tmp_path / "m.json")]) == 2
    assert "needs the model package" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--embedder", "--llm-url", "--llm-model", "--csv", "RAGPERF_DEMO_LLM_URL"):
        assert option in out


@pytest.mark.parametrize(
    "module", ["pipeline", "chunking", "progress", "semantic_chunker", "openai_chat", "pdf", "command"]
)
def test_module_doctests(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(
        importlib.import_module(f"ragperf.demo.{module}"), optionflags=doctest.ELLIPSIS
    )
    assert result.failed == 0
    assert result.attempted > 0
