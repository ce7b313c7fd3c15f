"""Continuation scoring for the quality metrics: log p(continuation | prompt) for many (prompt, continuations).

The verbalizer judge and the PROMPTING baseline score every label word after every text; perplexity scores every
record after a newline. On a ``LocalModel`` this goes to the engine's batched scorer (``LocalModel.score_tokens``:
each prompt evaluated once, its continuations as branches, many prompts per decode); its numbers equal
``LocalModel.loglik`` up to float rounding (tests/quality check it). Any other ``TextModel`` gets the plain loop.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from appliance.engine.llama import LocalModel

Advance = Callable[[int], None]


def score_continuations(
    model,
    prompts: Sequence[str],
    continuations: Sequence[str],
    *,
    max_prompt_tokens: int | None = None,
    progress: Advance | None = None,
) -> np.ndarray:
    """Matrix [len(prompts), len(continuations)] of summed log-likelihoods of each continuation after each prompt.

    ``max_prompt_tokens`` keeps the last tokens of a longer prompt (the head is cut), so long texts fit a slot.
    ``progress(n)`` is called with the number of (prompt, continuation) pairs scored since its last call.
    """
    prompts, conts = list(prompts), list(continuations)
    out = np.zeros((len(prompts), len(conts)), dtype=np.float64)
    if not prompts or not conts:
        return out
    if not isinstance(model, LocalModel):
        for i, p in enumerate(prompts):
            for j, c in enumerate(conts):
                out[i, j] = model.loglik(p, c)
            if progress is not None:
                progress(len(conts))
        return out
    ctoks = [model.tokenize(c, add_special=False) for c in conts]
    if any(not t for t in ctoks):
        raise ValueError("empty continuation")
    limit = model.ctx_per_seq - max(len(t) for t in ctoks) - 1
    if max_prompt_tokens is not None:
        limit = min(limit, max_prompt_tokens)
    requests = []
    for p in prompts:
        t = model.tokenize(p, add_special=True)
        requests.append((t[-limit:] if len(t) > limit else t, ctoks))
    per_token = model.score_tokens(requests, progress)
    for i, row in enumerate(per_token):
        out[i] = [sum(lps) for lps in row]
    return out
