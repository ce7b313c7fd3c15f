"""Evaluation: quality metrics of a synthetic dataset, and the utility of task models trained only on it.

``quality_metrics`` measures diversity, correctness (verbalizer judge; oracle when real data is given) and
naturalness. ``evaluate_on_real`` trains every task model on the synthetic records and scores accuracy and macro-F1
on real labelled texts, next to PROMPTING (raw and calibrated) of the same GGUF, plus an accuracy-vs-size curve.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Sequence

import numpy as np

from appliance.progress import Report, counter, silent
from appliance.quality import correctness, diversity, naturalness, prompting
from appliance.quality.labelfilters import FilterOutcome as LabelFilterOutcome
from appliance.quality.sungen import SunGenConfig, normalised, sungen_weights
from appliance.quality.taskmodels import TASK_MODELS, task_model_names
from appliance.quality.taskmodels.mlp import LABEL_SMOOTHING
from appliance.spec import TaskSpec

from appliance.quality import SIZES  # noqa: E402,F401


def scores(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(list(gold), list(pred))),
        "macro_f1": float(f1_score(list(gold), list(pred), labels=list(classes), average="macro", zero_division=0)),
    }


def _majority(labels: Sequence[str], n: int) -> list[str]:
    return [Counter(labels).most_common(1)[0][0]] * n


def train_and_predict(
    name: str,
    classes: Sequence[str],
    train_texts: Sequence[str],
    train_labels: Sequence[str],
    test_texts: Sequence[str],
    *,
    train_emb: np.ndarray | None = None,
    test_emb: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    seed: int = 0,
    progress: Report | None = None,
) -> list[str]:
    """Train task model ``name`` on the synthetic split and predict the test texts (their embeddings, for a model
    that trains on embeddings; ``weights`` only for one that takes SunGen's; ``progress`` gets the epochs of one
    that reports them)."""
    model = TASK_MODELS.get(name)
    if len(set(train_labels)) < 2:
        return _majority(train_labels, len(test_texts))
    X, X_test = (train_emb, test_emb) if model.features == "embedding" else (train_texts, test_texts)
    extra = {"progress": progress} if model.epoch_progress else {}
    clf = model.make(classes, seed).fit(X, train_labels, sample_weight=weights if model.weighted else None, **extra)
    return clf.predict(X_test)


def learned_weights(emb: np.ndarray, labels: Sequence[str], classes: Sequence[str], seed: int = 0) -> np.ndarray:
    y = [list(classes).index(lab) for lab in labels]
    return sungen_weights(emb, y, len(classes), SunGenConfig(seed=seed))


def _synthetic_rows(
    models: dict[str, Any], classes: Sequence[str], texts: Sequence[str], labels: Sequence[str],
    real_texts: Sequence[str], real_labels: Sequence[str], emb: np.ndarray | None, test_emb: np.ndarray | None,
    seed: int, say: Report, trained,
) -> tuple[list[dict[str, Any]], np.ndarray | None]:
    """Each task model trained on the whole synthetic set and scored on the real texts; and SunGen's weights, when a
    weighted model needed them."""
    weights = None
    if any(m.weighted for m in models.values()):
        say("learning SunGen weights")
        weights = learned_weights(emb, labels, classes, seed)
    rows = []
    for name, m in models.items():
        w = normalised(weights) if weights is not None and m.weighted else None
        pred = train_and_predict(name, classes, texts, labels, real_texts, train_emb=emb, test_emb=test_emb, weights=w,
                                 seed=seed, progress=say)
        rows.append({"task_model": name, "method": "synthetic", "n_train": len(texts), **scores(real_labels, pred, classes)})
        trained(1)
    return rows, weights


def filter_comparison(outcome: LabelFilterOutcome, with_rows: Sequence[dict[str, Any]],
                      without_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A label filter's counts and each task model's accuracy and macro-F1 trained without and with it."""
    before = {r["task_model"]: r for r in without_rows}
    return {
        **outcome.summary(),
        "rows": [{"task_model": r["task_model"], "n_without": before[r["task_model"]]["n_train"], "n_with": r["n_train"],
                  **{f"{k}_{side}": src[k] for k in ("accuracy", "macro_f1")
                     for side, src in (("without", before[r["task_model"]]), ("with", r))}}
                 for r in with_rows if r["task_model"] in before],
    }


