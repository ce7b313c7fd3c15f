"""The vault's core: open and close, transactions, the audit log, permission checks and the room keys.

One open, unlocked, encrypted database, used by one process, on behalf of one user. The repositories (users,
tasks, jobs and records, seeds and adapters, reports and exports, maintenance) are mixins over this core, one
module each; every method checks the caller's role (``roles``) and writes the audit entries that matter, so
nothing above this layer can forget either. Texts of a narrower class than the database are sealed under their
room's key (``fields``); a user whose role allows a read but who was never given the key gets a refusal that
says who can grant it.
"""

from __future__ import annotations

import hashlib
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.errors import AccessDenied, BadInput
from appliance.vault import db, fields, layout, roles
from appliance.vault.audit import AuditLog
from appliance.vault.keyfile import KeyFile, Unlocked
from appliance.vault.lock import VaultLock

ALIAS = "vault"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_label_name(kind: str, value: str, limit: int = 128) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise BadInput(f"invalid {kind}: use 1-{limit} printable characters")
    return value


class VaultCore:
    """State and plumbing shared by every repository mixin."""

    def __init__(self, home: Path, keyfile: KeyFile, lock: VaultLock, con: duckdb.DuckDBPyConnection, unlocked: Unlocked) -> None:
        self.home = home
        self._kf = keyfile
        self._lock = lock
        self._con = con
        self.user = unlocked.user
        self.role = unlocked.role
        self._keys: dict[str, dict[str, bytes]] = unlocked.room_keys
        self._sk: Ed25519PrivateKey = unlocked.sign_key
        self._log = AuditLog(con, home, keyfile.installation_id)
        self._mutex = threading.RLock()
        self._depth = 0
        self._audit_dirty = False
        self._deferred_audit: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self._closed = False

    @staticmethod
    def _connect(home: Path, keyfile: KeyFile, meta_key: bytes, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
        con = db.connect(layout.temp_dir(home), memory_limit=memory_limit)
        try:
            db.attach(con, home / keyfile.db_file, ALIAS, meta_key)
            os.chmod(home / keyfile.db_file, 0o600)
            con.execute(f"USE {ALIAS}")
        except BaseException:
            con.close()
            raise
        return con

    def close(self) -> None:
        """Checkpoint (fold the encrypted WAL into the encrypted file), close, release the lock."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            try:
                try:
                    self._con.execute("CHECKPOINT")
                except duckdb.Error:
                    pass
                self._con.close()
            finally:
                self._keys = {}
                self._lock.release()

    def __enter__(self) -> "VaultCore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def generation(self) -> str:
        return self._kf.generation

    @property
    def installation_id(self) -> str:
        return self._kf.installation_id

    @property
    def db_path(self) -> Path:
        return self.home / self._kf.db_file

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for one ``purpose`` (HKDF-SHA256 of the database key, info=purpose): binds files kept outside
        the database (the compute-copy seals) to this vault and key generation without storing another secret."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        _gen, key = self._room_key(roles.META)
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode("utf-8")).derive(key)

    # ------------------------------------------------------------------ room keys

    def holds(self, room: str) -> bool:
        gen = self._kf.current(room)
        return gen is not None and gen in self._keys.get(room, {})

    def _room_key(self, room: str) -> tuple[str, bytes]:
        """The current key of ``room``, or a refusal that says how this user can get it."""
        if self._closed:
            raise BadInput("the vault is closed")
        if not self.holds(room):
            if not roles.may_hold(self.role, room):
                raise AccessDenied(f"permission denied: the {self.role} role holds no key for {roles.ROOM_PHRASES[room]}")
            raise AccessDenied(f"user {self.user} holds no key for {roles.ROOM_PHRASES[room]} yet: a user who holds it "
                            f"grants it with `appliance user grant {self.user}`")
        gen = self._kf.current(room)
        return gen, self._keys[room][gen]

    def _seal(self, room: str, table: str, column: str, row_id: int, text: str | None) -> str | None:
        gen, key = self._room_key(room)
        return fields.seal_text(key, gen, room, table, column, row_id, text)

    def _open(self, room: str, table: str, column: str, row_id: int, token: str | None) -> str | None:
        self._room_key(room)
        return fields.open_text(self._keys[room], room, table, column, row_id, token)

    # ------------------------------------------------------------------ transactions, audit, access

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckDB transaction; nested calls join the outer one. Rolls back on any exception."""
        with self._mutex:
            if self._closed:
                raise BadInput("the vault is closed")
            if self._depth:
                self._depth += 1
                try:
                    yield self._con
                finally:
                    self._depth -= 1
                return
            self._con.execute("BEGIN TRANSACTION")
            self._depth = 1
            try:
                yield self._con
            except BaseException:
                self._depth = 0
                self._audit_dirty = False
                try:
                    self._con.execute("ROLLBACK")
                finally:
                    self._flush_deferred_audit()
                raise
            self._depth = 0
            try:
                self._con.execute("COMMIT")
            except BaseException:
                self._audit_dirty = False
                try:
                    self._con.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # the failed commit already ended the transaction
                self._flush_deferred_audit()
                raise
            if self._audit_dirty:
                self._audit_dirty = False
                self._log.write_checkpoint(self._sk, self.user)
            self._flush_deferred_audit()

    def _flush_deferred_audit(self) -> None:
        """Refusals noticed inside a transaction that then rolled back must still be recorded."""
        pending, self._deferred_audit = self._deferred_audit, []
        for action, oids, params in pending:
            self.audit(action, oids, params)

    def audit(self, action: str, object_ids: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> int:
        """Append an entry as the current user, signed with their own key; returns its sequence number."""
        with self.transaction():
            seq = self._log.append(self._sk, self.user, self.role, action, object_ids, params)
            self._audit_dirty = True
        return seq

    def can(self, permission: str) -> bool:
        return roles.allowed(self.role, permission)

    def require(self, permission: str) -> None:
        """Raise UserError unless the current role has ``permission``; every refusal is audited."""
        if roles.allowed(self.role, permission):
            return
        self.audit_refusal(permission)
        raise roles.refusal(self.user, self.role, permission)

    def audit_refusal(self, permission: str, object_ids: dict[str, Any] | None = None, reason: str | None = None) -> None:
        params: dict[str, Any] = {"permission": permission}
        if reason:
            params["reason"] = reason
        if self._depth:
            self._deferred_audit.append(("access.denied", object_ids or {}, params))
        else:
            self.audit("access.denied", object_ids, params)

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self._mutex:
            return self._con.execute(sql, list(args)).fetchone()

    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex:
            return self._con.execute(sql, list(args)).fetchall()

    def _rows(self, table: str, columns: Sequence[str], where: str = "true", args: Sequence[Any] = (),
              order: str = "id", limit: int | None = None) -> list[dict[str, Any]]:
        """Rows of ``table`` as dicts of the named columns: the one row-mapping helper of every repository."""
        sql = f"SELECT {', '.join(columns)} FROM {table} WHERE {where} ORDER BY {order}"
        if limit is not None:  # DuckDB's LIMIT is 64-bit; a larger one means every row anyway
            sql += f" LIMIT {min(int(limit), 2**63 - 1)}"
        return [dict(zip(columns, r)) for r in self._all(sql, args)]

    def _by_id(self, table: str, columns: Sequence[str], row_id: int, what: str) -> dict[str, Any]:
        """One row by id as a dict, or "no WHAT with id N"."""
        rows = self._rows(table, columns, "id = ?", [row_id])
        if not rows:
            raise BadInput(f"no {what} with id {row_id}")
        return rows[0]

    def _insert(self, con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
        """INSERT with named columns (never positional)."""
        names = list(row)
        con.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                    [row[n] for n in names])
