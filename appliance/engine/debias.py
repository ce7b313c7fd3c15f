"""Self-debiasing decoding (Schick, Udupa & Schütze, 2021; used by DINO, Schick & Schütze, 2021).

A text is decoded under its own prompt (the label's) while the same continuation is fed, in parallel sequences, to
one or more *counter* prompts (the other labels'). At every step the next-token distribution ``p`` of the label
prompt is reweighted against the largest counter-prompt probability ``q`` of each token:

    p'(w) ∝ p(w) · max(ε, exp(−λ · max(0, q(w) − p(w))))

so tokens that the counter-labels make more likely than the label does are pushed down (λ, the decay constant,
defaults to 200 here as in the issue; DINO's code uses 100 for text and ε = 0.01). The sampled token is appended to
every sequence of the group, exactly as DINO's modified ``sample`` does, so the counter prompts always score the
same continuation. All sequences of all groups in a wave go through one ``llama_decode`` per step: the cost of
self-debiasing is a wider batch, not extra passes.

This module uses ``LocalModel``'s batch helpers and leaves ``LocalModel.generate`` untouched.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import llama_cpp as C

from appliance.engine.interface import Completion, SamplingParams
from appliance.engine.llama import LocalModel, _Seq
from appliance.engine.sampling import BatchSampler
from appliance.errors import UserError

DEFAULT_DECAY = 200.0
DEFAULT_EPSILON = 0.01


def _softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    return x / x.sum(axis=-1, keepdims=True)


def self_debias(p: np.ndarray, q: np.ndarray, decay: float = DEFAULT_DECAY, epsilon: float = DEFAULT_EPSILON) -> np.ndarray:
    """Reweight probabilities ``p`` (..., V) against counter-prompt probabilities ``q`` (..., K, V); renormalized."""
    qmax = q.max(axis=-2)
    w = np.maximum(epsilon, np.exp(-decay * np.maximum(0.0, qmax - p)))
    out = p * w
    return out / out.sum(axis=-1, keepdims=True)


def next_token_probs(model: LocalModel, prompts: Sequence[str]) -> np.ndarray:
    """The next-token distribution after each prompt (rows of an (n, V) array), all in one batched decode."""
    prompts = list(prompts)
    if len(prompts) > model.max_parallel:
        raise UserError(f"at most {model.max_parallel} prompts at once")
    with model._lock:
        C.llama_memory_clear(model._mem, True)
        toks_of = model._tokenize_prompts(prompts, 0)
        slot_of = {i: i for i in range(len(prompts))}
        model._prefill(list(enumerate(prompts)), toks_of, slot_of)
        for i, text in enumerate(prompts):
            model._batch_set(i, toks_of[text][-1], len(toks_of[text]) - 1, (i,), True)
        model._decode(len(prompts))
        logits = np.ctypeslib.as_array(C.llama_get_logits(model._ctx), shape=(len(prompts), model.n_vocab)).copy()
        C.llama_memory_clear(model._mem, True)
    return _softmax(logits)


def generate_debiased(
    model: LocalModel,
    groups: Sequence[Sequence[str]],
    params: SamplingParams,
    *,
    decay: float = DEFAULT_DECAY,
    epsilon: float = DEFAULT_EPSILON,
    on_token: Callable[[int], None] | None = None,
) -> list[Completion]:
    """One self-debiased completion per group. ``groups[i][0]`` is the prompt the text is written under,
    ``groups[i][1:]`` its counter prompts (the same number in every group). Group ``i`` samples with seed
    ``params.seed + i``; temperature, top-p, stop strings and token limits apply to the debiased distribution."""
    groups = [list(g) for g in groups]
    if not groups:
        return []
    size = len(groups[0])
    if size < 1 or any(len(g) != size for g in groups):
        raise UserError("every self-debiasing group needs the same number of counter prompts")
    per_wave = model.max_parallel // size
    if per_wave < 1:
        raise UserError(f"{size} parallel sequences per text exceed the model's {model.max_parallel} slots")
    results: list[Completion] = []
    with model._lock:
        toks_of = model._tokenize_prompts([t for g in groups for t in g], params.max_new_tokens)
        sampler = BatchSampler(params, [params.seed + i for i in range(len(groups))], model._eog_ids)
        for start in range(0, len(groups), per_wave):
            wave = list(range(start, min(len(groups), start + per_wave)))
            results += _wave(model, groups, wave, toks_of, sampler, params, decay, epsilon, on_token)
    return results


def _wave(model, groups, wave, toks_of, sampler, p: SamplingParams, decay, epsilon, on_token) -> list[Completion]:
    size = len(groups[0])
    C.llama_memory_clear(model._mem, True)
    slots = {g: [j * size + k for k in range(size)] for j, g in enumerate(wave)}  # group -> its slots
    prompts = [(slots[g][k], groups[g][k]) for g in wave for k in range(size)]
    model._prefill(prompts, toks_of, {s: s for s, _ in prompts})
    pos = {s: len(toks_of[t]) - 1 for s, t in prompts}
    nxt = {s: toks_of[t][-1] for s, t in prompts}
    seqs = {g: _Seq(slot=slots[g][0], prompt_len=len(toks_of[groups[g][0]])) for g in wave}
    step = {g: 0 for g in wave}
    done: dict[int, Completion] = {}
    while len(done) < len(wave):
        active = [g for g in wave if g not in done]
        n = 0
        for g in active:
            for s in slots[g]:
                model._batch_set(n, nxt[s], pos[s], (s,), True)
                n += 1
        model._decode(n)
        logits = np.ctypeslib.as_array(C.llama_get_logits(model._ctx), shape=(n, model.n_vocab))
        probs = _softmax(logits).reshape(len(active), size, model.n_vocab)
        if size > 1:
            debiased = self_debias(probs[:, 0], probs[:, 1:], decay, epsilon)
        else:
            debiased = probs[:, 0]
        with np.errstate(divide="ignore"):
            logp = np.log(debiased).astype(np.float32)
        tokens, lps = sampler.sample(logp, active, [step[g] for g in active])
        for g, tok, lp in zip(active, tokens.tolist(), lps.tolist()):
            s = seqs[g]
            s.logprob_sum += lp
            step[g] += 1
            eog = tok in model._eog_set
            s.accept(tok, b"" if eog else model.piece(tok), eog, p)
            for sl in slots[g]:  # every sequence of the group continues with the same token
                nxt[sl], pos[sl] = tok, pos[sl] + 1
            if s.done:
                done[g] = s.completion()
                for sl in slots[g]:
                    C.llama_memory_seq_rm(model._mem, sl, -1, -1)
        if on_token is not None:
            on_token(len(active))
    C.llama_memory_clear(model._mem, True)
    return [done[g] for g in wave]
