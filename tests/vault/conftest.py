"""Fixtures for the vault tests: a fast KDF (tests only) and a populated vault."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_helpers import make_populated, use_fast_kdf


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def populated(home: Path) -> Path:
    return make_populated(home)
