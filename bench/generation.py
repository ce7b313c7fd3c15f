"""Batched generation against the naive single-sequence loop, measured in the same run.

    python bench/generation.py [--n 64] [--tokens 64] [--parallel 64] [--threads N] [--json PATH]

Rows:
  naive     one sequence at a time (a Python loop of single calls) on the shipped file (Q4_1)
  naive     the same loop on the q8_0 compute copy (isolates what batching alone gives)
  batched   all sequences in one llama.cpp batch, on the shipped file and on the q8_0 copy
The headline ratio is batched on the default compute copy over the naive loop on the shipped file: what a user
gets from the engine against the obvious way of calling llama.cpp. Every sequence produces exactly --tokens tokens
(end-of-generation masked) so the rows do the same work. The compute ceiling is the machine's measured fp32 GEMM
peak (numpy, same thread count) divided by 2 × parameters FLOPs per token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import appliance.engine  # noqa: E402,F401  (loads llama.cpp before numpy; see appliance/engine/__init__.py)
import numpy as np  # noqa: E402

from appliance.engine.interface import SamplingParams  # noqa: E402
from appliance.engine.loader import load_model  # noqa: E402
from appliance.engine.threads import choose_threads  # noqa: E402

TITLES = ["The Last Harbor", "Midnight in the Orchard", "Glass Rivers", "The Quiet Engine", "Paper Moons",
          "Northbound", "A House of Salt", "The Ninth Summer"]


def prompts(model, n: int) -> list[str]:
    out = []
    for i in range(n):
        mood = "loved" if i % 2 else "hated"
        out.append(model.format_prompt(
            f"Write a one-sentence review of the movie {TITLES[i % len(TITLES)]} by a critic who {mood} it.",
            assistant_prefix='"'))
    return out


def measure(model, ps: list[str], tokens: int, batched: bool) -> tuple[float, int]:
    p = SamplingParams(temperature=1.0, top_p=0.9, min_new_tokens=tokens, max_new_tokens=tokens, seed=1)
    t = time.perf_counter()
    if batched:
        outs = model.generate(ps, p)
    else:
        outs = [model.complete(q, SamplingParams(**{**p.__dict__, "seed": i})) for i, q in enumerate(ps)]
    dt = time.perf_counter() - t
    n = sum(o.n_tokens for o in outs)
    return n / dt, n


def gemm_peak(threads: int) -> float:
    """fp32 GEMM FLOP/s that numpy reaches here (best of a few runs)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None
    a = np.random.default_rng(0).standard_normal((1024, 1024), dtype=np.float32)
    best = 0.0
    ctx = threadpool_limits(threads) if threadpool_limits else None
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(4):
            a @ a
        best = max(best, 4 * 2 * 1024**3 / (time.perf_counter() - t))
    if ctx:
        ctx.unregister()
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64, help="sequences per row")
    ap.add_argument("--naive-n", type=int, default=12, help="sequences for the (slow) naive rows")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--parallel", type=int, default=64)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    threads = choose_threads(args.threads)
    home = Path(os.environ.get("APPLIANCE_HOME") or tempfile.mkdtemp(prefix="bench-gen-"))
    rows = []
    figures = {}
    for ctype in ("source", "q8_0"):
        lm = load_model(home, None, compute_type=ctype, n_threads=threads, max_parallel=args.parallel, ctx_per_seq=256)
        m = lm.model
        measure(m, prompts(m, 2), 8, batched=True)  # warm-up
        naive, nn = measure(m, prompts(m, args.naive_n), args.tokens, batched=False)
        batched, nb = measure(m, prompts(m, args.n), args.tokens, batched=True)
        label = lm.entry.quantization if ctype == "source" else ctype
        rows.append((f"naive loop ({label})", args.naive_n, nn, naive))
        rows.append((f"batched x{min(args.n, args.parallel)} ({label})", args.n, nb, batched))
        figures[ctype] = {"naive": naive, "batched": batched, "params": m.n_params}
        m.close()

    params = figures["source"]["params"]
    peak = gemm_peak(threads)
    ceiling = peak / (2 * params)
    naive_ref = figures["source"]["naive"]
    best = figures["q8_0"]["batched"]
    print(f"model smollm2-135m-instruct ({params / 1e6:.0f}M parameters), {threads} threads, "
          f"{args.tokens} tokens per sequence, top-p 0.9, T 1.0")
    print(f"{'row':34s} {'seqs':>5s} {'tokens':>7s} {'tok/s':>8s} {'vs naive':>9s} {'of ceiling':>11s}")
    for name, seqs, toks, tps in rows:
        print(f"{name:34s} {seqs:5d} {toks:7d} {tps:8.1f} {tps / naive_ref:8.2f}x {tps / ceiling:10.1%}")
    print(f"compute ceiling: {peak / 1e9:.0f} GFLOP/s measured fp32 GEMM peak / (2 x {params / 1e6:.0f}M FLOP per token)"
          f" = {ceiling:.0f} tokens/s")
    print(f"ratio (batched q8_0 / naive shipped file): {best / naive_ref:.2f}x   "
          f"(same file, q8_0: {best / figures['q8_0']['naive']:.2f}x)")
    if args.json:
        args.json.write_text(json.dumps({
            "naive_tokens_per_s": naive_ref,
            "batched_tokens_per_s": best,
            "ratio": best / naive_ref,
            "same_file_ratio_q8_0": best / figures["q8_0"]["naive"],
            "batched_source_tokens_per_s": figures["source"]["batched"],
            "naive_q8_0_tokens_per_s": figures["q8_0"]["naive"],
            "threads": threads,
            "parallel": args.parallel,
            "tokens_per_sequence": args.tokens,
            "gemm_peak_flops": peak,
            "ceiling_tokens_per_s": ceiling,
        }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
