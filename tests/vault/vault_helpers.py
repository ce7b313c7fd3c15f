"""Shared helpers for the vault tests (users, passphrases, subprocess runners)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from appliance.vault import Vault
from appliance.vault.keys import KdfParams

REPO = Path(__file__).resolve().parents[2]
FAST_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)

PASSPHRASES = {
    "root": "root-passphrase-1",
    "alice": "alice-passphrase-1",
    "bob": "bob-passphrase-12",
    "rita": "rita-passphrase-1",
}
ROLES = {"root": "admin", "alice": "author", "bob": "author", "rita": "reviewer"}


def use_fast_kdf(monkeypatch) -> None:  # noqa: ANN001 (pytest.MonkeyPatch; pytest is not imported here)
    """Cheap Argon2id and short failure delays, in tests only (production calibrates to ~0.15 s)."""
    from appliance.vault import keys

    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)
    monkeypatch.setattr(keys, "FAILURE_DELAY_BASE_S", 0.01)
    monkeypatch.setattr(keys, "FAILURE_DELAY_MAX_S", 0.05)


def init_author_home(home: Path, passphrase: str, author: str = "ana") -> Path:
    """A new installation home (cheap KDF) whose admin and one author share ``passphrase``: what a test of a job
    through the service layer starts from."""
    import pytest

    from appliance.service.session import Session
    from appliance.vault import keys

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(keys, "default_kdf_params", lambda: FAST_KDF)
        with Session.init(home, "admin", passphrase) as admin:
            admin.vault.add_user(author, "author", passphrase)
    return home


def make_populated(home: Path) -> Path:
    """A vault with an admin (root), two authors (alice, bob) and a reviewer (rita); alice, the first author to
    sign in, created the data keys and granted them to bob and rita."""
    with Vault.create(home, "root", PASSPHRASES["root"], kdf_params=FAST_KDF) as v:
        for name in ("alice", "bob", "rita"):
            v.add_user(name, ROLES[name], PASSPHRASES[name])
    with Vault.open(home, "alice", PASSPHRASES["alice"]) as v:
        v.grant("bob")
        v.grant("rita")
    return home


def open_as(home: Path, user: str) -> Vault:
    return Vault.open(home, user, PASSPHRASES[user])


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def run_child(code: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=child_env(env), capture_output=True, text=True, timeout=timeout)


def spawn_child(code: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=child_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def meta_key(v: Vault) -> bytes:
    """The database key an open vault holds (what an insider with that user's passphrase can unwrap)."""
    return v._keys["meta"][v.generation]
