"""Users and their keys: add, reset, remove, list, and grant room keys.

An admin creates accounts and holds only the database key, so a new account starts with that key alone. A
room key (generated records, seed records, export signing) reaches a new user only when a user who holds it
grants it (``grant``), audited as ``key.grant``. Removing a user, or resetting a passphrase that may have
leaked, marks every room key that user held for rotation: the database key rotates at once (the admin holds
it), the others at the next sign-in of a holder, before anything is written under them.
"""

from __future__ import annotations

from typing import Any

from appliance.errors import BadInput, IntegrityError
from appliance.vault import keys, roles
from appliance.vault.core import VaultCore
from appliance.vault.keys import now_iso


class UsersMixin(VaultCore):
    def add_user(self, name: str, role: str, passphrase: str) -> None:
        self.require("user.manage")
        keys.check_user_name(name)
        keys.check_role(role)
        keys.check_new_passphrase(passphrase)
        if name in self._kf.users:
            raise BadInput(f"user {name} already exists")
        kf = self._kf.copy()
        meta_gen = kf.generation
        kf.set_user(name, role, passphrase, {roles.META: {meta_gen: self._keys[roles.META][meta_gen]}})
        with self.transaction() as con:
            row = con.execute("SELECT disabled FROM users WHERE name = ?", [name]).fetchone()
            if row is not None and not row[0]:
                raise BadInput(f"user {name} already exists")
            sign_public = kf.public_keys(name)["sign"]
            if row is None:
                self._insert(con, "users", {"name": name, "role": role, "created_at": now_iso(), "created_by": self.user,
                                            "disabled": False, "changed_at": None, "sign_public": sign_public})
            else:
                con.execute("UPDATE users SET role = ?, disabled = false, changed_at = ?, created_by = ?, sign_public = ? "
                            "WHERE name = ?", [role, now_iso(), self.user, sign_public, name])
            self.audit("user.add", {"user": name}, {"role": role, "keys": kf.public_keys(name)})
            kf.save()
        self._kf = kf

    def change_passphrase(self, new_passphrase: str, name: str | None = None) -> None:
        """New key pairs under a new passphrase (own, or anyone's for an admin); then every key the old passphrase
        could open rotates (now where this user holds it, else at a holder's next sign-in)."""
        target = name or self.user
        if target != self.user:
            self.require("user.manage")
        keys.check_new_passphrase(new_passphrase)
        role = self._kf.role_of(target)
        if role is None:
            raise BadInput(f"no such user {target}")
        kf = self._kf.copy()
        held = kf.rooms_of(target)
        if target == self.user:
            kept = {room: dict(self._keys[room]) for room in held}
        else:  # an admin resetting someone: only the database key is theirs to give back
            kept = {roles.META: {kf.generation: self._keys[roles.META][kf.generation]}}
        sign_key = kf.set_user(target, role, new_passphrase, kept)
        kf.mark_pending_rotation([r for r in held if r != roles.META])
        with self.transaction() as con:
            con.execute("UPDATE users SET changed_at = ?, sign_public = ? WHERE name = ?",
                        [now_iso(), kf.public_keys(target)["sign"], target])
            self.audit("user.passwd", {"user": target}, {"by_admin": target != self.user, "keys": kf.public_keys(target),
                                                         "lost_rooms": sorted(set(held) - set(kept))})
            kf.save()
        self._kf = kf
        if target == self.user:
            self._sk = sign_key  # later entries are signed with the key the log just registered
        self._rotate_after_revocation()

    def remove_user(self, name: str) -> None:
        """Disable a user and drop their key-file entry; every key they held rotates (see the module's docstring)."""
        self.require("user.manage")
        if name == self.user:
            raise BadInput("you cannot remove yourself")
        if name not in self._kf.users:
            raise BadInput(f"no such user {name}")
        kf = self._kf.copy()
        held = kf.rooms_of(name)
        kf.remove_user(name)
        kf.mark_pending_rotation([r for r in held if r != roles.META])
        with self.transaction() as con:
            con.execute("UPDATE users SET disabled = true, changed_at = ? WHERE name = ?", [now_iso(), name])
            self.audit("user.remove", {"user": name}, {"rooms_to_rotate": held})
            kf.save()
        self._kf = kf
        self._rotate_after_revocation()

    def list_users(self) -> list[dict[str, Any]]:
        """Every user ever added, with role, creator, state and which data keys each holds (no secret)."""
        self.require("user.list")
        rows = self._rows("users", ("name", "role", "created_at", "created_by", "disabled"), order="name")
        for r in rows:
            r["keys"] = self._kf.rooms_of(r["name"]) if r["name"] in self._kf.users else []
        return rows

    def grant(self, name: str) -> list[str]:
        """Seal every room key this user holds, and ``name``'s role may hold, to ``name``; the rooms granted."""
        self.require("key.grant")
        if name == self.user:
            raise BadInput("you cannot grant keys to yourself")
        role = self._kf.role_of(name)
        if role is None:
            raise BadInput(f"no such active user {name}")
        if name not in self._trusted_seal_keys(confirmed_only=False):
            self.audit_refusal("key.grant", {"user": name}, "key file key differs from the registered one")
            raise IntegrityError(f"the key file's key for user {name} is not the one the audit log registered (key file "
                            "edited?): nothing granted; ask an admin to reset their passphrase")
        kf = self._kf.copy()
        granted = []
        for room in sorted(self._keys):
            if room == roles.META or not self.holds(room) or kf.holds(name, room) or not roles.may_hold(role, room):
                continue
            gen = kf.current(room)
            kf.seal_room(name, room, gen, self._keys[room][gen])
            granted.append(room)
        if not granted:
            raise BadInput(f"nothing to grant: user {name} ({role}) already holds every key you hold that the role may hold")
        with self.transaction():
            self.audit("key.grant", {"user": name}, {"rooms": granted, "role": role})
            kf.save()
        self._kf = kf
        return granted
