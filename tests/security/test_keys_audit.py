"""The audit log and the keys survive an insider: one user's passphrase plus every file in the home.

Each test acts as the attacker (raw SQL through DuckDB with the keys that user's passphrase unwraps, edited or
restored files) and proves a refusal or a detection.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.errors import UserError
from appliance.vault import Vault, db, fields, layout
from appliance.vault.audit import CHECKPOINT_FORMAT, GENESIS_HASH, canonical, entry_hash
from appliance.vault.keyfile import KeyFile
from tests.vault.vault_helpers import PASSPHRASES, make_populated, use_fast_kdf


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)


@pytest.fixture
def populated(tmp_path: Path) -> Path:
    return make_populated(tmp_path / "home")


def _open(home: Path, user: str) -> Vault:
    return Vault.open(home, user, PASSPHRASES[user])


@pytest.fixture
def history(populated: Path) -> Path:
    """alice generates a job with a quarantined record; rita releases it and approves an export; alice goes on."""
    with _open(populated, "alice") as v:
        task_id = v.add_task("t", "[task]\nname = 't'\n")
        job = v.create_job(task_id, "zerogen", {})
        v.add_records(job, [{"text": "fine"}, {"text": "MRN 1234567 for Jo", "status": "quarantined", "reasons": ["MRN"]}])
        v.finish_job(job, "succeeded", {})
        v.request_export(job, {})
    with _open(populated, "rita") as v:
        v.review_record(2, release=True, note="looks fine")
        v.decide_export(1, approve=True, reason="ok")
    with _open(populated, "alice") as v:
        v.add_report(1, "quality", {"n": 2})
    return populated


def _insider(home: Path, user: str):  # noqa: ANN202
    kf = KeyFile.load(layout.key_file(home))
    unlocked = kf.unlock(user, PASSPHRASES[user])
    con = db.connect(layout.temp_dir(home))
    db.attach(con, home / kf.db_file, "t", unlocked.room_keys["meta"][kf.generation])
    con.execute("USE t")
    return con, unlocked


def _rewrite_chain_as(con, unlocked, drop_actions: set[str]) -> None:  # noqa: ANN001
    """Delete the insider's own entries of some actions, renumber, relink and re-sign everything they can sign."""
    rows = con.execute("SELECT seq, ts, user_name, role, action, object_ids, params, signature FROM audit ORDER BY seq").fetchall()
    kept = [r for r in rows if not (r[2] == unlocked.user and r[4] in drop_actions)]
    con.execute("DELETE FROM audit")
    prev = GENESIS_HASH
    for seq, (_, ts, user, role, action, oids, prm, sig) in enumerate(kept, start=1):
        h = entry_hash(seq, ts, user, role, action, oids, prm, prev)
        if user == unlocked.user:
            sig = unlocked.sign_key.sign(bytes.fromhex(h)).hex()  # their own entries they can re-sign
        con.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [seq, ts, user, role, action, oids, prm, prev, h, sig])
        prev = h
    return len(kept), prev


def _write_checkpoint_as(home: Path, unlocked, count: int, last_hash: str) -> None:  # noqa: ANN001
    kf = KeyFile.load(layout.key_file(home))
    body = {"format": CHECKPOINT_FORMAT, "installation_id": kf.installation_id, "count": count, "last_seq": count,
            "last_hash": last_hash, "signer": unlocked.user, "written_at": "2030-01-01T00:00:00.000000Z"}
    body["signature"] = unlocked.sign_key.sign(canonical(body).encode()).hex()
    layout.checkpoint_file(home).write_text(json.dumps(body))


def test_a_reviewer_who_deletes_their_own_entries_and_re_signs_is_caught(history: Path) -> None:
    con, me = _insider(history, "rita")
    count, last = _rewrite_chain_as(con, me, {"record.review", "export.approve"})
    con.close()
    _write_checkpoint_as(history, me, count, last)
    with _open(history, "root") as v:
        result = v.verify_audit()
    assert not result.ok
    assert "signature is invalid: not written by user" in result.problem and result.first_bad_seq is not None


