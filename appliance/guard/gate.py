"""The gate: one verdict per generated record, with machine-readable reasons, and counts per reason.

It only orchestrates: PII findings come from ``pii.PiiScanner``, copies of seeds from ``memorization``, leaks
from ``canaries``, and what blocks, what is redacted and what the limits are from the ``policy``. A record is
quarantined when anything blocks it; otherwise it is accepted, with the policy's redacted entities replaced by
``<ENTITY>`` (presidio-anonymizer). Reasons never contain seed text: only ids, offsets and lengths.

Besides the reasons, every verdict carries *all* the PII findings of its text (``Verdict.findings``), blocking or
not: a quarantined record is stored with the names it also holds, so a reviewer sees them, and an export can
redact them even when a reviewer released the record (a release waives the block, never the redaction).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from appliance.guard import canaries as canary_mod
from appliance.guard.memorization import MemorizationIndex
from appliance.guard.pii import Finding, PiiScanner
from appliance.guard.policy import Policy

ACCEPTED, QUARANTINED = "accepted", "quarantined"
BLOCK, REDACT = "block", "redact"  # what the policy does with a finding's entity


@dataclass
class Verdict:
    status: str
    text: str  # redacted when the policy redacts something and nothing blocked the record
    reasons: list[dict[str, Any]] = field(default_factory=list)
    # Every PII finding in the checked text, blocking or not: entity, start, end (offsets into the text as checked,
    # before any redaction), score, action (BLOCK or REDACT). Never the matched text.
    findings: list[dict[str, Any]] = field(default_factory=list)


def finding_record(f: Finding, action: str) -> dict[str, Any]:
    """A finding as stored with its record: where and what, never the matched characters."""
    return {"entity": f.entity, "start": f.start, "end": f.end, "score": f.score, "action": action}


def redact(text: str, findings: Sequence[dict[str, Any]]) -> str:
    """``text`` with each finding's span (``finding_record`` dicts) replaced by ``<ENTITY>`` (presidio-anonymizer,
    which also resolves overlapping spans)."""
    if not findings:
        return text
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    results = [RecognizerResult(f["entity"], f["start"], f["end"], f["score"]) for f in findings]
    return AnonymizerEngine().anonymize(text, results, {"DEFAULT": OperatorConfig("replace")}).text


def seed_redactor(policy: Policy, scanner: PiiScanner | None = None) -> Callable[[str], str]:
    """A function that replaces every entity the policy knows (blocked or redacted) with its type, for seed records
    that go into prompts when the policy does not allow raw seeds there."""
    scanner = scanner or PiiScanner(
        policy.entities, policy.thresholds, policy.score_threshold, allow_degraded=policy.allow_degraded
    )

    def redact_seed(text: str) -> str:
        return redact(text, [finding_record(f, REDACT) for f in scanner.scan([text])[0]])

    return redact_seed


class Gate:
    """Build once per job (model, seed index); then ``check`` each batch of generated texts.

    ``seeds`` (id, text) are what outputs must not copy and ``canaries`` what they must not contain: the service
    layer reads them from the vault (``appliance.service.seeds.task_seeds``); the gate never touches the vault."""

    def __init__(
        self,
        policy: Policy,
        seeds: Iterable[tuple[int, str]] = (),
        canaries: Iterable[canary_mod.Canary] = (),
        scanner: PiiScanner | None = None,
    ) -> None:
        self.policy = policy
        self.scanner = scanner or PiiScanner(
            policy.entities, policy.thresholds, policy.score_threshold, allow_degraded=policy.allow_degraded
        )
        self.canaries = list(canaries)
        self.index = MemorizationIndex(
            seeds, ngram=policy.max_shared_tokens, shingle=policy.shingle_tokens, min_shingles=policy.min_shingles,
            jaccard=policy.near_duplicate_jaccard,
        )
        self.counts: Counter[str] = Counter()
        self.checked = self.quarantined = self.redacted = 0

    @property
    def degraded(self) -> bool:
        return self.scanner.degraded

    def check(self, texts: Sequence[str]) -> list[Verdict]:
        """Verdicts for a batch, in order (the PII scan runs batched through the NLP pipeline)."""
        pol = self.policy
        verdicts = []
        for text, findings in zip(texts, self.scanner.scan(texts)):
            reasons: list[dict[str, Any]] = []
            if pol.block_canaries:
                for c, s, e in canary_mod.find(self.canaries, text):
                    reasons.append({"code": "CANARY_LEAK", "canary_id": c.canary_id, "start": s, "end": e})
            exact, near = self.index.check(text)
            if exact is not None:
                reasons.append({
                    "code": "MEMORIZED_SPAN", "seed_id": exact.seed_id, "overlap_tokens": exact.tokens,
                    "start": exact.start, "end": exact.end, "seed_start": exact.seed_start, "seed_end": exact.seed_end,
                })
            if near is not None:
                reasons.append({"code": "NEAR_DUPLICATE", "seed_id": near.seed_id, "jaccard": near.jaccard})
            found = []
            for f in findings:
                if f.entity in pol.block:
                    found.append(finding_record(f, BLOCK))
                    reasons.append({"code": f"PII_{f.entity}", "entity": f.entity, "start": f.start, "end": f.end, "score": f.score})
                elif f.entity in pol.redact:
                    found.append(finding_record(f, REDACT))
            to_redact = [f for f in found if f["action"] == REDACT]
            status = QUARANTINED if reasons else ACCEPTED
            out = text
            if to_redact and status == ACCEPTED:
                out = redact(text, to_redact)
                reasons += [{"code": f"REDACTED_{f['entity']}", **{k: f[k] for k in ("entity", "start", "end", "score")}}
                            for f in to_redact]
                self.redacted += 1
            if self.degraded:
                reasons.append({"code": "DEGRADED_SCAN"})
            self.checked += 1
            self.quarantined += status == QUARANTINED
            self.counts.update({r["code"] for r in reasons})
            verdicts.append(Verdict(status, out, reasons, found))
        return verdicts

    def summary(self) -> dict[str, Any]:
        """Counts per reason code (records carrying it), for the job summary, reports and the audit log."""
        return {
            "policy": self.policy.name,
            "policy_sha256": self.policy.sha256,
            "checked": self.checked,
            "accepted": self.checked - self.quarantined,
            "quarantined": self.quarantined,
            "redacted": self.redacted,
            "reasons": dict(sorted(self.counts.items())),
            "degraded": self.degraded,
            "seeds_indexed": len(self.index),
            "canaries": len(self.canaries),
        }
