"""The embed step of the demo pipeline: the model-free :class:`HashingEmbedder`
(the real sentence-embedding model is :class:`~ragperf.demo.minilm.MiniLMEmbedder`).

>>> HashingEmbedder(dim=64).embed(["rain gauge"]).shape
(1, 64)
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from typing import Final

import numpy as np
import numpy.typing as npt

from .terms import tokenize

__all__ = ["FloatMatrix", "HashingEmbedder"]

FloatMatrix = npt.NDArray[np.float32]
"""Row-major ``(n, dim)`` float32 matrix, one L2-normalised embedding per row."""


class HashingEmbedder:
    """Deterministic feature-hashing embedder: no model, no download, no state.

    Features are the content-word unigrams and bigrams from :func:`tokenize`.
    Each feature is hashed with CRC-32; the low bits pick one of ``dim``
    buckets and the top bit a sign, so colliding features tend to cancel
    rather than pile up. Weights are sublinear term frequencies
    ``1 + log(tf)``; rows are L2-normalised (an empty text gives a zero row).

    >>> emb = HashingEmbedder()
    >>> v = emb.embed(["rain gauge calibration", "calibrating the rain gauges", "API keys"])
    >>> v.shape, round(float(v[0] @ v[0]), 6)
    ((3, 512), 1.0)
    >>> bool(v[0] @ v[1] > v[0] @ v[2])
    True
    """

    name: Final = "hashing-crc32"

    def __init__(self, dim: int = 512, *, bigrams: bool = True) -> None:
        if dim <= 0:
            raise ValueError("dim must be positive")
        self.dim = dim
        self.bigrams = bigrams

    def features(self, text: str) -> list[str]:
        """The hashed features of ``text``: unigrams, then ``"a b"`` bigrams.

        >>> HashingEmbedder().features("Charging battery packs")
        ['charg', 'battery', 'pack', 'charg battery', 'battery pack']
        """
        terms = tokenize(text)
        if self.bigrams:
            terms += [f"{a} {b}" for a, b in zip(terms, terms[1:])]
        return terms

    def embed(self, texts: list[str]) -> FloatMatrix:
        """Embed ``texts`` into a ``(len(texts), dim)`` float32 matrix."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, tf in Counter(self.features(text)).items():
                h = zlib.crc32(feature.encode("utf-8"))
                sign = -1.0 if h & 0x80000000 else 1.0
                out[row, h % self.dim] += sign * (1.0 + math.log(tf))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out
