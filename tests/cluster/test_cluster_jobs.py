"""Generation jobs decoded by Ray actors: one local Ray instance on 127.0.0.1 (started and stopped here) and jobs with
two single-thread workers. Records must be those of a single-process deterministic run, whatever happens to the
workers; a worker that finds another model than the driver refuses, naming its node."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from appliance.errors import BadInput, IntegrityError
from tests.conftest import TASKS
from tests.vault.vault_helpers import init_author_home

PW = "cluster-passphrase-1"
N = 6


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A vault with an author, and one local Ray instance (2 CPUs) for the whole module."""
    from appliance.cluster.runtime import connect

    home = tmp_path_factory.mktemp("cl")
    user_home = tmp_path_factory.mktemp("user-home")  # where Ray would write its own token (~/.ray/auth_token)
    init_author_home(home, PW)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(user_home))
        for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH"):
            mp.delenv(name, raising=False)
        with connect(home, workers=2) as conn:
            token = Path(os.environ["RAY_AUTH_TOKEN_PATH"])  # token authentication with a token of this run, private
            assert os.environ["RAY_AUTH_MODE"] == "token" and token.parent == conn.temp_dir.parent
            assert token.stat().st_mode & 0o777 == 0o600
            yield home
        assert "RAY_AUTH_MODE" not in os.environ and "RAY_AUTH_TOKEN_PATH" not in os.environ  # put back after the job
    assert not conn.temp_dir.exists() and not token.exists()  # Ray's session files and the token do not outlive it
    assert not (user_home / ".ray").exists()  # nothing written outside the home


def request(**kw: Any):
    from appliance.service.generation import GenerationRequest
    from appliance.spec import load_task

    return GenerationRequest(task=load_task(TASKS / "sst2_sentiment.toml"), n=N, seed=3, deterministic=True, **kw)


def run(home: Path, req, **kw: Any):
    from appliance.service.generation import run_generation
    from appliance.service.session import Session

    with Session.open(home, "ana", PW) as s:
        return run_generation(s, home, req, **kw)


def texts(result) -> list[tuple[str, str]]:
    return [(r["label"], r["text"]) for r in result.records]


@pytest.fixture(scope="module")
def single(home: Path):
    """The reference: the same deterministic job in one process."""
    return run(home, request())


def test_two_workers_give_the_single_process_records(home: Path, single) -> None:
    from appliance.service.session import Session

    r = run(home, request(workers=2))
    assert texts(r) == texts(single) and len(r.records) == N
    assert r.served_by  # the nodes that decoded, in the job's summary and the audit log
    with Session.open(home, "ana", PW) as s:
        assert s.vault.get_job(r.job_id)["summary"]["served_by"] == r.served_by
    with Session.open(home, "admin", PW) as s:
        entries = s.vault.audit_entries(action="job.cluster")
    assert entries and entries[-1]["object_ids"] == {"job_id": r.job_id}
    assert entries[-1]["params"]["nodes"] == r.served_by and entries[-1]["params"]["workers"] == 2


def test_a_worker_killed_mid_job_loses_and_repeats_nothing(home: Path, single) -> None:
    from appliance.service.session import Session

    killed: list[int] = []

    def kill_one(p) -> None:  # after the first committed batch, while the workers have chunks in flight
        if not killed and p.workers:
            killed.append(p.workers[0]["pid"])
            os.kill(killed[0], signal.SIGKILL)

    r = run(home, request(workers=2), on_progress=kill_one)
    assert killed and texts(r) == texts(single)
    with Session.open(home, "ana", PW) as s:
        job = s.vault.get_job(r.job_id)
        rows = s.vault.list_records(r.job_id)
    assert job["status"] == "succeeded" and job["units_done"] == job["summary"]["batches"]
    assert len(rows) == len({row["id"] for row in rows}) == len(single.records)  # nothing stored twice, nothing lost


def test_a_cancelled_cluster_job_resumes_on_the_cluster(home: Path, single) -> None:
    from appliance.service.generation import JobCancelled, resume_job
    from appliance.service.session import Session

    stop, reports = threading.Event(), []

    def cancel_after_first_batch(p) -> None:  # the first report after the one that counted batch 1's records
        if any(reports):  # batch 1 was reported before it was committed, so it is in the vault by now
            stop.set()
        reports.append(p.accepted)

    with pytest.raises(JobCancelled):
        run(home, request(workers=2), on_progress=cancel_after_first_batch, cancel=stop)
    with Session.open(home, "ana", PW) as s:
        job_id = s.vault.list_jobs()[0]["id"]  # newest first
        assert s.vault.get_job(job_id)["status"] == "cancelled"
        r = resume_job(s, home, job_id, workers=2)
    assert texts(r) == texts(single) and r.replayed_batches >= 1


def test_a_compute_copy_altered_on_a_node_is_refused_naming_the_node(home: Path, single) -> None:
    from appliance.cluster.pool import ClusterModel, WorkerSpec, node_name
    from appliance.engine.loader import verified_copy

    entry, _, path, digest, ctype = verified_copy(home)
    spec = WorkerSpec(home=str(home), model=entry.name, model_sha256=entry.sha256, compute_type=ctype,
                      compute_sha256=digest, n_threads=1, max_parallel=1)
    good = path.read_bytes()
    try:
        with open(path, "r+b") as f:  # one byte of the weights changed after the driver verified the copy
            f.seek(len(good) - 1)
            f.write(bytes([good[-1] ^ 0xFF]))
        with pytest.raises(IntegrityError, match=r"^node .+: compute copy .* sha256 .*the driver verified") as e:
            ClusterModel(spec, 2, instruct=entry.instruct)
        assert node_name().split()[0] in str(e.value) and "\n" not in str(e.value)
    finally:
        path.write_bytes(good)


def test_dino_is_refused_before_any_work(home: Path) -> None:
    from appliance.service.session import Session

    with Session.open(home, "ana", PW) as s:
        before = len(s.vault.list_jobs())
    with pytest.raises(BadInput, match="self-debiasing"):
        run(home, request(method="dino", workers=2))
    with Session.open(home, "ana", PW) as s:
        assert len(s.vault.list_jobs()) == before


def test_adapter_bytes_are_loaded_from_memory_never_from_disk() -> None:
    """A worker gets the adapter as bytes and hands llama.cpp a memory file; with no memory file it refuses rather
    than write the decrypted adapter to disk."""
    from appliance.cluster.pool import _no_disk
    from appliance.engine.memfile import memory_file

    with memory_file(b"GGUF adapter bytes", "adapter", _no_disk) as path:
        assert str(path).startswith("/proc/self/fd/") and path.read_bytes() == b"GGUF adapter bytes"
    assert not path.exists()
    with pytest.raises(BadInput, match="not written to disk"):
        with _no_disk():
            pass
