"""Test helper: the first author to sign in creates the data keys; it grants them to the other users, as an author
does with `appliance user grant` after an admin creates accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable


def share_keys(home: Path, author: str, passphrase: str, others: Iterable[str]) -> None:
    from appliance.vault import Vault

    with Vault.open(home, author, passphrase) as v:
        for name in others:
            v.grant(name)
