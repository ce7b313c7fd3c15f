"""Mechanics of each generation method on the real small model (small n, so the whole file stays fast)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from appliance.errors import UserError
from appliance.generate import METHODS, get_method
from appliance.generate.attrprompt import attr_instruction, draw_attributes
from appliance.generate.common import copies_any, overlap, split_need
from appliance.generate.fewgen import fewshot_prompt
from appliance.generate.influence import helpfulness, rce_loss
from appliance.generate.supergen import select_top
from appliance.generate.records import GeneratedRecord
from appliance.spec import load_task
from tests.methods.method_helpers import TASKS, collect


def test_registry_names_and_options() -> None:
    assert set(METHODS) == {"zerogen", "fewgen", "progen", "attrprompt", "dino", "supergen", "augpe"}  # shipped set
    caps = {name: cls.capabilities for name, cls in METHODS.items()}
    assert {n for n, c in caps.items() if c.needs_seeds} == {"fewgen", "augpe"}
    assert {n for n, c in caps.items() if c.spends_privacy} == {"augpe"}
    assert {n for n, c in caps.items() if c.needs_slots} == {"dino"}
    assert get_method("augpe", {"rounds": 2, "epsilon_budget": None}).rounds == 2
    with pytest.raises(UserError, match="no option rounds"):
        get_method("zerogen", {"rounds": 2})


def test_overlap_rule() -> None:
    demo = "The plot lurches from one contrived twist to the next."
    assert copies_any("The plot lurches from one contrived twist to the next!", [demo])
    assert copies_any("the plot lurches from one contrived twist", [demo])  # a subset of the demo's words
    assert not copies_any("The acting is wooden and the plot drags.", [demo])
    assert overlap("a b c d e f g h i j", "a b c d e f g h i x") == 0.9  # exactly 90 %: rejected
    assert copies_any("a b c d e f g h i j", ["a b c d e f g h i x"])


def test_split_need_is_exact() -> None:
    assert split_need(["a", "b", "c"], 7) == {"a": 3, "b": 2, "c": 2}


# ---------------------------------------------------------------- fewgen
@pytest.mark.model
def test_fewgen_demonstrations_are_same_label_and_redaction_is_recorded(smol, sst2, sst2_seeds) -> None:
    label_of = {s["id"]: s["label"] for s in sst2_seeds}
    recs = collect(get_method("fewgen", {"seeds": sst2_seeds, "k": 3}), smol, sst2, 4)
    assert len(recs) == 4 and {r.label for r in recs} == {"positive", "negative"}
    for r in recs:
        assert r.meta["seeds_in_prompt"] == "raw"
        assert r.meta["demo_ids"] and all(label_of[i] == r.label for i in r.meta["demo_ids"])
        assert not copies_any(r.text, [s["text"] for s in sst2_seeds if s["id"] in r.meta["demo_ids"]])
    seen: list[str] = []

    def redact(t: str) -> str:
        seen.append(t)
        return "[REDACTED] " + t

    recs = collect(get_method("fewgen", {"seeds": sst2_seeds, "redact": redact}), smol, sst2, 2)
    assert recs and all(r.meta["seeds_in_prompt"] == "redacted" for r in recs)
    assert len(seen) == len(sst2_seeds)  # every seed went through the anonymizer before any prompt
    prompt = fewshot_prompt(sst2, "negative", ["one", "two"])
    assert prompt.endswith('3. "') and "negative" in prompt


def test_fewgen_needs_seeds_for_every_label(sst2, sst2_seeds) -> None:
    only_pos = [s for s in sst2_seeds if s["label"] == "positive"]
    with pytest.raises(UserError, match="negative"):
        next(iter(get_method("fewgen", {"seeds": only_pos}).run(None, sst2, 2)))


# ---------------------------------------------------------------- progen
def test_influence_matches_leave_one_out_and_flags_mislabelled() -> None:
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(80, 8)), rng.normal(size=8)
    y = (x @ w > 0).astype(int)
    y[:5] = 1 - y[:5]  # five wrong labels
    xv = rng.normal(size=(40, 8))
    yv = (xv @ w > 0).astype(int)
    h = helpfulness(x, y, xv, yv, 2)
    assert h[:5].mean() < 0 < h[5:].mean()
    base = rce_loss(x, y, xv, yv)
    loo = np.array([rce_loss(np.delete(x, i, 0), np.delete(y, i), xv, yv) - base for i in range(len(y))])
    assert np.corrcoef(h, loo)[0, 1] > 0.9  # removing a helpful example raises the validation loss


@pytest.mark.model
def test_progen_rounds_feedback_and_pool(smol, sst2) -> None:
    m = get_method("progen", {"rounds": 2, "val_per_label": 3, "pool_per_label": 4})
    recs = collect(m, smol, sst2, 6)
    assert len(recs) == 6
    assert {r.meta["round"] for r in recs} >= {0}
    assert all("helpfulness" in r.meta for r in recs)


# ---------------------------------------------------------------- attrprompt
def test_attribute_values_appear_in_prompts_and_respect_per_label() -> None:
    math_task = load_task(TASKS / "math_subject.toml")
    rng = random.Random(0)
    for _ in range(50):
        at = draw_attributes(math_task, "calculus", rng)
        assert at["grade_level"] in ("high school", "first-year college")
        assert at["grade_level"] in attr_instruction(math_task, "calculus", "a bakery", at)


@pytest.mark.model
def test_attrprompt_records_carry_their_attributes(smol, sst2) -> None:
    recs = collect(get_method("attrprompt"), smol, sst2, 4)
    assert len(recs) == 4
    values = set(sst2.attributes[0].values)
    assert all(r.attributes.get("aspect") in values for r in recs)


# ---------------------------------------------------------------- supergen
def test_select_top_keeps_the_highest_scoring() -> None:
    cands = [GeneratedRecord(text=str(i), label="x", meta={"mean_logprob": s}) for i, s in enumerate([-2.0, -0.5, -1.0, -3.0])]
    kept, rest = select_top(cands, 2)
    assert [r.meta["mean_logprob"] for r in kept] == [-0.5, -1.0]
    assert [r.meta["mean_logprob"] for r in rest] == [-2.0, -3.0]


@pytest.mark.model
def test_supergen_ranking_on_the_model(smol, sst2) -> None:
    recs = collect(get_method("supergen", {"oversample": 2.0}), smol, sst2, 4)
    assert len(recs) == 4
    for lab in ("positive", "negative"):
        mine = [r for r in recs if r.label == lab]
        assert [r.meta["rank"] for r in mine] == list(range(1, len(mine) + 1))
        if mine[0].meta["best_dropped"] is not None:
            assert min(r.meta["mean_logprob"] for r in mine) >= mine[0].meta["best_dropped"]


# ---------------------------------------------------------------- dino
@pytest.mark.model
def test_dino_generates_on_label(smol, sst2) -> None:
    recs = collect(get_method("dino"), smol, sst2, 4)
    assert len(recs) == 4 and {r.label for r in recs} == {"positive", "negative"}
    assert all(r.meta["decay"] == 200 for r in recs)


# ---------------------------------------------------------------- augpe
def _analytic_epsilon(sigma: float, rounds: int, delta: float) -> float:
    """Independent: T Gaussian mechanisms = μ-GDP, μ = √T/σ; invert δ(ε) = Φ(−ε/μ+μ/2) − e^ε Φ(−ε/μ−μ/2)."""
    mu = math.sqrt(rounds) / sigma
    phi = lambda z: 0.5 * math.erfc(-z / math.sqrt(2))  # noqa: E731
    d = lambda e: phi(-e / mu + mu / 2) - math.exp(e) * phi(-e / mu - mu / 2)  # noqa: E731
    lo, hi = 0.0, 100.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if d(mid) > delta else (lo, mid)
    return hi


@pytest.mark.parametrize("sigma,rounds,n", [(2.0, 3, 30), (1.0, 5, 100), (5.0, 10, 36), (0.8, 2, 1000)])
def test_augpe_epsilon_matches_an_independent_computation(sigma, rounds, n) -> None:
    from appliance.generate.dp import default_delta, gaussian_epsilon

    delta = default_delta(n)
    assert delta == pytest.approx(1 / (n * math.log(n)))
    assert gaussian_epsilon(sigma, rounds, delta) == pytest.approx(_analytic_epsilon(sigma, rounds, delta), rel=1e-3, abs=1e-3)


def test_augpe_refuses_to_start_over_budget(sst2, sst2_seeds) -> None:
    m = get_method("augpe", {"seeds": sst2_seeds, "noise_multiplier": 0.5, "rounds": 5, "epsilon_budget": 8})
    with pytest.raises(UserError, match="exceeds the privacy budget"):
        next(iter(m.run(None, sst2, 4)))  # refused before the model is touched
    ok = get_method("augpe", {"seeds": sst2_seeds, "noise_multiplier": 0.5, "rounds": 5, "epsilon_budget": 100})
    assert ok.check(sst2)["epsilon"] > 8


@pytest.mark.model
def test_augpe_runs_and_reports_privacy(smol, sst2, sst2_seeds) -> None:
    m = get_method("augpe", {"seeds": sst2_seeds, "rounds": 2, "population_factor": 1.5})
    recs = collect(m, smol, sst2, 4)
    assert len(recs) == 4 and {r.label for r in recs} == {"positive", "negative"}
    seed_texts = {s["text"] for s in sst2_seeds}
    assert not any(r.text in seed_texts for r in recs)
    eps = m.check(sst2)["epsilon"]
    assert all(r.meta["epsilon"] == round(eps, 4) and "noisy_votes" in r.meta for r in recs)
