"""Attacks on the thread budget's busy files (a lease counts for the others only while its process decodes): planted
busy entries next to live or dead leases, and a model closed in the middle of a decode. Each is ignored or cleaned
up; none is followed, blocks, or leaves a core share claimed."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from appliance.engine import threads


@pytest.fixture()
def budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "budget"
    d.mkdir(mode=0o700)
    monkeypatch.setenv(threads.BUDGET_DIR_ENV, str(d))
    monkeypatch.delenv("APPLIANCE_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    monkeypatch.setattr(threads, "free_cores", lambda: 4)
    return d


def _held(path: Path) -> int:
    """An open file description holding ``path``'s flock, as a live process holds its lease."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def test_planted_busy_entries_of_live_leases_are_not_counted_nor_followed(budget: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    held = [_held(budget / f"{i}-live.lease") for i in range(3)]
    os.mkfifo(budget / "0-live.busy")  # a FIFO: opening it must not block
    (budget / "1-live.busy").symlink_to(victim)  # a symlink: not opened, even when its target is locked
    victim_fd = _held(victim)
    # 2-live has no busy file at all
    try:
        b = threads.ThreadBudget()
        try:
            assert b.share() == 4  # alive but not decoding: no share taken
        finally:
            b.close()
    finally:
        for fd in held + [victim_fd]:
            os.close(fd)
    assert victim.read_text() == "keep me" and (budget / "0-live.busy").exists()


def test_a_dead_leases_busy_file_goes_with_it_and_its_link_target_stays(budget: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (budget / "5-dead.lease").write_text("")  # nobody holds it: its process died
    (budget / "5-dead.busy").symlink_to(victim)
    b = threads.ThreadBudget()
    try:
        assert b.share() == 4
    finally:
        b.close()
    assert not (budget / "5-dead.lease").exists() and not (budget / "5-dead.busy").is_symlink()
    assert victim.read_text() == "keep me"


def test_a_locked_busy_file_counts_only_while_its_lease_is_alive(budget: Path) -> None:
    """A busy file locked without a live lease (planted, or left by a half-made lease) claims no share."""
    fd = _held(budget / "6-orphan.busy")
    try:
        b = threads.ThreadBudget()
        try:
            assert b.share() == 4
        finally:
            b.close()
    finally:
        os.close(fd)


def test_a_model_closed_mid_decode_gives_its_share_back(budget: Path) -> None:
    mine = threads.ThreadBudget()
    other = threads.ThreadBudget()  # same process: one lease, counted once
    try:
        with mine.busy():
            other_busy = other.busy()
            other_busy.__enter__()
            other.close()  # closed inside its decode: the process still decodes through ``mine``
            other_busy.__exit__(None, None, None)  # and leaving afterwards is harmless
            assert len(list(budget.glob("*.busy"))) == 1
        # an outside observer (a lease of a separate directory entry) sees this process idle now
        code_fd = os.open(next(budget.glob("*.busy")), os.O_RDONLY)
        try:
            fcntl.flock(code_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # not locked: it would raise otherwise
        finally:
            os.close(code_fd)
    finally:
        mine.close()
    assert not list(budget.iterdir())


def test_closing_inside_busy_unlocks_for_the_others(budget: Path) -> None:
    mine = threads.ThreadBudget()
    busy = mine.busy()
    busy.__enter__()
    busy_file = next(budget.glob("*.busy"))
    fd = os.open(busy_file, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # decoding: held
        mine.close()
        busy.__exit__(None, None, None)
        assert not busy_file.exists()
    finally:
        os.close(fd)


def test_a_busy_file_held_by_someone_else_does_not_hang_decoding(budget: Path, monkeypatch) -> None:
    """A stuck or hostile process of the same user holding this process's busy file: the model waits a bounded
    time, then decodes uncounted, and gives nothing back it did not take."""
    monkeypatch.setattr(threads, "BUSY_WAIT_S", 0.05)
    mine = threads.ThreadBudget()
    fd = _held(next(budget.glob("*.busy")))
    try:
        with mine.busy():
            pass
        with mine.busy():  # and again: no state left behind
            pass
    finally:
        os.close(fd)
        mine.close()
    assert not list(budget.iterdir())
