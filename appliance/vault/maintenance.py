"""Keeping the vault's keys and log sound: room creation, rotations, status, and reading or verifying the audit log.

Rotation has two shapes. The database key (``meta``) cannot be changed in place by DuckDB, so everything is copied
into a new file and the key file's atomic replacement switches to it (``rotate.py``). A room key that seals column
values (records, seeds) is rotated in three steps, each crash-safe because every value names its key generation:
the new generation is sealed to every holder and saved beside the old; the values are re-sealed in one
transaction; then the old generation is forgotten. The export-signing key is replaced, its old public key kept so
that earlier exports still verify.
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.vault import audit, db, fields, joblog, keys, layout, roles, rotate, rowseal, schema
from appliance.vault.audit import VerifyResult, canonical
from appliance.vault.core import ALIAS, VaultCore
from appliance.vault.tasks import TASK_PERMISSIONS

# Entries that vouch for rows (a job's life, a record's decisions, a task's spec), with the permission each needs.
VOUCHING_ENTRIES = {**joblog.LIFE_PERMISSIONS, **rowseal.DECISION_PERMISSIONS, **TASK_PERMISSIONS}


class MaintenanceMixin(VaultCore):
    # ------------------------------------------------------------------ rooms

    def _settle_rooms(self) -> None:
        """At sign-in: create the rooms this role may hold that nobody created yet; rotate pending ones we hold."""
        for room in (roles.RECORDS, roles.SEEDS, roles.EXPORT):
            if roles.may_hold(self.role, room) and self._kf.current(room) is None:
                kf = self._kf.copy()
                gen, secret, public = self._new_room_secret(room)
                kf.create_room(room, gen, secret, self.user, public)
                with self.transaction():
                    self.audit("key.room.create", {"room": room}, {"generation": gen})
                    kf.save()
                self._kf = kf
                self._keys.setdefault(room, {})[gen] = secret
        self._rotate_after_revocation(meta=False)

    @staticmethod
    def _new_room_secret(room: str) -> tuple[str, bytes, bytes | None]:
        gen = secrets.token_hex(8)
        if room == roles.EXPORT:
            sk = Ed25519PrivateKey.generate()
            return gen, keys._raw_private(sk), keys._raw_public(sk)
        return gen, keys.new_data_key(), None

    def _rotate_after_revocation(self, meta: bool = True) -> None:
        """Rotate every room marked for rotation that this user holds (and the database key, when asked)."""
        for room in self._kf.pending_rotation():
            if self.holds(room):
                self._rotate_room(room)
        if meta:
            self._rotate_meta()

    def _rotate_room(self, room: str) -> None:
        old_gen = self._kf.current(room)
        gen, secret, public = self._new_room_secret(room)
        kf = self._kf.copy()
        trusted = self._trusted_seal_keys(confirmed_only=True)
        holders = kf.add_generation(room, gen, secret, public, trusted)
        kf.save()  # step 1: both generations sealed to every holder
        self._kf = kf
        self._keys[room][gen] = secret
        with self.transaction() as con:  # step 2: every sealed value of the room re-sealed under the new key
            # Record rows' seals follow the key, but only of rows that verify now: an edited row stays refused.
            intact = rowseal.verified_ids(con, self._keys[room]) if room == roles.RECORDS else None
            for r, table, column, is_blob in schema.SEALED:
                if r == room:
                    self._reseal_column(con, room, table, column, is_blob, gen, secret)
            if intact is not None:
                rowseal.write_seals(con, (row for row in rowseal.read_rows(con) if row["id"] in intact), secret, gen)
            self.audit("key.room.rotate", {"room": room}, {"from_generation": old_gen, "generation": gen, "holders": holders})
        kf = self._kf.copy()
        kf.finish_generation(room, gen)  # step 3: the old generation is forgotten
        kf.save()
        self._kf = kf
        self._keys[room] = {gen: secret}

    def _reseal_column(self, con: Any, room: str, table: str, column: str, is_blob: bool, gen: str, secret: bytes) -> None:
        rows = con.execute(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
        if not rows:
            return
        ids, values = [], []
        for row_id, token in rows:
            if is_blob:
                plain = fields.open_bytes(self._keys[room], room, table, column, row_id, bytes(token))
                values.append(fields.seal_bytes(secret, gen, room, table, column, row_id, plain))
            else:
                plain = fields.open_text(self._keys[room], room, table, column, row_id, token)
                values.append(fields.seal_text(secret, gen, room, table, column, row_id, plain))
            ids.append(row_id)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _reseal (id BIGINT, v {'BLOB' if is_blob else 'VARCHAR'})")
        db.insert_columns(con, "_reseal", {"id": ids, "v": values}, {"id": "BIGINT", "v": "BLOB" if is_blob else "VARCHAR"})
        con.execute(f"UPDATE {table} SET {column} = _reseal.v FROM _reseal WHERE {table}.id = _reseal.id")
        if (table, column) == ("seeds", "text"):  # the keyed fingerprint follows the key
            con.execute("DELETE FROM _reseal")
            hashes = [fields.keyed_hash(secret, fields.open_text({gen: secret}, room, table, column, i, v))
                      for i, v in zip(ids, values)]
            db.insert_columns(con, "_reseal", {"id": ids, "v": hashes}, {"id": "BIGINT", "v": "VARCHAR"})
            con.execute("UPDATE seeds SET sha256 = _reseal.v FROM _reseal WHERE seeds.id = _reseal.id")
        con.execute("DROP TABLE _reseal")

    def _trusted_seal_keys(self, confirmed_only: bool) -> set[str]:
        """Users whose sealing key in the key file is the one the audit log registered (and confirmed, if asked)."""
        in_force = self._log.seal_keys_in_force()
        out = {self.user}  # this user's entry was checked against their own private key at sign-in
        for name in self._kf.users:
            key, confirmed = in_force.get(name, (None, False))
            if key == self._kf.public_keys(name)["seal"] and (confirmed or not confirmed_only):
                out.add(name)
        return out

    def _rotate_meta(self) -> str:
        """Re-encrypt the database under a new key sealed to every user; returns the new generation."""
        with self._mutex:
            if self._depth:
                raise RuntimeError("a key rotation cannot run inside a transaction")
            new_key = keys.new_data_key()
            new_kf = self._kf.rotated_meta(new_key)
            old_generation = self._kf.generation
            self.audit("key.rotate", {"generation": new_kf.generation}, {"from_generation": old_generation, "users": len(new_kf.users)})
            new_path = self.home / new_kf.db_file
            rotate.copy_database(self._con, ALIAS, new_path, new_key)
            rotate.crash_hook("copied")
            new_kf.save()  # the atomic switch: from here on the new file is the vault
            rotate.crash_hook("switched")
            self._con.execute("USE memory")
            self._con.execute(f"DETACH {ALIAS}")
            db.attach(self._con, new_path, ALIAS, new_key)
            self._con.execute(f"USE {ALIAS}")
            self._kf = new_kf
            self._keys[roles.META] = {new_kf.generation: new_key}
            layout.remove_stray_db_files(self.home, new_kf.db_file)
            self.audit("key.rotated", {"generation": new_kf.generation}, {"from_generation": old_generation})
            return new_kf.generation

    def rotate_key(self) -> str:
        """An admin's rotation of the database key (re-encrypts everything); returns the new generation."""
        self.require("key.rotate")
        return self._rotate_meta()

    # ------------------------------------------------------------------ audit log

    def verify_audit(self, anchor: str | None = None) -> VerifyResult:
        self.require("audit.verify")
        with self._mutex:
            result = self._log.verify({n: self._kf.public_keys(n)["sign"] for n in self._kf.users}, anchor)
            # A log that verifies vouches for each finished job's set of records and for each job's row: check the
            # rows still match it. Its entries that vouch for rows must also be ones their signer's role may write:
            # one that is not (an admin's own job.finish) is a forgery the readers ignore, reported here.
            missing = sorted(rowseal.incomplete_jobs(self._con) + joblog.unexplained(self._con) + [
                (seq, f"entry {seq} ({action}) is signed by {user}, whose role may not write it: it explains nothing")
                for seq, user, action, *_, permitted in audit.role_checked_entries(self._con, VOUCHING_ENTRIES)
                if not permitted]) if result.ok else []
        if missing:
            seq, problem = missing[0]
            more = f" ({len(missing) - 1} more problem(s) of jobs or entries)" if len(missing) > 1 else ""
            result = dataclasses.replace(result, ok=False, first_bad_seq=seq or None, problem=problem + more)
        self.audit("audit.verify", {}, {"ok": result.ok, "entries": result.entries, "first_bad_seq": result.first_bad_seq,
                                        "anchor": anchor})
        return result

    def audit_anchor(self) -> str:
        """The log head's short digest for an officer to keep off the machine (``audit verify --anchor``)."""
        self.require("audit.verify")
        with self._mutex:
            anchor = self._log.anchor()
        self.audit("audit.anchor", {}, {"anchor": anchor})
        return anchor

    def audit_entries(self, user: str | None = None, action: str | None = None, since: str | None = None,
                      until: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        self.require("audit.read")
        with self._mutex:
            return self._log.entries(user=user, action=action, since=since, until=until, limit=limit)

    def export_audit(self, path: str | Path, *, force: bool = False, **filters: Any) -> int:
        """Write (filtered) entries as JSON Lines (hashes and signatures included, so they re-verify) to a path outside
        the home, never over an existing file unless ``force``; the export itself is audited."""
        from appliance.outputs import check_output, write_output

        check_output(path, self.home, force=force)
        entries = self.audit_entries(**filters)
        write_output(path, "".join(canonical(e) + "\n" for e in entries), self.home, force=force)
        self.audit("audit.export", {}, {"entries": len(entries), "filters": {k: v for k, v in filters.items() if v}})
        return len(entries)

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        self.require("vault.status")
        encrypted, cipher = db.is_encrypted(self._con, ALIAS)
        counts = {t: int(self._one(f"SELECT count(*) FROM {t}")[0]) for t in schema.TABLES if t != "meta"}
        role_counts: dict[str, int] = {}
        for u in self._kf.users.values():
            role_counts[u["role"]] = role_counts.get(u["role"], 0) + 1
        db_path = self.db_path
        wal = db_path.with_name(db_path.name + ".wal")
        return {
            "home": str(self.home),
            "database": str(db_path),
            "database_bytes": db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0),
            "encrypted": encrypted,
            "cipher": cipher,
            "key_generation": self._kf.generation,
            "installation_id": self._kf.installation_id,
            "users_by_role": role_counts,
            "counts": counts,
            "user": self.user,
            "role": self.role,
            "keys_held": sorted(r for r in self._kf.rooms if self.holds(r)),
            "pending_rotation": self._kf.pending_rotation(),
        }
