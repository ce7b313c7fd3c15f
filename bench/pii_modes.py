"""PII recall of the scanner in both of its modes, as `appliance/export/pii_recall.py` records them for manifests.

Full mode is the gate's scanner (Presidio + spaCy NER + our recognizers); degraded mode is what runs without the NER
model (Presidio's no-op NLP engine, pattern recognizers only). Same token-level scoring as bench/pii.py, threshold
0.5, on the test half of the held-out set (bench/data/heldout_pii.jsonl, odd templates: written blind to the
recognizers and never read while changing them), or with ``--data synth`` on presidio-research's set (the
recognizers' development set). Prints the figures as the Python literal to paste into pii_recall.RECALL when the
recognizers, the spaCy model or the threshold change.

    python bench/pii_modes.py [--data heldout-test|synth] [--limit N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pii as bench_pii  # noqa: E402 (bench/pii.py: data loading and scoring)


def measure(data: str = "heldout-test", limit: int | None = None) -> dict:
    """Recall per mode: {"full"|"degraded": {"overall", "precision", "per_entity": {entity: recall}}}."""
    from appliance.guard.pii import LANG, PiiScanner, build_analyzer
    from appliance.guard.recognizers import known_entities

    if data == "synth":
        rows = bench_pii.load(limit)
    else:
        rows = bench_pii.heldout_half(bench_pii.load(None, bench_pii.HELDOUT), "test")[:limit]
    texts = [r["text"] for r in rows]
    full = PiiScanner(known_entities(), default_threshold=0.5)
    preds = {"full": [[(f.entity, f.start, f.end, f.score) for f in fs] for fs in full.scan(texts)]}
    an = build_analyzer(degraded=True)
    ask = sorted(e for e in known_entities() if e in set(an.get_supported_entities(LANG)))
    preds["degraded"] = [[(r.entity_type, r.start, r.end, r.score) for r in an.analyze(t, LANG, entities=ask, score_threshold=0.5)]
                         for t in texts]
    out = {"sentences": len(rows)}
    for mode, pred in preds.items():
        s = bench_pii.score(rows, pred)
        out[mode] = {"overall": round(s["overall"]["recall"], 3), "precision": round(s["overall"]["precision"], 3),
                     "per_entity": {e: round(v["recall"], 3) for e, v in s["per_entity"].items()}}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["heldout-test", "synth"], default="heldout-test")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", default=None, metavar="PATH")
    args = ap.parse_args()
    out = measure(args.data, args.limit)
    n = out.pop("sentences")
    print(f"{args.data}: {n} sentences, token-level recall (overall and per entity)")
    print(f"{'entity':<20}{'full':>8}{'degraded':>10}")
    print(f"{'OVERALL':<20}{out['full']['overall']:>8.3f}{out['degraded']['overall']:>10.3f}")
    for e in out["full"]["per_entity"]:
        print(f"{e:<20}{out['full']['per_entity'][e]:>8.3f}{out['degraded']['per_entity'].get(e, 0.0):>10.3f}")
    print("\nRECALL =", json.dumps(out, sort_keys=True))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
