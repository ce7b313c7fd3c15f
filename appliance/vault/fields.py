"""Column values sealed under a room key: what makes a role's limits hold for someone reading the database raw.

The database file is encrypted under the ``meta`` key, which every user holds (it carries the audit log, jobs and
manifests everyone must see). Texts of a narrower class (record texts and contexts, seed texts, adapter weights) are
encrypted again, value by value, with AES-256-GCM under their room's key. The associated data names the table,
column and row id, so a value moved to another row or column does not decrypt. Each token starts with its key
generation, so a rotation can re-encrypt in one transaction while the key file briefly holds both generations.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance.errors import IntegrityError
from appliance.vault.keys import _aad


@lru_cache(maxsize=16)
def _cipher(key: bytes) -> AESGCM:
    return AESGCM(key)


def _ad(room: str, table: str, column: str, row_id: int) -> bytes:
    return _aad("field", room, table, column, str(int(row_id)))


def seal_bytes(key: bytes, gen: str, room: str, table: str, column: str, row_id: int, data: bytes) -> bytes:
    nonce = os.urandom(12)
    return gen.encode("ascii") + b":" + nonce + _cipher(key).encrypt(nonce, data, _ad(room, table, column, row_id))


def open_bytes(keys: dict[str, bytes], room: str, table: str, column: str, row_id: int, token: bytes) -> bytes:
    gen, sep, rest = bytes(token).partition(b":")
    key = keys.get(gen.decode("ascii", "replace"))
    if not sep or key is None or len(rest) < 13:
        raise IntegrityError(f"{table}.{column} of row {row_id} is sealed under a key you do not hold, or damaged")
    try:
        return _cipher(key).decrypt(rest[:12], rest[12:], _ad(room, table, column, row_id))
    except InvalidTag:
        raise IntegrityError(f"{table}.{column} of row {row_id} does not verify: altered or moved") from None


def seal_text(key: bytes, gen: str, room: str, table: str, column: str, row_id: int, text: str | None) -> str | None:
    """A text as ``GEN:base64``; None stays None (a record without context)."""
    if text is None:
        return None
    blob = seal_bytes(key, gen, room, table, column, row_id, text.encode("utf-8"))
    g, _, rest = blob.partition(b":")
    return g.decode("ascii") + ":" + base64.b64encode(rest).decode("ascii")


def open_text(keys: dict[str, bytes], room: str, table: str, column: str, row_id: int, token: str | None) -> str | None:
    if token is None:
        return None
    gen, sep, rest = token.partition(":")
    try:
        raw = base64.b64decode(rest.encode("ascii"), validate=True) if sep else b""
    except (ValueError, UnicodeEncodeError):
        raw = b""
    return open_bytes(keys, room, table, column, row_id, gen.encode("ascii", "replace") + b":" + raw).decode("utf-8")


def keyed_hash(key: bytes, text: str) -> str:
    """A fingerprint of a text that only a holder of ``key`` can compute (a plain sha256 would let anyone with
    the database confirm a guessed seed text)."""
    return hmac.new(hashlib.sha256(b"appliance-vault/keyed-hash/1" + key).digest(), text.encode("utf-8"), "sha256").hexdigest()
