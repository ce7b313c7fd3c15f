"""Tamper-evident audit log: a hash chain of entries, each signed by the user who acted, plus a checkpoint.

Each entry's hash covers its sequence number, time, user, role, action, object ids, parameters and the previous
entry's hash; the acting user's own Ed25519 key signs that hash. That key is wrapped by the user's passphrase
alone, and its public half enters the log in the entry that created the user (signed by whoever created them;
the first admin registers itself in ``vault.init``). So an insider can re-sign only their own entries: deleting,
reordering or rewriting anything changes the hashes that other users' signatures cover, and ``verify`` names the
first entry that no longer verifies. The public keys in the key file must be the ones the log registered.

Cutting entries off the end leaves a valid chain, so after every append a signed checkpoint (count and latest
hash) is written beside the database, and a shorter log is reported. An insider who truncates the tail and
re-signs the checkpoint, or a rollback of the whole home, is caught by an anchor: ``anchor()`` gives a short
digest of the head for an officer to keep off the machine, and ``verify(anchor=...)`` proves the log extends it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import duckdb
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.vault import layout, roles
from appliance.vault.keys import now_iso

GENESIS_HASH = "0" * 64
CHECKPOINT_FORMAT = "appliance-audit-checkpoint/2"
_MISSING = "checkpoint file is missing: entries may have been cut off the end"
COLUMNS = ("seq", "ts", "user_name", "role", "action", "object_ids", "params", "prev_hash", "entry_hash", "signature")


def canonical(obj: Any) -> str:
    """Stable JSON text: sorted keys, no spaces, UTF-8 kept (hashes must not depend on dict order)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(
    seq: int, ts: str, user: str, role: str, action: str, object_ids: str, params: str, prev_hash: str
) -> str:
    material = canonical([seq, ts, user, role, action, object_ids, params, prev_hash])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    anchor: str | None = None

    def __str__(self) -> str:
        if self.ok:
            extra = f"; extends anchor {self.anchor}" if self.anchor else " (no anchor given: a rollback of the whole home " \
                "would go unseen; keep one with `audit anchor`)"
            return f"audit log OK: {self.entries} entries, hash chain, every user's signatures and checkpoint verified{extra}"
        where = f"entry {self.first_bad_seq}" if self.first_bad_seq is not None else "log"
        return f"audit log FAILED at {where}: {self.problem}"


# Entries that register a user's public keys (``params["keys"]`` for ``object_ids["user"]``).
KEY_ACTIONS = ("vault.init", "user.add", "user.passwd")
ANCHOR_RE = re.compile(r"^([0-9]{1,12}):([0-9a-f]{16,64})$")


def _public(b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))


def _verifies(keys: Iterable[str], signature_hex: str, message: bytes) -> bool:
    for k in keys:
        try:
            _public(k).verify(bytes.fromhex(signature_hex or ""), message)
            return True
        except (InvalidSignature, ValueError, TypeError):
            continue
    return False


def _registration(action: str, oids: str, prm: str) -> tuple[str, str] | None:
    """(user, signing key) that a key-registering entry registers, or None."""
    if action not in KEY_ACTIONS:
        return None
    try:
        name, key = json.loads(oids)["user"], json.loads(prm)["keys"]["sign"]
    except (ValueError, KeyError, TypeError):
        return None
    return (name, key) if isinstance(name, str) and isinstance(key, str) else None


