"""Shared fixtures. Tests that load the real model share one instance per session: llama.cpp threads spin, so
never run two model-heavy processes at once (no parallel test workers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TASKS = REPO / "tasks"
PASSPHRASE = "correct horse battery staple"

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An installation home whose model cache (the q8_0 compute copy) is shared by every test."""
    return tmp_path_factory.mktemp("model-home")


@pytest.fixture(scope="session")
def smol(model_home: Path):
    """The embedded default model, loaded once (real llama.cpp, real weights)."""
    from appliance.engine.loader import load_model

    loaded = load_model(model_home, None, max_parallel=16, ctx_per_seq=384)
    yield loaded.model
    loaded.model.close()


@pytest.fixture()
def passphrase_file(tmp_path: Path) -> Path:
    p = tmp_path / "pw.txt"
    p.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return p
