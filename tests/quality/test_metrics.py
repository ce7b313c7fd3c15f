"""Each quality metric against values computed by hand on tiny examples (no model needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from appliance.errors import UserError
from appliance.quality import correctness, diversity, prompting
from appliance.quality.filter import FilterConfig, apply_filter
from appliance.quality.realdata import parse_label_map, read_real, resolve_label_map
from appliance.quality.sungen import reverse_cross_entropy, sungen_weights
from appliance.quality.taskmodels.mlp import smoothed_cross_entropy


def test_distinct_n_by_hand() -> None:
    texts = ["a b a b", "a c"]
    # unigrams: a b a b a c -> 3 distinct of 6; bigrams: ab ba ab ac -> 3 distinct of 4; trigrams: aba bab -> 2 of 2
    assert diversity.distinct_n(texts, 1) == pytest.approx(3 / 6)
    assert diversity.distinct_n(texts, 2) == pytest.approx(3 / 4)
    assert diversity.distinct_n(texts, 3) == pytest.approx(1.0)
    assert diversity.distinct_n(["a"], 2) == 0.0
    assert diversity.vocabulary_size(["The cat.", "the dog"]) == 4  # the, cat, ., dog


def test_self_bleu_by_hand() -> None:
    a, b = "the cat sat on the mat", "the cat sat on a mat"
    # each against the other: unigram precision 5/6, bigram 3/5 (the cat, cat sat, sat on), equal lengths (BP = 1)
    assert diversity.self_bleu([a, b], max_n=1) == pytest.approx(5 / 6, abs=1e-4)
    assert diversity.self_bleu([a, b], max_n=2) == pytest.approx(math.sqrt(5 / 6 * 3 / 5), abs=1e-4)
    assert diversity.self_bleu([a, a, a], max_n=4) == pytest.approx(1.0)
    assert diversity.self_bleu(["alpha beta", "gamma delta"], max_n=1) == pytest.approx(0.0)
    # the sample is fixed-size and seeded
    many = [f"text number {i} here" for i in range(50)]
    assert diversity.self_bleu(many, 2, sample=10, seed=1) == diversity.self_bleu(many, 2, sample=10, seed=1)


def test_embedding_similarity_by_hand() -> None:
    e = np.array([[1, 0], [1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32)
    r = diversity.embedding_similarity(e, ["x", "x", "y", "y"])
    assert r["within_per_label"]["x"] == pytest.approx(1.0)
    assert r["within_per_label"]["y"] == pytest.approx(0.8)
    assert r["within_label"] == pytest.approx(0.9)
    assert r["across_labels"] == pytest.approx((0 + 0.6 + 0 + 0.6) / 4)


class FakeModel:
    """A TextModel whose log-likelihoods are set by hand: loglik = table[(word in prompt?, continuation)]."""

    instruct = False

    def __init__(self, table: dict[str, dict[str, float]], default: dict[str, float]) -> None:
        self.table, self.default = table, default

    def format_prompt(self, user: str, system: str | None = None, assistant_prefix: str = "") -> str:
        return user + assistant_prefix

    def loglik(self, prompt: str, continuation: str) -> float:
        for key, scores in self.table.items():
            if f'"{key}"' in prompt:
                return scores[continuation.strip()]
        return self.default[continuation.strip()]


@pytest.fixture()
def sst2_task():
    from appliance.spec import load_task
    from tests.conftest import TASKS

    return load_task(TASKS / "sst2_sentiment.toml")


def test_prompting_picks_highest_verbalizer_and_calibration_subtracts(sst2_task) -> None:
    # positive verbalizers: great, good; negative: terrible, bad
    table = {
        "loved it": {"great": -0.5, "good": -3.0, "terrible": -4.0, "bad": -2.0},
        "meh": {"great": -2.0, "good": -2.0, "terrible": -1.5, "bad": -5.0},
    }
    content_free = {"great": -1.5, "good": -1.5, "terrible": -2.5, "bad": -2.5}  # the prompt alone favours positive
    m = FakeModel(table, content_free)
    s = prompting.label_scores(m, sst2_task, ["loved it", "meh"])
    lse = np.logaddexp
    assert s[0] == pytest.approx([lse(-0.5, -3), lse(-4, -2)])
    assert s[1] == pytest.approx([lse(-2, -2), lse(-1.5, -5)])
    res = prompting.run_prompting(m, sst2_task, ["loved it", "meh"])
    assert res.predictions == ["positive", "positive"]  # "meh": log(2e^-2) = -1.31 > log(e^-1.5 + e^-5) = -1.47
    assert res.content_free == pytest.approx([lse(-1.5, -1.5), lse(-2.5, -2.5)])
    cal = prompting.calibrate(res.scores, res.content_free)
    assert cal == pytest.approx(res.scores - res.content_free[None, :])
    assert res.calibrated_predictions == ["positive", "negative"]  # calibrated: "meh" -1.31+0.81 = -0.50 < -1.47+1.81 = 0.34


def test_judge_margins_and_agreement(sst2_task) -> None:
    m = FakeModel({"loved it": {"great": -1.0, "good": -9, "terrible": -4.0, "bad": -9}}, {"great": -2, "good": -9, "terrible": -2, "bad": -9})
    assert correctness.margins(np.array([[-1.0, -3.0, -2.0]]), [1]) == pytest.approx([-2.0])
    j = correctness.verbalizer_judge(m, sst2_task, ["loved it", "loved it"], ["positive", "negative"])
    assert j["agreement"] == 0.5 and j["margins"][0] > 0 > j["margins"][1]


def test_filter_drops_what_its_rules_say() -> None:
    texts = ["one two three", "One  two three", "short", "a fine long enough text", "another fine text here"]
    cfg = FilterConfig.parse("dedup,min_words=2,judge_agree,max_perplexity=50")
    r = apply_filter(cfg, texts, margins=[1.0, 1.0, 1.0, -0.5, 2.0], perplexities=[10, 10, 10, 10, 80])
    assert r.kept == [0]
    assert r.dropped == {1: ["duplicate"], 2: ["too_short"], 3: ["judge_disagrees"], 4: ["high_perplexity"]}
    assert r.counts == {"duplicate": 1, "high_perplexity": 1, "judge_disagrees": 1, "too_short": 1}
    assert apply_filter(FilterConfig(), texts).kept == [0, 1, 2, 3, 4]
    assert apply_filter(FilterConfig(min_margin=1.5), texts, margins=[1.0, 2.0, 1.5, 0, 3]).kept == [1, 2, 4]
    with pytest.raises(UserError, match="unknown rule"):
        FilterConfig.parse("nonsense=3")
    with pytest.raises(UserError, match="margins"):
        apply_filter(FilterConfig(judge_agree=True), texts)


def test_label_smoothing_loss_by_hand() -> None:
    logits, y = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    logp = [2 - math.log(math.exp(2) + 1), -math.log(math.exp(2) + 1)]
    assert smoothed_cross_entropy(logits, y, 0.0).item() == pytest.approx(-logp[0], rel=1e-6)
    want = 0.9 * -logp[0] + 0.1 * (-(logp[0] + logp[1]) / 2)  # (1-eps)·CE + eps·mean_k(-log p_k)
    assert smoothed_cross_entropy(logits, y, 0.1).item() == pytest.approx(want, rel=1e-6)
    assert want > -logp[0]  # smoothing charges a confident correct prediction more
    assert smoothed_cross_entropy(logits, y, 0.1).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.1).item(), rel=1e-6)
    p0 = math.exp(logp[0])
    assert reverse_cross_entropy(logits, y).item() == pytest.approx(4 * (1 - p0), rel=1e-6)


def test_label_smoothing_makes_the_mlp_less_confident() -> None:
    from appliance.quality.taskmodels.mlp import MLPClassifier

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    X = np.c_[np.where(y == 1, 1.0, -1.0) + rng.normal(0, 0.3, 80), rng.normal(0, 1, 80)].astype(np.float32)
    labels = ["a" if v == 0 else "b" for v in y]
    plain = MLPClassifier(["a", "b"], epochs=60, hidden=32).fit(X, labels).predict_proba(X).max(axis=1).mean()
    smooth = MLPClassifier(["a", "b"], epochs=60, hidden=32, label_smoothing=0.3).fit(X, labels).predict_proba(X).max(axis=1).mean()
    assert smooth < plain and smooth <= 1 - 0.3 / 2 + 0.02


def test_the_mlp_takes_at_most_its_step_budget_on_a_large_set_and_all_its_epochs_on_a_small_one() -> None:
    """A large set gets fewer epochs (the same number of updates as a set of MAX_STEPS batches), never below one."""
    from appliance.quality.taskmodels.mlp import MAX_STEPS, MLPClassifier

    m = MLPClassifier(["a", "b"])
    assert m.epochs_for(10) == m.epochs_for(MAX_STEPS * 32 // 40) == 40  # 40 epochs fit the budget
    for n in (1_000, 3_000, 100_000):
        assert m.epochs_for(n) * math.ceil(n / 32) <= MAX_STEPS + math.ceil(n / 32)  # at most one epoch past the cap
    assert m.epochs_for(3_000) == 4 and m.epochs_for(10**7) == 1
    assert MLPClassifier(["a", "b"], max_steps=None).epochs_for(3_000) == 40


def test_sungen_weights_move_toward_clean_examples() -> None:
    rng = np.random.default_rng(0)
    n = 160
    y = rng.integers(0, 2, n)
    X = np.c_[np.where(y == 1, 2.0, -2.0) + rng.normal(0, 1, n), rng.normal(0, 1, n)]
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    noisy = rng.random(n) < 0.25
    w = sungen_weights(X, np.where(noisy, 1 - y, y), 2)
    assert w.shape == (n,) and ((w > 0) & (w < 1)).all()
    # weights start at 0.5 for everyone; clean examples gain, flipped ones lose
    assert w[~noisy].mean() > 0.6 and w[noisy].mean() < 0.3
    assert np.mean(w[~noisy][:, None] > w[noisy][None, :]) > 0.85  # AUC of "weight says clean"


def test_real_file_labels_and_tsv_without_quoting(tmp_path, sst2_task) -> None:
    p = tmp_path / "dev.tsv"
    p.write_text('sentence\tlabel\nit \'s a "great" film\t1\n"bad\t0\n', encoding="utf-8")
    r = read_real(p, "sentence", "label", task_name="sst2_sentiment", label_ids=sst2_task.label_ids)
    assert r.texts == ['it \'s a "great" film', '"bad'] and r.labels == ["positive", "negative"]
    ids = ["cardiovascular_pulmonary", "obstetrics_gynecology", "urology"]
    m = resolve_label_map("medical_specialty", ids, ["Cardiovascular / Pulmonary", "Obstetrics / Gynecology", "Urology"])
    assert m == {"Cardiovascular / Pulmonary": "cardiovascular_pulmonary", "Obstetrics / Gynecology": "obstetrics_gynecology", "Urology": "urology"}
    assert parse_label_map("x=positive, y=negative") == {"x": "positive", "y": "negative"}
    p2 = tmp_path / "odd.csv"
    p2.write_text("text,lab\nhello,x\nbye,z\n", encoding="utf-8")
    with pytest.raises(UserError, match="labels with no task label"):
        read_real(p2, "text", "lab", task_name="sst2_sentiment", label_ids=sst2_task.label_ids)
    r2 = read_real(p2, "text", "lab", task_name="sst2_sentiment", label_ids=sst2_task.label_ids,
                   label_map={"x": "positive"}, drop_unmapped=True)
    assert r2.texts == ["hello"] and r2.dropped_unmapped == 1