def role_checked_entries(con: duckdb.DuckDBPyConnection, permission_of: Mapping[str, str]
                         ) -> list[tuple[int, str, str, dict[str, Any], dict[str, Any], bool]]:
    """(seq, user, action, object ids, params, permitted) of the entries of ``permission_of``'s actions, in log order:
    ``permitted`` says whether the signer's role, as the log registered it, holds the action's permission
    (``roles.PERMISSIONS``).

    Every user signs their own entries, so an admin or auditor can append a validly signed ``job.finish`` (or
    ``task.add``) of their own that ``verify`` accepts: only the role tells it from one the app wrote. A role is the
    one ``vault.init`` (admin) or an admin's ``user.add`` gave the user, at that point of the log (the entry's own
    ``role`` column is the signer's word). Entries whose object ids or params are not JSON objects are left out: they
    explain nothing."""
    role_of: dict[str, str] = {}
    wanted = list(permission_of)
    rows = con.execute(f"SELECT seq, user_name, action, object_ids, params FROM audit WHERE action IN "
                       f"({', '.join('?' * (len(wanted) + 2))}) ORDER BY seq", ["vault.init", "user.add", *wanted])
    out = []
    for seq, user, action, oids, prm in rows.fetchall():
        try:
            ids, params = json.loads(oids), json.loads(prm)
        except (TypeError, ValueError):
            continue
        if not isinstance(ids, dict) or not isinstance(params, dict):
            continue
        if action == "vault.init" and not role_of:
            role_of[str(ids.get("user"))] = roles.ADMIN
        elif action == "user.add" and role_of.get(user) == roles.ADMIN and params.get("role") in roles.ROLES:
            role_of[str(ids.get("user"))] = params["role"]
        if action in permission_of:
            permitted = roles.allowed(role_of.get(user, ""), permission_of[action])
            out.append((int(seq), user, action, ids, params, permitted))
    return out


def permitted_entries(con: duckdb.DuckDBPyConnection, permission_of: Mapping[str, str]
                      ) -> list[tuple[int, str, str, dict[str, Any], dict[str, Any]]]:
    """(seq, user, action, object ids, params) of the entries ``role_checked_entries`` finds permitted: the only ones
    that may explain a row (readers that hold a job, a record or a task to the log count no others)."""
    return [entry[:5] for entry in role_checked_entries(con, permission_of) if entry[5]]


