"""Model registry: pinned hashes, tampered files refused, unknown names, user-added GGUF files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from appliance.engine.registry import Registry
from appliance.errors import UserError


def test_embedded_default_verifies(tmp_path: Path) -> None:
    entry, path = Registry(tmp_path).verified_path(None)
    assert entry.name == "smollm2-135m-instruct" and path.name.endswith(".gguf")


def test_unknown_model_is_named(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown model: nope"):
        Registry(tmp_path).get("nope")


def test_added_model_records_metadata_and_tampering_is_refused(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    _, src = reg.verified_path(None)
    copy = tmp_path / "mine.gguf"
    shutil.copyfile(src, copy)
    entry = reg.add(copy, name="mine", license="Apache-2.0")
    assert entry.architecture == "llama" and entry.instruct and entry.context_length == 8192
    # a fresh registry sees the user's model
    assert Registry(tmp_path).verified_path("mine")[0].sha256 == entry.sha256
    with copy.open("r+b") as f:
        f.seek(4096)
        b = f.read(1)
        f.seek(4096)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(UserError, match="sha256 mismatch"):
        Registry(tmp_path).verified_path("mine")


def test_missing_model_file_is_refused(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    _, src = reg.verified_path(None)
    copy = tmp_path / "gone.gguf"
    shutil.copyfile(src, copy)
    reg.add(copy, name="gone")
    copy.unlink()
    with pytest.raises(UserError, match="file missing"):
        Registry(tmp_path).verified_path("gone")


def test_add_refuses_non_gguf(tmp_path: Path) -> None:
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a GGUF"):
        Registry(tmp_path).add(bad)
