"""Batched continuation scoring: log p(continuation | prompt) for many (prompt, continuations) pairs at once.

The verbalizer judge and the PROMPTING baseline score every label word after every text. ``LocalModel.loglik``
evaluates one pair per call (the prompt again for each continuation); this module evaluates each prompt once into
one sequence slot, copies its KV cache to one slot per continuation, and scores all continuations in one
``llama_decode``, filling up to ``max_parallel`` slots with several prompts at a time. The numbers equal
``LocalModel.loglik`` up to float rounding (tests/quality check it). Any other ``TextModel`` gets the plain loop.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

import llama_cpp as C

from appliance.engine.llama import LocalModel, log_softmax_at


def score_continuations(
    model, prompts: Sequence[str], continuations: Sequence[str], *, max_prompt_tokens: int | None = None
) -> np.ndarray:
    """Matrix [len(prompts), len(continuations)] of summed log-likelihoods of each continuation after each prompt.

    ``max_prompt_tokens`` keeps the last tokens of a longer prompt (the head is cut), so long texts fit a slot.
    """
    prompts, conts = list(prompts), list(continuations)
    out = np.zeros((len(prompts), len(conts)), dtype=np.float64)
    if not prompts or not conts:
        return out
    if not isinstance(model, LocalModel) or len(conts) > model.max_parallel:
        for i, p in enumerate(prompts):
            for j, c in enumerate(conts):
                out[i, j] = model.loglik(p, c)
        return out
    ctoks = [model.tokenize(c, add_special=False) for c in conts]
    if any(not t for t in ctoks):
        raise ValueError("empty continuation")
    longest = max(len(t) for t in ctoks)
    limit = model.ctx_per_seq - longest - 1
    if max_prompt_tokens is not None:
        limit = min(limit, max_prompt_tokens)
    # one decode call scores a whole group: its continuation tokens must fit one batch
    per_group = max(1, min(model.max_parallel // len(conts), model.n_batch // (len(conts) * longest)))
    with model._lock:
        for start in range(0, len(prompts), per_group):
            group = prompts[start : start + per_group]
            ptoks = []
            for p in group:
                t = model.tokenize(p, add_special=True)
                ptoks.append(t[-limit:] if len(t) > limit else t)
            out[start : start + len(group)] = _score_group(model, ptoks, ctoks)
    return out


def _score_group(model: LocalModel, ptoks: list[list[int]], ctoks: list[list[int]]) -> np.ndarray:
    k = len(ctoks)
    C.llama_memory_clear(model._mem, True)
    # 1-2. every prompt but its last token into its owner slot (g * k), shared with its other continuations' slots
    model._prefill_slots({g * k: toks for g, toks in enumerate(ptoks)},
                         [(g * k, g * k + j) for g in range(len(ptoks)) for j in range(1, k)])
    # 3. the last prompt token plus each continuation but its last token, logits everywhere
    rows: list[tuple[int, int, int]] = []  # (batch row, group, continuation) in order
    entries = []
    for g, toks in enumerate(ptoks):
        for j, ct in enumerate(ctoks):
            seq = [toks[-1]] + ct[:-1]
            for off, tok in enumerate(seq):
                entries.append((tok, len(toks) - 1 + off, g * k + j))
            rows.append((len(entries) - len(seq), g, j))
    res = np.zeros((len(ptoks), k))
    for i, (tok, pos, slot) in enumerate(entries):
        model._batch_set(i, tok, pos, (slot,), True)
    model._decode(len(entries))
    for first, g, j in rows:
        for off, tok in enumerate(ctoks[j]):
            res[g, j] += log_softmax_at(model.logits_row(first + off), tok)
    C.llama_memory_clear(model._mem, True)
    return res
