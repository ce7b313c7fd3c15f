"""Key hierarchy: passphrases unlock a per-user key, which unseals the vault's data key.

Why three levels and not "passphrase → KEK wraps the data key" directly: ``vault rotate-key`` must give
every user the *new* data key without knowing their passphrases. So each user has an X25519 key pair:

* passphrase --Argon2id (256 MiB, about 0.5 s)--> KEK --AES-GCM--> the user's X25519 private key
* data key (random 256 bit) --sealed (X25519 + HKDF-SHA256 + AES-GCM)--> to each user's public key

Changing a passphrase re-wraps the user's private key only (and gives the user a fresh key pair, so a
leaked old passphrase opens nothing sealed later). Rotation seals the new data key to every public key.
The installation's Ed25519 audit-signing key is wrapped by the data key. Everything lives in a small JSON
key file beside the database; it holds no secret in the clear, only salts, parameters, nonces and
ciphertexts. The role is bound into each seal's associated data, so editing a role in the key file makes
the unseal fail instead of silently granting rights.

Wrong passphrases fail fast (one Argon2id run). Failures are counted in the key file, audited into the
vault at the next successful unlock, and every repeated failure sleeps longer before answering.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.errors import UserError
from appliance.vault import layout
from appliance.vault.roles import ROLES

FORMAT = "appliance-vault-keys/1"
DATA_KEY_BYTES = 32
# Argon2id is sized for offline guessing on a stolen key file, where the failure delays below do not apply: every
# guess must fill KDF_MEMORY_KIB of memory, MIN_KDF_ITERATIONS times at least. 256 MiB and two or more passes is
# 2.7x the memory-passes (and about 10x the memory-time product that bounds a GPU's parallel guesses) of RFC 9106's
# memory-constrained choice (64 MiB, 3 passes), and what a clinician waits once per unlock. bench/kdf.py prints the
# measured cost per guess and the guessing rate it leaves an attacker on this machine.
TARGET_KDF_SECONDS = 0.5
KDF_MEMORY_KIB = 262144
MIN_KDF_ITERATIONS = 2
MAX_KDF_ITERATIONS = 64
MIN_PASSPHRASE_CHARS = 8
# Repeated wrong passphrases: no delay for the first, then BASE, 2*BASE, 4*BASE ... up to MAX seconds.
FAILURE_DELAY_BASE_S = 0.5
FAILURE_DELAY_MAX_S = 30.0
MAX_PENDING_FAILURES = 1000

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.b64decode(s.encode("ascii"), validate=True)


def now_iso() -> str:
    """UTC timestamp, microseconds, sortable as text."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_user_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UserError(f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role


def check_new_passphrase(passphrase: str) -> str:
    if not isinstance(passphrase, str) or len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise UserError(f"passphrase too short: use at least {MIN_PASSPHRASE_CHARS} characters")
    return passphrase


# --- Argon2id ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost; stored per user so that re-tuning never locks anyone out."""

    memory_kib: int = KDF_MEMORY_KIB
    iterations: int = MIN_KDF_ITERATIONS
    lanes: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"name": "argon2id", "memory_kib": self.memory_kib, "iterations": self.iterations, "lanes": self.lanes}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "KdfParams":
        if d.get("name") != "argon2id":
            raise UserError(f"key file uses an unknown key derivation {d.get('name')!r}")
        return cls(memory_kib=int(d["memory_kib"]), iterations=int(d["iterations"]), lanes=int(d["lanes"]))


def derive_kek(passphrase: str, salt: bytes, params: KdfParams) -> bytes:
    return Argon2id(
        salt=salt, length=32, iterations=params.iterations, lanes=params.lanes, memory_cost=params.memory_kib
    ).derive(passphrase.encode("utf-8"))


_calibrated: KdfParams | None = None


def calibrate(target_s: float = TARGET_KDF_SECONDS, memory_kib: int = KDF_MEMORY_KIB) -> KdfParams:
    """Pick Argon2id iterations (256 MiB, one lane) so one derivation takes about ``target_s`` here; never fewer
    than MIN_KDF_ITERATIONS, so a slow machine still leaves a thief the full cost per guess."""
    salt = os.urandom(16)
    times = []
    for t in (1, 2):
        start = time.perf_counter()
        derive_kek("calibration", salt, KdfParams(memory_kib, t, 1))
        times.append(time.perf_counter() - start)
    per_iter = max(times[1] - times[0], 1e-4)
    base = max(times[0] - per_iter, 0.0)
    iterations = math.ceil((target_s - base) / per_iter)
    return KdfParams(memory_kib=memory_kib, iterations=min(max(iterations, MIN_KDF_ITERATIONS), MAX_KDF_ITERATIONS), lanes=1)


