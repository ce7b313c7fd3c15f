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


@pytest.fixture(scope="session", autouse=True)
def argon2_once_per_input():
    """Each distinct (passphrase, salt, cost) is derived once per test session, in this process.

    Why: Argon2id is a pure function, and the suite opens the same template vaults hundreds of times; the repeats
    were over half the time of the security and vault tests. The key is the real derivation's output, so every code
    path runs as in production; a wrong passphrase, a new salt or new costs still pay the real derivation, and
    subprocesses (the CLI tests) are untouched. A test that replaces ``derive_kek`` itself still can.
    """
    from functools import lru_cache

    from appliance.vault import keyfile, keys

    real = keys.derive_kek
    cached = lru_cache(maxsize=8192)(real)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(keys, "derive_kek", cached)
        mp.setattr(keyfile, "derive_kek", cached)
        yield


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
