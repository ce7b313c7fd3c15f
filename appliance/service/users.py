"""User management, shared by the TUI's Users screen: admins list, add, disable and reset passphrases; holders of
data keys grant them to new users.

The vault enforces the role (only admins manage users; anyone may change their own passphrase); this module adds
what an interactive form needs on top: the typed-twice confirmation and plain messages for empty fields, so the
screen holds no rules of its own."""

from __future__ import annotations

from typing import Any

from appliance.errors import BadInput
from appliance.service.session import Session
from appliance.vault.roles import ROLES


def role_names() -> tuple[str, ...]:
    return ROLES


def list_users(session: Session) -> list[dict[str, Any]]:
    """Every user ever added, with role, who added them, whether they are disabled and which data keys they hold."""
    session.require("user.list")
    return session.vault.list_users()


def _confirmed(passphrase: str, confirmation: str | None) -> str:
    """The new passphrase, once typed the same twice (``confirmation`` None: the caller's prompt already asked twice);
    the vault then checks its strength."""
    if not passphrase:
        raise BadInput("type a passphrase for the user")
    if confirmation is not None and passphrase != confirmation:
        raise BadInput("the two passphrases differ")
    return passphrase


def add_user(session: Session, name: str, role: str, passphrase: str, confirmation: str | None = None) -> None:
    """Add a user with a role; a disabled user of the same name is enabled again under the new passphrase."""
    session.require("user.manage")
    name = name.strip()
    if not name:
        raise BadInput("type a user name")
    if role not in ROLES:
        raise BadInput(f"choose a role: {', '.join(ROLES)}")
    session.vault.add_user(name, role, _confirmed(passphrase, confirmation))


def remove_user(session: Session, name: str) -> None:
    """Disable a user: their key-file entry goes, their audit history stays, and every key they held rotates (the
    database key now, the data keys at the next sign-in of a holder)."""
    session.vault.remove_user(name)


def change_passphrase(session: Session, name: str | None, passphrase: str, confirmation: str | None = None) -> None:
    """Set a new passphrase for ``name`` (an admin may reset anyone's; others only their own)."""
    session.vault.change_passphrase(_confirmed(passphrase, confirmation), name or None)


def grant(session: Session, name: str) -> list[str]:
    """Seal the data keys this user holds to ``name`` (those ``name``'s role may hold); the rooms granted."""
    if not name:
        raise BadInput("choose the user to grant your keys to")
    return session.vault.grant(name)


def rotate_key(session: Session) -> str:
    """Re-encrypt the vault under a new data key and re-seal it for every active user (admins); the new key
    generation. Do it after disabling someone who could have kept the old data key."""
    return session.vault.rotate_key()
