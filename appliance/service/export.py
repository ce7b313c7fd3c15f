"""Exports: request → a reviewer's approval (a different user) → write, every step audited.

An author asks to export a finished job under an export policy (by default the policy the job was generated under;
it may be stricter). When that policy, or the job's own policy, requires approval, the request waits for a reviewer;
the vault enforces the four-eyes rule. Writing runs a final gate pass under the export policy: records it would
block are left out (counted by reason in the manifest), so a stricter export policy really applies. Only accepted
records are read (reviewer-released ones included; a reason a reviewer already waived is not held against a released
record again, a new one is). Every record written has every entity the export policy blocks or redacts replaced by
``<ENTITY>``, reviewer-released ones included (and those also for what the generation gate found in them): a release
waives the block, never the redaction. The records approved are pinned by a digest taken at request time: if the
job's records change afterwards (a reviewer releases one more), the approval no longer covers them and the write is
refused.

The export is built in a staging directory beside the target and renamed into place at the end (``export.target``);
the manifest is signed with the installation's key inside the vault (``Vault.sign``).
"""

from __future__ import annotations

import json
import base64
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.errors import UserError
from appliance.export import bundle, datacard, formats, manifest as mf, pii_recall, target
from appliance.guard.policy import Policy, load_policy
from appliance.service.session import Session
from appliance.vault import layout
from appliance.vault.audit import canonical
from appliance.vault.keyfile import KeyFile
from appliance.vault.keys import now_iso
from appliance.vault.core import sha256_text

GATE_BATCH = 256


@dataclass
class ExportResult:
    export_id: int | None
    job_id: int
    path: Path
    format: str
    records: int
    left_out: int
    left_out_by_reason: dict[str, int]
    manifest_sha256: str
    fingerprint: str
    encrypted: bool
    files: list[str] = field(default_factory=list)


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
        raise UserError(f"under policy {policy.name}, export {export_id} needs a reviewer who was a user before job "
                        f"{job['id']} started; {approver} was added {user['created_at'][:19] if user else 'never'}")


def records_digest(records: list[dict[str, Any]]) -> str:
    """What an approval covers: the ids, texts and labels of the accepted records at request time."""
    return sha256_text(canonical([[r["id"], sha256_text(r["text"]), r.get("label")] for r in records]))


def _finished_job(session: Session, job_id: int) -> dict[str, Any]:
    job = session.vault.get_job(job_id)
    if job["status"] != "succeeded":
        raise UserError(f"job {job_id} is {job['status']}; only a finished (succeeded) job can be exported")
    return job


def request_export(session: Session, job_id: int, policy: str | None = None) -> dict[str, Any]:
    """An author asks to export a job; returns the export's id and what the request pinned."""
    session.require("export.request")
    job = _finished_job(session, job_id)
    pol = _export_policy(job, policy)
    records = session.vault.list_records(job_id, status="accepted")
    if not records:
        raise UserError(f"job {job_id} has no accepted records to export")
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
        raise UserError("a reason is required (--reason)")
    if approve:
        exp = session.vault.check_export_decision(export_id)
        job = session.vault.get_job(exp["job_id"])
        pinned = exp["manifest"].get("policy") or {}
        _check_approver_predates_job(session, job, _export_policy(job, pinned.get("source") or pinned.get("name")),
                                     session.user, export_id)
    return session.vault.decide_export(export_id, approve, reason.strip())


def list_exports(session: Session) -> list[dict[str, Any]]:
    out = []
    for e in session.vault.list_exports():
        pinned = session.vault.get_export(e["id"])["manifest"]
        out.append({**e, "policy": (pinned.get("policy") or {}).get("name"), "records": pinned.get("records")})
    return out


# ------------------------------------------------------------------ writing


def _refuse(session: Session, job_id: int, export_id: int | None, message: str) -> UserError:
    session.vault.audit("export.refused", {"export_id": export_id, "job_id": job_id}, {"reason": message})
    return UserError(message)


