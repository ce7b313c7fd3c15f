"""Roles hold in the keys: an insider with one user's passphrase and every file in the home, reading every table by
raw SQL through DuckDB (and decrypting whatever their keys open), finds no plaintext their role may not see.

The table these tests check is the README's "Who can read what": seed texts and adapter weights for authors only;
record texts and contexts for authors and reviewers; the rest of the database (users, tasks, jobs and their gate
statistics, reports, ledger, export manifests, audit log) for every role, auditors included.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.errors import UserError
from appliance.vault import Vault, db, fields, layout
from appliance.vault.keyfile import KeyFile
from tests.vault.vault_helpers import FAST_KDF, PASSPHRASES, use_fast_kdf

SEED_CANARY = "seed-canary-7Qx2 Mrs Aldous Penhallow"
RECORD_CANARY = "record-canary-K9wz note for Ivo Brannigan"
CONTEXT_CANARY = "context-canary-Lp3e ward nine"
ADAPTER_CANARY = b"adapter-canary-Zt8u"
USERS = {"root": "admin", "alice": "author", "bob": "author", "rita": "reviewer", "olga": "auditor"}
PW = {**PASSPHRASES, "olga": "olga-passphrase-1"}
# What each role may read in plaintext, by the keys it holds.
MAY_READ = {
    "admin": set(),
    "author": {SEED_CANARY, RECORD_CANARY, CONTEXT_CANARY, ADAPTER_CANARY.decode()},
    "reviewer": {RECORD_CANARY, CONTEXT_CANARY},
    "auditor": set(),
}
ALL_CANARIES = {SEED_CANARY, RECORD_CANARY, CONTEXT_CANARY, ADAPTER_CANARY.decode()}


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)


@pytest.fixture(scope="module")
def vault_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mp = pytest.MonkeyPatch()
    use_fast_kdf(mp)
    home = tmp_path_factory.mktemp("roles") / "home"
    with Vault.create(home, "root", PW["root"], kdf_params=FAST_KDF) as v:
        for name, role in USERS.items():
            if name != "root":
                v.add_user(name, role, PW[name])
    with Vault.open(home, "alice", PW["alice"]) as v:
        v.grant("bob")
        v.grant("rita")
        task_id = v.add_task("t", "[task]\nname = 't'\n")
        v.import_seeds("clinic", [(SEED_CANARY, "a")], task_id=task_id, task_name="t")
        v.add_adapter("ad", "clinic", "m", "ab" * 32, ADAPTER_CANARY + b"-weights", {"privacy": {"epsilon": 4}})
        job = v.create_job(task_id, "zerogen", {"n": 2})
        v.add_records(job, [{"text": RECORD_CANARY, "context": CONTEXT_CANARY, "label": "a"},
                            {"text": RECORD_CANARY + " held", "status": "quarantined", "reasons": ["PII"]}])
        v.finish_job(job, "succeeded", {"accepted": 1, "quarantined": 1})
        v.request_export(job, {"records": 1})
    mp.undo()
    return home


def insider_view(home: Path, user: str) -> set[str]:
    """Every plaintext ``user`` can obtain with their passphrase and the files alone: raw SQL over every table, and
    every sealed value their room keys decrypt."""
    kf = KeyFile.load(layout.key_file(home))
    unlocked = kf.unlock(user, PW[user])
    con = db.connect(layout.temp_dir(home))
    db.attach(con, home / kf.db_file, "raw", unlocked.room_keys["meta"][kf.generation], read_only=True)
    seen: set[str] = set()
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'raw'").fetchall()]
    assert {"seeds", "records", "adapters", "audit", "jobs"} <= set(tables)
    for table in tables:
        cols = [r[0] for r in con.execute(f"DESCRIBE raw.{table}").fetchall()]
        for row in con.execute(f"SELECT {', '.join(cols)}, {'id' if 'id' in cols else 'NULL'} FROM raw.{table}").fetchall():
            row_id = row[-1]
            for col, value in zip(cols, row[:-1]):
                if value is None:
                    continue
                raw = bytes(value) if isinstance(value, (bytes, bytearray, memoryview)) else str(value).encode()
                seen.add(raw.decode("utf-8", "replace"))
                for room, keys in unlocked.room_keys.items():  # the insider tries every key they hold
                    try:
                        seen.add(fields.open_bytes(keys, room, table, col, row_id, raw).decode("utf-8", "replace"))
                    except (UserError, ValueError, TypeError):
                        pass
                    try:
                        seen.add(fields.open_text(keys, room, table, col, row_id, raw.decode("ascii", "replace")) or "")
                    except (UserError, ValueError, TypeError):
                        pass
    con.close()
    return seen


@pytest.mark.parametrize("user", list(USERS))
def test_each_role_reads_by_raw_sql_only_what_its_keys_allow(vault_home: Path, user: str) -> None:
    text = "\n".join(insider_view(vault_home, user))
    role = USERS[user]
    for canary in ALL_CANARIES:
        assert (canary in text) == (canary in MAY_READ[role]), (user, role, canary)


def test_no_canary_in_any_file_of_the_home(vault_home: Path) -> None:
    for path in vault_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for canary in ALL_CANARIES:
                assert canary.encode() not in data, (path, canary)


def test_key_file_seals_each_room_only_to_roles_that_may_hold_it(vault_home: Path) -> None:
    kf = KeyFile.load(layout.key_file(vault_home))
    held = {name: set(kf.rooms_of(name)) for name in USERS}
    assert held == {"root": {"meta"}, "alice": {"meta", "records", "seeds", "export"}, "bob": {"meta", "records", "seeds", "export"},
                    "rita": {"meta", "records"}, "olga": {"meta"}}


def test_a_role_edited_in_the_key_file_unseals_nothing(vault_home: Path, tmp_path: Path) -> None:
    """A reviewer who rewrites their own role to author in the key file gets no seed key out of it."""
    kf = KeyFile.load(layout.key_file(vault_home))
    doc = json.loads(json.dumps(kf.doc))
    doc["users"]["rita"]["role"] = "author"
    doc["users"]["rita"]["rooms"]["seeds"] = doc["users"]["alice"]["rooms"]["seeds"]  # and copies alice's sealed key
    forged = KeyFile(tmp_path / "forged.json", doc)
    with pytest.raises(UserError, match="altered or damaged"):
        forged.unlock("rita", PW["rita"])


def test_the_auditor_reads_metadata_but_no_text(vault_home: Path) -> None:
    with Vault.open(vault_home, "olga", PW["olga"]) as v:
        job = v.get_job(1)
        assert job["summary"] == {"accepted": 1, "quarantined": 1} and job["config"] == {"n": 2}
        assert v.count_records(1, "quarantined") == 1
        assert v.get_export(1)["manifest"] == {"records": 1}
        assert v.privacy_spent("clinic")["epsilon"] == 0
        assert v.verify_audit().ok
        for call in (lambda: v.list_records(1), lambda: v.list_seeds("clinic"), lambda: v.get_adapter("ad")):
            with pytest.raises(UserError, match="permission denied"):
                call()


def test_a_new_author_gets_seeds_only_from_a_holder(vault_home: Path, tmp_path: Path) -> None:
    """An admin alone cannot give an account it creates any data: the keys come from an author's grant."""
    import shutil

    home = tmp_path / "copy"
    shutil.copytree(vault_home, home)
    with Vault.open(home, "root", PW["root"]) as v:
        v.add_user("mallory", "author", "mallory-passphrase")
        with pytest.raises(UserError, match="permission denied"):
            v.grant("mallory")
    with Vault.open(home, "mallory", "mallory-passphrase") as v:
        with pytest.raises(UserError, match="holds no key for seed records yet"):
            v.list_seeds("clinic")
        with pytest.raises(UserError, match="holds no key for generated records"):
            v.list_records(1)
    with Vault.open(home, "alice", PW["alice"]) as v:
        assert v.grant("mallory") == ["export", "records", "seeds"]
    with Vault.open(home, "mallory", "mallory-passphrase") as v:
        assert [s["text"] for s in v.list_seeds("clinic")] == [SEED_CANARY]
    with Vault.open(home, "rita", PW["rita"]) as v:
        assert [e["params"]["rooms"] for e in v.audit_entries(action="key.grant") if e["object_ids"]["user"] == "mallory"] \
            == [["export", "records", "seeds"]]
