"""Correctness: does a record really belong to the label it was generated for?

(a) Verbalizer judge: the local model scores each label's verbalizers after the text (``prompting.label_scores``);
    a record agrees when its intended label scores highest. The margin is the intended label's log-score minus the
    best other label's (negative: the judge prefers another label). Reported raw and calibrated.
(b) Oracle: a TF-IDF + logistic-regression classifier trained on real labelled data the user supplies; agreement
    is the share of records it assigns to their intended label.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from appliance.progress import Report
from appliance.quality import prompting
from appliance.spec import TaskSpec


def margins(scores: np.ndarray, intended: Sequence[int]) -> np.ndarray:
    """Intended label's score minus the best other label's score, per row."""
    out = np.empty(len(intended))
    for i, y in enumerate(intended):
        others = np.delete(scores[i], y)
        out[i] = scores[i, y] - others.max()
    return out


def verbalizer_judge(model, task: TaskSpec, texts: Sequence[str], labels: Sequence[str],
                     report: Report | None = None) -> dict[str, object]:
    """Score ``texts`` with the model and judge each against its intended label (``judge_from``)."""
    return judge_from(judge_scores(model, task, texts, report), task, labels)


def judge_scores(model, task: TaskSpec, texts: Sequence[str], report: Report | None = None) -> prompting.PromptingResult:
    """The model's verbalizer scores of ``texts``: the one costly step of the judge (a model pass per text)."""
    return prompting.run_prompting(model, task, texts, report, "correctness: verbalizer judge")


def judge_from(res: prompting.PromptingResult, task: TaskSpec, labels: Sequence[str]) -> dict[str, object]:
    """The judge's verdicts from verbalizer scores already computed (``res``, one row per label in ``labels``): the
    model's scores of a record do not depend on the other records, so scores computed once over a job serve any
    subset of it (``PromptingResult.take``) without running the model again."""
    ids = task.label_ids
    y = [ids.index(lab) for lab in labels]
    cal = prompting.calibrate(res.scores, res.content_free)
    m, mc = margins(res.scores, y), margins(cal, y)
    return {
        "agreement": float(np.mean(m > 0)) if len(m) else float("nan"),
        "agreement_calibrated": float(np.mean(mc > 0)) if len(mc) else float("nan"),
        "margins": m.tolist(),
        "margins_calibrated": mc.tolist(),
        "predicted": res.predictions,
        "predicted_calibrated": res.calibrated_predictions,
        "content_free": dict(zip(ids, res.content_free.tolist())),
        "per_label_agreement": {
            lab: float(np.mean([mc_ > 0 for mc_, l_ in zip(mc, labels) if l_ == lab])) for lab in ids if lab in labels
        },
    }


def oracle_agreement(real_texts: Sequence[str], real_labels: Sequence[str], texts: Sequence[str], labels: Sequence[str]) -> dict[str, object]:
    from appliance.quality.taskmodels.tfidf_lr import TfidfLR

    clf = TfidfLR().fit(real_texts, real_labels)
    pred = clf.predict(texts)
    agree = [p == lab for p, lab in zip(pred, labels)]
    return {"agreement": float(np.mean(agree)) if agree else float("nan"), "n_real": len(real_texts), "predicted": pred}
