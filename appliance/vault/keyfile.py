"""The key file beside the database: who holds which key, sealed so that only their passphrase opens it.

Layout (JSON; no secret in the clear, only salts, parameters, nonces, public keys and ciphertexts):

* ``users[NAME]``: role; Argon2id parameters; the user's own key pairs (X25519 to receive sealed keys,
  Ed25519 to sign their audit entries) wrapped by the passphrase-derived key; ``rooms[ROOM][GEN]``: each room
  key generation sealed to the user's X25519 public key, with the user's name and role in the associated data
  (editing a role in the file makes the unseal fail instead of granting rights).
* ``rooms[ROOM]``: the current key generation of each data class (``roles.ROOM_ROLES``); rooms other than the
  database's own (``meta``) come into being when the first user allowed to hold them opens the vault.
  ``pending_rotation`` marks a room whose key a removed or reset user may have kept: the next holder to open
  the vault rotates it before anything is written under it. ``export.publics`` keeps every export-signing
  public key ever used, so older exports still verify.

A room key reaches a user only by sealing: at creation (to its creator) or by a holder's explicit grant
(``Vault.grant``). An admin, who holds only the database key, can create accounts but cannot give them data.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from appliance.errors import AccessDenied, BadInput, IntegrityError, UserError
from appliance.vault import keys as _keys
from appliance.vault import layout, roles
from appliance.vault.keys import (
    MAX_PENDING_FAILURES,
    KdfParams,
    _aad,
    _b64,
    _gcm_decrypt,
    _gcm_encrypt,
    _raw_private,
    _raw_public,
    _unb64,
    check_role,
    check_user_name,
    derive_kek,
    failure_delay,
    now_iso,
    seal_to,
    unseal,
)

FORMAT = "appliance-vault-keys/2"
_HEX_RE = re.compile(r"^[0-9a-f]{16,64}$")


def _damaged(path: Path, what: str) -> UserError:
    return IntegrityError(f"vault key file {path} is damaged: {what}")


@dataclass
class Unlocked:
    """What a correct passphrase yields. Lives in memory only."""

    user: str
    role: str
    room_keys: dict[str, dict[str, bytes]]  # room -> key generation -> secret
    sign_key: Ed25519PrivateKey  # the user's own audit-signing key
    pending_failures: list[dict[str, Any]] = field(default_factory=list)


class KeyFile:
    """The JSON key file. All writes are atomic (write, fsync, rename)."""

    def __init__(self, path: Path, doc: dict[str, Any]) -> None:
        self.path = path
        self.doc = doc

    # -- persistence
    @classmethod
    def load(cls, path: Path) -> "KeyFile":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInput(f"no vault at {path.parent} (run `appliance init` first)") from None
        except OSError as e:
            raise BadInput(f"vault key file {path} is unreadable: {e.strerror}") from None
        except ValueError:  # truncated or edited into something that is not JSON (or not UTF-8)
            raise IntegrityError(f"vault key file {path} is damaged: not JSON") from None
        if isinstance(doc, dict) and doc.get("format") == "appliance-vault-keys/1":
            raise BadInput(f"vault key file {path} is from an older version (one shared data key); "
                            "export what you need with that version and create a new vault")
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise IntegrityError(f"vault key file {path} has an unknown format")
        kf = cls(path, doc)
        kf._validate()
        return kf

    def _validate(self) -> None:
        """Shape checks, so a damaged file gives one line naming what is wrong instead of a traceback later."""
        d, p = self.doc, self.path

        def need(cond: bool, what: str) -> None:
            if not cond:
                raise _damaged(p, what)

        need(isinstance(d.get("installation_id"), str) and bool(_HEX_RE.match(d["installation_id"])), "installation_id")
        need(isinstance(d.get("db_file"), str) and layout.is_db_file_name(d["db_file"]), "db_file")
        rooms = d.get("rooms")
        need(isinstance(rooms, dict) and isinstance(rooms.get(roles.META), dict), "rooms")
        for room, r in rooms.items():
            need(room in roles.ROOM_ROLES and isinstance(r, dict), f"rooms.{room}")
            need(isinstance(r.get("current"), str) and bool(_HEX_RE.match(r["current"])), f"rooms.{room}.current")
        need(isinstance(d.get("failed_unlocks", []), list), "failed_unlocks")
        users = d.get("users")
        need(isinstance(users, dict), "users")
        for name, u in users.items():
            need(isinstance(u, dict) and u.get("role") in roles.ROLES, f"users.{name}.role")
            need(isinstance(u.get("kdf"), dict) and isinstance(u["kdf"].get("salt"), str), f"users.{name}.kdf")
            k = u.get("keys")
            need(isinstance(k, dict) and all(isinstance(k.get(f), str) for f in ("nonce", "ciphertext", "seal_public", "sign_public")),
                 f"users.{name}.keys")
            need(isinstance(u.get("rooms"), dict) and all(
                room in roles.ROOM_ROLES and isinstance(g, dict) and all(isinstance(b, dict) for b in g.values())
                for room, g in u["rooms"].items()), f"users.{name}.rooms")
            need(isinstance(u.get("consecutive_failures", 0), int), f"users.{name}.consecutive_failures")
            try:
                KdfParams.from_json(u["kdf"])
            except UserError as e:
                raise _damaged(p, f"users.{name}.kdf ({e})") from None

    def save(self) -> None:
        layout.atomic_write(self.path, (json.dumps(self.doc, indent=2, sort_keys=True) + "\n").encode("utf-8"))

    def copy(self) -> "KeyFile":
        return KeyFile(self.path, json.loads(json.dumps(self.doc)))

    # -- accessors
    @property
    def installation_id(self) -> str:
        return self.doc["installation_id"]

    @property
    def generation(self) -> str:
        """The database key's generation (it names the database file)."""
        return self.doc["rooms"][roles.META]["current"]

    @property
    def db_file(self) -> str:
        return self.doc["db_file"]

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        return self.doc["users"]

    @property
    def rooms(self) -> dict[str, dict[str, Any]]:
        return self.doc["rooms"]

    def role_of(self, name: str) -> str | None:
        u = self.users.get(name)
        return u["role"] if u else None

    def current(self, room: str) -> str | None:
        """The room's current key generation, or None while no one has created it yet."""
        r = self.rooms.get(room)
        return r["current"] if r else None

    def holds(self, name: str, room: str) -> bool:
        gen = self.current(room)
        return gen is not None and gen in self.users.get(name, {}).get("rooms", {}).get(room, {})

    def holders(self, room: str) -> list[str]:
        return sorted(n for n in self.users if self.holds(n, room))

    def public_keys(self, name: str) -> dict[str, str]:
        k = self.users[name]["keys"]
        return {"seal": k["seal_public"], "sign": k["sign_public"]}

    def export_public_keys(self) -> dict[str, bytes]:
        """Every export-signing public key this installation has used, by generation (current one included)."""
        pubs = (self.rooms.get(roles.EXPORT) or {}).get("publics") or {}
        try:
            return {g: _unb64(p) for g, p in pubs.items()}
        except (ValueError, TypeError):
            raise _damaged(self.path, "rooms.export.publics") from None

    def export_public_key(self) -> bytes | None:
        gen = self.current(roles.EXPORT)
        return self.export_public_keys().get(gen) if gen else None

    def pending_rotation(self) -> list[str]:
        return sorted(r for r, d in self.rooms.items() if d.get("pending_rotation"))

    # -- associated data: binds every ciphertext to this installation, room, generation, user and role
    def _room_aad(self, room: str, gen: str, name: str, role: str) -> bytes:
        return _aad("room-key", self.installation_id, room, gen, name, role)

    def _uk_aad(self, name: str) -> bytes:
        return _aad("user-keys", self.installation_id, name)

    # -- construction and updates
    @classmethod
    def new(cls, path: Path) -> "KeyFile":
        generation = secrets.token_hex(8)
        return cls(path, {
            "format": FORMAT,
            "installation_id": secrets.token_hex(16),
            "db_file": layout.db_file_name(generation),
            "created_at": now_iso(),
            "rooms": {roles.META: {"current": generation}},
            "users": {},
            "failed_unlocks": [],
        })

    def set_user(self, name: str, role: str, passphrase: str, room_keys: dict[str, dict[str, bytes]],
                 params: KdfParams | None = None) -> Ed25519PrivateKey:
        """Create or replace a user's entry: fresh key pairs wrapped by the passphrase, and the given room keys
        (those the role may hold) sealed to the new public key. A replaced entry loses every other room key.
        Returns the new audit-signing key (its public half is registered in the log by the caller)."""
        check_user_name(name)
        check_role(role)
        params = params or _keys.default_kdf_params()
        salt = os.urandom(16)
        kek = derive_kek(passphrase, salt, params)
        seal_key, sign_key = X25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        box = _gcm_encrypt(kek, _raw_private(seal_key) + _raw_private(sign_key), self._uk_aad(name))
        self.users[name] = {
            "role": role,
            "kdf": {**params.to_json(), "salt": _b64(salt)},
            "keys": {**box, "seal_public": _b64(_raw_public(seal_key)), "sign_public": _b64(_raw_public(sign_key))},
            "rooms": {},
            "consecutive_failures": 0,
            "changed_at": now_iso(),
        }
        for room, gens in room_keys.items():
            for gen, secret in gens.items():
                self.seal_room(name, room, gen, secret)
        return sign_key

    def seal_room(self, name: str, room: str, gen: str, secret: bytes) -> bool:
        """Seal one room key generation to a user whose role may hold it; False (nothing sealed) otherwise."""
        u = self.users[name]
        if not roles.may_hold(u["role"], room):
            return False
        box = seal_to(_unb64(u["keys"]["seal_public"]), secret, self._room_aad(room, gen, name, u["role"]))
        u["rooms"].setdefault(room, {})[gen] = box
        return True

    def create_room(self, room: str, gen: str, secret: bytes, creator: str, public: bytes | None = None) -> None:
        """A room's first key, sealed to its creator only (others get it by grant)."""
        self.rooms[room] = {"current": gen}
        if public is not None:
            self.rooms[room]["publics"] = {gen: _b64(public)}
        self.seal_room(creator, room, gen, secret)

    def add_generation(self, room: str, gen: str, secret: bytes, public: bytes | None = None,
                       trusted: set[str] | None = None) -> list[str]:
        """Seal a new key generation of ``room`` to every current holder in ``trusted`` (all when None): a rotation's
        first step. Returns the holders sealed to."""
        holders = [n for n in self.holders(room) if trusted is None or n in trusted]
        for name in holders:
            self.seal_room(name, room, gen, secret)
        if public is not None:
            self.rooms[room].setdefault("publics", {})[gen] = _b64(public)
        return holders

    def finish_generation(self, room: str, gen: str) -> None:
        """Make ``gen`` current and forget every older generation's sealed copies (the rotation's last step)."""
        self.rooms[room]["current"] = gen
        self.rooms[room].pop("pending_rotation", None)
        for u in self.users.values():
            if room in u["rooms"]:
                u["rooms"][room] = {g: b for g, b in u["rooms"][room].items() if g == gen}

    def mark_pending_rotation(self, rooms_: list[str]) -> None:
        for room in rooms_:
            if room in self.rooms:
                self.rooms[room]["pending_rotation"] = True

    def rooms_of(self, name: str) -> list[str]:
        return sorted(r for r in self.rooms if self.holds(name, r))

    def remove_user(self, name: str) -> None:
        del self.users[name]

    def rotated_meta(self, new_key: bytes) -> "KeyFile":
        """A copy for a new database key: new generation and file name, the key sealed to every user."""
        kf = self.copy()
        generation = secrets.token_hex(8)
        kf.doc["db_file"] = layout.db_file_name(generation)
        kf.doc["rotated_at"] = now_iso()
        for name in kf.users:
            kf.seal_room(name, roles.META, generation, new_key)
        kf.finish_generation(roles.META, generation)
        return kf

    # -- unlocking
    def unlock(self, name: str, passphrase: str) -> Unlocked:
        """The user's own keys and every room key sealed to them, or UserError. Records and slows down failures."""
        u = self.users.get(name) if isinstance(name, str) else None
        if u is None:
            # Same cost and same answer as a wrong passphrase: do not reveal which user names exist.
            derive_kek(passphrase, os.urandom(16), _keys.default_kdf_params())
            self._record_failure(name, None)
            raise AccessDenied(f"wrong passphrase for user {name}")
        kdf = u["kdf"]
        try:
            kek = derive_kek(passphrase, _unb64(kdf["salt"]), KdfParams.from_json(kdf))
            raw = _gcm_decrypt(kek, u["keys"], self._uk_aad(name))
        except InvalidTag:
            self._record_failure(name, u)
            raise AccessDenied(f"wrong passphrase for user {name}") from None
        except (ValueError, TypeError, KeyError):
            raise _damaged(self.path, f"users.{name}.keys") from None
        altered = IntegrityError(f"key file entry for user {name} was altered or damaged (role or key does not verify); ask an admin")
        if len(raw) != 64:
            raise altered
        seal_key = X25519PrivateKey.from_private_bytes(raw[:32])
        sign_key = Ed25519PrivateKey.from_private_bytes(raw[32:])
        if (_b64(_raw_public(seal_key)), _b64(_raw_public(sign_key))) != (u["keys"]["seal_public"], u["keys"]["sign_public"]):
            raise altered
        room_keys: dict[str, dict[str, bytes]] = {}
        try:
            for room, gens in u["rooms"].items():
                for gen, box in gens.items():
                    room_keys.setdefault(room, {})[gen] = unseal(seal_key, box, self._room_aad(room, gen, name, u["role"]))
        except (InvalidTag, ValueError, TypeError, KeyError):
            raise altered from None
        if self.generation not in room_keys.get(roles.META, {}):
            raise altered
        return Unlocked(name, u["role"], room_keys, sign_key, list(self.doc.get("failed_unlocks", [])))

    def _record_failure(self, name: str, u: dict[str, Any] | None) -> None:
        pending = self.doc.setdefault("failed_unlocks", [])
        count = 1
        if u is not None:
            u["consecutive_failures"] = count = int(u.get("consecutive_failures", 0)) + 1
        else:
            count = 1 + sum(1 for f in pending if isinstance(f, dict) and f.get("user") == name)
        pending.append({"user": str(name)[:64], "time": now_iso(), "consecutive": count})
        del pending[:-MAX_PENDING_FAILURES]
        self.save()
        time.sleep(failure_delay(count))

    def clear_failures(self, name: str) -> None:
        """After a successful unlock: failures were written to the audit log, reset the counters."""
        self.doc["failed_unlocks"] = []
        if name in self.users:
            self.users[name]["consecutive_failures"] = 0
        self.save()
