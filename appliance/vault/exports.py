"""Reports (aggregates and per-record scores, never record text) and export requests with their decisions.

Exports are signed with the installation's export-signing key, sealed to authors only (they write exports);
its public keys, current and retired, are in the key file for anyone to pin.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.errors import BadInput, UserError
from appliance.vault import roles, schema
from appliance.vault.audit import canonical
from appliance.vault.core import VaultCore, check_label_name, sha256_text
from appliance.vault.keys import now_iso

_EXPORT_FIELDS = ("id", "job_id", "status", "manifest", "requested_by", "requested_at", "decided_by", "decided_at",
                  "decision_reason")


class ExportsMixin(VaultCore):
    # ------------------------------------------------------------------ signing

    @property
    def signing_public_key(self) -> bytes:
        """The installation's current export-signing public key (raw 32 bytes)."""
        key = self._kf.export_public_key()
        if key is None:
            raise BadInput("no export-signing key yet: it is created when the first author signs in")
        return key

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` (an export manifest) with the export-signing key; authors holding it only."""
        _gen, secret = self._room_key(roles.EXPORT)
        return Ed25519PrivateKey.from_private_bytes(secret).sign(data)

    # ------------------------------------------------------------------ reports

    def add_report(self, job_id: int | None, kind: str, body: dict[str, Any]) -> int:
        self.require("report.write")
        check_label_name("report kind", kind, 64)
        with self.transaction() as con:
            report_id = schema.next_id(con, "reports")
            self._insert(con, "reports", {"id": report_id, "job_id": job_id, "kind": kind, "body": canonical(body),
                                          "created_at": now_iso(), "created_by": self.user})
            self.audit("report.add", {"report_id": report_id, "job_id": job_id}, {"kind": kind})
        return report_id

    def get_report(self, report_id: int) -> dict[str, Any]:
        self.require("report.read")
        d = self._by_id("reports", ("id", "job_id", "kind", "body", "created_at", "created_by"), report_id, "report")
        d["body"] = json.loads(d["body"])
        return d

    def list_reports(self, job_id: int | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Reports (newest last), optionally of one job and/or one kind, without their bodies."""
        self.require("report.read")
        where, args = "true", []
        if job_id is not None:
            where += " AND job_id = ?"
            args.append(job_id)
        if kind is not None:
            where += " AND kind = ?"
            args.append(kind)
        return self._rows("reports", ("id", "job_id", "kind", "created_at", "created_by"), where, args)

    # ------------------------------------------------------------------ exports

    def request_export(self, job_id: int, manifest: dict[str, Any]) -> int:
        """An author asks for an export; a different user with the reviewer role must approve it."""
        self.require("export.request")
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM jobs WHERE id = ?", [job_id]).fetchone() is None:
                raise BadInput(f"no job with id {job_id}")
            export_id = schema.next_id(con, "exports")
            self._insert(con, "exports", {"id": export_id, "job_id": job_id, "status": "pending",
                                          "manifest": canonical(manifest or {}), "requested_by": self.user,
                                          "requested_at": now_iso(), "decided_by": None, "decided_at": None,
                                          "decision_reason": None})
            self.audit("export.request", {"export_id": export_id, "job_id": job_id},
                       {"manifest_sha256": sha256_text(canonical(manifest or {}))})
        return export_id

    def get_export(self, export_id: int) -> dict[str, Any]:
        self.require("export.read")
        d = self._by_id("exports", _EXPORT_FIELDS, export_id, "export")
        d["manifest"] = json.loads(d["manifest"])
        return d

    def list_exports(self) -> list[dict[str, Any]]:
        """Export requests, newest first, without manifests."""
        self.require("export.read")
        return self._rows("exports", tuple(f for f in _EXPORT_FIELDS if f != "manifest"), order="id DESC")

    def user_record(self, name: str) -> dict[str, Any] | None:
        """Who created a user and when (for export manifests and the reviewer-predates-job rule)."""
        rows = self._rows("users", ("name", "role", "created_at", "created_by", "disabled"), "name = ?", [name], order="name")
        return rows[0] if rows else None

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
            raise BadInput(f"export {export_id} was already decided ({export['status']})")
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
