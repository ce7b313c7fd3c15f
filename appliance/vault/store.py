"""The ``Vault``: one open, unlocked, encrypted database, used by one process, on behalf of one user.

Every method checks the caller's role (``roles``) and writes the audit entries that matter, so nothing
above this layer can forget either. Writes happen in transactions; a transaction that appended audit
entries refreshes the signed checkpoint after it commits.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import duckdb

from appliance.errors import UserError
from appliance.paths import resolve_home
from appliance.vault import db, keys, layout, roles, rotate, schema
from appliance.vault.audit import AuditLog, VerifyResult, canonical
from appliance.vault.keys import KdfParams, KeyFile, Unlocked, now_iso
from appliance.vault.lock import VaultLock

ALIAS = "vault"
RECORD_STATUSES = ("accepted", "quarantined", "rejected")
_JOB_STATUS_RE = re.compile(r"^[a-z][a-z_]{1,31}$")
RECORD_TYPES = {
    "id": "BIGINT",
    "job_id": "BIGINT",
    "text": "VARCHAR",
    "label": "VARCHAR",
    "context": "VARCHAR",
    "attributes": "VARCHAR",
    "status": "VARCHAR",
    "reasons": "VARCHAR",
    "scores": "VARCHAR",
    "created_at": "VARCHAR",
}
SEED_TYPES = {
    "id": "BIGINT",
    "seed_set_id": "BIGINT",
    "row_no": "BIGINT",
    "text": "VARCHAR",
    "label": "VARCHAR",
    "sha256": "VARCHAR",
}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_label_name(kind: str, value: str, limit: int = 128) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or any(ord(c) < 32 for c in value):
        raise UserError(f"invalid {kind} {value!r}: 1-{limit} printable characters")
    return value


class Vault:
    """An unlocked vault. Use ``Vault.create`` / ``Vault.open``, ideally as a context manager."""

    def __init__(self, home: Path, keyfile: KeyFile, lock: VaultLock, con: duckdb.DuckDBPyConnection, unlocked: Unlocked) -> None:
        self.home = home
        self._kf = keyfile
        self._lock = lock
        self._con = con
        self.user = unlocked.user
        self.role = unlocked.role
        self._dk = unlocked.data_key
        self._sk = unlocked.signing_key
        self._log = AuditLog(con, unlocked.signing_key, home, keyfile.installation_id)
        self._mutex = threading.RLock()
        self._depth = 0
        self._audit_dirty = False
        self._deferred_audit: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    @staticmethod
    def _connect(home: Path, keyfile: KeyFile, data_key: bytes, memory_limit: str | None) -> duckdb.DuckDBPyConnection:
        con = db.connect(layout.temp_dir(home), memory_limit=memory_limit)
        try:
            db.attach(con, home / keyfile.db_file, ALIAS, data_key)
            os.chmod(home / keyfile.db_file, 0o600)
            con.execute(f"USE {ALIAS}")
        except BaseException:
            con.close()
            raise
        return con

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
        os.chmod(home, 0o700)
        lock = VaultLock.acquire(home)
        con = None
        try:
            kpath = layout.key_file(home)
            if kpath.exists():
                raise UserError(f"a vault already exists in {home}")
            layout.remove_stray_db_files(home, None)
            layout.clear_temp_dir(home)
            layout.checkpoint_file(home).unlink(missing_ok=True)
            data_key, signing_key = keys.new_data_key(), keys.new_signing_key()
            kf = KeyFile.new(kpath, data_key, signing_key)
            params = kdf_params or keys.default_kdf_params()
            kf.set_user(admin_user, roles.ADMIN, passphrase, data_key, params)
            con = cls._connect(home, kf, data_key, memory_limit)
            vault = cls(home, kf, lock, con, Unlocked(admin_user, roles.ADMIN, data_key, signing_key))
            vault._log.allow_new_checkpoint = True
            with vault.transaction():
                schema.create(con, kf.installation_id)
                con.execute("INSERT INTO users VALUES (?, ?, ?, ?, false, NULL)", [admin_user, roles.ADMIN, now_iso(), admin_user])
                vault.audit(
                    "vault.init",
                    {"user": admin_user},
                    {"generation": kf.generation, "cipher": "AES-256-GCM", "kdf": params.to_json()},
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
            raise UserError(f"no vault in {home} (run `appliance init` first)")
        lock = VaultLock.acquire(home)
        con = None
        try:
            kf = KeyFile.load(layout.key_file(home))
            unlocked = kf.unlock(user, passphrase)
            layout.remove_stray_db_files(home, kf.db_file)
            layout.clear_temp_dir(home)
            if not (home / kf.db_file).exists():
                raise UserError(f"the vault database {home / kf.db_file} is missing")
            con = cls._connect(home, kf, unlocked.data_key, memory_limit)
            schema.check(con, kf.installation_id)
            schema.add_missing_tables(con)
            vault = cls(home, kf, lock, con, unlocked)
            vault._check_user_row()
            with vault.transaction():
                for f in unlocked.pending_failures:
                    vault._log.append(
                        str(f.get("user")),
                        kf.role_of(str(f.get("user"))) or "-",
                        "unlock.failed",
                        {"user": f.get("user")},
                        {"time": f.get("time"), "consecutive": f.get("consecutive")},
                    )
                vault.audit("unlock")
            if unlocked.pending_failures or kf.users[user].get("consecutive_failures"):
                kf.clear_failures(user)
            return vault
        except BaseException:
            if con is not None:
                con.close()
            lock.release()
            raise

    def _check_user_row(self) -> None:
        row = self._con.execute("SELECT role, disabled FROM users WHERE name = ?", [self.user]).fetchone()
        if row is None or row[1]:
            raise UserError(f"user {self.user} is not active in this vault")
        if row[0] != self.role:
            raise UserError(f"the key file and the vault disagree on the role of user {self.user}; ask an admin")

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
                self._dk = b""
                self._lock.release()

    def __enter__(self) -> "Vault":
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

    @property
    def signing_public_key(self) -> bytes:
        """The installation's Ed25519 public key (raw 32 bytes): verifies audit checkpoints and export manifests."""
        return self._kf.signing_public_key()

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for one ``purpose`` (HKDF-SHA256 of the data key, info=purpose): binds files kept outside the
        database (the compute-copy seals) to this vault and key generation without storing another secret."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        if self._closed:
            raise UserError("the vault is closed")
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode("utf-8")).derive(self._dk)

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` (an export manifest) with the installation's Ed25519 key; the key never leaves the vault."""
        if self._closed:
            raise UserError("the vault is closed")
        return self._sk.sign(data)

    # ------------------------------------------------------------------ transactions, audit, access

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckDB transaction; nested calls join the outer one. Rolls back on any exception."""
        with self._mutex:
            if self._closed:
                raise UserError("the vault is closed")
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
                self._log.write_checkpoint()
            self._flush_deferred_audit()

    def _flush_deferred_audit(self) -> None:
        """Refusals noticed inside a transaction that then rolled back must still be recorded."""
        pending, self._deferred_audit = self._deferred_audit, []
        for action, oids, params in pending:
            self.audit(action, oids, params)

    def audit(self, action: str, object_ids: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> int:
        """Append an entry as the current user; returns its sequence number."""
        with self.transaction():
            seq = self._log.append(self.user, self.role, action, object_ids, params)
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

    # ------------------------------------------------------------------ users

    def add_user(self, name: str, role: str, passphrase: str) -> None:
        self.require("user.manage")
        keys.check_user_name(name)
        keys.check_role(role)
        keys.check_new_passphrase(passphrase)
        if name in self._kf.users:
            raise UserError(f"user {name} already exists")
        kf = self._kf.copy()
        kf.set_user(name, role, passphrase, self._dk)
        with self.transaction() as con:
            row = con.execute("SELECT disabled FROM users WHERE name = ?", [name]).fetchone()
            if row is not None and not row[0]:
                raise UserError(f"user {name} already exists")
            if row is None:
                con.execute("INSERT INTO users VALUES (?, ?, ?, ?, false, NULL)", [name, role, now_iso(), self.user])
            else:
                con.execute("UPDATE users SET role = ?, disabled = false, changed_at = ? WHERE name = ?", [role, now_iso(), name])
            self.audit("user.add", {"user": name}, {"role": role})
            kf.save()
        self._kf = kf

    def change_passphrase(self, new_passphrase: str, name: str | None = None) -> None:
        """Re-wrap a user's keys under a new passphrase (own, or anyone's for an admin). No data is re-encrypted."""
        target = name or self.user
        if target != self.user:
            self.require("user.manage")
        keys.check_new_passphrase(new_passphrase)
        role = self._kf.role_of(target)
        if role is None:
            raise UserError(f"no such user {target}")
        kf = self._kf.copy()
        kf.set_user(target, role, new_passphrase, self._dk)
        with self.transaction() as con:
            con.execute("UPDATE users SET changed_at = ? WHERE name = ?", [now_iso(), target])
            self.audit("user.passwd", {"user": target}, {"by_admin": target != self.user})
            kf.save()
        self._kf = kf

    def remove_user(self, name: str) -> None:
        """Disable a user and drop their key-file entry. Follow with ``rotate_key`` if they may know the data key."""
        self.require("user.manage")
        if name == self.user:
            raise UserError("you cannot remove yourself")
        if name not in self._kf.users:
            raise UserError(f"no such user {name}")
        kf = self._kf.copy()
        kf.remove_user(name)
        with self.transaction() as con:
            con.execute("UPDATE users SET disabled = true, changed_at = ? WHERE name = ?", [now_iso(), name])
            self.audit("user.remove", {"user": name}, {})
            kf.save()
        self._kf = kf

    def list_users(self) -> list[dict[str, Any]]:
        self.require("user.manage")
        rows = self._all("SELECT name, role, created_at, created_by, disabled FROM users ORDER BY name")
        return [dict(zip(("name", "role", "created_at", "created_by", "disabled"), r)) for r in rows]

    # ------------------------------------------------------------------ tasks

    def add_task(self, name: str, toml_text: str) -> int:
        """Store a task spec; the same name and text again returns the existing id."""
        self.require("task.write")
        _check_label_name("task name", name)
        if not isinstance(toml_text, str):
            raise UserError("task spec must be text")
        digest = sha256_text(toml_text)
        with self.transaction() as con:
            row = con.execute("SELECT id FROM tasks WHERE name = ? AND sha256 = ?", [name, digest]).fetchone()
            if row:
                return int(row[0])
            task_id = schema.next_id(con, "tasks")
            con.execute("INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?)", [task_id, name, toml_text, digest, now_iso(), self.user])
            self.audit("task.add", {"task_id": task_id}, {"name": name, "sha256": digest})
        return task_id

    def get_task(self, task_id: int) -> dict[str, Any]:
        self.require("task.read")
        row = self._one("SELECT id, name, spec_toml, sha256, created_at, created_by FROM tasks WHERE id = ?", [task_id])
        if row is None:
            raise UserError(f"no task with id {task_id}")
        return dict(zip(("id", "name", "spec_toml", "sha256", "created_at", "created_by"), row))

    def find_task(self, name: str) -> dict[str, Any] | None:
        """The latest stored version of the task called ``name``."""
        self.require("task.read")
        row = self._one("SELECT id FROM tasks WHERE name = ? ORDER BY id DESC LIMIT 1", [name])
        return self.get_task(int(row[0])) if row else None

    def list_tasks(self) -> list[dict[str, Any]]:
        self.require("task.read")
        rows = self._all("SELECT id, name, sha256, created_at, created_by FROM tasks ORDER BY id")
        return [dict(zip(("id", "name", "sha256", "created_at", "created_by"), r)) for r in rows]

    # ------------------------------------------------------------------ jobs and records

    def create_job(self, task_id: int, method: str, config: dict[str, Any]) -> int:
        self.require("job.run")
        _check_label_name("method", method, 64)
        config_text = canonical(config or {})
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM tasks WHERE id = ?", [task_id]).fetchone() is None:
                raise UserError(f"no task with id {task_id}")
            job_id = schema.next_id(con, "jobs")
            con.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, 'running', NULL, ?, ?, NULL, 0)",
                [job_id, task_id, method, config_text, now_iso(), self.user],
            )
            self.audit("job.start", {"job_id": job_id, "task_id": task_id}, {"method": method, "config": config or {}})
        return job_id

    def get_job(self, job_id: int) -> dict[str, Any]:
        self.require("record.read")
        row = self._one(
            "SELECT id, task_id, method, config, status, summary, created_at, created_by, finished_at, units_done "
            "FROM jobs WHERE id = ?",
            [job_id],
        )
        if row is None:
            raise UserError(f"no job with id {job_id}")
        fields = ("id", "task_id", "method", "config", "status", "summary", "created_at", "created_by", "finished_at", "units_done")
        d = dict(zip(fields, row))
        d["config"] = json.loads(d["config"])
        d["summary"] = json.loads(d["summary"]) if d["summary"] else None
        return d

    def list_jobs(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Jobs, newest first, without their configuration (the home screen and job pickers list them)."""
        self.require("record.read")
        sql = "SELECT id, task_id, method, status, created_at, created_by, finished_at, units_done FROM jobs ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        fields = ("id", "task_id", "method", "status", "created_at", "created_by", "finished_at", "units_done")
        return [dict(zip(fields, r)) for r in self._all(sql)]

    def finish_job(self, job_id: int, status: str, summary: dict[str, Any]) -> None:
        """Close a job with a final status (e.g. 'succeeded', 'failed') and its summary (gate verdicts, counts)."""
        self.require("job.run")
        if not isinstance(status, str) or not _JOB_STATUS_RE.match(status) or status == "running":
            raise UserError(f"invalid final job status {status!r}")
        with self.transaction() as con:
            row = con.execute("SELECT status FROM jobs WHERE id = ?", [job_id]).fetchone()
            if row is None:
                raise UserError(f"no job with id {job_id}")
            if row[0] != "running":
                raise UserError(f"job {job_id} is already finished ({row[0]})")
            counts = dict(con.execute("SELECT status, count(*) FROM records WHERE job_id = ? GROUP BY status", [job_id]).fetchall())
            con.execute(
                "UPDATE jobs SET status = ?, summary = ?, finished_at = ? WHERE id = ?",
                [status, canonical(summary or {}), now_iso(), job_id],
            )
            self.audit("job.finish", {"job_id": job_id}, {"status": status, "records": counts, "summary": summary or {}})

    def reopen_job(self, job_id: int) -> None:
        """Mark a cancelled or failed job as running again, so ``resume`` can finish it (audited)."""
        self.require("job.run")
        with self.transaction() as con:
            row = con.execute("SELECT status FROM jobs WHERE id = ?", [job_id]).fetchone()
            if row is None:
                raise UserError(f"no job with id {job_id}")
            if row[0] == "succeeded":
                raise UserError(f"job {job_id} already succeeded; nothing to resume")
            con.execute("UPDATE jobs SET status = 'running', finished_at = NULL WHERE id = ?", [job_id])
            self.audit("job.resume", {"job_id": job_id}, {"previous_status": row[0]})

    def add_records(self, job_id: int, records: Sequence[dict[str, Any]], unit: int | None = None) -> list[int]:
        """Store generated records of a running job in one transaction; returns their ids.

        Each record: ``text`` (required), ``label``, ``context``, ``attributes`` (dict), ``status``
        ('accepted' or 'quarantined', default accepted), ``reasons`` (list), ``scores`` (dict).
        ``unit`` numbers the method's batches (1, 2, …): it is stored in the same transaction as the records, so
        after a crash a resumed job knows exactly which batches are in the vault (none lost, none twice).
        """
        self.require("job.run")
        cols: dict[str, list[Any]] = {k: [] for k in RECORD_TYPES}
        now = now_iso()
        for i, r in enumerate(records):
            text = r.get("text")
            if not isinstance(text, str):
                raise UserError(f"record {i + 1}: text must be a string")
            status = r.get("status", "accepted")
            if status not in ("accepted", "quarantined"):
                raise UserError(f"record {i + 1}: status must be 'accepted' or 'quarantined', not {status!r}")
            for key in ("label", "context"):
                if r.get(key) is not None and not isinstance(r.get(key), str):
                    raise UserError(f"record {i + 1}: {key} must be a string")
            cols["text"].append(text)
            cols["label"].append(r.get("label"))
            cols["context"].append(r.get("context"))
            cols["attributes"].append(canonical(r.get("attributes") or {}))
            cols["status"].append(status)
            cols["reasons"].append(canonical(list(r.get("reasons") or [])))
            cols["scores"].append(canonical(r.get("scores") or {}))
            cols["created_at"].append(now)
        n = len(cols["text"])
        with self.transaction() as con:
            row = con.execute("SELECT status FROM jobs WHERE id = ?", [job_id]).fetchone()
            if row is None:
                raise UserError(f"no job with id {job_id}")
            if row[0] != "running":
                raise UserError(f"job {job_id} is finished ({row[0]}); records cannot be added")
            if unit is not None:
                done = con.execute("SELECT units_done FROM jobs WHERE id = ?", [job_id]).fetchone()[0]
                if unit != done + 1:
                    raise RuntimeError(f"job {job_id}: batch {unit} out of order (batches done: {done})")
                con.execute("UPDATE jobs SET units_done = ? WHERE id = ?", [unit, job_id])
            if n == 0:
                return []
            first = schema.next_id(con, "records")
            cols["id"] = list(range(first, first + n))
            cols["job_id"] = [job_id] * n
            db.insert_columns(con, "records", cols, RECORD_TYPES)
        return list(range(first, first + n))

    def list_records(self, job_id: int, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        self.require("record.read")
        sql = (
            "SELECT id, job_id, text, label, context, attributes, status, reasons, scores, created_at, reviewed_by, "
            "review_note FROM records WHERE job_id = ?"
        )
        args: list[Any] = [job_id]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        sql += " ORDER BY id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        out = []
        fields = ("id", "job_id", "text", "label", "context", "attributes", "status", "reasons", "scores", "created_at", "reviewed_by", "review_note")
        for row in self._all(sql, args):
            d = dict(zip(fields, row))
            for k in ("attributes", "reasons", "scores"):
                d[k] = json.loads(d[k])
            out.append(d)
        return out

    def count_records(self, job_id: int, status: str | None = None) -> int:
        self.require("record.read")
        if status is None:
            row = self._one("SELECT count(*) FROM records WHERE job_id = ?", [job_id])
        else:
            row = self._one("SELECT count(*) FROM records WHERE job_id = ? AND status = ?", [job_id, status])
        return int(row[0])

    def review_record(self, record_id: int, release: bool, note: str = "") -> str:
        """A reviewer releases a quarantined record ('accepted') or rejects it ('rejected')."""
        self.require("record.review")
        new_status = "accepted" if release else "rejected"
        with self.transaction() as con:
            row = con.execute("SELECT status, job_id FROM records WHERE id = ?", [record_id]).fetchone()
            if row is None:
                raise UserError(f"no record with id {record_id}")
            if row[0] != "quarantined":
                raise UserError(f"record {record_id} is not quarantined ({row[0]})")
            con.execute(
                "UPDATE records SET status = ?, reviewed_by = ?, review_note = ? WHERE id = ?",
                [new_status, self.user, note, record_id],
            )
            self.audit("record.review", {"record_id": record_id, "job_id": row[1]}, {"decision": new_status})
        return new_status

    # ------------------------------------------------------------------ seeds

    def import_seeds(
        self,
        seed_set: str,
        rows: Sequence[tuple[str, str | None]] | Sequence[dict[str, Any]],
        *,
        task_id: int | None = None,
        task_name: str | None = None,
        source_name: str | None = None,
        source_sha256: str | None = None,
    ) -> int:
        """Store a named set of seed records (text, label) in one transaction; returns the seed set id."""
        self.require("seed.import")
        _check_label_name("seed set name", seed_set)
        texts: list[str] = []
        labels: list[str | None] = []
        for i, r in enumerate(rows):
            text, label = (r.get("text"), r.get("label")) if isinstance(r, dict) else (r[0], r[1])
            if not isinstance(text, str) or not text.strip():
                raise UserError(f"seed {i + 1}: empty text")
            texts.append(text)
            labels.append(label)
        if not texts:
            raise UserError("no seed records to import")
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM seed_sets WHERE name = ?", [seed_set]).fetchone():
                raise UserError(f"seed set {seed_set!r} already exists; choose another --seed-set name")
            set_id = schema.next_id(con, "seed_sets")
            con.execute(
                "INSERT INTO seed_sets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [set_id, seed_set, task_id, task_name, source_name, source_sha256, len(texts), now_iso(), self.user],
            )
            first = schema.next_id(con, "seeds")
            n = len(texts)
            db.insert_columns(
                con,
                "seeds",
                {
                    "id": list(range(first, first + n)),
                    "seed_set_id": [set_id] * n,
                    "row_no": list(range(1, n + 1)),
                    "text": texts,
                    "label": labels,
                    "sha256": [sha256_text(t) for t in texts],
                },
                SEED_TYPES,
            )
            self.audit(
                "seed.import",
                {"seed_set_id": set_id, "task_id": task_id},
                {"seed_set": seed_set, "rows": n, "source_sha256": source_sha256},
            )
        return set_id

    def list_seed_sets(self) -> list[dict[str, Any]]:
        self.require("seed.read")
        fields = ("id", "name", "task_id", "task_name", "source_name", "source_sha256", "n_seeds", "created_at", "created_by")
        return [dict(zip(fields, r)) for r in self._all(f"SELECT {', '.join(fields)} FROM seed_sets ORDER BY id")]

    def list_seeds(self, seed_set: str | int) -> list[dict[str, Any]]:
        """Raw seed records of a set (by name or id). Authors only: reviewers never read raw seeds."""
        self.require("seed.read")
        col = "id" if isinstance(seed_set, int) else "name"
        row = self._one(f"SELECT id FROM seed_sets WHERE {col} = ?", [seed_set])
        if row is None:
            raise UserError(f"no seed set {seed_set!r}")
        fields = ("id", "seed_set_id", "row_no", "text", "label", "sha256")
        rows = self._all(f"SELECT {', '.join(fields)} FROM seeds WHERE seed_set_id = ? ORDER BY row_no", [row[0]])
        return [dict(zip(fields, r)) for r in rows]

    # ------------------------------------------------------------------ privacy ledger and DP adapters

    def _seed_set_id(self, seed_set: str | int) -> int:
        col = "id" if isinstance(seed_set, int) else "name"
        row = self._one(f"SELECT id FROM seed_sets WHERE {col} = ?", [seed_set])
        if row is None:
            raise UserError(f"no seed set {seed_set!r}")
        return int(row[0])

    def privacy_spent(self, seed_set: str | int) -> dict[str, Any]:
        """ε and δ charged to a seed set so far, by basic composition (sums), with the entries."""
        self.require("ledger.read")
        set_id = self._seed_set_id(seed_set)
        fields = ("id", "kind", "ref", "epsilon", "delta", "created_at", "created_by")
        rows = [dict(zip(fields, r)) for r in self._all(
            f"SELECT {', '.join(fields)} FROM privacy_ledger WHERE seed_set_id = ? ORDER BY id", [set_id])]
        return {"seed_set_id": set_id, "epsilon": sum(r["epsilon"] for r in rows), "delta": sum(r["delta"] for r in rows),
                "composition": "basic (sum of ε and of δ)", "entries": rows}

    def ensure_privacy_budget(self, seed_set: str | int, epsilon: float, budget: float,
                              permission: str = "ledger.charge") -> dict[str, Any]:
        """What the seed set has spent, or a refusal audited under ``permission`` when ``epsilon`` more would exceed
        ``budget``.

        Callers check before costly work (loading a model, training) and ``charge_privacy`` checks again when it
        writes the charge."""
        spent = self.privacy_spent(seed_set)
        if spent["epsilon"] + epsilon > budget + 1e-9:
            self.audit_refusal(permission, {"seed_set_id": spent["seed_set_id"]},
                               f"over budget: {spent['epsilon']:.3g} + {epsilon:.3g} > {budget:.3g}")
            raise UserError(
                f"privacy budget exceeded for seed set {seed_set!r}: spent ε = {spent['epsilon']:.2f}, this run "
                f"ε = {epsilon:.2f}, budget ε ≤ {budget:g}"
            )
        return spent

    def charge_privacy(self, seed_set: str | int, kind: str, ref: str, epsilon: float, delta: float, budget: float) -> int:
        """Charge (ε, δ) to a seed set's ledger; refuse (audited) when the total would exceed ``budget``."""
        with self.transaction() as con:
            spent = self.ensure_privacy_budget(seed_set, epsilon, budget)
            entry_id = schema.next_id(con, "privacy_ledger")
            con.execute("INSERT INTO privacy_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [entry_id, spent["seed_set_id"], kind, ref, float(epsilon), float(delta), now_iso(), self.user])
            self.audit("ledger.charge", {"seed_set_id": spent["seed_set_id"], "ledger_id": entry_id},
                       {"kind": kind, "ref": ref, "epsilon": epsilon, "delta": delta,
                        "total_epsilon": spent["epsilon"] + epsilon, "budget": budget})
        return entry_id

    def add_adapter(self, name: str, seed_set: str | int, model: str, model_sha256: str, body: bytes,
                    manifest: dict[str, Any]) -> int:
        """Store a trained adapter (its GGUF bytes, encrypted with the vault) and audit it."""
        self.require("adapter.train")
        _check_label_name("adapter name", name)
        digest = hashlib.sha256(body).hexdigest()
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM adapters WHERE name = ?", [name]).fetchone():
                raise UserError(f"adapter {name!r} already exists; choose another name")
            set_id = self._seed_set_id(seed_set)
            adapter_id = schema.next_id(con, "adapters")
            con.execute("INSERT INTO adapters VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [adapter_id, name, set_id, model, model_sha256, digest, canonical(manifest), body, now_iso(), self.user])
            self.audit("adapter.add", {"adapter_id": adapter_id, "seed_set_id": set_id},
                       {"name": name, "sha256": digest, "model": model, "privacy": manifest.get("privacy")})
        return adapter_id

    _ADAPTER_FIELDS = ("id", "name", "seed_set_id", "model", "model_sha256", "sha256", "manifest", "created_at", "created_by")

    def list_adapters(self) -> list[dict[str, Any]]:
        self.require("adapter.list")
        out = [dict(zip(self._ADAPTER_FIELDS, r)) for r in self._all(
            f"SELECT {', '.join(self._ADAPTER_FIELDS)} FROM adapters ORDER BY id")]
        for d in out:
            d["manifest"] = json.loads(d["manifest"])
        return out

    def get_adapter(self, name: str) -> tuple[dict[str, Any], bytes]:
        """An adapter's record and its GGUF bytes (checked against the stored sha256). Authors only: it runs jobs."""
        self.require("job.run")
        row = self._one(f"SELECT {', '.join(self._ADAPTER_FIELDS)}, body FROM adapters WHERE name = ?", [name])
        if row is None:
            raise UserError(f"no adapter named {name!r} (see `appliance adapters list`)")
        meta, body = dict(zip(self._ADAPTER_FIELDS, row[:-1])), bytes(row[-1])
        meta["manifest"] = json.loads(meta["manifest"])
        if hashlib.sha256(body).hexdigest() != meta["sha256"]:
            raise UserError(f"adapter {name!r} does not match its recorded sha256; refusing to load it")
        return meta, body

    # ------------------------------------------------------------------ reports and exports

    def add_report(self, job_id: int | None, kind: str, body: dict[str, Any]) -> int:
        self.require("report.write")
        _check_label_name("report kind", kind, 64)
        with self.transaction() as con:
            report_id = schema.next_id(con, "reports")
            con.execute("INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?)", [report_id, job_id, kind, canonical(body), now_iso(), self.user])
            self.audit("report.add", {"report_id": report_id, "job_id": job_id}, {"kind": kind})
        return report_id

    def get_report(self, report_id: int) -> dict[str, Any]:
        self.require("report.read")
        row = self._one("SELECT id, job_id, kind, body, created_at, created_by FROM reports WHERE id = ?", [report_id])
        if row is None:
            raise UserError(f"no report with id {report_id}")
        d = dict(zip(("id", "job_id", "kind", "body", "created_at", "created_by"), row))
        d["body"] = json.loads(d["body"])
        return d

    def list_reports(self, job_id: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Reports (newest last), optionally of one job and/or one kind, without their bodies."""
        self.require("report.read")
        sql, args = "SELECT id, job_id, kind, created_at, created_by FROM reports WHERE true", []
        if job_id is not None:
            sql += " AND job_id = ?"
            args.append(job_id)
        if kind is not None:
            sql += " AND kind = ?"
            args.append(kind)
        return [dict(zip(("id", "job_id", "kind", "created_at", "created_by"), r)) for r in self._all(sql + " ORDER BY id", args)]

    def request_export(self, job_id: int, manifest: dict[str, Any]) -> int:
        """An author asks for an export; a different user with the reviewer role must approve it."""
        self.require("export.request")
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM jobs WHERE id = ?", [job_id]).fetchone() is None:
                raise UserError(f"no job with id {job_id}")
            export_id = schema.next_id(con, "exports")
            con.execute(
                "INSERT INTO exports VALUES (?, ?, 'pending', ?, ?, ?, NULL, NULL, NULL)",
                [export_id, job_id, canonical(manifest or {}), self.user, now_iso()],
            )
            self.audit("export.request", {"export_id": export_id, "job_id": job_id}, {"manifest_sha256": sha256_text(canonical(manifest or {}))})
        return export_id

    def get_export(self, export_id: int) -> dict[str, Any]:
        if not (self.can("export.request") or self.can("export.decide")):
            self.require("export.decide")
        fields = ("id", "job_id", "status", "manifest", "requested_by", "requested_at", "decided_by", "decided_at", "decision_reason")
        row = self._one(f"SELECT {', '.join(fields)} FROM exports WHERE id = ?", [export_id])
        if row is None:
            raise UserError(f"no export with id {export_id}")
        d = dict(zip(fields, row))
        d["manifest"] = json.loads(d["manifest"])
        return d

    def list_exports(self) -> list[dict[str, Any]]:
        """Export requests, newest first, without manifests: for authors (to follow theirs) and reviewers (to decide)."""
        if not (self.can("export.request") or self.can("export.decide")):
            self.require("export.decide")
        fields = ("id", "job_id", "status", "requested_by", "requested_at", "decided_by", "decided_at", "decision_reason")
        return [dict(zip(fields, r)) for r in self._all(f"SELECT {', '.join(fields)} FROM exports ORDER BY id DESC")]

    def check_export_decision(self, export_id: int) -> dict[str, Any]:
        """May the current user approve or deny this export? Audits and raises UserError if not."""
        self.require("export.decide")
        export = self.get_export(export_id)
        try:
            roles.check_not_own_export(self.user, export["requested_by"])
        except UserError as e:
            self.audit_refusal("export.decide", {"export_id": export_id}, "own export")
            raise e
        if export["status"] != "pending":
            raise UserError(f"export {export_id} was already decided ({export['status']})")
        return export

    def decide_export(self, export_id: int, approve: bool, reason: str = "") -> str:
        export = self.check_export_decision(export_id)
        status = "approved" if approve else "denied"
        with self.transaction() as con:
            con.execute(
                "UPDATE exports SET status = ?, decided_by = ?, decided_at = ?, decision_reason = ? WHERE id = ? AND status = 'pending'",
                [status, self.user, now_iso(), reason, export_id],
            )
            self.audit(f"export.{'approve' if approve else 'deny'}", {"export_id": export_id, "job_id": export["job_id"]}, {"reason": reason})
        return status

    # ------------------------------------------------------------------ audit log

    def verify_audit(self) -> VerifyResult:
        self.require("audit.verify")
        with self._mutex:
            result = self._log.verify()
        self.audit("audit.verify", {}, {"ok": result.ok, "entries": result.entries, "first_bad_seq": result.first_bad_seq})
        return result

    def audit_entries(
        self, user: str | None = None, action: str | None = None, since: str | None = None, until: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
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

    # ------------------------------------------------------------------ maintenance

    def status(self) -> dict[str, Any]:
        self.require("vault.status")
        encrypted, cipher = db.is_encrypted(self._con, ALIAS)
        counts = {t: int(self._one(f"SELECT count(*) FROM {t}")[0]) for t in ("users", "tasks", "seed_sets", "seeds", "jobs", "records", "exports", "audit")}
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
        }

    def rotate_key(self) -> str:
        """Re-encrypt everything under a new data key and re-seal it for every user; returns the new generation."""
        self.require("key.rotate")
        with self._mutex:
            if self._depth:
                raise RuntimeError("rotate_key cannot run inside a transaction")
            new_key = keys.new_data_key()
            new_kf = self._kf.rotated(new_key, self._sk)
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
            self._kf, self._dk = new_kf, new_key
            layout.remove_stray_db_files(self.home, new_kf.db_file)
            self.audit("key.rotated", {"generation": new_kf.generation}, {"from_generation": old_generation})
            return new_kf.generation
