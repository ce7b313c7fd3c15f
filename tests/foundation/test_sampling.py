"""Exact nucleus sampling by rejection (engine.sampling), checked against the definition on known logits."""

from __future__ import annotations

import numpy as np

from appliance.engine.interface import SamplingParams
from appliance.engine.sampling import BatchSampler, first_above


def _nucleus(probs: np.ndarray, top_p: float) -> set[int]:
    order = np.argsort(-probs)
    cum = np.cumsum(probs[order])
    k = int(np.searchsorted(cum, top_p) + 1)
    return set(order[:k].tolist())


def test_samples_stay_in_the_nucleus_with_the_right_frequencies() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(1, 50)).astype(np.float32) * 2
    probs = np.exp(logits[0] - logits[0].max())
    probs /= probs.sum()
    nucleus = _nucleus(probs, 0.9)
    s = BatchSampler(SamplingParams(top_p=0.9, temperature=1.0), seeds=[1], eog_ids=[])
    counts = np.zeros(50)
    n = 20000
    for step in range(n):
        tok, lp = s.sample(logits, [0], step)
        counts[tok[0]] += 1
    assert set(np.nonzero(counts)[0].tolist()) <= nucleus
    expected = np.zeros(50)
    idx = sorted(nucleus)
    expected[idx] = probs[idx] / probs[idx].sum()
    assert np.abs(counts / n - expected).max() < 0.015


def test_greedy_and_min_tokens_mask_end_of_generation() -> None:
    logits = np.array([[0.0, 5.0, 1.0]], dtype=np.float32)
    s = BatchSampler(SamplingParams(temperature=0, min_new_tokens=2), seeds=[0], eog_ids=[1])
    assert s.sample(logits, [0], 0)[0][0] == 2  # token 1 is end-of-generation and masked
    assert s.sample(logits, [0], 2)[0][0] == 1


def test_rows_use_their_own_seed() -> None:
    logits = np.zeros((2, 1000), dtype=np.float32)
    a = BatchSampler(SamplingParams(top_p=1.0), seeds=[5, 6], eog_ids=[])
    b = BatchSampler(SamplingParams(top_p=1.0), seeds=[5], eog_ids=[])
    ta = [a.sample(logits, [0, 1], i)[0][0] for i in range(20)]
    tb = [b.sample(logits[:1], [0], i)[0][0] for i in range(20)]
    assert ta == tb


def test_first_above_is_the_full_cumulative_search() -> None:
    """The chunked running sum answers exactly what a full ``np.cumsum`` + ``searchsorted`` does, float32 rounding
    included: records sampled before and after the change are the same."""
    rng = np.random.default_rng(5)
    x = np.exp(rng.standard_normal((9, 20000)).astype(np.float32) * 3)
    x[2, 5000:] = 0.0  # a row whose tail adds nothing
    total = np.cumsum(x, axis=1)
    rows = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 8])
    targets = np.concatenate([rng.random(6) * total[:6, -1], [0.0, total[7, 1023], total[8, -1], total[8, -1] * 2]])
    targets = targets.astype(np.float32)
    expected = [np.searchsorted(total[r], t, side="right") for r, t in zip(rows, targets)]
    assert first_above(x, rows, targets).tolist() == expected
