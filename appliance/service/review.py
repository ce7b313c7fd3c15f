"""Reviewing what the privacy gate quarantined: the records with a readable reason for each code, every PII finding
of each (blocking or not: a record quarantined for a record number may also hold a name), and the reviewer's decision
(release or reject, always with a justification). The vault enforces the reviewer role and audits every decision and
every refusal. A release waives the block only: an export still redacts every finding (``service.export``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.text import Text

from appliance.errors import BadInput
from appliance.service.session import Session

BLOCKING_STYLE, REDACTED_STYLE = "bold reverse red", "bold reverse yellow"


class Span(NamedTuple):
    """Characters of a record's text that a reason or a finding points at, for highlighting."""

    start: int
    end: int
    code: str
    blocking: bool  # a reason that quarantines the record, or a finding of a blocked entity; else redacted on export


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


def describe_finding(f: dict[str, Any]) -> str:
    """One PII finding: entity, span, score, and what the generation policy does with it (block or redact)."""
    return f"{f.get('entity', '?')}[{f.get('start')}:{f.get('end')}] {f.get('score')} {f.get('action', '?')}"


def _has_span(x: dict[str, Any]) -> bool:
    return all(isinstance(x.get(k), int) and not isinstance(x.get(k), bool) for k in ("start", "end"))


def spans(record: dict[str, Any]) -> list[Span]:
    """Every reason and every finding that points at characters of the text (a finding that is also a reason once)."""
    out = {}
    for r in record.get("reasons") or []:
        if _has_span(r):
            code = str(r.get("code", "?"))
            out[(r["start"], r["end"])] = Span(r["start"], r["end"], code, not code.startswith("REDACTED_"))
    for f in record.get("findings") or []:
        if _has_span(f) and (f["start"], f["end"]) not in out:
            out[(f["start"], f["end"])] = Span(f["start"], f["end"], str(f.get("entity", "?")), f.get("action") == "block")
    return sorted(out.values())


def highlighted(record: dict[str, Any]) -> Text:
    """The record's text with blocking spans in red and spans an export redacts in yellow."""
    text = Text(record["text"])
    for s in spans(record):
        text.stylize(BLOCKING_STYLE if s.blocking else REDACTED_STYLE, s.start, s.end)
    return text


def quarantined(session: Session, job_id: int) -> list[dict[str, Any]]:
    """A job's quarantined records, each with ``reason_text`` (readable reasons) and ``finding_text`` (every finding)."""
    records = session.vault.list_records(job_id, status="quarantined")
    for r in records:
        r["reason_text"] = ", ".join(describe_reason(x) for x in r["reasons"]) or "–"
        r["finding_text"] = ", ".join(describe_finding(x) for x in r.get("findings") or []) or "–"
    return records


def decide(session: Session, record_id: int, release: bool, note: str) -> str:
    """Release (True) or reject (False) a quarantined record; the justification is required and stored."""
    if not note.strip():
        raise BadInput("a justification is required")
    return session.vault.review_record(record_id, release, note.strip())
