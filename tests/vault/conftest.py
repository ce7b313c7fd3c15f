"""Fixtures for the vault tests: a fast KDF (tests only) and a populated vault."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_helpers import FAST_KDF, PASSPHRASES, ROLES

from appliance.vault import Vault, keys


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2id and short failure delays, in tests only (production calibrates to ~0.15 s)."""
    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)
    monkeypatch.setattr(keys, "FAILURE_DELAY_BASE_S", 0.01)
    monkeypatch.setattr(keys, "FAILURE_DELAY_MAX_S", 0.05)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def populated(home: Path) -> Path:
    """A vault with an admin (root), two authors (alice, bob) and a reviewer (rita)."""
    with Vault.create(home, "root", PASSPHRASES["root"], kdf_params=FAST_KDF) as v:
        for name in ("alice", "bob", "rita"):
            v.add_user(name, ROLES[name], PASSPHRASES[name])
    return home
