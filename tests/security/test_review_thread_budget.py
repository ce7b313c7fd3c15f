"""Review attack on the thread budget: without $XDG_RUNTIME_DIR, another local user could create
/tmp/appliance-threads-<uid> first and so silently turn the budget off (both jobs then take every core, and
llama.cpp's throughput collapses). The lease directory now comes from the user's own cache before /tmp."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from appliance.engine import threads


def test_a_planted_tmp_directory_does_not_turn_the_budget_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared_tmp = tmp_path / "tmp"
    planted = shared_tmp / f"appliance-threads-{os.getuid()}"
    planted.mkdir(parents=True)
    planted.chmod(0o777)  # stands in for another user's directory (refused either way)
    monkeypatch.delenv(threads.BUDGET_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(shared_tmp))
    d = threads.budget_dir()
    assert d == tmp_path / "cache" / "appliance-threads"
    assert (d.stat().st_mode & 0o777) == 0o700


def test_a_planted_cache_directory_falls_through_to_a_safe_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    (cache / "appliance-threads").mkdir(parents=True)
    (cache / "appliance-threads").chmod(0o777)
    monkeypatch.delenv(threads.BUDGET_DIR_ENV, raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert threads.budget_dir() == tmp_path / f"appliance-threads-{os.getuid()}"
