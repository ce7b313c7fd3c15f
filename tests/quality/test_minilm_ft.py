"""The fine-tuned MiniLM task model: it trains on texts and predicts the task's label ids, the same seed gives the same
model, SunGen weights change the fit, it is trained only when named (slow), it reports its epochs, and it writes
nothing to disk. Tiny data, one epoch, short texts: the model is real, the training is a few steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from appliance.quality.evaluate import evaluate_on_real
from appliance.quality.taskmodels import TASK_MODELS, needs_embeddings, task_model_names
from appliance.quality.taskmodels.minilm_ft import MiniLMFineTune
from appliance.spec import parse_task

TASKS = Path(__file__).resolve().parents[2] / "tasks"
POS = ["a wonderful, moving film", "great acting and a fine plot", "I loved every minute", "charming and funny",
       "a delight from start to end", "brilliant and warm"]
NEG = ["a dull, boring mess", "awful acting and a thin plot", "I hated every minute", "tedious and flat",
       "a waste of time", "clumsy and cold"]
TEXTS = (POS + NEG) * 2
CLASSES = ["negative", "positive"]
LABELS = (["positive"] * 6 + ["negative"] * 6) * 2
PROBE = ["a lovely film", "a terrible film", "fine acting"]


@pytest.fixture(autouse=True)
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_THREADS", "1")  # one thread: the same seed gives bit-identical weights


def _fit(weights: list[float] | None = None, seed: int = 0) -> MiniLMFineTune:
    return MiniLMFineTune(CLASSES, epochs=1, batch_size=8, max_length=16, seed=seed).fit(TEXTS, LABELS, weights)


def test_fits_and_predicts_label_ids_the_same_for_the_same_seed_and_weights_change_the_fit() -> None:
    a = _fit()
    assert set(a.predict(PROBE)) <= set(CLASSES) and len(a.predict(PROBE)) == len(PROBE)
    proba = a.predict_proba(PROBE)
    assert proba.shape == (3, 2) and np.allclose(proba.sum(axis=1), 1)
    assert np.array_equal(proba, _fit().predict_proba(PROBE))
    weighted = _fit(weights=[3.0] * 6 + [0.2] * 6 + [3.0] * 6 + [0.2] * 6).predict_proba(PROBE)
    assert not np.allclose(proba, weighted)
    assert not np.allclose(proba, _fit(seed=1).predict_proba(PROBE))


def test_trained_only_when_named_and_reports_its_epochs() -> None:
    assert {"minilm_ft", "minilm_ft_sungen"}.isdisjoint(task_model_names())  # evaluate's default stays fast
    assert task_model_names(every=True)[-2:] == ["minilm_ft", "minilm_ft_sungen"]  # the lists a user picks from
    ft, sungen = TASK_MODELS.get("minilm_ft"), TASK_MODELS.get("minilm_ft_sungen")
    assert (ft.features, ft.weighted, sungen.weighted) == ("text", False, True)
    assert not needs_embeddings(["minilm_ft"]) and needs_embeddings(["minilm_ft_sungen"])
    task = parse_task((TASKS / "sst2_sentiment.toml").read_text())
    pos, neg = sorted(task.label_ids, key=lambda x: "neg" in x)
    reports: list[tuple] = []
    ev = evaluate_on_real(task, TEXTS[:12], [pos] * 6 + [neg] * 6, PROBE[:2], [pos, neg], task_models=["minilm_ft"],
                          sizes=(1.0,), progress=lambda step, done=0, total=None: reports.append((step, done, total)))
    assert [r["task_model"] for r in ev["rows"]] == ["minilm_ft"] and ev["curve"] == []
    epochs = [(d, t) for s, d, t in reports if s == "fine-tuning minilm_ft: epochs"]
    assert epochs[0] == (0, epochs[-1][1]) and epochs[-1][0] == epochs[-1][1] > 1


def test_writes_nothing_under_home_or_the_temporary_folder(tmp_path: Path) -> None:
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "XDG_", "TRANSFORMERS_"))}
    env.update(HOME=str(home), TMPDIR=str(tmp), APPLIANCE_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    code = ("import json; from appliance.quality.taskmodels.minilm_ft import MiniLMFineTune; "
            f"c = MiniLMFineTune({CLASSES!r}, epochs=1, max_length=16).fit({TEXTS[:4]!r}, {LABELS[:2] * 2!r}); "
            "print(json.dumps(c.predict(['a film'])))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)[0] in CLASSES
    assert [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_label_outside_the_task_or_no_record_is_one_line_before_any_work() -> None:
    """A record's label edited in the database to one the task does not have, or an empty training set, is a
    ``BadInput`` naming the model, raised before the encoder is loaded."""
    from appliance.errors import BadInput
    from appliance.quality.taskmodels import TASK_MODELS

    model = TASK_MODELS.get("minilm_ft").make(["negative", "positive"], 0)
    with pytest.raises(BadInput, match="minilm_ft: label 'neutral' is not one of the task's labels"):
        model.fit(["a fine film", "a dull film"], ["positive", "neutral"])
    with pytest.raises(BadInput, match="no records to train on"):
        model.fit([], [])
