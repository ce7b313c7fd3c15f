"""Fixtures of the command-line habit tests; the vault they build is in ``cli_helpers``."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.vault import keys
from tests.cli.cli_helpers import JobCli, make_job_cli
from tests.export.export_helpers import FAST_KDF


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2id in tests only (production calibrates to ~0.15 s)."""
    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)


@pytest.fixture
def job_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> JobCli:
    return make_job_cli(tmp_path, capsys)
