"""Attack: an admin (database key only) who can edit the key file plants their own X25519 public key as a
reviewer's ``seal_public`` and marks the records room for rotation. The next author to sign in rotates the room and
seals the new records key to the planted key, so the admin reads every record text written afterwards.

The key file's public keys must be checked against the ones registered in the signed audit log before anything is
sealed to them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from appliance.errors import UserError
from appliance.vault import Vault, layout
from appliance.vault.keyfile import KeyFile
from appliance.vault.keys import _aad, _b64, _raw_public, unseal
from tests.vault.vault_helpers import FAST_KDF, PASSPHRASES, use_fast_kdf


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    use_fast_kdf(monkeypatch)


def test_admin_planting_a_seal_key_gets_no_room_key(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Vault.create(home, "root", PASSPHRASES["root"], kdf_params=FAST_KDF) as v:
        v.add_user("alice", "author", PASSPHRASES["alice"])
        v.add_user("rita", "reviewer", PASSPHRASES["rita"])
    with Vault.open(home, "alice", PASSPHRASES["alice"]) as v:
        v.grant("rita")
    # The admin's edit: rita's seal key replaced by the admin's, and the records room marked for rotation.
    path = layout.key_file(home)
    doc = json.loads(path.read_text())
    planted = X25519PrivateKey.generate()
    doc["users"]["rita"]["keys"]["seal_public"] = _b64(_raw_public(planted))
    doc["rooms"]["records"]["pending_rotation"] = True
    path.write_text(json.dumps(doc))
    try:
        with Vault.open(home, "alice", PASSPHRASES["alice"]):
            pass
    except UserError:
        return  # refused: the tampering was detected
    kf = KeyFile.load(path)
    gen = kf.current("records")
    box = kf.users["rita"]["rooms"].get("records", {}).get(gen)
    if box is None:
        return  # nothing sealed to the planted key
    with pytest.raises(Exception):
        unseal(planted, box, _aad("room-key", kf.installation_id, "records", gen, "rita", "reviewer"))
