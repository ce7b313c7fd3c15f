"""The ``Vault``: the core plus one repository mixin per aggregate, and how a vault is created and opened.

Rooms follow the key boundaries (``roles.ROOM_ROLES``): the database file is encrypted under the ``meta`` key
every user holds; record texts, seed texts and the export-signing key each have their own key, sealed only to
users whose role may hold it. Modules: ``core`` (transactions, audit, permissions, room keys), ``users``,
``tasks``, ``jobs`` (jobs and records), ``seeds`` (seeds, ledger, adapters), ``exports`` (reports, exports,
signing), ``maintenance`` (room creation, rotations, audit reading, status).
"""

from __future__ import annotations

import os
from pathlib import Path

from appliance.errors import AccessDenied, BadInput, IntegrityError
from appliance.paths import resolve_home
from appliance.vault import keys, layout, roles, schema
from appliance.vault.exports import ExportsMixin
from appliance.vault.jobs import JobsMixin
from appliance.vault.keyfile import KeyFile, Unlocked
from appliance.vault.keys import KdfParams, now_iso
from appliance.vault.lock import VaultLock
from appliance.vault.maintenance import MaintenanceMixin
from appliance.vault.seeds import SeedsMixin
from appliance.vault.tasks import TasksMixin
from appliance.vault.users import UsersMixin


class Vault(UsersMixin, TasksMixin, JobsMixin, SeedsMixin, ExportsMixin, MaintenanceMixin):
    """An unlocked vault. Use ``Vault.create`` / ``Vault.open``, ideally as a context manager."""

    @classmethod
    def create(
        cls,
        home: str | Path | None,
        admin_user: str,
        passphrase: str,
        *,
        kdf_params: KdfParams | None = None,
        memory_limit: str | None = None,
    ) -> "Vault":
        """Initialise a new vault in ``home`` with its first admin; returns it open as that admin."""
        home = resolve_home(home)
        keys.check_user_name(admin_user)
        keys.check_new_passphrase(passphrase)
        layout.check_new_home(home)
        layout.ensure_home(home)
        lock = VaultLock.acquire(home)
        con = None
        try:
            kpath = layout.key_file(home)
            if kpath.exists():
                raise BadInput(f"a vault already exists in {home}")
            os.chmod(home, 0o700)
            layout.remove_stray_db_files(home, None)
            layout.clear_temp_dir(home)
            layout.checkpoint_file(home).unlink(missing_ok=True)
            kf = KeyFile.new(kpath)
            meta_key = keys.new_data_key()
            params = kdf_params or keys.default_kdf_params()
            sign_key = kf.set_user(admin_user, roles.ADMIN, passphrase, {roles.META: {kf.generation: meta_key}}, params)
            con = cls._connect(home, kf, meta_key, memory_limit)
            vault = cls(home, kf, lock, con, Unlocked(admin_user, roles.ADMIN, {roles.META: {kf.generation: meta_key}}, sign_key))
            vault._log.allow_new_checkpoint = True
            with vault.transaction():
                schema.create(con, kf.installation_id)
                vault._insert(con, "users", {"name": admin_user, "role": roles.ADMIN, "created_at": now_iso(),
                                             "created_by": admin_user, "disabled": False, "changed_at": None,
                                             "sign_public": kf.public_keys(admin_user)["sign"]})
                vault.audit(
                    "vault.init",
                    {"user": admin_user},
                    {"generation": kf.generation, "cipher": "AES-256-GCM", "kdf": params.to_json(),
                     "keys": kf.public_keys(admin_user)},
                )
            con.execute("CHECKPOINT")
            kf.save()  # the vault exists from this moment on
            vault._log.allow_new_checkpoint = False
            return vault
        except BaseException:
            if con is not None:
                con.close()
            lock.release()
            raise

    @classmethod
    def open(cls, home: str | Path | None, user: str, passphrase: str, *, memory_limit: str | None = None) -> "Vault":
        """Unlock the vault in ``home`` as ``user``. Wrong passphrase: UserError, audited at the next unlock."""
        home = resolve_home(home)
        if not layout.key_file(home).exists():
            raise BadInput(f"no vault in {home} (run `appliance init` first)")
        lock = VaultLock.acquire(home)
        con = None
        try:
            kf = KeyFile.load(layout.key_file(home))
            unlocked = kf.unlock(user, passphrase)
            layout.remove_stray_db_files(home, kf.db_file)
            layout.clear_temp_dir(home)
            if not (home / kf.db_file).exists():
                raise IntegrityError(f"the vault database {home / kf.db_file} is missing")
            con = cls._connect(home, kf, unlocked.room_keys[roles.META][kf.generation], memory_limit)
            schema.check(con, kf.installation_id)
            schema.add_missing_tables(con)
            schema.add_missing_columns(con)
            vault = cls(home, kf, lock, con, unlocked)
            vault._check_user_row()
            with vault.transaction():
                for f in unlocked.pending_failures:
                    if not isinstance(f, dict):
                        continue
                    name = str(f.get("user"))[:64]
                    vault.audit("unlock.failed", {"user": name},
                                {"role": kf.role_of(name) or "-", "time": f.get("time"), "consecutive": f.get("consecutive")})
                vault.audit("unlock")
            if unlocked.pending_failures or kf.users[user].get("consecutive_failures"):
                kf.clear_failures(user)
            vault._settle_rooms()
            vault._seal_unsealed_records()
            return vault
        except BaseException:
            if con is not None:
                con.close()
            lock.release()
            raise

    def _check_user_row(self) -> None:
        row = self._one("SELECT role, disabled, sign_public FROM users WHERE name = ?", [self.user])
        if row is None or row[1]:
            raise AccessDenied(f"user {self.user} is not active in this vault")
        if row[0] != self.role:
            raise IntegrityError(f"the key file and the vault disagree on the role of user {self.user}; ask an admin")
        if row[2] != self._kf.public_keys(self.user)["sign"]:
            raise IntegrityError(f"the key file entry of user {self.user} is not the current one (restored from an older "
                            "copy?); ask an admin to reset the passphrase")
