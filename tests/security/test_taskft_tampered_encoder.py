"""Attack: the fine-tuned MiniLM task model's starting weights are altered on disk (one byte of model.safetensors).
The sha256 pins of the embedder's files refuse them with the IntegrityError path (exit 3) before transformers reads
them and before any training: the evaluation stops, nothing is fitted."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import IntegrityError
from appliance.quality import embed
from appliance.quality.evaluate import evaluate_on_real
from appliance.quality.taskmodels import minilm_ft
from appliance.spec import parse_task

TASKS = Path(__file__).resolve().parents[2] / "tasks"


@pytest.fixture()
def tampered_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped model folder with every file linked as it is, except the weights: a copy with one byte flipped."""
    real = embed.model_dir()
    for rel in embed.PINNED:
        dst = tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel == "model.safetensors":
            data = bytearray((real / rel).read_bytes())
            data[len(data) // 2] ^= 0x01
            dst.write_bytes(bytes(data))
        else:
            dst.symlink_to(real / rel)
    monkeypatch.setattr(embed, "model_dir", lambda: tmp_path)
    monkeypatch.setattr(minilm_ft, "_pretrained", None)  # as in a fresh process: nothing loaded yet
    return tmp_path


def test_altered_weights_are_refused_before_any_training(tampered_model_dir: Path) -> None:
    task = parse_task((TASKS / "sst2_sentiment.toml").read_text())
    pos, neg = task.label_ids[:2]
    clf = minilm_ft.MiniLMFineTune(task.label_ids, epochs=1)
    with pytest.raises(IntegrityError, match=r"model file model\.safetensors does not match its pinned sha256") as e:
        clf.fit(["good", "bad"], [pos, neg])
    assert e.value.exit_code == 3
    assert clf.head is None and clf.encoder is None and minilm_ft._pretrained is None  # nothing loaded, nothing trained
    with pytest.raises(IntegrityError):
        evaluate_on_real(task, ["good", "bad", "fine", "awful"], [pos, neg, pos, neg], ["nice"], [pos],
                         task_models=["minilm_ft"], sizes=(1.0,))
