"""Helpers for the hardening attack tests: a small vault, the CLI run in-process, and "does it still open?".

A module with a unique name (not conftest.py): other areas put their own helpers in tests/security too."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from appliance.cli import main as cli_main
from appliance.vault import Vault, keys, layout
from appliance.vault.keys import KdfParams

FAST_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)
PW = {"root": "root-passphrase-1", "alice": "alice-passphrase-1", "rita": "rita-passphrase-1"}


def use_fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap Argon2id, in tests only."""
    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)


def make_vault(home: Path) -> None:
    """An admin (root), an author (alice) and a reviewer (rita)."""
    with Vault.create(home, "root", PW["root"], kdf_params=FAST_KDF) as v:
        v.add_user("alice", "author", PW["alice"])
        v.add_user("rita", "reviewer", PW["rita"])
    with Vault.open(home, "alice", PW["alice"]) as v:  # the first author's sign-in creates the data keys
        v.grant("rita")


def pw_file(tmp_path: Path, user: str) -> Path:
    p = tmp_path / f"{user}.pw"
    p.write_text(PW[user] + "\n", encoding="utf-8")
    return p


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI in-process: an exception escaping (a traceback for the user) fails the test by itself."""
    capsys.readouterr()
    rc = cli_main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def assert_one_line_error(rc: int, err: str, needle: str, code: int = 2) -> None:
    """One line holding ``needle``, no traceback, and the exit code of the error's kind (appliance.errors)."""
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err


def digests(home: Path) -> dict[str, str]:
    """sha256 of every file in the home (the vault's database, key file, checkpoint): "nothing changed" is equality."""
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*")) if p.is_file() and p.name != layout.LOCK_FILE}


def still_opens(home: Path) -> None:
    """The vault opens for its admin and its audit log verifies."""
    with Vault.open(home, "root", PW["root"]) as v:
        assert v.verify_audit().ok