def test_an_entry_forged_in_another_users_name_is_caught(history: Path) -> None:
    con, me = _insider(history, "rita")
    last = con.execute("SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, ts = last[0] + 1, "2030-01-01T00:00:00.000000Z"
    h = entry_hash(seq, ts, "alice", "author", "export.request", "{}", "{}", last[1])
    con.execute("INSERT INTO audit VALUES (?, ?, 'alice', 'author', 'export.request', '{}', '{}', ?, ?, ?)",
                [seq, ts, last[1], h, me.sign_key.sign(bytes.fromhex(h)).hex()])
    con.close()
    with _open(history, "root") as v:
        result = v.verify_audit()
    assert not result.ok and result.first_bad_seq == seq and "not written by user alice" in result.problem


def test_a_whole_log_rewritten_with_new_keys_disagrees_with_the_key_file(history: Path) -> None:
    """An insider re-signs every entry with keys they made up (registrations included): the key file's public keys
    are not the ones such a log registers."""
    con, me = _insider(history, "rita")
    rows = con.execute("SELECT seq, ts, user_name, role, action, object_ids, params FROM audit ORDER BY seq").fetchall()
    fake = {u: Ed25519PrivateKey.generate() for u in {r[2] for r in rows} | {"alice", "bob", "rita", "root"}}
    from appliance.vault.keys import _b64, _raw_public

    con.execute("DELETE FROM audit")
    prev = GENESIS_HASH
    for seq, ts, user, role, action, oids, prm in rows:
        p = json.loads(prm)
        if "keys" in p:
            p["keys"]["sign"] = _b64(_raw_public(fake[json.loads(oids)["user"]]))
            prm = canonical(p)
        h = entry_hash(seq, ts, user, role, action, oids, prm, prev)
        con.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [seq, ts, user, role, action, oids, prm, prev, h, fake[user].sign(bytes.fromhex(h)).hex()])
        prev = h
    con.close()
    with _open(history, "root") as v:
        result = v.verify_audit()
    # Either check catches it: the next genuine entry (root's sign-in, signed with root's real key) or the key file.
    assert not result.ok
    assert "is not the one the audit log registered" in result.problem or "not written by user root" in result.problem


def test_an_anchor_catches_a_truncated_tail_and_a_rolled_back_home(history: Path, tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    shutil.copytree(history, backup)  # the whole home, as it was before the anchor
    with _open(history, "rita") as v:
        anchor = v.audit_anchor()
        assert v.verify_audit(anchor).ok
    # A rollback of the whole home to before the anchor: every file consistent, only the anchor tells.
    shutil.rmtree(history)
    shutil.copytree(backup, history)
    with _open(history, "rita") as v:
        assert v.verify_audit().ok
        result = v.verify_audit(anchor)
    assert not result.ok and "does not extend the anchor" in result.problem
    with _open(history, "rita") as v:
        bad = v.verify_audit("not-an-anchor")
    assert not bad.ok and "malformed" in bad.problem


def test_a_removed_user_with_an_old_key_file_reads_nothing_written_afterwards(history: Path, tmp_path: Path) -> None:
    old_keyfile = layout.key_file(history).read_text()
    bob_old = KeyFile(tmp_path / "old.json", json.loads(old_keyfile)).unlock("bob", PASSPHRASES["bob"])
    with _open(history, "root") as v:
        v.remove_user("bob")  # the database key rotates now
    with _open(history, "alice") as v:  # a holder's next sign-in rotates the data keys bob held
        assert v.status()["pending_rotation"] == []
        job = v.create_job(1, "zerogen", {})
        v.add_records(job, [{"text": "written after bob left"}])
        new_db = v.db_path
    with pytest.raises(UserError, match="does not match its key file"):  # his old database key opens nothing
        con = db.connect(layout.temp_dir(history))
        try:
            db.attach(con, new_db, "x", bob_old.room_keys["meta"][next(iter(bob_old.room_keys["meta"]))], read_only=True)
        finally:
            con.close()
    con, alice = _insider(history, "alice")
    token = con.execute("SELECT text FROM records ORDER BY id DESC LIMIT 1").fetchone()[0]
    con.close()
    with pytest.raises(UserError, match="key you do not hold"):
        fields.open_text(bob_old.room_keys["records"], "records", "records", "text", 3, token)
    with _open(history, "rita") as v:
        assert [e["object_ids"]["room"] for e in v.audit_entries(action="key.room.rotate")] == ["export", "records", "seeds"]


def test_restoring_an_old_key_entry_after_passwd_does_not_bring_the_old_passphrase_back(history: Path) -> None:
    kpath = layout.key_file(history)
    old = json.loads(kpath.read_text())
    with _open(history, "bob") as v:
        v.change_passphrase("bob-new-passphrase-2")
    doc = json.loads(kpath.read_text())
    doc["users"]["bob"] = old["users"]["bob"]  # the old entry, from a backup of the key file
    kpath.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="altered or damaged|not the current one"):
        _open(history, "bob")


def test_a_damaged_key_file_or_checkpoint_gives_one_line(history: Path) -> None:
    kpath, cpath = layout.key_file(history), layout.checkpoint_file(history)
    good = kpath.read_text()
    for damage in ('{"format": "appliance-vault-keys/2"}', json.dumps({**json.loads(good), "users": []}),
                   good.replace('"role": "author"', '"role": 7', 1), "[1, 2]", "not json"):
        kpath.write_text(damage)
        with pytest.raises(UserError) as e:
            _open(history, "alice")
        assert "\n" not in str(e.value) and "key file" in str(e.value)
    kpath.write_text(good)
    for damage in ("[]", '{"count": "x"}', "{", json.dumps({"signer": None})):
        cpath.write_text(damage)
        with _open(history, "rita") as v:
            result = v.verify_audit()
        assert not result.ok and "checkpoint" in result.problem and "\n" not in result.problem
