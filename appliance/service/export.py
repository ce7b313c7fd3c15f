"""Exports: request → a reviewer's approval (a different user) → write, every step audited.

An author asks to export a finished job under an export policy (by default the policy the job was generated under;
it may be stricter). When that policy, or the job's own policy, requires approval, the request waits for a reviewer;
the vault enforces the four-eyes rule. The records approved are pinned by a digest taken at request time: if the
job's records change afterwards (a reviewer releases one more), the approval no longer covers them and the write is
refused. Writing itself (the final gate pass, the signed manifest, the staged directory) is ``export_write``;
checking an export without the vault is ``export_verify``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from appliance.errors import AccessDenied, BadInput, UserError
from appliance.export import formats, target
from appliance.guard.policy import Policy, load_policy
from appliance.progress import Report
from appliance.service.export_verify import installation_public_key, verify
from appliance.service.export_write import ExportResult, write
from appliance.service.session import Session
from appliance.vault.audit import canonical
from appliance.vault.core import sha256_text

# ------------------------------------------------------------------ policies and approval


def _generation_policy(job: dict[str, Any]) -> Policy | None:
    """The policy the job was gated under, if its file is still the one the job recorded."""
    rec = job["config"].get("policy") or {}
    try:
        pol = load_policy(rec.get("source") or rec.get("name") or "default")
    except UserError:
        return None
    return pol if pol.sha256 == rec.get("sha256") else None


def _export_policy(job: dict[str, Any], name: str | None) -> Policy:
    if name:
        return load_policy(name)
    return _generation_policy(job) or load_policy("default")


def approval_required(job: dict[str, Any], policy: Policy) -> bool:
    """Either policy asking for approval is enough: a lax export policy cannot skip a strict job's review.
    A job whose generation policy file changed or vanished is treated as requiring approval."""
    gen = _generation_policy(job)
    return policy.export_requires_approval or gen is None or gen.export_requires_approval


def reviewer_must_predate_job(job: dict[str, Any], policy: Policy) -> bool:
    """Under either policy's rule, only a reviewer created before the job started may approve its export."""
    gen = _generation_policy(job)
    return policy.export_reviewer_predates_job or gen is None or gen.export_reviewer_predates_job


def _check_approver_predates_job(session: Session, job: dict[str, Any], policy: Policy, approver: str,
                                 export_id: int) -> None:
    if not reviewer_must_predate_job(job, policy):
        return
    user = session.vault.user_record(approver)
    if user is None or not user["created_at"] < job["created_at"]:
        session.vault.audit_refusal("export.decide", {"export_id": export_id, "job_id": job["id"]},
                                    "approver created after the job started")
        raise AccessDenied(f"under policy {policy.name}, export {export_id} needs a reviewer who was a user before job "
                        f"{job['id']} started; {approver} was added {user['created_at'][:19] if user else 'never'}")


def records_digest(records: list[dict[str, Any]]) -> str:
    """What an approval covers: the ids, texts and labels of the accepted records at request time."""
    return sha256_text(canonical([[r["id"], sha256_text(r["text"]), r.get("label")] for r in records]))


def _finished_job(session: Session, job_id: int) -> dict[str, Any]:
    job = session.vault.get_job(job_id)
    if job["status"] != "succeeded":
        raise BadInput(f"job {job_id} is {job['status']}; only a finished (succeeded) job can be exported")
    return job


def request_export(session: Session, job_id: int, policy: str | None = None) -> dict[str, Any]:
    """An author asks to export a job; returns the export's id and what the request pinned."""
    session.require("export.request")
    job = _finished_job(session, job_id)
    pol = _export_policy(job, policy)
    records = session.vault.list_records(job_id, status="accepted")
    if not records:
        raise BadInput(f"job {job_id} has no accepted records to export")
    pinned = {
        "policy": {**pol.describe(), "requires_approval": approval_required(job, pol)},
        "records": len(records),
        "records_digest": records_digest(records),
    }
    export_id = session.vault.request_export(job_id, pinned)
    return {"export_id": export_id, "job_id": job_id, **pinned}


def decide_export(session: Session, export_id: int, approve: bool, reason: str) -> str:
    """A reviewer (never the requester) approves or denies; the vault checks and audits both."""
    if not reason or not reason.strip():
        raise BadInput("a reason is required for the decision")
    if approve:
        exp = session.vault.check_export_decision(export_id)
        job = session.vault.get_job(exp["job_id"])
        pinned = exp["manifest"].get("policy") or {}
        _check_approver_predates_job(session, job, _export_policy(job, pinned.get("source") or pinned.get("name")),
                                     session.user, export_id)
    return session.vault.decide_export(export_id, approve, reason.strip())


def get_export(session: Session, export_id: int) -> dict[str, Any]:
    """One export request with its status, decision and pinned manifest."""
    return session.vault.get_export(export_id)


def list_exports(session: Session) -> list[dict[str, Any]]:
    out = []
    for e in session.vault.list_exports():
        pinned = session.vault.get_export(e["id"])["manifest"]
        out.append({**e, "policy": (pinned.get("policy") or {}).get("name"), "records": pinned.get("records")})
    return out


