"""Reviewing what the privacy gate quarantined: the records with a readable reason for each code, and the
reviewer's decision (release or reject, always with a justification). The vault enforces the reviewer role and
audits every decision and every refusal."""

from __future__ import annotations

from typing import Any

from appliance.errors import UserError
from appliance.service.session import Session


def describe_reason(r: dict[str, Any]) -> str:
    """One reason code with its evidence: a span for PII, overlap for memorization, the canary for a canary hit."""
    code = r.get("code", "?")
    if "overlap_tokens" in r:
        return f"{code}({r['overlap_tokens']} tokens, seed {r['seed_id']})"
    if "jaccard" in r:
        return f"{code}(J={r['jaccard']}, seed {r['seed_id']})"
    if "canary_id" in r:
        return f"{code}(canary {r['canary_id']})"
    if "start" in r:
        return f"{code}[{r['start']}:{r['end']}]"
    return code


def spans(record: dict[str, Any]) -> list[tuple[int, int, str]]:
    """(start, end, code) of every reason that points at characters of the text, for highlighting."""
    out = []
    for r in record.get("reasons") or []:
        if isinstance(r.get("start"), int) and isinstance(r.get("end"), int):
            out.append((r["start"], r["end"], str(r.get("code", "?"))))
    return sorted(out)


def quarantined(session: Session, job_id: int) -> list[dict[str, Any]]:
    """A job's quarantined records, each with ``reason_text`` (readable reasons)."""
    records = session.vault.list_records(job_id, status="quarantined")
    for r in records:
        r["reason_text"] = ", ".join(describe_reason(x) for x in r["reasons"]) or "–"
    return records


def decide(session: Session, record_id: int, release: bool, note: str) -> str:
    """Release (True) or reject (False) a quarantined record; the justification is required and stored."""
    if not note.strip():
        raise UserError("a justification is required")
    return session.vault.review_record(record_id, release, note.strip())
