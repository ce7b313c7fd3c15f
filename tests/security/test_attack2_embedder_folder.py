"""Insider attack on the embedder's folder: the pinned files are left as they are and a file is added beside them.
transformers reads optional files it finds in a model folder (adapter_config.json + adapter_model.safetensors are
loaded as a PEFT adapter over the pinned weights, and peft is installed), so a planted file changed the weights every
task model and the embedder use while every pin still matched. Now any file that is not pinned is refused (exit 3)
before anything is read; a folder made of symlinks to the pinned files still verifies."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.errors import IntegrityError
from appliance.quality import embed


def _linked_copy(root: Path) -> Path:
    real = embed.model_dir()
    for rel in embed.PINNED:
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(real / rel)
    return root


def test_a_folder_of_symlinks_to_the_pinned_files_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _linked_copy(tmp_path / "model")
    monkeypatch.setattr(embed, "model_dir", lambda: root)
    assert embed.verified_model_dir() == root


@pytest.mark.parametrize("planted", ["adapter_config.json", "adapter_model.safetensors", "added_tokens.json",
                                     "pytorch_model.bin", "1_Pooling/extra.json", "2_Normalize/"])
def test_a_planted_file_is_refused_before_anything_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str) -> None:
    root = _linked_copy(tmp_path / "model")
    if planted.endswith("/"):
        (root / planted).mkdir()
    else:
        (root / planted).write_text("{}")
    monkeypatch.setattr(embed, "model_dir", lambda: root)
    with pytest.raises(IntegrityError, match=f"holds {planted.rstrip('/')}, which is not one of its pinned") as e:
        embed.verified_model_dir()
    assert e.value.exit_code == 3
