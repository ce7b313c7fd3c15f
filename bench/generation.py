"""Batched generation against the naive single-sequence loop, and the main job's real path, measured in one run.

    python bench/generation.py [--n 64] [--tokens 64] [--parallel 64] [--threads N] [--n-main 200]
                               [--main-slots 32,64] [--big-job] [--json PATH]

Rows:
  naive     one sequence at a time (a Python loop of single calls) on the shipped file (Q4_1)
  naive     the same loop on the q8_0 compute copy (isolates what batching alone gives)
  batched   all sequences in one llama.cpp batch, on the shipped file and on the q8_0 copy
  main job  the real path of ``appliance generate`` (service layer: ZeroGen on tasks/medical_specialty.toml, n =
            --n-main, the privacy gate and an encrypted vault in a fresh temporary home, the job's default
            parallelism and compute copy): generated tokens/s and prompt (prefill) tokens/s over the job's time
            after the model is loaded, accepted records/s, and its ratio to the batched q8_0 row (target ≥ 0.8).
            --main-slots adds the same job at other slot counts (``GenerationRequest.max_parallel``), same run.
  2,000-record job (--big-job): the same path at n = 2,000, its wall time.
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

TASK = Path(__file__).resolve().parents[1] / "tasks" / "medical_specialty.toml"
PASSPHRASE = "bench passphrase, not a secret"

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


def main_job(n: int, threads: int, slots: int | None = None) -> dict[str, float]:
    """Run one generation job through the service layer in a fresh temporary home and measure it.

    Rates are over the job's time after its model is loaded (loading, including the first compute copy of a new
    home, is reported apart); tokens are counted by the engine itself (``LocalModel.stats``). ``slots``: the job's
    sequence slots (None: the request's default)."""
    from appliance.service import generation as job
    from appliance.service.session import Session
    from appliance.spec import load_task

    loaded_at: dict[str, object] = {}

    def timed_load(*a, **kw):  # noqa: ANN002, ANN003
        t = time.perf_counter()
        lm = load_model(*a, **kw)
        loaded_at.update(model=lm.model, load_s=time.perf_counter() - t, ready=time.perf_counter())
        return lm

    with tempfile.TemporaryDirectory(prefix="bench-job-") as tmp:
        home = Path(tmp)
        with Session.init(home, "admin", PASSPHRASE) as s:
            s.vault.add_user("bench", "author", PASSPHRASE)
        job.load_model, original = timed_load, job.load_model
        try:
            with Session.open(home, "bench", PASSPHRASE) as s:
                t0 = time.perf_counter()
                req = job.GenerationRequest(task=load_task(TASK), n=n, seed=1, threads=threads)
                if slots is not None:
                    req.max_parallel = slots
                res = job.run_generation(s, home, req)
                end = time.perf_counter()
        finally:
            job.load_model = original
    stats = loaded_at["model"].stats  # type: ignore[union-attr]
    gen_s = end - float(loaded_at["ready"])  # type: ignore[arg-type]
    return {"n": n, "slots": req.max_parallel, "accepted": len(res.records), "wall_s": end - t0, "load_s": float(loaded_at["load_s"]),  # type: ignore[arg-type]
            "gen_s": gen_s, "tokens_per_s": stats.sampled / gen_s, "prefill_tokens_per_s": stats.prefilled / gen_s,
            "records_per_s": len(res.records) / gen_s, "decode_share": stats.decode_s / gen_s,
            "prefill_share": stats.prefill_s / gen_s, "decode_s": stats.decode_s, "prefill_s": stats.prefill_s,
            "sample_s": stats.sample_s,
            "sampled": stats.sampled, "prefilled": stats.prefilled, "seqs_per_step": stats.sampled / max(1, stats.steps)}


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
    ap.add_argument("--n-main", type=int, default=200, help="records of the main-job row (0: skip it)")
    ap.add_argument("--main-slots", default="", help="comma-separated slot counts: the main job again at each")
    ap.add_argument("--big-job", action="store_true", help="also time a 2,000-record job (many minutes)")
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

    jobs = {}
    if args.n_main > 0:
        jobs["main"] = main_job(args.n_main, threads)
        for slots in (int(x) for x in args.main_slots.split(",") if x.strip()):
            jobs[f"main, {slots} slots"] = main_job(args.n_main, threads, slots)
    if args.big_job:
        jobs["big"] = main_job(2000, threads)

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
    for key, j in jobs.items():
        print(f"{key} job (zerogen, medical_specialty, n={j['n']}, {j['slots']} slots, gate + vault): {j['accepted']} accepted in "
              f"{j['wall_s']:.1f} s wall ({j['load_s']:.1f} s model load); after load: {j['tokens_per_s']:.1f} generated "
              f"tok/s ({j['tokens_per_s'] / best:.2f}x batched, target 0.8x), {j['prefill_tokens_per_s']:.1f} prefill "
              f"tok/s, {j['records_per_s']:.2f} accepted records/s, {j['decode_share']:.0%} of the time in llama_decode "
              f"({j['prefill_share']:.0%} on prompts), "
              f"{j['seqs_per_step']:.1f} sequences per decoding step on average; of {j['gen_s']:.1f} s after load: "
              f"{j['decode_s'] - j['prefill_s']:.1f} s decoding steps ({j['sampled']} tokens), {j['prefill_s']:.1f} s "
              f"prompts ({j['prefilled']} tokens), {j['sample_s']:.1f} s sampling, "
              f"{j['gen_s'] - j['decode_s'] - j['sample_s']:.1f} s the rest (gate, vault, the method's loop)")
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
            **({"main_job_tokens_per_s": jobs["main"]["tokens_per_s"],
                "main_job_records_per_s": jobs["main"]["records_per_s"],
                "main_job_prefill_tokens_per_s": jobs["main"]["prefill_tokens_per_s"],
                "main_job_ratio": jobs["main"]["tokens_per_s"] / best,
                "main_job_wall_s": jobs["main"]["wall_s"],
                "main_job_slots": jobs["main"]["slots"],
                "main_job_by_slots": {j["slots"]: {"tokens_per_s": j["tokens_per_s"], "records_per_s": j["records_per_s"],
                                                   "ratio": j["tokens_per_s"] / best}
                                      for k, j in jobs.items() if k.startswith("main")}} if "main" in jobs else {}),
            **({"big_job_wall_s": jobs["big"]["wall_s"]} if "big" in jobs else {}),
        }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
