"""The driver of a cluster job SIGKILLed right after a committed batch: the local Ray instance it started goes with it
(no Ray process of the home's Ray directory is left spinning), and `appliance resume` in one process finishes the job
with every committed batch kept once."""

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


def _cli(args: list[str], home: Path, pw: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance", *args, "--passphrase-file", str(pw)], capture_output=True,
                          text=True, env={**os.environ, "APPLIANCE_HOME": str(home), **(env or {})}, timeout=600)


def _ray_processes(ray_dir: Path) -> list[int]:
    """Processes whose command line names the home's Ray directory (Ray's GCS, raylet, workers, ...)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if str(ray_dir).encode() in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                continue
    return pids


def test_a_killed_driver_leaves_no_ray_behind_and_resume_finishes_the_job(tmp_path: Path, passphrase_file: Path) -> None:
    from appliance.cluster.runtime import ray_temp_dir
    from appliance.vault import Vault

    home = tmp_path / "h"
    assert _cli(["init", "--user", "admin"], home, passphrase_file).returncode == 0
    r = _cli(["user", "add", "demo", "--role", "author", "--user", "admin", "--new-passphrase-file",
              str(passphrase_file)], home, passphrase_file)
    assert r.returncode == 0, r.stderr
    gen = ["generate", "--task", str(TASKS / "sst2_sentiment.toml"), "--n", "8", "--seed", "5", "--deterministic",
           "--workers", "2", "--user", "demo"]
    killed = _cli(gen, home, passphrase_file, env={"APPLIANCE_FAULT_KILL_AFTER_BATCH": "1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-500:]

    ray_dir = ray_temp_dir(home).parent
    deadline = time.monotonic() + 60
    while _ray_processes(ray_dir) and time.monotonic() < deadline:
        time.sleep(1)
    left = _ray_processes(ray_dir)
    for pid in left:  # do not leave them spinning for the rest of the suite, whatever the assertion says
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} Ray processes outlived the killed driver"

    r = _cli(["resume", "1", "--user", "demo"], home, passphrase_file)  # without the cluster
    assert r.returncode == 0, r.stderr
    assert "resumed: 1 batches were already in the vault" in r.stdout
    with Vault.open(home, "demo", PASSPHRASE) as v:
        job = v.get_job(1)
        records = v.list_records(1)
    assert job["status"] == "succeeded"
    assert len(records) >= 6 and len({r["text"] for r in records}) == len(records)  # nothing stored twice
