"""Key primitives: passphrase derivation (Argon2id), sealing to a public key, and name/role checks.

The key file built from these (``keyfile.py``) has three levels: a passphrase unlocks a user's own key pairs,
which unseal the keys of the data classes ("rooms") the user's role may hold. Sealing needs only the
recipient's public key, so a holder can grant a room key to another user, and a rotation can re-seal a new key
to every holder, without knowing anyone's passphrase. A passphrase is stretched by Argon2id (256 MiB, about
0.5 s) into the key that wraps the user's own private keys.

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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.errors import BadInput
from appliance.vault.roles import ROLES

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
        raise BadInput(f"invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise BadInput(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    return role


def check_new_passphrase(passphrase: str) -> str:
    if not isinstance(passphrase, str) or len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise BadInput(f"passphrase too short: use at least {MIN_PASSPHRASE_CHARS} characters")
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
        if not isinstance(d, dict) or d.get("name") != "argon2id":
            raise BadInput("key file uses an unknown key derivation")
        values = [d.get(k) for k in ("memory_kib", "iterations", "lanes")]
        # Bounds keep an edited file from hanging an unlock (huge memory or time) or disabling the cost.
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or not (
            8 <= values[0] <= 4 * 1024 * 1024 and 1 <= values[1] <= 1000 and 1 <= values[2] <= 64
        ):
            raise BadInput("Argon2id parameters out of range")
        return cls(memory_kib=values[0], iterations=values[1], lanes=values[2])


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


def failure_delay(consecutive: int) -> float:
    """Seconds to wait after the n-th consecutive failure: none for a first typo, then doubling."""
    if consecutive <= 1:
        return 0.0
    return min(FAILURE_DELAY_BASE_S * 2 ** (consecutive - 2), FAILURE_DELAY_MAX_S)


def new_data_key() -> bytes:
    return secrets.token_bytes(DATA_KEY_BYTES)


def new_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()
