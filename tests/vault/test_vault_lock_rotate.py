"""One process per vault; key rotation re-encrypts and survives a crash at any point."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from vault_helpers import PASSPHRASES, meta_key, open_as, run_child, spawn_child

from appliance.errors import UserError
from appliance.vault import db, layout, rotate


def test_second_process_gets_vault_in_use(populated: Path) -> None:
    code = f"""
import time
from appliance.vault import Vault
with Vault.open({str(populated)!r}, "alice", {PASSPHRASES['alice']!r}):
    print("OPEN", flush=True)
    time.sleep(60)
"""
    holder = spawn_child(code)
    try:
        assert holder.stdout.readline().strip() == "OPEN", holder.stderr.read()
        # Another process...
        other = run_child(
            f"""
from appliance.errors import UserError
from appliance.vault import Vault
try:
    Vault.open({str(populated)!r}, "rita", {PASSPHRASES['rita']!r})
except UserError as e:
    print("REFUSED:", e)
"""
        )
        assert f"REFUSED: vault in use by another process (pid {holder.pid})" in other.stdout, other.stderr
        # ...and this one.
        with pytest.raises(UserError, match="vault in use by another process"):
            open_as(populated, "rita")
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()
    with open_as(populated, "rita"):  # a killed holder leaves no stale lock behind
        pass


def test_same_process_second_open_refused_until_closed(populated: Path) -> None:
    v = open_as(populated, "alice")
    with pytest.raises(UserError, match="vault in use"):
        open_as(populated, "bob")
    v.close()
    open_as(populated, "bob").close()


def test_duckdb_lock_error_is_translated(populated: Path) -> None:
    with open_as(populated, "root") as v:
        key, path = meta_key(v), v.db_path
    code = f"""
import time, base64
from pathlib import Path
from appliance.vault import db
con = db.connect(Path({str(populated)!r}) / "vault-tmp")
db.attach(con, Path({str(path)!r}), "v", base64.b64decode({__import__('base64').b64encode(key).decode()!r}))
print("ATTACHED", flush=True)
time.sleep(60)
"""
    holder = spawn_child(code)
    try:
        assert holder.stdout.readline().strip() == "ATTACHED", holder.stderr.read()
        con = db.connect(layout.temp_dir(populated))
        with pytest.raises(UserError, match="vault in use by another process"):
            db.attach(con, path, "v", key)
        con.close()
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()


def _fill(home: Path) -> int:
    with open_as(home, "alice") as v:
        task_id = v.add_task("t", "[task]\nname='t'\n")
        v.import_seeds("s", [("seed text one", "a"), ("seed text two", "b")], task_id=task_id)
        job_id = v.create_job(task_id, "zerogen", {})
        v.add_records(job_id, [{"text": f"record {i}"} for i in range(500)])
    return job_id


def test_rotate_key_reencrypts_and_keeps_everyone_in(populated: Path) -> None:
    job_id = _fill(populated)
    with open_as(populated, "root") as v:
        old_key, old_path, old_gen = meta_key(v), v.db_path, v.generation
        new_gen = v.rotate_key()
        assert new_gen != old_gen and v.generation == new_gen
        assert meta_key(v) != old_key
        assert v.status()["encrypted"] is True
        v.audit("after.rotation")  # the live connection now writes to the new file
        new_path = v.db_path
    assert not old_path.exists() and new_path.exists()
    assert json.loads(layout.key_file(populated).read_text())["db_file"] == new_path.name
    for user in ("alice", "bob", "rita", "root"):
        open_as(populated, user).close()
    with open_as(populated, "alice") as v:
        assert v.count_records(job_id) == 500
        assert [s["text"] for s in v.list_seeds("s")] == ["seed text one", "seed text two"]
    with open_as(populated, "rita") as v:
        assert v.verify_audit().ok
        actions = [e["action"] for e in v.audit_entries(action="key.rotat*")]
        assert actions == ["key.rotate", "key.rotated"]
    # The old data key opens nothing now.
    con = db.connect(layout.temp_dir(populated))
    with pytest.raises(UserError, match="does not match its key file"):
        db.attach(con, new_path, "v", old_key)
    con.close()


def test_crash_before_switch_leaves_old_vault_usable(populated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = _fill(populated)

    def boom(stage: str) -> None:
        if stage == "copied":
            raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(rotate, "crash_hook", boom)
    v = open_as(populated, "root")
    old_gen = v.generation
    with pytest.raises(KeyboardInterrupt):
        v.rotate_key()
    v.close()
    monkeypatch.setattr(rotate, "crash_hook", lambda stage: None)
    assert len(layout.stray_db_files(populated, f"vault-{old_gen}.duckdb")) >= 1  # the abandoned copy
    with open_as(populated, "alice") as v:
        assert v.generation == old_gen
        assert v.count_records(job_id) == 500
    assert layout.stray_db_files(populated, f"vault-{old_gen}.duckdb") == []  # cleaned up on open


def test_crash_after_switch_opens_new_vault(populated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = _fill(populated)
    def die(stage: str) -> None:
        if stage == "switched":
            raise SystemExit(9)

    monkeypatch.setattr(rotate, "crash_hook", die)
    v = open_as(populated, "root")
    old_gen = v.generation
    with pytest.raises(SystemExit):
        v.rotate_key()
    v.close()
    monkeypatch.setattr(rotate, "crash_hook", lambda stage: None)
    with open_as(populated, "alice") as v:
        assert v.generation != old_gen
        assert v.count_records(job_id) == 500
    assert not (populated / f"vault-{old_gen}.duckdb").exists()
    with open_as(populated, "rita") as v:
        assert v.verify_audit().ok


def test_sigkill_during_rotation(populated: Path) -> None:
    job_id = _fill(populated)
    code = f"""
import os, signal
from appliance.vault import Vault, rotate
def hook(stage):
    if stage == "copied":
        os.kill(os.getpid(), signal.SIGKILL)
rotate.crash_hook = hook
v = Vault.open({str(populated)!r}, "root", {PASSPHRASES['root']!r})
v.rotate_key()
"""
    child = run_child(code)
    assert child.returncode == -signal.SIGKILL, child.stderr
    with open_as(populated, "alice") as v:
        assert v.count_records(job_id) == 500
    with open_as(populated, "rita") as v:
        assert v.verify_audit().ok
    assert [p.name for p in populated.iterdir() if p.name.endswith(".duckdb")] == [
        json.loads(layout.key_file(populated).read_text())["db_file"]
    ]
