"""The PROMPTING baseline (zero-shot classification by the generator itself) and the verbalizer scores it shares
with the correctness judge.

For a text x and a label y with verbalizers v_1..v_k, the label's score is log sum_i p(v_i | prompt(x)): the
probability mass the model puts on any of the label's words as the answer (with one verbalizer per label, as in the
ZeroGen paper's PROMPTING, this is just log p(v | prompt(x))). PROMPTING predicts the label with the highest score.
The calibrated variant (Zhao et al. 2021, "Calibrate before use") subtracts the score the same prompt gives each
label for content-free inputs ("N/A", "", "[MASK]"; their log-scores averaged): a label the prompt favours whatever
the text no longer wins by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from appliance.progress import Report, counter
from appliance.quality.scoring import score_continuations
from appliance.spec import TaskSpec

CONTENT_FREE = ("N/A", "", "[MASK]")
# Texts are cut to their last this-many tokens for scoring (MTSamples notes run to thousands of tokens).
MAX_TEXT_TOKENS = 256


def judge_prompt(model, task: TaskSpec, text: str) -> str:
    """The question put to the model; the answer (a verbalizer, after a space) is scored as a continuation."""
    words = ", ".join(v for lab in task.labels for v in lab.verbalizers)
    question = f'{task.description}\n\nText: "{text}"\n\nWhich one of these words fits the text best: {words}?'
    return model.format_prompt(question, assistant_prefix="Answer:")


def _verbalizer_index(task: TaskSpec) -> tuple[list[str], list[int]]:
    conts, owner = [], []
    for li, lab in enumerate(task.labels):
        for v in lab.verbalizers:
            conts.append(" " + v)
            owner.append(li)
    return conts, owner


def label_scores_from_verbalizers(verb_scores: np.ndarray, owner: Sequence[int], n_labels: int) -> np.ndarray:
    """[n, n_verbalizers] log-likelihoods → [n, n_labels] log-sum-exp over each label's verbalizers."""
    out = np.full((verb_scores.shape[0], n_labels), -np.inf)
    for li in range(n_labels):
        cols = [j for j, o in enumerate(owner) if o == li]
        out[:, li] = np.logaddexp.reduce(verb_scores[:, cols], axis=1)
    return out


def label_scores(model, task: TaskSpec, texts: Sequence[str], report: Report | None = None,
                 step: str = "scoring texts") -> np.ndarray:
    """[len(texts), len(task.labels)] label log-scores; ``report`` gets the texts scored as ``step``."""
    conts, owner = _verbalizer_index(task)
    prompts = [judge_prompt(model, task, t) for t in texts]
    advance = counter(report, step, len(texts), per=len(conts)) if report else None
    verb = score_continuations(model, prompts, conts, max_prompt_tokens=MAX_TEXT_TOKENS + 96, progress=advance)
    return label_scores_from_verbalizers(verb, owner, len(task.labels))


def content_free_scores(model, task: TaskSpec) -> np.ndarray:
    """[n_labels] mean log-score of each label over the content-free inputs."""
    return label_scores(model, task, list(CONTENT_FREE)).mean(axis=0)


def calibrate(scores: np.ndarray, cf: np.ndarray) -> np.ndarray:
    return scores - cf[None, :]


def predict(scores: np.ndarray, label_ids: Sequence[str]) -> list[str]:
    return [label_ids[i] for i in np.argmax(scores, axis=1)]


@dataclass
class PromptingResult:
    scores: np.ndarray  # [n, L] label log-scores
    content_free: np.ndarray  # [L]
    predictions: list[str]
    calibrated_predictions: list[str]

    def take(self, rows: Sequence[int]) -> PromptingResult:
        """The result for the texts at ``rows`` only (the content-free scores are the prompt's, shared by all)."""
        idx = list(rows)
        return PromptingResult(self.scores[idx], self.content_free, [self.predictions[i] for i in idx],
                               [self.calibrated_predictions[i] for i in idx])


def run_prompting(model, task: TaskSpec, texts: Sequence[str], report: Report | None = None,
                  step: str = "PROMPTING") -> PromptingResult:
    s = label_scores(model, task, texts, report, step)
    cf = content_free_scores(model, task)
    ids = task.label_ids
    return PromptingResult(s, cf, predict(s, ids), predict(calibrate(s, cf), ids))
