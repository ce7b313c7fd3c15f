"""Naturalness: the perplexity of each record under a chosen GGUF model.

perplexity(x) = exp(-(1/T) sum_t log p(x_t | x_<t)) over the record's T tokens. The embedded models have no BOS
token, so the first token is conditioned on a newline (``PREFIX``). Texts longer than the model's slot are scored on
their first tokens. Scoring is batched (``scoring.score_continuations``): several records decode together.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from appliance.quality.scoring import score_continuations

PREFIX = "\n"


def perplexity(model, text: str) -> float:
    """Perplexity of one text (the engine's own per-token log-likelihoods)."""
    _, lps = model.loglik_tokens(PREFIX, text)
    return math.exp(-sum(lps) / len(lps)) if lps else float("nan")


def perplexities(model, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> list[float]:
    """Perplexity of each text, batched (``progress(n)``: texts scored since its last call)."""
    out = [float("nan")] * len(texts)
    limit = getattr(model, "ctx_per_seq", 512) - 4
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
    if not items:
        return out
    sums = score_continuations(model, [PREFIX], [t for _, t, _ in items], progress=progress)[0]
    for (i, _, n), s in zip(items, sums):
        out[i] = math.exp(-s / n)
    return out


def summary(values: Sequence[float]) -> dict[str, float]:
    v = np.array([x for x in values if not math.isnan(x)])
    if not len(v):
        return {"mean": float("nan"), "median": float("nan"), "p90": float("nan")}
    return {"mean": float(v.mean()), "median": float(np.median(v)), "p90": float(np.percentile(v, 90))}