def write_export(
    session: Session, export_id: int, fmt: str, to: str | Path, *, bundle_passphrase: str | None = None
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
        raise UserError(f"export {export_id} was requested without a pinned policy and record set; "
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
    return _write(session, job, records, pol, approval, fmt, to, bundle_passphrase)


def export_job(
    session: Session, job_id: int, fmt: str, to: str | Path, *, policy: str | None = None, bundle_passphrase: str | None = None
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
                return write_export(session, e["id"], fmt, to, bundle_passphrase=bundle_passphrase)
        pending = [e["id"] for e in mine if e["status"] == "pending"]
        hint = (f"export {pending[0]} is awaiting a reviewer's approval" if pending else
                f"run `appliance export request {job_id}`, then a reviewer runs `appliance export approve ID --reason ...`")
        raise _refuse(session, job_id, None,
                      f"job {job_id} needs a reviewer's approval before export under policy {pol.name}: {hint}")
    records = session.vault.list_records(job_id, status="accepted")
    approval = {"required": False, "export_id": None, "requested_by": session.user, "requested_at": None,
                "approved_by": None, "approved_at": None, "note": f"policy {pol.name} does not require approval"}
    return _write(session, job, records, pol, approval, fmt, to, bundle_passphrase)


def _check_format(fmt: str) -> None:
    formats.FORMATS.get(fmt)  # an unknown name is one line listing the known formats


def _stored_findings(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The generation gate's findings stored with a record, checked before their spans are cut out of its text: a
    damaged or edited entry refuses the export (one line naming the record) instead of redacting the wrong place."""
    from appliance.guard.recognizers import known_entities

    known = known_entities()
    found = record.get("findings") or []
    n = len(record["text"])
    for f in found if isinstance(found, list) else [None]:
        ok = (isinstance(f, dict) and isinstance(f.get("entity"), str) and f["entity"] in known
              and all(isinstance(f.get(k), int) and not isinstance(f.get(k), bool) for k in ("start", "end"))
              and 0 <= f["start"] < f["end"] <= n and isinstance(f.get("score"), (int, float)))
        if not ok:
            raise UserError(f"record {record['id']}: its stored PII findings are damaged; the export is refused")
    return found


def final_gate(session: Session, job: dict[str, Any], policy: Policy, records: list[dict[str, Any]]):
    """Re-check every record under the export policy; returns (rows to export, statistics, the gate).

    The text of each row is the stored text with every finding replaced by its entity type, whatever the verdict.
    For an accepted record that is the export gate's own redaction. A released record was stored unredacted (it was
    quarantined) and its verdict here is still a quarantine, the block waived: its text is redacted for every
    finding of the export gate and every finding the generation gate stored with it, so a release never lets out
    what either policy blocks or redacts."""
    from appliance.guard.gate import Gate, redact
    from appliance.service.seeds import task_seeds

    task = session.vault.get_task(job["task_id"])
    gate = Gate(policy, *task_seeds(session.vault, task["name"], [job["task_id"]]))
    rows: list[dict[str, Any]] = []
    left_out: Counter[str] = Counter()
    n_left = released = redacted = released_redacted = 0
    for i in range(0, len(records), GATE_BATCH):
        batch = records[i:i + GATE_BATCH]
        for r, v in zip(batch, gate.check([r["text"] for r in batch])):
            blocking = [x for x in v.reasons if x["code"] != "DEGRADED_SCAN" and not x["code"].startswith("REDACTED_")]
            was_released = r.get("reviewed_by") is not None
            if was_released:
                waived = {x.get("code") for x in r["reasons"]}
                blocking = [x for x in blocking if x["code"] not in waived]
            if blocking:
                n_left += 1
                left_out.update({x["code"] for x in blocking})
                continue
            if was_released:
                text = redact(r["text"], v.findings + _stored_findings(r))
            else:
                text = v.text  # accepted: the gate replaced every finding it made (none of them blocks)
            released += was_released
            redacted += text != r["text"]
            released_redacted += was_released and text != r["text"]
            rows.append({"record_id": r["id"], "text": text, "label": r.get("label"), "attributes": r.get("attributes") or {}})
    stats = {
        "policy": policy.name,
        "policy_sha256": policy.sha256,
        "checked": len(records),
        "passed": len(rows),
        "left_out": n_left,
        "left_out_by_reason": dict(sorted(left_out.items())),
        "released_by_review": released,
        "released_redacted": released_redacted,  # released records with an entity replaced (a release never waives that)
        "redacted_now": redacted,
        "pii_scanner": pii_recall.scanner_report(gate.degraded, policy.entities),
    }
    return rows, stats, gate


def _numbers(d: Any, prefix: str = "", depth: int = 2) -> dict[str, float | int]:
    """Scalar metrics of a quality report, flattened (``diversity.self_bleu_4``); lists (per-record scores) are skipped."""
    out: dict[str, float | int] = {}
    if not isinstance(d, dict):
        return out
    for k, v in d.items():
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, (int, float)):
            out[prefix + k] = round(v, 4) if isinstance(v, float) else v
        elif isinstance(v, dict) and depth > 1:
            out.update(_numbers(v, f"{prefix}{k}.", depth - 1))
    return out


def _quality(session: Session, job_id: int) -> dict[str, Any] | None:
    reports = session.vault.list_reports(job_id, "quality")
    if not reports:
        return None
    body = session.vault.get_report(reports[-1]["id"])["body"]
    ev = body.get("evaluation") or {}
    rows = [{k: r.get(k) for k in ("task_model", "method", "n_train", "accuracy", "macro_f1")} for r in ev.get("rows") or []]
    return {"report_id": reports[-1]["id"], "summary": _numbers(body.get("metrics")), "evaluation": rows or None}


def _parameters(config: dict[str, Any]) -> dict[str, Any]:
    params = dict(config.get("request") or {})
    for k in ("temperature", "top_p", "threads"):
        if k in config:
            params[k] = config[k]
    return params


def _write(
    session: Session,
    job: dict[str, Any],
    records: list[dict[str, Any]],
    policy: Policy,
    approval: dict[str, Any],
    fmt: str,
    to: Path,
    bundle_passphrase: str | None,
) -> ExportResult:
    vault = session.vault
    if bundle_passphrase is not None:
        from appliance.vault import keys

        keys.check_new_passphrase(bundle_passphrase)
    rows, stats, gate = final_gate(session, job, policy, records)
    task = vault.get_task(job["task_id"])
    cfg = job["config"]
    counts = {s: vault.count_records(job["id"], s) for s in ("accepted", "quarantined", "rejected")}
    public_raw = vault.signing_public_key
    written_at = now_iso()
    m: dict[str, Any] = {
        "format": mf.FORMAT,
        "installation_id": vault.installation_id,
        "export": {
            "id": approval["export_id"], "format": fmt, "encrypted": bundle_passphrase is not None,
            "written_by": session.user, "written_at": written_at, "appliance_version": __version__,
            "signing_key_fingerprint": mf.fingerprint(public_raw),
        },
        "dataset": {
            "job_id": job["id"], "task_id": job["task_id"], "task_name": task["name"], "task_sha256": task["sha256"],
            "method": job["method"], "parameters": _parameters(cfg), "job_status": job["status"],
            "created_by": job["created_by"], "created_at": job["created_at"], "finished_at": job["finished_at"],
        },
        "model": {k: cfg.get(f) for k, f in (("name", "model"), ("sha256", "model_sha256"), ("license", "model_license"),
                                            ("compute_type", "compute_type"), ("compute_sha256", "compute_sha256"))},
        "adapter": cfg.get("adapter"),
        "policy": {
            "generation": cfg.get("policy") or {},
            "export": {**policy.describe(), "requires_approval": approval["required"]},
        },
        "gate": {"generation": (job.get("summary") or {}).get("gate") or {}, "export": stats},
        "memorization": {
            "max_shared_tokens": policy.max_shared_tokens, "near_duplicate_jaccard": policy.near_duplicate_jaccard,
            "shingle_tokens": policy.shingle_tokens, "min_shingles": policy.min_shingles,
            "seeds_indexed": len(gate.index), "canaries": len(gate.canaries), "canaries_block": policy.block_canaries,
        },
        "quality": _quality(session, job["id"]),
        "records": {
            "in_job": sum(counts.values()), **counts, "exported": len(rows),
            "per_label": dict(sorted(Counter(r["label"] for r in rows if r["label"] is not None).items())),
        },
        "approval": approval,
        "data_card": formats.data_card_name(fmt),
        "bundle": None,
    }
    staging = target.make_staging(to)
    try:
        payload = staging / "plain" if bundle_passphrase is not None else staging
        payload.mkdir(exist_ok=True)
        names = formats.write_records(fmt, rows, payload)
        m["files"] = mf.file_entries(payload, names)
        card = datacard.render(m)
        card = formats.card_header(fmt, f"{task['name']} (synthetic, job {job['id']})") + card
        (payload / m["data_card"]).write_text(card, encoding="utf-8")
        names.append(m["data_card"])
        m["files"] = mf.file_entries(payload, names)
        if bundle_passphrase is not None:
            header = bundle.encrypt(bundle.tar_files(payload, names), bundle_passphrase, staging / mf.BUNDLE)
            shutil.rmtree(payload)
            m["bundle"] = {"file": mf.BUNDLE, "sha256": mf.sha256_path(staging / mf.BUNDLE),
                           "bytes": (staging / mf.BUNDLE).stat().st_size, "cipher": header["cipher"],
                           "kdf": {k: v for k, v in header["kdf"].items() if k != "salt"}, "contents": "tar"}
        digest = mf.write_signed(staging, m, public_raw, vault.sign)
        with vault.transaction():
            vault.audit(
                "export.write",
                {"export_id": approval["export_id"], "job_id": job["id"]},
                {"format": fmt, "to": str(to), "manifest_sha256": digest, "records": len(rows),
                 "left_out": stats["left_out"], "encrypted": bundle_passphrase is not None, "policy": policy.name},
            )
            target.publish(staging, to)
    except BaseException:
        target.discard(staging)
        raise
    return ExportResult(approval["export_id"], job["id"], to, fmt, len(rows), stats["left_out"], stats["left_out_by_reason"],
                        digest, mf.fingerprint(public_raw), bundle_passphrase is not None, [f["path"] for f in m["files"]])


# ------------------------------------------------------------------ verification (no vault, no passphrase needed)


def installation_public_key(home: Path, export_dir: str | Path | None = None) -> bytes | None:
    """The installation's export-signing public key, read from the key file without unlocking it (stored there in the
    clear); None when ``home`` holds no vault. When the export in ``export_dir`` claims a key this installation used
    before a rotation, that retired key is the one to pin (older exports keep verifying). The one place that knows
    where the key file keeps them."""
    path = layout.key_file(home)
    if not path.exists():
        return None
    kf = KeyFile.load(path)
    if export_dir is not None:
        try:
            claimed = json.loads((Path(export_dir) / mf.MANIFEST).read_text(encoding="utf-8"))["signing_key"]["public_key"]
            claimed_raw = base64.b64decode(claimed, validate=True)
        except (OSError, ValueError, KeyError, TypeError):
            claimed_raw = None
        if claimed_raw is not None and claimed_raw in kf.export_public_keys().values():
            return claimed_raw
    return kf.export_public_key()


def verify(
    path: str | Path,
    *,
    home: Path | None = None,
    pin_installation: bool = True,
    pubkey_file: str | Path | None = None,
    passphrase: str | None = None,
    decrypt_to: str | Path | None = None,
) -> mf.Verified:
    """Verify an export. The signer is pinned to ``pubkey_file`` if given, else (``pin_installation``) to the
    installation in ``home`` (so an export re-signed with any other key fails); else the result is unpinned
    (``pinned_to`` None; ``key_matches_installation`` still says whether ``home``'s key signed it)."""
    own = installation_public_key(home, path) if home is not None else None
    if pubkey_file:
        expected, name = mf.load_public_key_file(Path(pubkey_file)), "the expected key"
    elif home is not None and pin_installation:
        if own is None:
            raise UserError(f"no vault in {home} to check the signer against (give the signer's key with --pubkey)")
        expected, name = own, f"this installation ({home})"
    else:
        expected, name = None, ""
    return mf.verify_export(path, expected_key=expected, expected_name=name, installation_key=own,
                            passphrase=passphrase, decrypt_to=decrypt_to, home=home)
