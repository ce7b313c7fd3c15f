"""Writing an export: a final gate pass under the export policy, the signed manifest, the staged directory.

Records the export policy would block are left out (counted by reason in the manifest), so a stricter export policy
really applies. Only accepted records are read (reviewer-released ones included; a reason a reviewer already waived
is not held against a released record again, a new one is). Every record written has every entity the export policy
blocks or redacts replaced by ``<ENTITY>``, reviewer-released ones included (and those also for what the generation
gate found in them): a release waives the block, never the redaction.

The export is built in a staging directory beside the target and renamed into place at the end (``export.target``);
the manifest is signed with the installation's key inside the vault (``Vault.sign``). Whether the write is allowed
(approval, pinned policy and records) is decided before, in ``service.export``.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.errors import IntegrityError
from appliance.export import bundle, datacard, formats, manifest as mf, pii_recall, target
from appliance.guard.policy import Policy
from appliance.progress import Report, counter, silent
from appliance.service.session import Session
from appliance.vault.jobs import RECORD_STATUSES
from appliance.vault.keys import now_iso

GATE_BATCH = 256


@dataclass
class ExportResult:
    """What a written export holds and where: its counts, the manifest's digest and the signer's fingerprint."""

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
            raise IntegrityError(f"record {record['id']}: its stored PII findings are damaged; the export is refused")
    return found


def final_gate(session: Session, job: dict[str, Any], policy: Policy, records: list[dict[str, Any]],
               progress: Report | None = None):
    """Re-check every record under the export policy; returns (rows to export, statistics, the gate).

    The text of each row is the stored text with every finding replaced by its entity type, whatever the verdict.
    For an accepted record that is the export gate's own redaction. A released record was stored unredacted (it was
    quarantined) and its verdict here is still a quarantine, the block waived: its text is redacted for every
    finding of the export gate and every finding the generation gate stored with it, so a release never lets out
    what either policy blocks or redacts."""
    from appliance.guard.gate import Gate, redact
    from appliance.service.seeds import task_seeds

    task = session.vault.get_task(job["task_id"])
    (progress or silent)("export gate: loading the PII scanner")
    gate = Gate(policy, *task_seeds(session.vault, task["name"], [job["task_id"]]))
    advance = counter(progress, "export gate: checking records", len(records))
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
        advance(len(batch))
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


def _label_filter(session: Session, job: dict[str, Any]) -> dict[str, Any] | None:
    """The label filter the job's records were last chosen by (``evaluate`` or ``report --label-filter``): its name,
    the records it took out by label and, from an evaluation, each task model's accuracy without and with it."""
    chosen = (job.get("summary") or {}).get("label_filter")
    if not chosen:
        return None
    out = {k: chosen.get(k) for k in ("name", "removed", "report_id")}
    if chosen.get("report_id") is not None:
        body = session.vault.get_report(chosen["report_id"])["body"]
        lf = body.get("label_filter") or (body.get("metrics") or {}).get("label_filter") or {}
        out.update({k: lf[k] for k in ("records", "removed_by_label", "reasons", "rows") if k in lf})
    return out


def _parameters(config: dict[str, Any]) -> dict[str, Any]:
    params = dict(config.get("request") or {})
    for k in ("temperature", "top_p", "threads"):
        if k in config:
            params[k] = config[k]
    return params


def write(
    session: Session,
    job: dict[str, Any],
    records: list[dict[str, Any]],
    policy: Policy,
    approval: dict[str, Any],
    fmt: str,
    to: Path,
    bundle_passphrase: str | None,
    progress: Report | None = None,
) -> ExportResult:
    """Write ``records`` of ``job`` into the new directory ``to`` (checked by the caller, who also decided that the
    write is allowed: ``approval`` goes into the manifest as it is)."""
    vault = session.vault
    if bundle_passphrase is not None:
        from appliance.vault import keys

        keys.check_new_passphrase(bundle_passphrase)
    rows, stats, gate = final_gate(session, job, policy, records, progress)
    task = vault.get_task(job["task_id"])
    cfg = job["config"]
    counts = {s: vault.count_records(job["id"], s) for s in RECORD_STATUSES}
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
        "label_filter": _label_filter(session, job),
        "records": {
            "in_job": sum(counts.values()), **counts, "exported": len(rows),
            "per_label": dict(sorted(Counter(r["label"] for r in rows if r["label"] is not None).items())),
        },
        "approval": approval,
        "data_card": formats.data_card_name(fmt),
        "bundle": None,
    }
    (progress or silent)("writing the export files" + (" and encrypting the bundle" if bundle_passphrase else ""))
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
