"""Checking an export without the vault or a passphrase: the signature, every file's hash, and which key signed it
(pinned to this installation, to a given public key, or not at all)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from appliance.errors import BadInput
from appliance.export import manifest as mf
from appliance.vault import layout
from appliance.vault.keyfile import KeyFile


def installation_public_key(home: Path, export_dir: str | Path | None = None) -> bytes | None:
    """The installation's export-signing public key, read from the key file without unlocking it (stored there in the
    clear); None when ``home`` holds no vault. When the export in ``export_dir`` claims a key this installation used
    before a rotation, that retired key is the one to pin (older exports keep verifying). The one place that knows
    where the key file keeps them."""
    path = layout.key_file(home)
    if not path.exists():
        return None
    kf = KeyFile.load(path)
    if export_dir is not None:
        try:
            claimed = json.loads((Path(export_dir) / mf.MANIFEST).read_text(encoding="utf-8"))["signing_key"]["public_key"]
            claimed_raw = base64.b64decode(claimed, validate=True)
        except (OSError, ValueError, KeyError, TypeError):
            claimed_raw = None
        if claimed_raw is not None and claimed_raw in kf.export_public_keys().values():
            return claimed_raw
    return kf.export_public_key()


def verify(
    path: str | Path,
    *,
    home: Path | None = None,
    pin_installation: bool = True,
    pubkey_file: str | Path | None = None,
    passphrase: str | None = None,
    decrypt_to: str | Path | None = None,
) -> mf.Verified:
    """Verify an export. The signer is pinned to ``pubkey_file`` if given, else (``pin_installation``) to the
    installation in ``home`` (so an export re-signed with any other key fails); else the result is unpinned
    (``pinned_to`` None; ``key_matches_installation`` still says whether ``home``'s key signed it)."""
    own = installation_public_key(home, path) if home is not None else None
    if pubkey_file:
        expected, name = mf.load_public_key_file(Path(pubkey_file)), "the expected key"
    elif home is not None and pin_installation:
        if own is None:
            raise BadInput(f"no vault in {home} to check the signer against (give the signer's public key instead)")
        expected, name = own, f"this installation ({home})"
    else:
        expected, name = None, ""
    return mf.verify_export(path, expected_key=expected, expected_name=name, installation_key=own,
                            passphrase=passphrase, decrypt_to=decrypt_to, home=home)
