"""Fixtures for the vault tests: a fast KDF (tests only) and a populated vault."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_helpers import FAST_KDF, PASSPHRASES, ROLES, use_fast_kdf

from appliance.vault import Vault


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def populated(home: Path) -> Path:
    """A vault with an admin (root), two authors (alice, bob) and a reviewer (rita); alice, the first author to
    sign in, created the data keys and granted them to bob and rita."""
    with Vault.create(home, "root", PASSPHRASES["root"], kdf_params=FAST_KDF) as v:
        for name in ("alice", "bob", "rita"):
            v.add_user(name, ROLES[name], PASSPHRASES[name])
    with Vault.open(home, "alice", PASSPHRASES["alice"]) as v:
        v.grant("bob")
        v.grant("rita")
    return home