def default_kdf_params() -> KdfParams:
    """Parameters for new or changed passphrases (calibrated once per process)."""
    global _calibrated
    if _calibrated is None:
        _calibrated = calibrate()
    return _calibrated


# --- sealing primitives ------------------------------------------------------------------------------------


def _aad(*parts: str) -> bytes:
    return json.dumps(["appliance-vault/1", *parts], separators=(",", ":")).encode("utf-8")


def _gcm_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> dict[str, str]:
    nonce = os.urandom(12)
    return {"nonce": _b64(nonce), "ciphertext": _b64(AESGCM(key).encrypt(nonce, plaintext, aad))}


def _gcm_decrypt(key: bytes, box: dict[str, str], aad: bytes) -> bytes:
    return AESGCM(key).decrypt(_unb64(box["nonce"]), _unb64(box["ciphertext"]), aad)


def seal_to(public_raw: bytes, secret: bytes, aad: bytes) -> dict[str, str]:
    """Encrypt ``secret`` so only the holder of the X25519 private key can read it (ECIES-style)."""
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"appliance-vault/seal/1" + eph_pub + public_raw).derive(
        eph.exchange(X25519PublicKey.from_public_bytes(public_raw))
    )
    box = _gcm_encrypt(key, secret, aad)
    box["ephemeral"] = _b64(eph_pub)
    return box


def unseal(private: X25519PrivateKey, box: dict[str, str], aad: bytes) -> bytes:
    eph_pub = _unb64(box["ephemeral"])
    my_pub = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"appliance-vault/seal/1" + eph_pub + my_pub).derive(
        private.exchange(X25519PublicKey.from_public_bytes(eph_pub))
    )
    return _gcm_decrypt(key, box, aad)