class AuditLog:
    """Appends and verifies entries in the ``audit`` table of an open vault connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, home: Path, installation_id: str) -> None:
        self.con = con
        self.checkpoint_path = layout.checkpoint_file(home)
        self.installation_id = installation_id
        # Only a brand-new vault may start a checkpoint; later, a missing file is evidence, not a gap to fill.
        self.allow_new_checkpoint = False

    # -- writing
    def append(self, signer: Ed25519PrivateKey, user: str, role: str, action: str,
               object_ids: dict[str, Any] | None = None, params: dict[str, Any] | None = None) -> int:
        """Add one entry signed by the acting user, inside the caller's transaction; returns its sequence number."""
        last = self.con.execute("SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (1, GENESIS_HASH) if last is None else (int(last[0]) + 1, last[1])
        ts = now_iso()
        oids = canonical(object_ids or {})
        prm = canonical(params or {})
        h = entry_hash(seq, ts, user, role, action, oids, prm, prev)
        sig = signer.sign(bytes.fromhex(h)).hex()
        self.con.execute(
            "INSERT INTO audit (seq, ts, user_name, role, action, object_ids, params, prev_hash, entry_hash, signature) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [seq, ts, user, role, action, oids, prm, prev, h, sig])
        return seq

    def registered_keys(self) -> dict[str, list[str]]:
        """Every signing public key the log ever registered, per user (oldest first), read without verifying."""
        out: dict[str, list[str]] = {}
        rows = self.con.execute(
            "SELECT object_ids, params FROM audit WHERE action IN (?, ?, ?) ORDER BY seq", list(KEY_ACTIONS)).fetchall()
        for oids, prm in rows:
            reg = _registration(KEY_ACTIONS[0], oids, prm)
            if reg is not None:
                out.setdefault(reg[0], []).append(reg[1])
        return out

    def seal_keys_in_force(self) -> dict[str, tuple[str, bool]]:
        """User -> (the sealing public key the log last registered for them, whether it is confirmed).

        Confirmed: registered by the user themselves (``vault.init``, their own ``user.passwd``) or followed by a
        holder's ``key.grant`` to them, or by their own ``key.room.create``. Room keys are sealed only to keys the log registered, and a rotation re-seals
        only to confirmed ones, so a key planted in the key file (or registered by an admin alone) receives nothing."""
        out: dict[str, tuple[str, bool]] = {}
        rows = self.con.execute(
            "SELECT user_name, action, object_ids, params FROM audit WHERE action IN (?, ?, ?, 'key.grant', 'key.room.create') "
            "ORDER BY seq", list(KEY_ACTIONS)).fetchall()
        for actor, action, oids, prm in rows:
            if action == "key.room.create":
                if actor in out:
                    out[actor] = (out[actor][0], True)
                continue
            try:
                target, params = json.loads(oids)["user"], json.loads(prm)
            except (ValueError, KeyError, TypeError):
                continue
            if action == "key.grant":
                if target in out:
                    out[target] = (out[target][0], True)
            elif isinstance(params, dict) and isinstance(params.get("keys"), dict) and isinstance(params["keys"].get("seal"), str):
                out[target] = (params["keys"]["seal"], actor == target)
        return out

    def head(self) -> tuple[int, str]:
        row = self.con.execute("SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS_HASH) if row is None else (int(row[0]), row[1])

    def anchor(self) -> str:
        """A short digest of the log's head (``SEQ:HASH-PREFIX``) for an officer to keep outside the machine."""
        seq, h = self.head()
        return f"{seq}:{h[:24]}"

    def write_checkpoint(self, signer: Ed25519PrivateKey, user: str) -> bool:
        """Record (count, latest hash), signed by ``user``, outside the database. Call after each commit that appended.

        The checkpoint only ever moves forward: if the log no longer extends the last checkpoint (entries
        cut off or rewritten), or the checkpoint file vanished, it is left as it is, so the evidence
        survives later appends and ``verify`` keeps reporting it. Returns whether it was written.
        """
        row = self.con.execute("SELECT count(*), max(seq) FROM audit").fetchone()
        count = int(row[0])
        last_seq = int(row[1]) if row[1] is not None else 0
        last_hash = GENESIS_HASH
        if count:
            last_hash = self.con.execute("SELECT entry_hash FROM audit WHERE seq = ? LIMIT 1", [last_seq]).fetchone()[0]
        old, problem = self._read_checkpoint(self.registered_keys())
        if old is None:
            if not (problem == _MISSING and self.allow_new_checkpoint):
                return False
        elif count < int(old["count"]):
            return False
        elif int(old["count"]) > 0:
            at = self.con.execute("SELECT entry_hash FROM audit WHERE seq = ? LIMIT 1", [int(old["last_seq"])]).fetchone()
            if at is None or at[0] != old["last_hash"]:
                return False
        body = {
            "format": CHECKPOINT_FORMAT,
            "installation_id": self.installation_id,
            "count": count,
            "last_seq": last_seq,
            "last_hash": last_hash,
            "signer": user,
            "written_at": now_iso(),
        }
        body["signature"] = signer.sign(canonical(body).encode("utf-8")).hex()
        layout.atomic_write(self.checkpoint_path, (json.dumps(body, indent=2) + "\n").encode("utf-8"))
        return True

    # -- verifying
    def _read_checkpoint(self, keys: dict[str, list[str]]) -> tuple[dict[str, Any] | None, str | None]:
        try:
            body = json.loads(self.checkpoint_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, _MISSING
        except (OSError, ValueError):
            return None, f"checkpoint file {self.checkpoint_path.name} is unreadable or not JSON"
        if not isinstance(body, dict):
            return None, f"checkpoint file {self.checkpoint_path.name} is damaged (not a JSON object)"
        sig = body.pop("signature", None)
        signer = body.get("signer")
        if not isinstance(signer, str) or not _verifies(keys.get(signer, []), sig if isinstance(sig, str) else "",
                                                        canonical(body).encode("utf-8")):
            return None, "checkpoint signature is invalid"
        if body.get("format") != CHECKPOINT_FORMAT or body.get("installation_id") != self.installation_id:
            return None, "checkpoint belongs to another installation"
        if not all(isinstance(body.get(k), int) and not isinstance(body.get(k), bool) and body[k] >= 0
                   for k in ("count", "last_seq")) or not isinstance(body.get("last_hash"), str):
            return None, f"checkpoint file {self.checkpoint_path.name} is damaged (count, last_seq or last_hash)"
        return body, None

    def verify(self, key_file_keys: dict[str, str] | None = None, anchor: str | None = None) -> VerifyResult:
        """Walk the chain in sequence order; report the first entry that does not verify.

        ``key_file_keys`` (user -> signing public key, base64) are checked against the keys the log registered;
        ``anchor`` (from ``anchor()``) must be an entry of this log."""
        rows = self.con.execute(f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY seq, rowid").fetchall()
        prev = GENESIS_HASH
        expected = 1
        hashes: dict[int, str] = {}
        current: dict[str, str] = {}  # user -> signing key in force
        history: dict[str, list[str]] = {}
        for row in rows:
            seq, ts, user, role, action, oids, prm, prev_hash, h, sig = row
            if seq != expected:
                if seq > expected:
                    problem = f"entry {expected} is missing (the next entry is {seq}): deleted"
                else:
                    problem = f"entry number {seq} appears again after entry {expected - 1}: duplicated or reordered"
                return VerifyResult(False, len(rows), expected, problem)
            if entry_hash(seq, ts, user, role, action, oids, prm, prev_hash) != h:
                return VerifyResult(False, len(rows), seq, "content does not match its hash: edited or moved")
            if prev_hash != prev:
                return VerifyResult(
                    False, len(rows), seq, "does not link to the previous entry's hash: inserted, deleted or reordered"
                )
            registered = _registration(action, oids, prm)
            if seq == 1:
                if action != "vault.init" or registered is None or registered[0] != user:
                    return VerifyResult(False, len(rows), seq, "the log does not start with the vault's creation")
                current[user] = registered[1]  # the first admin registers itself
            if user not in current:
                return VerifyResult(False, len(rows), seq,
                                    f"signature is invalid: signed as user {user}, whose key the log never registered")
            if not _verifies([current[user]], sig, bytes.fromhex(h)):
                return VerifyResult(False, len(rows), seq, f"signature is invalid: not written by user {user}")
            if action in KEY_ACTIONS and registered is None:
                return VerifyResult(False, len(rows), seq, "a key registration without a key")
            if registered is not None:
                current[registered[0]] = registered[1]
                history.setdefault(registered[0], []).append(registered[1])
            hashes[seq] = h
            prev = h
            expected += 1
        count = len(rows)
        for name, key in sorted((key_file_keys or {}).items()):
            if current.get(name) != key:
                return VerifyResult(False, count, None,
                                    f"the key file's signing key of user {name} is not the one the audit log registered")
        if anchor is not None:
            m = ANCHOR_RE.match(anchor.strip())
            if m is None:
                return VerifyResult(False, count, None, "the anchor is malformed (expected SEQ:HEX, from `audit anchor`)")
            seq = int(m.group(1))
            if seq > count or not hashes.get(seq, "").startswith(m.group(2)):
                return VerifyResult(False, count, min(seq, count + 1),
                                    f"the log does not extend the anchor at entry {seq}: rolled back or rewritten")
        cp, problem = self._read_checkpoint(history)
        if cp is None:
            return VerifyResult(False, count, None, problem)
        if count < int(cp["count"]) or (int(cp["count"]) > 0 and int(cp["last_seq"]) not in hashes):
            return VerifyResult(
                False,
                count,
                count + 1,
                f"log truncated: the signed checkpoint records {cp['count']} entries, the vault has {count}",
            )
        if int(cp["count"]) > 0 and hashes[int(cp["last_seq"])] != cp["last_hash"]:
            return VerifyResult(
                False, count, int(cp["last_seq"]), "entry differs from the one recorded in the signed checkpoint"
            )
        return VerifyResult(True, count, anchor=anchor.strip() if anchor else None)

    # -- reading
    def entries(
        self,
        user: str | None = None,
        action: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Entries filtered by user, action (exact, or a prefix ending in ``*``) and time (ISO UTC, inclusive)."""
        where, args = [], []
        if user:
            where.append("user_name = ?")
            args.append(user)
        if action:
            if action.endswith("*"):
                where.append("starts_with(action, ?)")
                args.append(action[:-1])
            else:
                where.append("action = ?")
                args.append(action)
        if since:
            where.append("ts >= ?")
            args.append(since)
        if until:
            where.append("ts <= ?")
            args.append(until)
        sql = f"SELECT {', '.join(COLUMNS)} FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        if limit:
            sql += f" LIMIT {int(limit)}"
        out = []
        for row in self.con.execute(sql, args).fetchall():
            d = dict(zip(COLUMNS, row))
            d["user"] = d.pop("user_name")
            d["object_ids"] = json.loads(d["object_ids"])
            d["params"] = json.loads(d["params"])
            out.append(d)
        return out
