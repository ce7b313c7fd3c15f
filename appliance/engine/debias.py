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

This module holds the formula; the decoding is the engine's public capability ``generate_debiased`` (declared in
``engine.interface``, implemented by ``LocalModel`` with its grouped decoding loop and ``debias_combiner`` below).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from appliance.engine.interface import Completion, SamplingParams, TextModel, supports_debiasing
from appliance.errors import BadInput

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
    with np.errstate(over="ignore"):  # a huge λ: the exponent overflows to -inf, the weight to 0 (then ε applies)
        w = np.maximum(epsilon, np.exp(-decay * np.maximum(0.0, qmax - p)))
    out = p * w
    total = out.sum(axis=-1, keepdims=True)
    # With ε = 0 and a large λ every token can weigh 0 (each made likelier by some counter-label): renormalizing would
    # give NaN and the sampler token 0 forever. Such a row keeps the label prompt's own distribution instead.
    empty = total <= 0
    return np.where(empty, p, out / np.where(empty, 1.0, total))


def debias_combiner(decay: float = DEFAULT_DECAY, epsilon: float = DEFAULT_EPSILON) -> Callable[[np.ndarray], np.ndarray]:
    """The grouped decoding hook: logits (groups, 1 + counter prompts, V) to the log of the label prompt's
    self-debiased distribution (groups, V), which the text's next token is sampled from."""

    def combine(logits: np.ndarray) -> np.ndarray:
        probs = _softmax(logits)
        debiased = self_debias(probs[:, 0], probs[:, 1:], decay, epsilon) if probs.shape[1] > 1 else probs[:, 0]
        with np.errstate(divide="ignore"):
            return np.log(debiased).astype(np.float32)

    return combine


def next_token_probs(model: TextModel, prompts: Sequence[str]) -> np.ndarray:
    """The next-token distribution after each prompt (rows of an (n, V) array), all in one batched decode."""
    return _softmax(_debiasing(model).next_token_logits_batch(prompts))


def generate_debiased(
    model: TextModel,
    groups: Sequence[Sequence[str]],
    params: SamplingParams,
    *,
    decay: float = DEFAULT_DECAY,
    epsilon: float = DEFAULT_EPSILON,
    on_token: Callable[[int], None] | None = None,
) -> list[Completion]:
    """One self-debiased completion per group: ``groups[i][0]`` is the prompt the text is written under,
    ``groups[i][1:]`` its counter prompts (see ``DebiasingModel.generate_debiased``)."""
    return _debiasing(model).generate_debiased(groups, params, decay=decay, epsilon=epsilon, on_token=on_token)


def _debiasing(model: TextModel):  # noqa: ANN202 (a DebiasingModel)
    if not supports_debiasing(model):
        raise BadInput("self-debiasing needs a model that decodes parallel sequences (the local llama.cpp engine)")
    return model
