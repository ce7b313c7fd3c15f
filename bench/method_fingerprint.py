"""A sha256 per generation method of what it generates in deterministic mode, to prove a refactor moves code, not
results.

    python bench/method_fingerprint.py [--n 6] [--methods zerogen,...] [--home DIR]

Each method runs on the SST-2-style task with the embedded model on one thread, one sequence at a time (what
``--deterministic`` does), seed 0; FewGen and Aug-PE read the shipped fictional seeds. Printed per method: the hash
of its batches (each record's text, label, context, attributes and metadata, batch by batch) and the hash of its
final progress counts (tokens, accepted, drop reasons). Run it before and after a change: every line must match.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import appliance.engine  # noqa: E402,F401  (loads llama.cpp before numpy)

from appliance.engine.loader import load_model  # noqa: E402
from appliance.generate import METHODS, get_method  # noqa: E402
from appliance.generate.common import read_seed_file  # noqa: E402
from appliance.spec import load_task  # noqa: E402

# Small settings so every method finishes in a minute or so on one thread; the shipped defaults otherwise.
OPTIONS = {"progen": {"rounds": 2, "val_per_label": 2, "pool_per_label": 4}, "augpe": {"rounds": 2}}
# Runs with decoding options set, as a job passes the request's temperature and top_p: (row name, method, options).
VARIANTS = [("zerogen:t0.7", "zerogen", {"temperature": 0.7, "top_p": 0.95}),
            ("fewgen:t0.7", "fewgen", {"temperature": 0.7, "top_p": 0.95})]


def sha(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--methods", default=",".join(METHODS.names() + [v[0] for v in VARIANTS]))
    ap.add_argument("--home", type=Path, default=None, help="model cache home (default: a temporary one)")
    args = ap.parse_args()
    task = load_task(ROOT / "tasks" / "sst2_sentiment.toml")
    seeds = read_seed_file(ROOT / "tasks" / "seeds" / "sst2_sentiment.jsonl")
    home = args.home or Path(tempfile.mkdtemp(prefix="method-fingerprint-"))
    single = load_model(home, None, n_threads=1, max_parallel=1).model
    # A method that needs slots (DINO: one sequence per label for every text) gets that many (still one thread).
    multi = load_model(home, None, n_threads=1, max_parallel=len(task.label_ids)).model
    runs = [(m, m, OPTIONS.get(m, {})) for m in METHODS.names()] + VARIANTS
    for row, name, options in [r for r in runs if r[0] in args.methods.split(",")]:
        opts = dict(options)
        caps = METHODS.get(name).capabilities
        if caps.needs_seeds:
            opts["seeds"] = seeds
        model = multi if caps.needs_slots else single
        last: dict = {}
        batches = [
            [{"text": r.text, "label": r.label, "context": r.context, "attributes": r.attributes, "method": r.method,
              "meta": r.meta} for r in batch]
            for batch in get_method(name, opts).run(model, task, args.n, seed=0, progress=lambda p: last.update(p=p))
        ]
        p = last.get("p")
        prog = {"tokens": p.tokens, "accepted": p.accepted, "dropped": p.dropped} if p else None
        print(f"{row:<13} records {sha(batches)[:16]}  progress {sha(prog)[:16]}  "
              f"({sum(map(len, batches))} records in {len(batches)} batches)", flush=True)
    single.close()
    multi.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