def evaluate_on_real(
    task: TaskSpec,
    texts: Sequence[str],
    labels: Sequence[str],
    real_texts: Sequence[str],
    real_labels: Sequence[str],
    *,
    embedder=None,
    model=None,
    task_models: Sequence[str] | None = None,
    sizes: Sequence[float] = SIZES,
    seed: int = 0,
    progress: Report | None = None,
    synthetic_emb: np.ndarray | None = None,
    label_filter: LabelFilterOutcome | None = None,
) -> dict[str, Any]:
    """Rows {task_model, method, n_train, accuracy, macro_f1} for the task models, PROMPTING and the size curve.

    ``task_models``: names in ``TASK_MODELS`` (default: ``task_model_names()``, all but the slow ones). ``progress``
    gets each long step's counts (embedding, training, a slow model's epochs, PROMPTING; see ``appliance.progress``). ``synthetic_emb``: the texts' embeddings when the
    caller already has them. ``label_filter``: a label filter's outcome on ``texts``; the rows and the curve are then
    trained on the records it keeps, and ``label_filter`` in the result compares each task model without it."""
    say = progress or silent
    classes = task.label_ids
    task_models = task_model_names() if task_models is None else list(task_models)
    models = {name: TASK_MODELS.get(name) for name in task_models}
    need_emb = any(m.features == "embedding" for m in models.values())
    t0 = time.perf_counter()
    emb, test_emb = synthetic_emb, None
    if need_emb:
        advance = counter(say, "embedding synthetic and real texts", (len(texts) if emb is None else 0) + len(real_texts))
        emb = embedder.encode(list(texts), progress=advance) if emb is None else emb
        test_emb = embedder.encode(list(real_texts), progress=advance)
    elif emb is None and any(m.weighted for m in models.values()):
        emb = embedder.encode(list(texts))  # SunGen learns its weights on the embeddings
    curve_models = [name for name in task_model_names(every=True) if name in models and models[name].curve]
    n_trainings = len(task_models) * (1 if label_filter is None else 2) + len(curve_models) * sum(f != 1.0 for f in sizes)
    trained = counter(say, "training task models", n_trainings)
    without_rows = None
    if label_filter is not None:
        without_rows, _ = _synthetic_rows(models, classes, texts, labels, real_texts, real_labels, emb, test_emb, seed,
                                          say, trained)
        keep = label_filter.kept
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
        emb = emb[keep] if emb is not None else None
    rows, weights = _synthetic_rows(models, classes, texts, labels, real_texts, real_labels, emb, test_emb, seed, say,
                                    trained)
    curve: list[dict[str, Any]] = []
    order = np.random.default_rng(seed).permutation(len(texts))
    for frac in sizes:
        k = max(2, int(round(frac * len(texts))))
        idx = order[:k]
        sub_t, sub_l = [texts[i] for i in idx], [labels[i] for i in idx]
        for name in curve_models:
            if frac == 1.0:
                r = next(r for r in rows if r["task_model"] == name)
                curve.append({**r, "fraction": frac})
                continue
            pred = train_and_predict(name, classes, sub_t, sub_l, real_texts,
                                     train_emb=emb[idx] if emb is not None else None, test_emb=test_emb, seed=seed)
            trained(1)
            curve.append({"task_model": name, "method": "synthetic", "n_train": k, "fraction": frac,
                          **scores(real_labels, pred, classes)})
    if model is not None:
        res = prompting.run_prompting(model, task, real_texts, say, "PROMPTING: scoring real texts with the generator")
        rows.append({"task_model": "prompting", "method": "prompting", "n_train": 0,
                     **scores(real_labels, res.predictions, classes)})
        rows.append({"task_model": "prompting_calibrated", "method": "prompting", "n_train": 0,
                     **scores(real_labels, res.calibrated_predictions, classes)})
    out: dict[str, Any] = {
        "rows": rows,
        "curve": curve,
        "n_synthetic": len(texts),
        "n_real": len(real_texts),
        "real_label_counts": dict(sorted(Counter(real_labels).items())),
        "majority_baseline": scores(real_labels, _majority(real_labels, len(real_labels)), classes)["accuracy"],
        "label_smoothing": LABEL_SMOOTHING,
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    if label_filter is not None:
        out["label_filter"] = filter_comparison(label_filter, rows, without_rows or [])
    if weights is not None:
        out["sungen_weights"] = {
            "mean": float(weights.mean()),
            "below_0.5": int((weights < 0.5).sum()),
            "histogram": np.histogram(weights, bins=10, range=(0, 1))[0].tolist(),
        }
    return out


def quality_metrics(
    task: TaskSpec,
    records: Sequence[dict[str, Any]],
    *,
    model=None,
    embedder=None,
    real: tuple[Sequence[str], Sequence[str]] | None = None,
    sample: int = 200,
    seed: int = 0,
    progress: Report | None = None,
    embeddings: np.ndarray | None = None,
    judge_scores: prompting.PromptingResult | None = None,
) -> dict[str, Any]:
    """Diversity, correctness and naturalness of accepted records (aggregates and per-record score lists).

    ``embeddings`` ([n, d], the records' sentence embeddings) and ``judge_scores`` (their verbalizer scores): what a
    label filter already computed for these records; given, they are used as they are, not computed again."""
    say = progress or silent
    texts = [r["text"] for r in records]
    labels = [r["label"] for r in records]
    attrs: dict[str, Counter] = {}
    for r in records:
        for k, v in (r.get("attributes") or {}).items():
            attrs.setdefault(k, Counter())[str(v)] += 1
    emb = embeddings
    if emb is None and embedder is not None and texts:
        emb = embedder.encode(texts, progress=counter(say, "embedding records", len(texts)))
    say("diversity")
    out: dict[str, Any] = {
        "n_records": len(records),
        "label_counts": diversity.label_counts(labels),
        "attribute_counts": {k: dict(sorted(c.items())) for k, c in sorted(attrs.items())},
        "lengths_words": diversity.length_words(texts),
        "diversity": diversity.diversity_metrics(texts, labels, emb, sample, seed),
    }
    if model is not None and texts:
        judge = correctness.verbalizer_judge(model, task, texts, labels, say) if judge_scores is None \
            else correctness.judge_from(judge_scores, task, labels)
        ppl = naturalness.perplexities(model, texts, counter(say, "naturalness: perplexity", len(texts)))
        out["correctness"] = {k: v for k, v in judge.items() if k not in ("predicted", "predicted_calibrated")}
        out["naturalness"] = {"perplexity": naturalness.summary(ppl), "perplexities": ppl}
    if real is not None and texts:
        say("correctness: oracle classifier on real data")
        o = correctness.oracle_agreement(real[0], real[1], texts, labels)
        out.setdefault("correctness", {})["oracle"] = {k: v for k, v in o.items() if k != "predicted"}
    return out
