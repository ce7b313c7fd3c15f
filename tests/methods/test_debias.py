"""Self-debiasing (DINO) on the real model: the formula, the counter-label's probability, parallel decoding."""

from __future__ import annotations

import numpy as np
import pytest

from appliance.engine import debias
from appliance.engine.interface import SamplingParams


def test_formula_matches_the_paper() -> None:
    p = np.array([0.5, 0.3, 0.2])
    q = np.array([[0.1, 0.6, 0.3], [0.2, 0.2, 0.6]])
    out = debias.self_debias(p, q, decay=10, epsilon=0.01)
    w = np.maximum(0.01, np.exp(-10 * np.maximum(0, q.max(axis=0) - p)))
    assert np.allclose(out, p * w / (p * w).sum())
    assert np.allclose(debias.self_debias(p, q, decay=0), p)  # λ = 0: no change


@pytest.mark.model
def test_self_debiasing_lowers_the_counter_labels_probability(smol) -> None:
    pos = smol.format_prompt("Write a one-sentence review of the movie The Last Harbor by a critic who loved it.", assistant_prefix='"')
    neg = smol.format_prompt("Write a one-sentence review of the movie The Last Harbor by a critic who hated it.", assistant_prefix='"')
    probs = debias.next_token_probs(smol, [pos + "The movie was", neg + "The movie was"])
    deb = debias.self_debias(probs[0], probs[1:], decay=200)
    for word in (" terrible", " bad"):
        t = smol.tokenize(word)[0]
        assert probs[1][t] > probs[0][t]  # the counter-label prompt prefers it
        assert deb[t] < probs[0][t] / 3  # self-debiasing pushes it down
    amazing = smol.tokenize(" amazing")[0]
    assert deb[amazing] >= probs[0][amazing]  # the label's own words are not pushed down


@pytest.mark.model
def test_debiased_decoding_runs_groups_in_parallel(smol) -> None:
    a = smol.format_prompt("Name a fruit.")
    b = smol.format_prompt("Name a vegetable.")
    p = SamplingParams(temperature=0, max_new_tokens=8)
    # λ = 0 leaves the label prompt's distribution unchanged: greedy output equals plain greedy generation.
    plain = smol.generate([a, b], p)
    same = debias.generate_debiased(smol, [[a, b], [b, a]], p, decay=0)
    assert [c.text for c in same] == [c.text for c in plain]
    steps: list[int] = []
    outs = debias.generate_debiased(smol, [[a, b]] * 3, SamplingParams(max_new_tokens=6, seed=1), on_token=steps.append)
    assert len(outs) == 3 and all(0 < c.n_tokens <= 6 for c in outs)
    assert max(steps) == 3  # one step decodes all three groups (six sequences) together