def _raw_private(k: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


def _raw_public(k: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --- the key file ------------------------------------------------------------------------------------------


@dataclass
class Unlocked:
    """What a correct passphrase yields. Lives in memory only."""

    user: str
    role: str
    data_key: bytes
    signing_key: Ed25519PrivateKey
    pending_failures: list[dict[str, Any]] = field(default_factory=list)


class KeyFile:
    """The JSON key file beside the database. All writes are atomic (write, fsync, rename)."""

    def __init__(self, path: Path, doc: dict[str, Any]) -> None:
        self.path = path
        self.doc = doc

    # -- persistence
    @classmethod
    def load(cls, path: Path) -> "KeyFile":
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"no vault at {path.parent} (run `appliance init` first)") from None
        except (OSError, ValueError) as e:
            raise UserError(f"vault key file {path} is unreadable: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise UserError(f"vault key file {path} has an unknown format")
        return cls(path, doc)

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
        return self.doc["generation"]

    @property
    def db_file(self) -> str:
        return self.doc["db_file"]

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        return self.doc["users"]

    def role_of(self, name: str) -> str | None:
        u = self.users.get(name)
        return u["role"] if u else None

    def signing_public_key(self) -> bytes:
        return _unb64(self.doc["signing_key"]["public"])

    # -- associated data: binds every ciphertext to this installation, generation, user and role
    def _dk_aad(self, name: str, role: str) -> bytes:
        return _aad("data-key", self.installation_id, self.generation, name, role)

    def _uk_aad(self, name: str) -> bytes:
        return _aad("user-key", self.installation_id, name)

    def _sk_aad(self) -> bytes:
        return _aad("signing-key", self.installation_id, self.generation)

    # -- construction and updates
    @classmethod
    def new(cls, path: Path, data_key: bytes, signing_key: Ed25519PrivateKey) -> "KeyFile":
        generation = secrets.token_hex(8)
        kf = cls(
            path,
            {
                "format": FORMAT,
                "installation_id": secrets.token_hex(16),
                "generation": generation,
                "db_file": layout.db_file_name(generation),
                "created_at": now_iso(),
                "users": {},
                "failed_unlocks": [],
            },
        )
        kf._wrap_signing_key(data_key, signing_key)
        return kf

    def _wrap_signing_key(self, data_key: bytes, signing_key: Ed25519PrivateKey) -> None:
        box = _gcm_encrypt(data_key, _raw_private(signing_key), self._sk_aad())
        box["public"] = _b64(_raw_public(signing_key))
        self.doc["signing_key"] = box

    def set_user(
        self, name: str, role: str, passphrase: str, data_key: bytes, params: KdfParams | None = None
    ) -> None:
        """Create or replace a user's entry: fresh key pair, wrapped by the passphrase, data key sealed to it."""
        check_user_name(name)
        check_role(role)
        params = params or default_kdf_params()
        salt = os.urandom(16)
        kek = derive_kek(passphrase, salt, params)
        user_key = X25519PrivateKey.generate()
        uk_box = _gcm_encrypt(kek, _raw_private(user_key), self._uk_aad(name))
        uk_box["public"] = _b64(_raw_public(user_key))
        self.users[name] = {
            "role": role,
            "kdf": {**params.to_json(), "salt": _b64(salt)},
            "user_key": uk_box,
            "data_key": seal_to(_raw_public(user_key), data_key, self._dk_aad(name, role)),
            "consecutive_failures": 0,
            "changed_at": now_iso(),
        }

    def set_role(self, name: str, role: str, data_key: bytes) -> None:
        """Change a role without the user's passphrase: re-seal the data key under the new role binding."""
        check_role(role)
        u = self.users[name]
        u["role"] = role
        u["data_key"] = seal_to(_unb64(u["user_key"]["public"]), data_key, self._dk_aad(name, role))

    def remove_user(self, name: str) -> None:
        del self.users[name]

    def rotated(self, new_data_key: bytes, signing_key: Ed25519PrivateKey) -> "KeyFile":
        """A copy for a new key generation: the new data key sealed to every user, signing key re-wrapped."""
        kf = self.copy()
        generation = secrets.token_hex(8)
        kf.doc["generation"] = generation
        kf.doc["db_file"] = layout.db_file_name(generation)
        kf.doc["rotated_at"] = now_iso()
        kf._wrap_signing_key(new_data_key, signing_key)
        for name, u in kf.users.items():
            u["data_key"] = seal_to(_unb64(u["user_key"]["public"]), new_data_key, kf._dk_aad(name, u["role"]))
        return kf

    # -- unlocking
    def unlock(self, name: str, passphrase: str) -> Unlocked:
        """The data and signing keys for a user, or UserError. Records and slows down failures."""
        u = self.users.get(name) if isinstance(name, str) else None
        if u is None:
            # Same cost and same answer as a wrong passphrase: do not reveal which user names exist.
            derive_kek(passphrase, os.urandom(16), default_kdf_params())
            self._record_failure(name, None)
            raise UserError(f"wrong passphrase for user {name}")
        kdf = u["kdf"]
        kek = derive_kek(passphrase, _unb64(kdf["salt"]), KdfParams.from_json(kdf))
        try:
            user_key = X25519PrivateKey.from_private_bytes(_gcm_decrypt(kek, u["user_key"], self._uk_aad(name)))
        except InvalidTag:
            self._record_failure(name, u)
            raise UserError(f"wrong passphrase for user {name}") from None
        try:
            data_key = unseal(user_key, u["data_key"], self._dk_aad(name, u["role"]))
            signing_key = Ed25519PrivateKey.from_private_bytes(
                _gcm_decrypt(data_key, self.doc["signing_key"], self._sk_aad())
            )
        except InvalidTag:
            raise UserError(
                f"key file entry for user {name} was altered or damaged (role or key does not verify); ask an admin"
            ) from None
        return Unlocked(name, u["role"], data_key, signing_key, list(self.doc.get("failed_unlocks", [])))

    def _record_failure(self, name: str, u: dict[str, Any] | None) -> None:
        pending = self.doc.setdefault("failed_unlocks", [])
        count = 1
        if u is not None:
            u["consecutive_failures"] = count = int(u.get("consecutive_failures", 0)) + 1
        else:
            count = 1 + sum(1 for f in pending if f.get("user") == name)
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


def failure_delay(consecutive: int) -> float:
    """Seconds to wait after the n-th consecutive failure: none for a first typo, then doubling."""
    if consecutive <= 1:
        return 0.0
    return min(FAILURE_DELAY_BASE_S * 2 ** (consecutive - 2), FAILURE_DELAY_MAX_S)


def new_data_key() -> bytes:
    return secrets.token_bytes(DATA_KEY_BYTES)


def new_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()
