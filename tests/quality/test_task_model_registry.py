"""Task models are one registry: one registered here (a module's job in real life) is listed, trained and scored by
the evaluation like the shipped ones; unregistered, its name is refused with one line listing the known ones. Listing
the task models loads neither torch nor scikit-learn (the CLI builds its help from the list)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Sequence

import pytest

from appliance.errors import BadInput
from appliance.quality.evaluate import evaluate_on_real
from appliance.quality.taskmodels import TASK_MODELS, TaskModel, task_model_names
from appliance.spec import parse_task

TASKS = Path(__file__).resolve().parents[2] / "tasks"


class FirstWord:
    """The label most often seen with a text's first word (the majority label otherwise)."""

    def __init__(self) -> None:
        self.by_word: dict[str, str] = {}
        self.default = ""

    def fit(self, X: Sequence[str], labels: Sequence[str], sample_weight: Sequence[float] | None = None) -> "FirstWord":
        seen: dict[str, Counter[str]] = {}
        for text, label in zip(X, labels):
            seen.setdefault(text.split()[0], Counter())[label] += 1
        self.by_word = {w: c.most_common(1)[0][0] for w, c in seen.items()}
        self.default = Counter(labels).most_common(1)[0][0]
        return self

    def predict(self, X: Sequence[str]) -> list[str]:
        return [self.by_word.get(t.split()[0], self.default) for t in X]


def test_the_shipped_task_models_in_report_order() -> None:
    assert task_model_names() == ["tfidf_lr", "tfidf_lr_sungen", "mlp", "mlp_ls", "mlp_sungen"]
    assert {n for n in task_model_names() if TASK_MODELS.get(n).features == "embedding"} == {"mlp", "mlp_ls", "mlp_sungen"}


def test_listing_the_task_models_loads_no_training_library() -> None:
    code = ("import sys; from appliance.quality.taskmodels import task_model_names; task_model_names(); "
            "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_task_model_registered_here_is_trained_and_scored_then_gone() -> None:
    task = parse_task((TASKS / "sst2_sentiment.toml").read_text())
    pos, neg = sorted(task.label_ids, key=lambda x: "neg" in x)
    texts = ["great film", "great fun", "awful mess", "awful plot"] * 3
    labels = [pos, pos, neg, neg] * 3
    TASK_MODELS.register(TaskModel("test_first_word", "first word's label", lambda classes, seed: FirstWord()))
    try:
        assert "test_first_word" in task_model_names()
        ev = evaluate_on_real(task, texts, labels, ["great acting", "awful ending"], [pos, neg],
                              task_models=["test_first_word"], sizes=(1.0,))
        assert [(r["task_model"], r["accuracy"]) for r in ev["rows"]] == [("test_first_word", 1.0)]
        assert ev["curve"] == []  # not declared for the size curve
    finally:
        TASK_MODELS.unregister("test_first_word")
    with pytest.raises(BadInput, match=r"^unknown task model: test_first_word \(known: "):
        evaluate_on_real(task, texts, labels, ["great acting"], [pos], task_models=["test_first_word"], sizes=(1.0,))
