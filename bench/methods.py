"""Every generation method on the SST-2-style task with the same budget of records, one model, one run.

    APPLIANCE_THREADS=1 python bench/methods.py [--n 24] [--methods zerogen,fewgen,...] [--samples 3] [--json PATH]

Per method: wall time, generated tokens/s (text tokens; DINO decodes each one in one sequence per label, ProGen
and Aug-PE also spend tokens on their validation set and variations), accepted records, distinct-2 of the texts,
the drop reasons and a few samples. FewGen and Aug-PE read the shipped fictional seeds (tasks/seeds/).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import appliance.engine  # noqa: E402,F401  (loads llama.cpp before numpy)

from appliance.engine.loader import load_model  # noqa: E402
from appliance.generate import METHODS, get_method  # noqa: E402
from appliance.generate.common import read_seed_file  # noqa: E402
from appliance.quality.diversity import distinct_n  # noqa: E402  (the quality report's figure)
from appliance.spec import load_task  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24)
    ap.add_argument("--methods", default=",".join(METHODS.names()))
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--home", type=Path, default=None, help="model cache home (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    task = load_task(ROOT / "tasks" / "sst2_sentiment.toml")
    seeds = read_seed_file(ROOT / "tasks" / "seeds" / "sst2_sentiment.jsonl")
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-methods-"))
    loaded = load_model(home, None, max_parallel=32, ctx_per_seq=512)
    model = loaded.model
    rows = []
    for name in args.methods.split(","):
        opts = {"seeds": seeds} if METHODS.get(name).capabilities.needs_seeds else {}
        method = get_method(name, opts)
        last = {}
        t0 = time.perf_counter()
        recs = []
        for batch in method.run(model, task, args.n, seed=args.seed, progress=lambda p: last.update(p=p)):
            recs += batch
        wall = time.perf_counter() - t0
        p = last.get("p")
        tokens = p.tokens if p else 0
        per_label = {lab: sum(r.label == lab for r in recs) for lab in task.label_ids}
        rows.append({
            "method": name, "wall_s": round(wall, 2), "tokens": tokens, "tokens_per_s": round(tokens / wall, 1),
            "accepted": len(recs), "per_label": per_label, "distinct_2": round(distinct_n([r.text for r in recs], 2), 3),
            "dropped": dict(p.dropped) if p else {},
            "samples": [{"label": r.label, "text": r.text, "attributes": r.attributes} for r in recs[:: max(1, len(recs) // args.samples)][: args.samples]],
            "records": [{"label": r.label, "text": r.text} for r in recs],
        })
        r = rows[-1]
        print(f"\n== {name}: {r['wall_s']:.1f} s · {tokens} tokens · {r['tokens_per_s']:.0f} tokens/s · "
              f"{len(recs)}/{args.n} accepted {per_label} · distinct-2 {r['distinct_2']:.3f}", flush=True)
        print(f"   dropped: {r['dropped']}")
        for s in r["samples"]:
            print(f"   [{s['label']}] {s['text'][:200]}")
    print(f"\n{'method':<11}{'wall s':>8}{'tok/s':>8}{'accepted':>10}{'distinct-2':>12}")
    for r in rows:
        print(f"{r['method']:<11}{r['wall_s']:>8.1f}{r['tokens_per_s']:>8.0f}{r['accepted']:>10}{r['distinct_2']:>12.3f}")
    print(f"model {loaded.entry.name} ({loaded.compute_type}), {model.n_threads} thread(s), n = {args.n} per method")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "threads": model.n_threads, "rows": rows}, indent=1), encoding="utf-8")
    model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
