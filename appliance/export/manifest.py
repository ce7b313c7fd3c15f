"""The export manifest: what was exported, from what, under which rules, by whom, and every file's sha256.

``manifest.json`` is signed with the installation's Ed25519 key (the key that signs the audit log; it never leaves
the vault). The signature over the manifest's exact bytes is ``manifest.sig`` (base64); the public key is embedded in
the manifest (``signing_key``) and written as ``signing_key.pub`` (PEM) with its fingerprint, so anyone can check an
export without the appliance's secrets. The embedded key proves the files are the ones the signer listed; that the
signer is *this* installation is a pin: ``verify-export`` compares the signer with ``--pubkey``, or with the
installation's own key when ``--home`` (or ``$APPLIANCE_HOME``) names one; without either it says the check was
unpinned and prints the signer's fingerprint, since anyone can sign an export with a key of their own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.errors import BadInput, IntegrityError
from appliance.export import bundle, target

FORMAT = "appliance-export-manifest/1"
MANIFEST, SIGNATURE, PUBKEY, BUNDLE = "manifest.json", "manifest.sig", "signing_key.pub", "bundle.enc"
SIGNED_FILES = (MANIFEST, SIGNATURE, PUBKEY)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_path(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def fingerprint(public_raw: bytes) -> str:
    """``SHA256:`` + hex of the raw 32-byte public key: short enough to read out over the phone, long enough to trust."""
    return "SHA256:" + sha256_bytes(public_raw)


def public_pem(public_raw: bytes) -> bytes:
    return Ed25519PublicKey.from_public_bytes(public_raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key_file(path: Path) -> bytes:
    """Raw public key from a PEM file (``signing_key.pub`` or ``appliance export pubkey`` output)."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as e:
        raise BadInput(f"cannot read public key {path}: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadInput(f"{path} is not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def file_entries(root: Path, names: list[str]) -> list[dict[str, Any]]:
    return [{"path": n, "sha256": sha256_path(root / n), "bytes": (root / n).stat().st_size} for n in sorted(names)]


def serialize(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_signed(out: Path, manifest: dict[str, Any], public_raw: bytes, sign) -> str:
    """Embed the public key, write manifest.json, its signature and the PEM key; returns the manifest's sha256."""
    manifest["signing_key"] = {
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(public_raw).decode("ascii"),
        "fingerprint": fingerprint(public_raw),
    }
    data = serialize(manifest)
    (out / MANIFEST).write_bytes(data)
    (out / SIGNATURE).write_text(base64.b64encode(sign(data)).decode("ascii") + "\n", encoding="ascii")
    (out / PUBKEY).write_bytes(public_pem(public_raw))
    return sha256_bytes(data)


# ------------------------------------------------------------------ verification


@dataclass
class Verified:
    path: Path
    manifest: dict[str, Any]
    fingerprint: str
    files_checked: int
    encrypted: bool
    inner_checked: bool  # for an encrypted bundle: were the files inside decrypted and checked?
    key_matches_installation: bool | None = None
    pinned_to: str | None = None  # what the signer was checked against ("--pubkey FILE", "the installation in HOME")
    extracted_to: Path | None = None
    notes: list[str] = field(default_factory=list)


def _safe_name(name: Any) -> str:
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in Path(name).parts or "\\" in name:
        raise IntegrityError(f"manifest lists an invalid file path {name!r}")
    return name


def _all_files(root: Path) -> set[str]:
    out = set()
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            out.add(str((Path(dirpath) / f).relative_to(root)))
    return out


def verify_export(
    path: str | Path,
    *,
    expected_key: bytes | None = None,
    expected_name: str = "the expected key",
    installation_key: bytes | None = None,
    passphrase: str | None = None,
    decrypt_to: str | Path | None = None,
    home: Path | None = None,
) -> Verified:
    """Check the signature and every file; any problem is a one-line UserError naming it. ``expected_key`` pins the
    signer (``expected_name`` says whose key it is); ``decrypt_to`` may not lie inside ``home``."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise BadInput(f"{root} is not a directory")
    if not (root / MANIFEST).is_file():
        raise BadInput(f"{root} is not an export (no {MANIFEST})")
    data = (root / MANIFEST).read_bytes()
    try:
        manifest = json.loads(data)
        public_raw = base64.b64decode(manifest["signing_key"]["public_key"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(public_raw)
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(f"{MANIFEST} is damaged (not JSON or no valid signing key)") from None
    if manifest.get("format") != FORMAT:
        raise IntegrityError(f"{MANIFEST} has an unknown format {manifest.get('format')!r}")
    try:
        signature = base64.b64decode((root / SIGNATURE).read_text(encoding="ascii").strip(), validate=True)
        key.verify(signature, data)
    except FileNotFoundError:
        raise IntegrityError(f"{SIGNATURE} is missing: the export is not signed") from None
    except (InvalidSignature, ValueError):
        raise IntegrityError(f"signature check FAILED: {MANIFEST} was altered or not signed by the key it names") from None
    fp = fingerprint(public_raw)
    if (root / PUBKEY).exists() and load_public_key_file(root / PUBKEY) != public_raw:
        raise IntegrityError(f"{PUBKEY} is not the key the manifest names")
    if expected_key is not None and expected_key != public_raw:
        raise IntegrityError(f"signed by {fp}, not by {expected_name} {fingerprint(expected_key)}")
    result = Verified(root, manifest, fp, 0, False, False, pinned_to=expected_name if expected_key is not None else None)
    if installation_key is not None:
        result.key_matches_installation = installation_key == public_raw

    listed = {_safe_name(f["path"]): f for f in manifest.get("files", [])}
    # An encrypted export holds bundle.enc; its decrypted copy (``--decrypt-to``) holds the listed files themselves.
    info = manifest.get("bundle") if (root / BUNDLE).exists() else None
    outer = {BUNDLE: {"sha256": manifest["bundle"]["sha256"]}} if info else listed
    result.encrypted = bool(info)
    present = _all_files(root) - set(SIGNED_FILES)
    for extra in sorted(present - set(outer)):
        raise IntegrityError(f"file {extra} is not listed in the manifest")
    for name, entry in sorted(outer.items()):
        p = root / name
        if not p.is_file():
            raise IntegrityError(f"file {name} listed in the manifest is missing")
        if sha256_path(p) != entry["sha256"]:
            raise IntegrityError(f"file {name} was altered: its sha256 does not match the manifest")
        result.files_checked += 1
    if not info:
        return result
    if passphrase is None:
        result.notes.append(f"{len(listed)} files inside the encrypted bundle not checked (give the bundle passphrase)")
        return result
    inner = bundle.untar_files(bundle.decrypt(root / BUNDLE, passphrase))
    for extra in sorted(set(inner) - set(listed)):
        raise IntegrityError(f"encrypted bundle holds {extra}, which the manifest does not list")
    for name, entry in sorted(listed.items()):
        if name not in inner:
            raise IntegrityError(f"file {name} listed in the manifest is missing from the encrypted bundle")
        if sha256_bytes(inner[name]) != entry["sha256"]:
            raise IntegrityError(f"file {name} in the encrypted bundle was altered: its sha256 does not match the manifest")
        result.files_checked += 1
    result.inner_checked = True
    if decrypt_to is not None:
        result.extracted_to = _extract(inner, root, Path(decrypt_to), home)
    return result


def _extract(inner: dict[str, bytes], root: Path, to: Path, home: Path | None) -> Path:
    """Decrypted files plus the signed manifest, written beside the target and renamed into place."""
    to = target.check_target(to, home)
    staging = target.make_staging(to)
    try:
        for name, data in inner.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        for name in SIGNED_FILES:
            if (root / name).exists():
                (staging / name).write_bytes((root / name).read_bytes())
        target.publish(staging, to)
    except BaseException:
        target.discard(staging)
        raise
    return to
