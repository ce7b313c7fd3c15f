"""Passphrases, key wrapping, failed unlocks."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from pathlib import Path

import pytest
from vault_helpers import PASSPHRASES, meta_key, open_as

from appliance.errors import UserError
from appliance.vault import Vault, keys, layout


def test_wrong_passphrase_answers_a_first_typo_at_once(populated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(keys.time, "sleep", lambda s: slept.append(s))
    with pytest.raises(UserError, match="^wrong passphrase for user alice$"):
        Vault.open(populated, "alice", "not-her-passphrase")
    assert slept == [0.0]  # the KDF's own cost is the only wait; bench/kdf.py measures it


def test_unknown_user_gets_the_same_answer(populated: Path) -> None:
    with pytest.raises(UserError, match="^wrong passphrase for user mallory$"):
        Vault.open(populated, "mallory", "whatever-passphrase")


def test_failures_are_counted_slowed_and_audited(populated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(keys.time, "sleep", lambda s: slept.append(s))
    for _ in range(4):
        with pytest.raises(UserError):
            Vault.open(populated, "bob", "guess-guess-guess")
    assert slept == [0.0, 0.01, 0.02, 0.04]  # none for a first typo, then growing
    kf = json.loads(layout.key_file(populated).read_text())
    assert kf["users"]["bob"]["consecutive_failures"] == 4
    assert len(kf["failed_unlocks"]) == 4

    with open_as(populated, "rita") as v:
        failed = v.audit_entries(action="unlock.failed")
        # Written (and signed) by the next user to sign in, about the user whose passphrase failed.
        assert [(e["user"], e["object_ids"]["user"]) for e in failed] == [("rita", "bob")] * 4
        assert [e["params"]["consecutive"] for e in failed] == [1, 2, 3, 4]
        assert failed[0]["params"]["role"] == "author"
    kf = json.loads(layout.key_file(populated).read_text())
    assert kf["failed_unlocks"] == []
    with open_as(populated, "bob"):
        pass
    assert json.loads(layout.key_file(populated).read_text())["users"]["bob"]["consecutive_failures"] == 0


def test_failure_delay_grows_and_caps() -> None:
    delays = [keys.failure_delay(n) for n in range(1, 12)]
    assert delays[0] == 0.0
    assert all(b >= a for a, b in zip(delays, delays[1:]))
    assert delays[-1] == keys.FAILURE_DELAY_MAX_S


def test_change_passphrase_rotates_what_the_old_one_opened(populated: Path) -> None:
    with open_as(populated, "alice") as v:
        task_id = v.add_task("t", "[task]\nname = 't'\n")
        db_file = v.db_path
        old_keys = {room: dict(gens) for room, gens in v._keys.items()}
    with open_as(populated, "alice") as v:
        v.change_passphrase("alice-new-passphrase")
    # A leaked old passphrase (with a copy of the old key file) opens nothing written from now on.
    assert not db_file.exists()
    with pytest.raises(UserError, match="wrong passphrase"):
        Vault.open(populated, "alice", PASSPHRASES["alice"])
    with Vault.open(populated, "alice", "alice-new-passphrase") as v:
        assert v.get_task(task_id)["name"] == "t"
        assert v.db_path != db_file
        for room, gens in v._keys.items():
            assert not set(gens.values()) & set(old_keys.get(room, {}).values()), room
    with open_as(populated, "rita") as v:
        assert v.verify_audit().ok


def test_admin_can_reset_a_passphrase_but_others_cannot(populated: Path) -> None:
    with open_as(populated, "bob") as v:
        with pytest.raises(UserError, match="permission denied"):
            v.change_passphrase("bob-sets-alice-pass", "alice")
    with open_as(populated, "root") as v:
        v.change_passphrase("alice-reset-by-admin", "alice")
    with Vault.open(populated, "alice", "alice-reset-by-admin"):
        pass


def test_short_new_passphrase_rejected(populated: Path) -> None:
    with open_as(populated, "root") as v:
        with pytest.raises(UserError, match="too short"):
            v.add_user("carol", "author", "short")


def test_key_file_holds_no_key_material_in_the_clear(populated: Path) -> None:
    with open_as(populated, "root") as v:
        data_key = meta_key(v)
        signing = v._sk
    text = layout.key_file(populated).read_text()
    raw_sk = signing.private_bytes_raw()
    for secret in (data_key, raw_sk):
        assert base64.b64encode(secret).decode() not in text
        assert secret.hex() not in text
    for p in PASSPHRASES.values():
        assert p not in text


def test_role_edited_in_key_file_is_refused(populated: Path) -> None:
    kpath = layout.key_file(populated)
    doc = json.loads(kpath.read_text())
    doc["users"]["alice"]["role"] = "admin"
    kpath.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="altered or damaged"):
        open_as(populated, "alice")
    with open_as(populated, "bob"):  # everyone else is unaffected
        pass


def test_removed_user_cannot_open(populated: Path) -> None:
    with open_as(populated, "root") as v:
        v.remove_user("bob")
        assert {u["name"]: u["disabled"] for u in v.list_users()}["bob"] is True
    with pytest.raises(UserError, match="wrong passphrase"):
        open_as(populated, "bob")


def test_open_without_vault_and_double_init(home: Path) -> None:
    with pytest.raises(UserError, match="no vault"):
        Vault.open(home, "root", "x" * 10)
    Vault.create(home, "root", PASSPHRASES["root"]).close()
    with pytest.raises(UserError, match="already exists"):
        Vault.create(home, "root", PASSPHRASES["root"])


def test_calibration_solves_for_the_target_from_two_timed_derivations(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake clock, so the arithmetic is checked without timing this machine (bench/kdf.py times it)."""
    clock = [0.0]
    derived: list[int] = []

    def fake_derive(passphrase: str, salt: bytes, params: keys.KdfParams) -> bytes:
        derived.append(params.iterations)
        clock[0] += 0.01 + 0.03 * params.iterations  # 10 ms fixed cost, 30 ms per pass
        return b"k" * 32

    monkeypatch.setattr(keys, "derive_kek", fake_derive)
    monkeypatch.setattr(keys, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    params = keys.calibrate(target_s=0.15)
    assert derived == [1, 2]
    assert (params.memory_kib, params.lanes) == (keys.KDF_MEMORY_KIB, 1) == (262144, 1)
    assert params.iterations == 5  # ceil((0.15 - 0.01) / 0.03)
    assert keys.calibrate(target_s=0.0).iterations == keys.MIN_KDF_ITERATIONS == 2  # never below two passes
    assert keys.calibrate(target_s=100.0).iterations == 64  # and capped
