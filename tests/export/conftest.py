"""Fixtures for the export tests; the vault they build is in ``export_helpers``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance.vault import keys
from tests.export.export_helpers import FAST_KDF, make_job


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2id in tests only (production calibrates to ~0.15 s); the bundle's KDF uses the same function."""
    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def job_home(tmp_path: Path) -> tuple[Path, int]:
    home = tmp_path / "home"
    return home, make_job(home)
