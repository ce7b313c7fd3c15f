"""Test helpers: the first author to sign in creates the data keys; it grants them to the other users, as an author
does with `appliance user grant` after an admin creates accounts. And what a key holder can do by raw SQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from appliance.vault import Vault


def share_keys(home: Path, author: str, passphrase: str, others: Iterable[str]) -> None:
    from appliance.vault import Vault

    with Vault.open(home, author, passphrase) as v:
        for name in others:
            v.grant(name)


def reseal_records(vault: Vault, ids: Iterable[int]) -> None:
    """What a holder of the records key who edits rows by raw SQL can also do: seal them again (``rowseal``). A test of
    a check that stands behind the seal (an approval's record digest, the stored-findings parser) uses it after its
    raw edit, so the edit reaches that check instead of being refused as unsealed first."""
    from appliance.vault import roles, rowseal

    ids = [int(i) for i in ids]
    gen, key = vault._room_key(roles.RECORDS)
    rows = rowseal.read_rows(vault._con, f"id IN ({', '.join('?' for _ in ids)})", ids)
    rowseal.write_seals(vault._con, rows, key, gen)
