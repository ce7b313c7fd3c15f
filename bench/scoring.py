"""Verbalizer scoring (the judge and PROMPTING): batched branches against the per-(text, label word) loop, same run.

    python bench/scoring.py [--data mtsamples|trec|sst2] [--n 120] [--baseline-n 8] [--threads N] [--json PATH]

Rows, on the same real texts (../shared/data, evaluation files only) and the embedded model (q8_0 compute copy):
  per-pair   ``LocalModel.loglik`` once per (text, label word): the prompt evaluated again for every word
  batched    ``quality.scoring.score_continuations`` (the path `appliance evaluate` and `report` take): each prompt
             once, its words read from the last token's logits or scored as branches, several texts per decode
The per-pair loop is slow, so it runs on the first --baseline-n texts; texts/s of both rows is what the ratio
compares. The two paths' scores on those texts are compared too (max difference; same predicted label).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import appliance.engine  # noqa: E402,F401  (loads llama.cpp before numpy; see appliance/engine/__init__.py)
import numpy as np  # noqa: E402

from appliance.engine.loader import load_model  # noqa: E402
from appliance.quality import prompting  # noqa: E402
from appliance.quality.scoring import score_continuations  # noqa: E402
from appliance.spec import load_task  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DATASETS = {  # name: (task, file, text column)
    "mtsamples": ("medical_specialty", "mtsamples/test.csv", "text"),
    "trec": ("trec_question", "trec/test.tsv", "text"),
    "sst2": ("sst2_sentiment", "sst2/dev.tsv", "sentence"),
}


def read_texts(name: str, n: int) -> list[str]:
    _, rel, column = DATASETS[name]
    path = DATA / rel
    csv.field_size_limit(1 << 24)
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if path.suffix == ".tsv" else csv.DictReader(f)
        return [r[column] for _, r in zip(range(n), rows)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=sorted(DATASETS), default="mtsamples")
    ap.add_argument("--n", type=int, default=120, help="texts for the batched row")
    ap.add_argument("--baseline-n", type=int, default=8, help="texts for the (slow) per-pair row")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    task = load_task(ROOT / "tasks" / f"{DATASETS[args.data][0]}.toml")
    texts = read_texts(args.data, max(args.n, args.baseline_n))
    home = Path(os.environ.get("APPLIANCE_HOME") or tempfile.mkdtemp(prefix="bench-scoring-"))
    lm = load_model(home, None, n_threads=args.threads, max_parallel=32, ctx_per_seq=512)  # as `evaluate` loads it
    m = lm.model
    conts, _ = prompting._verbalizer_index(task)
    window = prompting.MAX_TEXT_TOKENS + 96
    limit = min(window, m.ctx_per_seq - max(len(m.tokenize(c)) for c in conts) - 1)
    # the prompts as the judge sees them (cut to its window), so both rows score the same tokens
    prompts = [m.detokenize(m.tokenize(prompting.judge_prompt(m, task, t), add_special=True)[-limit:]) for t in texts]
    n_tokens = sum(len(m.tokenize(p, add_special=True)) for p in prompts[: args.n])

    score_continuations(m, prompts[:2], conts, max_prompt_tokens=window)  # warm-up
    t = time.perf_counter()
    new = score_continuations(m, prompts[: args.n], conts, max_prompt_tokens=window)
    batched = args.n / (time.perf_counter() - t)

    base = prompts[: args.baseline_n]
    t = time.perf_counter()
    old = np.array([[m.loglik(p, c) for c in conts] for p in base])
    per_pair = len(base) / (time.perf_counter() - t)
    diff = float(np.abs(new[: len(base)] - old).max())
    same = int((new[: len(base)].argmax(axis=1) == old.argmax(axis=1)).sum())

    print(f"{task.name} on {args.data}: {len(conts)} label words, prompts cut to {limit} tokens "
          f"(mean {n_tokens / args.n:.0f}), model {lm.entry.name} ({lm.compute_type}), {m.n_threads} threads")
    print(f"{'row':12s} {'texts':>6s} {'texts/s':>9s} {'pairs/s':>9s} {'vs per-pair':>12s}")
    for name, n, tps in (("per-pair", len(base), per_pair), ("batched", args.n, batched)):
        print(f"{name:12s} {n:6d} {tps:9.2f} {tps * len(conts):9.1f} {tps / per_pair:11.2f}x")
    print(f"ratio (batched / per-pair texts per second): {batched / per_pair:.2f}x; prompt tokens/s batched: "
          f"{batched * n_tokens / args.n:.0f}")
    print(f"agreement on the first {len(base)} texts: max |difference| {diff:.3g} nats, same best word {same}/{len(base)}")
    m.close()
    if args.json:
        args.json.write_text(json.dumps({
            "texts_per_s": batched,
            "baseline_texts_per_s": per_pair,
            "ratio": batched / per_pair,
            "prompt_tokens_per_s": batched * n_tokens / args.n,
            "data": args.data,
            "texts": args.n,
            "baseline_texts": len(base),
            "label_words": len(conts),
            "threads": m.n_threads,
            "max_abs_difference": diff,
            "same_best_word": same,
        }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
