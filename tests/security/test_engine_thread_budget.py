"""Attacks on the shared thread budget's lease directory: a planted symlink, a directory open to others, entries
that are not lease files. Each is refused or ignored; none crashes a job, hangs it or touches a file elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance.engine import threads


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPLIANCE_THREADS", raising=False)


def test_a_symlinked_budget_dir_is_refused(tmp_path: Path, monkeypatch) -> None:
    real = tmp_path / "elsewhere"
    real.mkdir(mode=0o700)
    link = tmp_path / "budget"
    link.symlink_to(real)
    monkeypatch.setenv(threads.BUDGET_DIR_ENV, str(link))
    assert threads.budget_dir() is None
    b = threads.ThreadBudget()  # falls back to idle-core sampling
    try:
        assert b.threads >= 1 and b.poll() is None
    finally:
        b.close()
    assert not list(real.iterdir())


def test_a_budget_dir_open_to_others_is_refused(tmp_path: Path, monkeypatch) -> None:
    d = tmp_path / "budget"
    d.mkdir()
    d.chmod(0o777)
    monkeypatch.setenv(threads.BUDGET_DIR_ENV, str(d))
    assert threads.budget_dir() is None


def test_planted_entries_are_neither_counted_nor_followed(tmp_path: Path, monkeypatch) -> None:
    d = tmp_path / "budget"
    d.mkdir(mode=0o700)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (d / "1-link.lease").symlink_to(victim)  # a symlink: not opened, the target not removed
    os.mkfifo(d / "2-fifo.lease")  # a FIFO: opening it must not block
    (d / "3-dir.lease").mkdir()
    (d / "4-stale.lease").write_text("garbage")  # nobody holds it: removed
    monkeypatch.setenv(threads.BUDGET_DIR_ENV, str(d))
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    b = threads.ThreadBudget()
    try:
        assert b.share() == 4
    finally:
        b.close()
    assert victim.read_text() == "keep me"
    assert not (d / "4-stale.lease").exists()


def test_a_lease_being_created_is_neither_counted_nor_removed(tmp_path: Path, monkeypatch) -> None:
    """A lease is locked under a ``.new`` name before it is renamed into view: another process counting leases
    in that window must not take the unlocked file for a dead process's lease and delete it."""
    d = tmp_path / "budget"
    d.mkdir(mode=0o700)
    pending = d / "999-abcd.new"
    pending.write_text("")
    monkeypatch.setenv(threads.BUDGET_DIR_ENV, str(d))
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    b = threads.ThreadBudget()
    try:
        assert b.share() == 4
        assert pending.exists()
        assert [p.suffix for p in d.iterdir()].count(".lease") == 1  # ours, already locked when it appeared
    finally:
        b.close()


def test_a_held_lease_is_never_removed_by_another_process_counting(tmp_path: Path, monkeypatch) -> None:
    import subprocess
    import sys

    d = tmp_path / "budget"
    monkeypatch.setenv(threads.BUDGET_DIR_ENV, str(d))
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    mine = threads.ThreadBudget()
    try:
        code = ("from appliance.engine.threads import ThreadBudget\n"
                "b = ThreadBudget(); print(b._lease.live()); b.close()")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}, timeout=60)
        assert out.stdout.strip() == "1", out.stderr  # ours is alive but idle: not counted ...
        assert len(list(d.glob("*.lease"))) == 1  # ... and not taken for a dead one's either
        busy = mine.busy()
        busy.__enter__()
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
        assert out.stdout.strip() == "2", out.stderr  # it saw ours as live ...
        assert mine.share() == 4 and len(list(d.glob("*.lease"))) == 1  # ... and left it in place
        busy.__exit__(None, None, None)
    finally:
        mine.close()
