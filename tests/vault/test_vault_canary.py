"""Nothing sensitive reaches the disk in plaintext: database, WAL, spill files, key file, checkpoint.

Unique canary strings go into seed records, the task spec, generated and quarantined records (text,
context, attributes, reasons, scores), reports and export manifests. Then every byte of every file under
the home directory and the temp directory is searched. A control run shows the same search does find
canaries in an unencrypted DuckDB's files, so a pass means something.
"""

from __future__ import annotations

import os
import signal
import tempfile
import uuid
from pathlib import Path

import duckdb
import pytest
from vault_helpers import PASSPHRASES, open_as, spawn_child

from appliance.vault import Vault, import_file, layout


def _canaries(*names: str) -> dict[str, str]:
    return {n: f"CANARY-{n}-{uuid.uuid4().hex}" for n in names}


def _scan(dirs: list[Path], canaries: dict[str, str]) -> list[str]:
    """Every file under ``dirs`` that contains a canary's bytes, as 'file: canary-name'."""
    hits = []
    needles = {name: value.encode("utf-8") for name, value in canaries.items()}
    n_files = 0
    for d in dirs:
        for root, _dirs, files in os.walk(d):
            for f in files:
                p = Path(root) / f
                try:
                    data = p.read_bytes()
                except (FileNotFoundError, PermissionError):
                    continue
                n_files += 1
                hits += [f"{p}: {name}" for name, needle in needles.items() if needle in data]
    assert n_files > 0
    return hits


@pytest.fixture
def systmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "systmp"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def _seed_file(tmp_path: Path, canary: str) -> Path:
    d = tmp_path / "input"  # the user's own plaintext file: deliberately outside the scanned directories
    d.mkdir(exist_ok=True)
    p = d / "seeds.csv"
    p.write_text("text,label\n" + "".join(f"note {i} {canary} mentions the patient,cardiology\n" for i in range(50)))
    return p


def _spill(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Push DuckDB past its memory limit so buffers go to temp files."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE spill AS SELECT text || md5(text) || text AS t FROM {table}, range(3)")


def test_control_plain_duckdb_leaks_canaries(tmp_path: Path) -> None:
    c = _canaries("plain")
    d = tmp_path / "plain"
    d.mkdir()
    con = duckdb.connect(str(d / "plain.duckdb"), config={"memory_limit": "64MB", "temp_directory": str(d / "tmp")})
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("CREATE TABLE records AS SELECT ? || ' ' || i || ' lorem ipsum dolor sit amet' AS text FROM range(200000) t(i)", [c["plain"]])
    _spill(con, "records")
    assert _scan([d], c), "the scan must find plaintext canaries in an unencrypted database"
    con.close()


def test_no_canary_on_disk_after_normal_use(populated: Path, tmp_path: Path, systmp: Path) -> None:
    c = _canaries("seed", "task", "text", "context", "attr", "reason", "score", "quarantined", "report", "manifest")
    seeds = _seed_file(tmp_path, c["seed"])
    with open_as(populated, "alice") as v:
        import_file(v, seeds, text_column="text", label_column="label", allowed_labels={"cardiology"})
        task_id = v.add_task("triage", f"[task]\nname = 'triage'\ndescription = '{c['task']}'\n")
        job_id = v.create_job(task_id, "zerogen", {"temperature": 0.9})
        filler = " lorem ipsum dolor sit amet" * 4
        v.add_records(
            job_id,
            [
                {
                    "text": f"{c['text']} {i}{filler}",
                    "label": "cardiology",
                    "context": c["context"],
                    "attributes": {"age": c["attr"]},
                    "scores": {c["score"]: 0.5},
                }
                for i in range(60_000)
            ],
        )
        v.add_records(job_id, [{"text": c["quarantined"], "status": "quarantined", "reasons": [c["reason"]]}])
        v.add_report(job_id, "quality", {"example": c["report"]})
        v.request_export(job_id, {"note": c["manifest"]})
        v.finish_job(job_id, "succeeded", {"accepted": 60_000})
    # Re-open with a small memory limit and force spilling while the vault is open.
    v = Vault.open(populated, "alice", PASSPHRASES["alice"], memory_limit="64MB")
    try:
        _spill(v._con, "records")
        spill_files = list(layout.temp_dir(populated).iterdir())
        assert spill_files, "expected DuckDB to spill to the vault's temp directory"
        assert _scan([populated, systmp], c) == []
    finally:
        v.close()
    assert _scan([populated, systmp], c) == []


def test_no_canary_on_disk_after_kill_mid_transaction(populated: Path, tmp_path: Path, systmp: Path) -> None:
    c = _canaries("seed", "committed", "uncommitted", "spilled")
    seeds = _seed_file(tmp_path, c["seed"])
    code = f"""
import time
from appliance.vault import Vault, import_file
v = Vault.open({str(populated)!r}, "alice", {PASSPHRASES['alice']!r}, memory_limit="64MB")
import_file(v, {str(seeds)!r}, text_column="text", label_column="label")
task_id = v.add_task("t", "[task]")
job_id = v.create_job(task_id, "zerogen", {{}})
v.add_records(job_id, [{{"text": {c['committed']!r} + " %d" % i, "context": "c"}} for i in range(2000)])
with v.transaction():
    v.add_records(job_id, [{{"text": {c['uncommitted']!r} + " %d lorem ipsum dolor sit amet" % i}} for i in range(150000)])
    v._con.execute("CREATE TEMP TABLE spill AS SELECT text || md5(text) || {c['spilled']!r} AS t FROM records, range(2)")
    print("IN-TRANSACTION", flush=True)
    time.sleep(120)
"""
    child = spawn_child(code, {"TMPDIR": str(systmp)})
    try:
        line = child.stdout.readline()
        assert line.strip() == "IN-TRANSACTION", child.stderr.read()
        wal = [p for p in populated.iterdir() if p.name.endswith(".wal")]
        assert wal, "committed rows should still be in the (encrypted) WAL when the process dies"
        assert list(layout.temp_dir(populated).iterdir()), "the child should have spilled to temp files"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()
    assert _scan([populated, systmp], c) == []

    with open_as(populated, "alice") as v:  # recovery replays the encrypted WAL: committed rows only
        assert list(layout.temp_dir(populated).iterdir()) == []  # the dead process's spill files are gone
        job_id = v.get_job(1)["id"]
        texts = [r["text"] for r in v.list_records(job_id)]
        assert len(texts) == 2000 and all(t.startswith(c["committed"]) for t in texts)
        assert len(v.list_seeds("seeds")) == 50
    with open_as(populated, "rita") as v:
        assert v.verify_audit().ok
    assert _scan([populated, systmp], c) == []
