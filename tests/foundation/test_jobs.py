"""Generation jobs: a job killed with SIGKILL at any moment, or interrupted with Ctrl-C, is finished by
`appliance resume` with no record lost or stored twice (real model, real vault).

Deterministic mode's byte-identical records are checked by the same tests: each compares the records of an
interrupted run and its resume (two processes) with those of an uninterrupted run (a third), byte for byte. A
separate second uninterrupted run would cost the suite a whole run and prove no more."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PASSPHRASE, TASKS

pytestmark = pytest.mark.model

GEN = ["generate", "--task", str(TASKS / "sst2_sentiment.toml"), "--n", "12", "--seed", "5", "--deterministic",
       "--user", "demo"]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "APPLIANCE_HOME": str(home)}


def _cli(args: list[str], home: Path, pw: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance", *args, "--passphrase-file", str(pw)],
                          capture_output=True, text=True, env=_env(home), timeout=600, **kw)


def _new_vault(home: Path, pw: Path) -> None:
    assert _cli(["init", "--user", "admin"], home, pw).returncode == 0
    r = _cli(["user", "add", "demo", "--role", "author", "--user", "admin", "--new-passphrase-file", str(pw)], home, pw)
    assert r.returncode == 0, r.stderr


def _records(home: Path) -> list[tuple[str, str, str]]:
    from appliance.vault import Vault

    with Vault.open(home, "demo", PASSPHRASE) as v:
        jobs = [j for j in range(1, 10) if _job_exists(v, j)]
        assert len(jobs) == 1
        job = v.get_job(jobs[0])
        assert job["status"] == "succeeded"
        assert job["config"]["method_options"]["max_rounds"] == 6  # every declared option stored, defaults too
        return [(r["label"], r["context"], r["text"]) for r in v.list_records(jobs[0])]


def _job_exists(v, job_id: int) -> bool:
    try:
        v.get_job(job_id)
        return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[tuple[str, str, str]], float]:
    """The records of an uninterrupted deterministic run, and how long that run took."""
    home = tmp_path_factory.mktemp("ref")
    pw = home.parent / "ref-pw"
    pw.write_text(PASSPHRASE)
    _new_vault(home / "h", pw)
    t0 = time.perf_counter()
    r = _cli(GEN, home / "h", pw)
    took = time.perf_counter() - t0
    assert r.returncode == 0, r.stderr
    recs = _records(home / "h")
    assert len(recs) >= 8  # ZeroGen may stop short of n when the small model keeps failing a label
    return recs, took


@pytest.mark.parametrize("after_batch", [2])  # a middle batch: committed batches before it replayed, later ones made
def test_kill_9_after_a_committed_batch_then_resume(reference, tmp_path: Path, passphrase_file: Path, after_batch: int) -> None:
    """The process SIGKILLs itself right after batch N is committed (a named fault injection, so the point is exact)."""
    home = tmp_path / "h"
    _new_vault(home, passphrase_file)
    env = {**_env(home), "APPLIANCE_FAULT_KILL_AFTER_BATCH": str(after_batch)}
    proc = subprocess.run([sys.executable, "-m", "appliance", *GEN, "--passphrase-file", str(passphrase_file)],
                          env=env, capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL
    r = _cli(["resume", "1", "--user", "demo"], home, passphrase_file)
    assert r.returncode == 0, r.stderr
    assert f"resumed: {after_batch} batches were already in the vault" in r.stdout
    assert _records(home) == reference[0]


def test_kill_9_at_timed_points_then_resume(reference, tmp_path: Path, passphrase_file: Path) -> None:
    """SIGKILL from outside at a point of the run that no batch boundary marks (a fraction of the reference run's
    time), then resume. One point: each costs a whole run and a resume, and the suite's time is shared."""
    records, took = reference
    for i, fraction in enumerate((0.6,)):
        home = tmp_path / f"h{i}"
        _new_vault(home, passphrase_file)
        proc = subprocess.Popen([sys.executable, "-m", "appliance", *GEN, "--passphrase-file", str(passphrase_file)],
                                env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(fraction * took)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        r = _cli(["resume", "1", "--user", "demo"], home, passphrase_file)
        if proc.returncode == 0 or "already succeeded" in r.stderr:  # the job ended before the kill landed
            assert r.returncode == 2 and "already succeeded" in r.stderr
        elif "no job with id 1" in r.stderr:  # killed before the job was stored: nothing was written
            assert r.returncode == 2
            continue
        else:
            assert r.returncode == 0, r.stderr
        assert _records(home) == records


def test_ctrl_c_mid_run_closes_the_job_cancelled_and_resume_finishes_it(reference, tmp_path: Path,
                                                                        passphrase_file: Path) -> None:
    """Ctrl-C (SIGINT) inside a round, after batch 1 is committed and while the next batch's sequences are still
    decoding (a named fault injection, so the point is exact): the CLI says so in one line (exit 130), the job is
    closed as 'cancelled' with its committed batch, and resume makes the same records as an uninterrupted run. A
    cancel from the TUI takes the same path (``JobCancelled`` is a KeyboardInterrupt)."""
    from appliance.vault import Vault

    home = tmp_path / "h"
    _new_vault(home, passphrase_file)
    env = {**_env(home), "APPLIANCE_FAULT_SIGINT_AFTER_BATCH": "1"}
    proc = subprocess.run([sys.executable, "-m", "appliance", *GEN, "--passphrase-file", str(passphrase_file)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 130 and proc.stderr.strip().splitlines()[-1] == "appliance: interrupted", proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    with Vault.open(home, "demo", PASSPHRASE) as v:
        jobs = v.list_jobs()
        assert [j["status"] for j in jobs] == ["cancelled"]
        kept = sum(r["status"] == "accepted" for r in v.list_records(jobs[0]["id"]))
    assert 0 < kept < len(reference[0])  # batch 1 kept, the rest not yet made
    r = _cli(["resume", str(jobs[0]["id"]), "--user", "demo"], home, passphrase_file)
    assert r.returncode == 0, r.stderr
    assert "resumed: 1 batches were already in the vault" in r.stdout
    assert _records(home) == reference[0]


def test_resume_refuses_when_the_policy_changed(tmp_path: Path, passphrase_file: Path) -> None:
    """Records of one job are all gated under one policy: a policy file edited since the job began stops resume."""
    home = tmp_path / "h"
    _new_vault(home, passphrase_file)
    policy = tmp_path / "mine.toml"
    policy.write_text((TASKS.parent / "policies" / "default.toml").read_text())
    env = {**_env(home), "APPLIANCE_FAULT_KILL_AFTER_BATCH": "1"}
    proc = subprocess.run([sys.executable, "-m", "appliance", *GEN, "--policy", str(policy),
                           "--passphrase-file", str(passphrase_file)], env=env, capture_output=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL
    policy.write_text(policy.read_text().replace("max_shared_tokens = 8", "max_shared_tokens = 6"))
    r = _cli(["resume", "1", "--user", "demo"], home, passphrase_file)
    assert r.returncode == 3 and "has changed" in r.stderr
