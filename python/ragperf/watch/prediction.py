"""Latency prediction: a least-squares fit of an operation's duration on its
prompt and completion tokens, over its recent records
(``monitor.predict_latency``).

The model is ``duration_s = intercept_s + per_prompt_token_s * prompt_tokens
+ per_completion_token_s * completion_tokens``: for an LLM call the
intercept plus the prompt term is the time to first token (prefill) and the
completion term the time per output token. A token count that never varies
in the records (e.g. an embedding call with no completion tokens) is left
out of the fit and gets a coefficient of 0. The fit solves the normal
equations of the centred data (at most 3 unknowns, by Gaussian elimination
with partial pivoting: no numpy needed). For streams (records with a time
to first token) a second fit of the time to first token on the prompt
tokens is returned as ``time_to_first_token_s``.

The records are the last ``max_history`` (default 1,000) successful
records of the operation; at least :data:`MIN_SAMPLES` are needed.

Example:
    >>> rows = [(0.1 + 0.001 * p + 0.02 * c, p, c) for p in (100, 200, 400) for c in (10, 50, 90, 120)]
    >>> fit = fit_latency(rows)
    >>> round(fit["coefficients"]["per_completion_token_s"], 4), round(fit["r2"], 3)
    (0.02, 1.0)
    >>> round(predict(fit, 300, 100), 3)
    2.4
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

__all__ = ["MIN_SAMPLES", "fit_latency", "predict", "prediction"]

#: Records a fit needs at the least.
MIN_SAMPLES: Final = 10
_NAMES: Final = ("per_prompt_token_s", "per_completion_token_s")


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Solves ``matrix x = rhs`` (k <= 3) by Gaussian elimination with
    partial pivoting; ValueError when singular."""
    k = len(rhs)
    a = [row[:] + [rhs[i]] for i, row in enumerate(matrix)]
    scale = max((abs(v) for row in matrix for v in row), default=0.0)
    for col in range(k):
        pivot = max(range(col, k), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) <= 1e-12 * max(scale, 1e-300):
            raise ValueError("the token counts are collinear: the fit has no unique solution")
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, k):
            f = a[r][col] / a[col][col]
            for c in range(col, k + 1):
                a[r][c] -= f * a[col][c]
    x = [0.0] * k
    for r in range(k - 1, -1, -1):
        x[r] = (a[r][k] - sum(a[r][c] * x[c] for c in range(r + 1, k))) / a[r][r]
    return x


def fit_latency(rows: Iterable[tuple[float, float, float]]) -> dict[str, Any]:
    """Least squares of ``duration`` on ``(prompt_tokens,
    completion_tokens)`` over ``rows`` of ``(duration_s, prompt, completion)``:
    ``{"coefficients": {"intercept_s", "per_prompt_token_s",
    "per_completion_token_s"}, "r2", "samples", "residual_p95_s"}``
    (``residual_p95_s``: the 95th percentile of ``duration - fit``).
    ValueError with fewer than :data:`MIN_SAMPLES` rows.

    Example:
        >>> fit_latency([(1.0 + 0.01 * c, 0, c) for c in range(10)])["coefficients"]["per_prompt_token_s"]
        0.0
    """
    data = [(float(d), float(p), float(c)) for d, p, c in rows]
    n = len(data)
    if n < MIN_SAMPLES:
        raise ValueError(f"a latency fit needs at least {MIN_SAMPLES} records, got {n}")
    ys = [d for d, _, _ in data]
    cols = [[p for _, p, _ in data], [c for _, _, c in data]]
    y_mean = sum(ys) / n
    means = [sum(col) / n for col in cols]
    # Columns that vary (a constant column is absorbed by the intercept).
    used = [i for i, col in enumerate(cols) if max(col) - min(col) > 0]
    centred = {i: [v - means[i] for v in cols[i]] for i in used}
    yc = [y - y_mean for y in ys]
    matrix = [[sum(a * b for a, b in zip(centred[i], centred[j])) for j in used] for i in used]
    rhs = [sum(a * b for a, b in zip(centred[i], yc)) for i in used]
    solved = _solve(matrix, rhs) if used else []
    beta = [0.0, 0.0]
    for i, value in zip(used, solved):
        beta[i] = value
    intercept = y_mean - beta[0] * means[0] - beta[1] * means[1]
    residuals = sorted(y - (intercept + beta[0] * p + beta[1] * c) for y, p, c in data)
    ss_res = sum(r * r for r in residuals)
    ss_tot = sum(v * v for v in yc)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    rank = max(0, math.ceil(0.95 * n) - 1)
    return {
        "coefficients": {"intercept_s": intercept, _NAMES[0]: beta[0], _NAMES[1]: beta[1]},
        "r2": r2,
        "samples": n,
        "residual_p95_s": residuals[rank],
    }


def predict(fit: Mapping[str, Any], prompt_tokens: float, completion_tokens: float) -> float:
    """The fitted duration (seconds) for the given token counts.

    Example:
        >>> predict({"coefficients": {"intercept_s": 0.5, "per_prompt_token_s": 0.0,
        ...          "per_completion_token_s": 0.01}}, 0, 100)
        1.5
    """
    coef = fit["coefficients"]
    return float(
        coef["intercept_s"]
        + coef[_NAMES[0]] * prompt_tokens
        + coef[_NAMES[1]] * completion_tokens
    )


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def prediction(
    operation: str,
    records: Sequence[Mapping[str, Any]],
    prompt_tokens: Any,
    completion_tokens: Any,
) -> dict[str, Any]:
    """The prediction for one call of ``operation`` from its recent
    ``records`` (``get_recent_operations`` dicts): ``{"operation",
    "expected_s", "p95_s", "fit": {...}, "time_to_first_token_s"}``
    (durations below 0 are reported as 0; ``p95_s`` = expected plus the
    fit's 95th-percentile residual;
    ``time_to_first_token_s`` None unless at least :data:`MIN_SAMPLES`
    records were streams). ValueError naming the operation when there are
    too few successful records.

    Example:
        >>> recs = [{"success": True, "duration_s": 0.2 + 0.01 * c, "prompt_tokens": 10,
        ...          "completion_tokens": c, "time_to_first_token_s": None} for c in range(12)]
        >>> round(prediction("llm", recs, 10, 50)["expected_s"], 3)
        0.7
    """
    prompt = _count(prompt_tokens, "prompt_tokens")
    completion = _count(completion_tokens, "completion_tokens")
    ok = [r for r in records if r.get("success")]
    if len(ok) < MIN_SAMPLES:
        raise ValueError(
            f"predict_latency needs at least {MIN_SAMPLES} successful recent records of "
            f"{operation!r}; it has {len(ok)}"
        )
    fit = fit_latency(
        (r["duration_s"], r.get("prompt_tokens") or 0, r.get("completion_tokens") or 0) for r in ok
    )
    expected = max(0.0, predict(fit, prompt, completion))
    streams = [r for r in ok if r.get("time_to_first_token_s") is not None]
    ttft: float | None = None
    if len(streams) >= MIN_SAMPLES:
        ttft_fit = fit_latency(
            (r["time_to_first_token_s"], r.get("prompt_tokens") or 0, 0) for r in streams
        )
        ttft = max(0.0, predict(ttft_fit, prompt, 0))
    return {
        "operation": operation,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "expected_s": expected,
        "p95_s": expected + max(0.0, fit["residual_p95_s"]),
        "time_to_first_token_s": ttft,
        "fit": fit,
    }