# ------------------------------------------------------------------ writing


def _refuse(session: Session, job_id: int, export_id: int | None, message: str) -> AccessDenied:
    """A write the approval does not cover (none yet, denied, or the policy or records changed since): audited."""
    session.vault.audit("export.refused", {"export_id": export_id, "job_id": job_id}, {"reason": message})
    return AccessDenied(message)


def write_export(
    session: Session, export_id: int, fmt: str, to: str | Path, *, bundle_passphrase: str | None = None,
    progress: Report | None = None,
) -> ExportResult:
    """Write an approved export (or one whose policies need no approval) into the new directory ``to``."""
    session.require("export.request")
    _check_format(fmt)
    to = target.check_target(Path(to), session.vault.home)
    vault = session.vault
    exp = vault.get_export(export_id)
    job = _finished_job(session, exp["job_id"])
    pinned = exp["manifest"]
    if not isinstance(pinned.get("policy"), dict) or "records_digest" not in pinned:
        raise BadInput(f"export {export_id} was requested without a pinned policy and record set; "
                        f"request it again with `appliance export request {exp['job_id']}`")
    required = bool(pinned["policy"].get("requires_approval", True))
    if exp["status"] == "denied":
        raise _refuse(session, job["id"], export_id,
                      f"export {export_id} was denied by {exp['decided_by']}: {exp['decision_reason'] or 'no reason given'}")
    if exp["status"] != "approved" and required:
        raise _refuse(session, job["id"], export_id,
                      f"export {export_id} is awaiting a reviewer's approval (`appliance export approve {export_id}`)")
    pol = load_policy(pinned["policy"].get("source") or pinned["policy"]["name"])
    if pol.sha256 != pinned["policy"]["sha256"]:
        raise _refuse(session, job["id"], export_id,
                      f"export policy {pol.name} changed since export {export_id} was requested; request a new export")
    records = vault.list_records(job["id"], status="accepted")
    if records_digest(records) != pinned.get("records_digest"):
        raise _refuse(session, job["id"], export_id,
                      f"the accepted records of job {job['id']} changed since export {export_id} was requested; request a new export")
    if exp["status"] == "approved":
        _check_approver_predates_job(session, job, pol, exp["decided_by"], export_id)
    approval = {
        "required": required,
        "export_id": export_id,
        "requested_by": exp["requested_by"],
        "requested_by_created_by": (vault.user_record(exp["requested_by"]) or {}).get("created_by"),
        "requested_at": exp["requested_at"],
        "approved_by": exp["decided_by"] if exp["status"] == "approved" else None,
        "approved_by_created_by": (vault.user_record(exp["decided_by"]) or {}).get("created_by")
        if exp["status"] == "approved" else None,
        "approved_at": exp["decided_at"] if exp["status"] == "approved" else None,
        "note": exp["decision_reason"],
    }
    return write(session, job, records, pol, approval, fmt, to, bundle_passphrase, progress)


def export_job(
    session: Session, job_id: int, fmt: str, to: str | Path, *, policy: str | None = None, bundle_passphrase: str | None = None,
    progress: Report | None = None,
) -> ExportResult:
    """The one-shot path (`appliance export JOB`): write now if the policies need no approval or an approved, unwritten
    request under the same export policy exists; otherwise refuse, saying what to do."""
    session.require("export.request")
    _check_format(fmt)
    to = target.check_target(Path(to), session.vault.home)
    job = _finished_job(session, job_id)
    pol = _export_policy(job, policy)
    if approval_required(job, pol):
        mine = [e for e in session.vault.list_exports() if e["job_id"] == job_id]
        for e in mine:  # newest first
            pinned = session.vault.get_export(e["id"])["manifest"]
            if e["status"] == "approved" and (pinned.get("policy") or {}).get("sha256") == pol.sha256:
                return write_export(session, e["id"], fmt, to, bundle_passphrase=bundle_passphrase, progress=progress)
        pending = [e["id"] for e in mine if e["status"] == "pending"]
        hint = (f"export {pending[0]} is awaiting a reviewer's approval" if pending else
                f"request an export of job {job_id}, then a reviewer approves it with a reason")
        raise _refuse(session, job_id, None,
                      f"job {job_id} needs a reviewer's approval before export under policy {pol.name}: {hint}")
    records = session.vault.list_records(job_id, status="accepted")
    approval = {"required": False, "export_id": None, "requested_by": session.user, "requested_at": None,
                "approved_by": None, "approved_at": None, "note": f"policy {pol.name} does not require approval"}
    return write(session, job, records, pol, approval, fmt, to, bundle_passphrase, progress)


def _check_format(fmt: str) -> None:
    formats.FORMATS.get(fmt)  # an unknown name is one line listing the known formats


__all__ = [
    "ExportResult", "approval_required", "decide_export", "export_job", "get_export", "installation_public_key",
    "list_exports", "records_digest", "request_export", "reviewer_must_predate_job", "verify", "write_export",
]
