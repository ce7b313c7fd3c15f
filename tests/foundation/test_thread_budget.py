"""The shared thread budget: model-heavy processes of one user split the cores instead of each taking all of them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.engine import threads
from tests.conftest import PASSPHRASE, TASKS

HOLDER = """
import sys
from appliance.engine.threads import ThreadBudget
b = ThreadBudget()
print("ready", flush=True)
sys.stdin.readline()
b.close()
"""


@pytest.fixture()
def budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "budget"
    monkeypatch.setenv(threads.BUDGET_DIR_ENV, str(d))
    monkeypatch.delenv("APPLIANCE_THREADS", raising=False)
    return d


def _holder(budget: Path) -> subprocess.Popen:
    env = {**os.environ, threads.BUDGET_DIR_ENV: str(budget), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    p = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "ready"
    return p


def test_a_second_process_halves_the_share_and_its_end_gives_it_back(budget: Path, monkeypatch) -> None:
    monkeypatch.setattr(threads, "REFRESH_S", 0.0)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "free_cores", lambda: 4)
    mine = threads.ThreadBudget()
    try:
        assert mine.share() == 4
        other = _holder(budget)
        try:
            assert mine.share() == 2 and mine.poll() == 2 and mine.threads == 2
        finally:
            other.communicate("\n", timeout=30)
        assert mine.poll() == 4
    finally:
        mine.close()
    assert not list(budget.glob("*.lease"))


def test_a_killed_process_leaves_no_claim(budget: Path, monkeypatch) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    other = _holder(budget)
    other.kill()
    other.wait(timeout=30)
    assert len(list(budget.glob("*.lease"))) == 1  # its file is still there, but nobody holds its lock
    mine = threads.ThreadBudget()
    try:
        assert mine.share() == 4
        assert len(list(budget.glob("*.lease"))) == 1  # only ours
    finally:
        mine.close()


def test_an_explicit_thread_count_is_kept(budget: Path, monkeypatch) -> None:
    monkeypatch.setattr(threads, "REFRESH_S", 0.0)
    mine = threads.ThreadBudget(3)
    other = _holder(budget)
    try:
        assert mine.threads == 3 and mine.poll() is None
    finally:
        other.communicate("\n", timeout=30)
        mine.close()


@pytest.mark.model
def test_two_generations_started_together_both_finish(tmp_path: Path, budget: Path) -> None:
    """Two jobs at once on the shipped model: both make progress and finish (no timing bound but the timeout)."""
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSPHRASE + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "APPLIANCE_THREADS"}
    env[threads.BUDGET_DIR_ENV] = str(budget)
    procs = []
    for i in range(2):
        e = {**env, "APPLIANCE_HOME": str(tmp_path / f"home{i}")}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "appliance", "demo", "--task", str(TASKS / "sst2_sentiment.toml"), "--n", "3",
             "--passphrase-file", str(pw)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e))
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert re.search(r"sst2_sentiment · zerogen [1-3]/3", out), out  # it made progress (plain lines off a terminal)
        assert "records accepted" in out
    assert not list(budget.glob("*.lease"))
