"""Naturalness: the perplexity of each record under a chosen GGUF model.

perplexity(x) = exp(-(1/T) sum_t log p(x_t | x_<t)) over the record's T tokens. The embedded models have no BOS
token, so the first token is conditioned on a newline (``PREFIX``). Texts longer than the model's slot are scored on
their first tokens. Scoring is batched (``scoring.score_continuations``): several records decode together.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from appliance.quality.scoring import score_continuations

PREFIX = "\n"


def perplexity(model, text: str) -> float:
    """Perplexity of one text (the engine's own per-token log-likelihoods)."""
    _, lps = model.loglik_tokens(PREFIX, text)
    return math.exp(-sum(lps) / len(lps)) if lps else float("nan")


def perplexities(model, texts: Sequence[str]) -> list[float]:
    """Perplexity of each text, batched."""
    out = [float("nan")] * len(texts)
    limit = getattr(model, "ctx_per_seq", 512) - 4
    n_batch = getattr(model, "n_batch", 512)
    par = getattr(model, "max_parallel", 1)
    items = []
    for i, t in enumerate(texts):
        toks = model.tokenize(t, add_special=False)
        if not toks:
            continue
        if len(toks) > limit:
            toks = toks[:limit]
            t = model.detokenize(toks)
            toks = model.tokenize(t, add_special=False)[:limit]
        items.append((i, t, len(toks)))
    chunk: list[tuple[int, str, int]] = []

    def flush() -> None:
        if not chunk:
            return
        sums = score_continuations(model, [PREFIX], [t for _, t, _ in chunk])[0]
        for (i, _, n), s in zip(chunk, sums):
            out[i] = math.exp(-s / n)
        chunk.clear()

    for it in items:
        longest = max([it[2]] + [c[2] for c in chunk])
        if chunk and (len(chunk) + 1 > par or longest * (len(chunk) + 1) > n_batch):
            flush()
        chunk.append(it)
    flush()
    return out


def summary(values: Sequence[float]) -> dict[str, float]:
    v = np.array([x for x in values if not math.isnan(x)])
    if not len(v):
        return {"mean": float("nan"), "median": float("nan"), "p90": float("nan")}
    return {"mean": float(v.mean()), "median": float(np.median(v)), "p90": float(np.percentile(v, 90))}
