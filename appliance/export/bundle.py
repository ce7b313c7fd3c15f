"""The encrypted transfer bundle: the export's files in one tar, encrypted with AES-256-GCM under a passphrase.

The key comes from the passphrase with Argon2id, the same derivation (and calibrated cost) as the vault's
passphrases (``vault.keys.derive_kek``); salt and cost are stored in the bundle's header. The tar is encrypted in
1 MiB chunks (so a large dataset never needs one giant GCM call), each chunk's nonce is a random per-bundle prefix,
the chunk's number and a last-chunk flag (the STREAM construction), and the header is associated data of every
chunk: reordered, dropped, truncated or edited chunks and an edited header all fail authentication.

File: ``MAGIC``, 4-byte big-endian header length, header JSON, then the chunks (ciphertext plus 16-byte tag each).
"""

from __future__ import annotations

import base64
import io
import json
import os
import struct
import tarfile
from pathlib import Path
from typing import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from appliance.errors import AccessDenied, IntegrityError
from appliance.vault import keys

MAGIC = b"APPLIANCE-EXPORT-BUNDLE/1\n"
CHUNK = 1 << 20
TAG = 16
_MAX_HEADER = 1 << 16


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


def tar_files(root: Path, names: Iterable[str]) -> bytes:
    """A deterministic tar (sorted names, fixed owner and times) of ``names`` under ``root``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(names):
            data = (root / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uid, info.gid = len(data), 0o644, 0, 0, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def untar_files(data: bytes) -> dict[str, bytes]:
    """Regular files of a bundle's tar, by name. Anything else (links, devices, absolute or .. paths) is refused."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for m in tar.getmembers():
            if not m.isfile() or m.name.startswith("/") or ".." in Path(m.name).parts:
                raise IntegrityError(f"encrypted bundle holds an unexpected entry {m.name!r}")
            f = tar.extractfile(m)
            out[m.name] = f.read() if f else b""
    return out


def encrypt(plaintext: bytes, passphrase: str, out: Path) -> dict:
    """Write the bundle file; returns its header (what the manifest records about the encryption)."""
    keys.check_new_passphrase(passphrase)
    params = keys.default_kdf_params()
    salt, prefix = os.urandom(16), os.urandom(7)
    header = {
        "cipher": "AES-256-GCM",
        "chunk_bytes": CHUNK,
        "kdf": {**params.to_json(), "salt": base64.b64encode(salt).decode("ascii")},
        "nonce_prefix": base64.b64encode(prefix).decode("ascii"),
    }
    hbytes = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    aead = AESGCM(keys.derive_kek(passphrase, salt, params))
    n_chunks = max(1, -(-len(plaintext) // CHUNK))
    with out.open("wb") as f:
        f.write(MAGIC + struct.pack(">I", len(hbytes)) + hbytes)
        for i in range(n_chunks):
            chunk = plaintext[i * CHUNK:(i + 1) * CHUNK]
            f.write(aead.encrypt(_nonce(prefix, i, i == n_chunks - 1), chunk, hbytes))
        f.flush()
        os.fsync(f.fileno())
    return header


def decrypt(path: Path, passphrase: str) -> bytes:
    """The bundle's plaintext, or a one-line UserError (wrong passphrase and damage look alike, by design of GCM)."""
    data = path.read_bytes()
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise IntegrityError(f"{path.name} is not an encrypted export bundle")
    (hlen,) = struct.unpack(">I", data[len(MAGIC):len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if hlen > _MAX_HEADER or start + hlen > len(data):
        raise IntegrityError(f"{path.name}: damaged bundle header")
    hbytes = data[start:start + hlen]
    try:
        header = json.loads(hbytes)
        kdf = dict(header["kdf"])
        salt = base64.b64decode(kdf.pop("salt"))
        prefix = base64.b64decode(header["nonce_prefix"])
        chunk = int(header["chunk_bytes"]) + TAG
        params = keys.KdfParams.from_json(kdf)
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{path.name}: damaged bundle header") from None
    aead = AESGCM(keys.derive_kek(passphrase, salt, params))
    body = data[start + hlen:]
    n_chunks = max(1, -(-len(body) // chunk))
    out = bytearray()
    for i in range(n_chunks):
        try:
            out += aead.decrypt(_nonce(prefix, i, i == n_chunks - 1), body[i * chunk:(i + 1) * chunk], hbytes)
        except InvalidTag:
            if i == 0:
                raise AccessDenied("wrong passphrase for the encrypted export bundle (or the bundle is damaged)") from None
            raise IntegrityError(f"{path.name}: chunk {i} does not authenticate (the bundle was altered or truncated)") from None
    return bytes(out)
