"""Tamper-evident audit log: a hash chain of signed entries, plus a signed checkpoint outside the database.

Each entry's hash covers its sequence number, time, user, role, action, object ids, parameters and the
previous entry's hash; the installation's Ed25519 key signs that hash. Editing an entry breaks its hash,
deleting or reordering breaks the sequence or the chain, inserting needs a signature nobody without the
key can make. Cutting entries off the end leaves a valid chain, so after every append we also write a
signed checkpoint (count and latest hash) to a file beside the database: a shorter log than the
checkpoint, or a different hash at the checkpoint's position, is reported.

What it cannot detect: someone holding the data key (it unwraps the signing key) rewriting everything,
or both the database and the checkpoint file being rolled back to an older consistent copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.vault import layout
from appliance.vault.keys import now_iso

GENESIS_HASH = "0" * 64
CHECKPOINT_FORMAT = "appliance-audit-checkpoint/1"
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

    def __str__(self) -> str:
        if self.ok:
            return f"audit log OK: {self.entries} entries, hash chain, signatures and checkpoint verified"
        where = f"entry {self.first_bad_seq}" if self.first_bad_seq is not None else "log"
        return f"audit log FAILED at {where}: {self.problem}"


class AuditLog:
    """Appends and verifies entries in the ``audit`` table of an open vault connection."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, signing_key: Ed25519PrivateKey, home: Path, installation_id: str
    ) -> None:
        self.con = con
        self._key = signing_key
        self.public_key: Ed25519PublicKey = signing_key.public_key()
        self.checkpoint_path = layout.checkpoint_file(home)
        self.installation_id = installation_id
        # Only a brand-new vault may start a checkpoint; later, a missing file is evidence, not a gap to fill.
        self.allow_new_checkpoint = False

    # -- writing
    def append(
        self,
        user: str,
        role: str,
        action: str,
        object_ids: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> int:
        """Add one entry inside the caller's transaction; returns its sequence number."""
        last = self.con.execute("SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (1, GENESIS_HASH) if last is None else (int(last[0]) + 1, last[1])
        ts = now_iso()
        oids = canonical(object_ids or {})
        prm = canonical(params or {})
        h = entry_hash(seq, ts, user, role, action, oids, prm, prev)
        sig = self._key.sign(bytes.fromhex(h)).hex()
        self.con.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [seq, ts, user, role, action, oids, prm, prev, h, sig]
        )
        return seq

    def write_checkpoint(self) -> bool:
        """Record (count, latest hash), signed, outside the database. Call after each commit that appended.

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
        old, problem = self._read_checkpoint()
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
            "written_at": now_iso(),
        }
        body["signature"] = self._key.sign(canonical(body).encode("utf-8")).hex()
        layout.atomic_write(self.checkpoint_path, (json.dumps(body, indent=2) + "\n").encode("utf-8"))
        return True

    # -- verifying
    def _read_checkpoint(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            body = json.loads(self.checkpoint_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, _MISSING
        except (OSError, ValueError) as e:
            return None, f"checkpoint file is unreadable: {e}"
        sig = body.pop("signature", None)
        try:
            self.public_key.verify(bytes.fromhex(sig or ""), canonical(body).encode("utf-8"))
        except (InvalidSignature, ValueError):
            return None, "checkpoint signature is invalid"
        if body.get("format") != CHECKPOINT_FORMAT or body.get("installation_id") != self.installation_id:
            return None, "checkpoint belongs to another installation"
        return body, None

    def verify(self) -> VerifyResult:
        """Walk the chain in sequence order; report the first entry that does not verify."""
        rows = self.con.execute(f"SELECT {', '.join(COLUMNS)} FROM audit ORDER BY seq, rowid").fetchall()
        prev = GENESIS_HASH
        expected = 1
        hashes: dict[int, str] = {}
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
            try:
                self.public_key.verify(bytes.fromhex(sig), bytes.fromhex(h))
            except (InvalidSignature, ValueError):
                return VerifyResult(False, len(rows), seq, "signature is invalid: not written by this installation")
            hashes[seq] = h
            prev = h
            expected += 1
        count = len(rows)
        cp, problem = self._read_checkpoint()
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
        return VerifyResult(True, count)

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
