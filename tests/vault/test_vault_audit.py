"""The audit log detects edited, deleted, reordered, inserted and truncated entries.

Tampering goes through a direct DuckDB connection holding the real data key, i.e. an attacker who can
decrypt and rewrite the database but does not use the installation's signing key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vault_helpers import meta_key, open_as

from appliance.errors import UserError
from appliance.vault import db, layout
from appliance.vault.audit import entry_hash


def _make_history(home: Path) -> tuple[bytes, Path, int]:
    """Some real activity; returns the data key, the database path and the number of entries."""
    with open_as(home, "alice") as v:
        task_id = v.add_task("triage", "[task]\nname = 'triage'\n")
        job_id = v.create_job(task_id, "zerogen", {"model_sha256": "ab" * 32})
        v.add_records(job_id, [{"text": "generated"}])
        v.finish_job(job_id, "succeeded", {"accepted": 1})
    with open_as(home, "root") as v:
        key, path = meta_key(v), v.db_path
        n = len(v.audit_entries())
    return key, path, n


def _tamper(home: Path, key: bytes, path: Path, *statements: tuple[str, list]) -> None:
    con = db.connect(layout.temp_dir(home))
    db.attach(con, path, "t", key)
    con.execute("USE t")
    for sql, args in statements:
        con.execute(sql, args)
    con.close()


def _verify(home: Path):
    with open_as(home, "rita") as v:
        return v.verify_audit()


def test_untouched_log_verifies(populated: Path) -> None:
    _make_history(populated)
    result = _verify(populated)
    assert result.ok, str(result)
    assert result.entries > 8


def test_edited_entry_detected(populated: Path) -> None:
    key, path, _ = _make_history(populated)
    _tamper(populated, key, path, ("UPDATE audit SET params = '{\"role\":\"reviewer\"}' WHERE seq = 3", []))
    r = _verify(populated)
    assert not r.ok and r.first_bad_seq == 3 and "edited" in r.problem


def test_edited_user_detected(populated: Path) -> None:
    key, path, _ = _make_history(populated)
    _tamper(populated, key, path, ("UPDATE audit SET user_name = 'bob' WHERE seq = 6", []))
    r = _verify(populated)
    assert not r.ok and r.first_bad_seq == 6


def test_deleted_entry_detected(populated: Path) -> None:
    key, path, _ = _make_history(populated)
    _tamper(populated, key, path, ("DELETE FROM audit WHERE seq = 4", []))
    r = _verify(populated)
    assert not r.ok and r.first_bad_seq == 4 and "missing" in r.problem


def test_reordered_entries_detected(populated: Path) -> None:
    key, path, _ = _make_history(populated)
    _tamper(
        populated,
        key,
        path,
        ("UPDATE audit SET seq = -1 WHERE seq = 5", []),
        ("UPDATE audit SET seq = 5 WHERE seq = 6", []),
        ("UPDATE audit SET seq = 6 WHERE seq = -1", []),
    )
    r = _verify(populated)
    assert not r.ok and r.first_bad_seq == 5


def test_inserted_entry_detected(populated: Path) -> None:
    key, path, _ = _make_history(populated)
    con = db.connect(layout.temp_dir(populated))
    db.attach(con, path, "t", key)
    prev = con.execute("SELECT entry_hash FROM t.audit WHERE seq = 4").fetchone()[0]
    con.close()
    # A well-formed forged entry at position 5 (correct hash and link), later entries shifted up by one.
    ts, oids, params = "2025-01-01T00:00:00.000000Z", "{}", json.dumps({"role": "admin"})
    h = entry_hash(5, ts, "mallory", "admin", "user.add", oids, params, prev)
    _tamper(
        populated,
        key,
        path,
        ("UPDATE audit SET seq = seq + 1 WHERE seq >= 5", []),
        ("INSERT INTO audit VALUES (5, ?, 'mallory', 'admin', 'user.add', ?, ?, ?, ?, ?)", [ts, oids, params, prev, h, "00" * 64]),
    )
    r = _verify(populated)
    assert not r.ok and r.first_bad_seq == 5 and "signature" in r.problem


def test_duplicated_sequence_number_detected(populated: Path) -> None:
    key, path, _ = _make_history(populated)
    _tamper(populated, key, path, ("INSERT INTO audit SELECT * FROM audit WHERE seq = 3", []))
    r = _verify(populated)
    assert not r.ok and r.first_bad_seq == 4 and "again" in r.problem


def test_truncated_log_detected_even_after_new_appends(populated: Path) -> None:
    key, path, n = _make_history(populated)
    _tamper(populated, key, path, (f"DELETE FROM audit WHERE seq > {n - 3}", []))
    # Opening the vault appends entries; the checkpoint must not move backwards to hide the cut.
    with open_as(populated, "alice"):
        pass
    r = _verify(populated)
    assert not r.ok and "truncated" in r.problem


def test_edited_last_entry_detected(populated: Path) -> None:
    key, path, n = _make_history(populated)
    _tamper(populated, key, path, (f"UPDATE audit SET ts = '2000-01-01T00:00:00.000000Z' WHERE seq = {n}", []))
    r = _verify(populated)
    assert not r.ok and r.first_bad_seq == n


def test_missing_or_forged_checkpoint_detected(populated: Path) -> None:
    _make_history(populated)
    cp = layout.checkpoint_file(populated)
    body = json.loads(cp.read_text())
    body["count"] = 1
    cp.write_text(json.dumps(body))
    r = _verify(populated)
    assert not r.ok and "checkpoint signature" in r.problem
    cp.unlink()
    r = _verify(populated)
    assert not r.ok and "missing" in r.problem
    assert not cp.exists()  # later appends do not quietly recreate it


def test_filters_and_jsonl_export(populated: Path, tmp_path: Path) -> None:
    _make_history(populated)
    with open_as(populated, "rita") as v:
        everything = v.audit_entries()
        assert {e["action"] for e in v.audit_entries(user="alice")} >= {"task.add", "job.start", "job.finish"}
        assert all(e["action"].startswith("job.") for e in v.audit_entries(action="job.*"))
        assert [e["action"] for e in v.audit_entries(action="job.finish")] == ["job.finish"]
        middle = everything[len(everything) // 2]["ts"]
        later = v.audit_entries(since=middle)
        earlier = v.audit_entries(until=middle)
        assert later[0]["ts"] >= middle and earlier[-1]["ts"] <= middle
        assert len(v.audit_entries(since="2999-01-01T00:00:00Z")) == 0
        out = tmp_path / "audit.jsonl"
        n = v.export_audit(out, user="alice")
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == n > 0 and all(x["user"] == "alice" for x in lines)
    assert {"seq", "ts", "role", "action", "object_ids", "params", "prev_hash", "entry_hash", "signature"} <= set(lines[0])
    with open_as(populated, "rita") as v:
        assert v.audit_entries(action="audit.export")[-1]["params"]["entries"] == n


def test_authors_cannot_read_the_audit_log(populated: Path) -> None:
    with open_as(populated, "alice") as v:
        with pytest.raises(UserError, match="may not read the audit log"):
            v.audit_entries()
