"""DP adapters: what training with differential privacy costs and what it buys, against non-DP in the same run.

    APPLIANCE_THREADS=2 python bench/dp.py [--records 120] [--epochs 3] [--epsilons 1,4,8] [--json PATH]
    APPLIANCE_THREADS=2 python bench/dp.py --quick        # 48 records, 1 epoch: a few minutes on 2 cores

The seed-like records are FICTIONAL clinical notes made here from templates (invented names, ages, symptoms,
diagnoses; never a real dataset — ../shared/data is not trained on). Two canaries (a fictional patient's secret
record number) are planted in the training set. Rows: the base model (no adapter), LoRA without DP, and LoRA with
DP at each ε (Opacus, Poisson sampling, clip 1.0, RDP accountant, δ = 1/(10·N)). Columns: seconds per step and
its ratio to non-DP, ε reached, held-out NLL on unseen notes of the same kind, and canary exposure
(log2(candidates+1) − log2(rank of the true secret among random secrets of the same format), averaged over the
canaries; 0 = no better than chance, log2(R+1) = the model singles the secret out).

Downstream accuracy (``--downstream N``, default 96; 0 skips): each configuration is trained again on the shipped
fictional medical seeds (tasks/seeds/medical_specialty.jsonl, 36 records), written as a GGUF adapter, loaded by
llama.cpp, and ZeroGen generates N records for tasks/medical_specialty.toml with it; a TF-IDF + logistic regression
trained on those records only is scored on a seeded 300-row sample of the real mtsamples test set (evaluation only).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAMES = ["Ilsa Marrow", "Teodor Vance", "Quinn Abernathy", "Mirela Osk", "Dario Fenwick", "Hana Lisk", "Oren Blume",
         "Petra Quell", "Silas Morrow", "Yara Tennant", "Ludo Krane", "Nell Harrow"]  # invented
SYMPTOMS = ["chest pressure on exertion", "productive cough and fever", "right knee pain after a fall",
            "intermittent palpitations", "burning epigastric pain after meals", "new-onset headaches",
            "shortness of breath climbing stairs", "lower back pain radiating to the left leg", "itchy scaly rash on elbows"]
HISTORY = ["HTN", "type 2 diabetes", "asthma", "hyperlipidemia", "GERD", "no significant history", "former smoker"]
DIAGNOSES = ["stable angina", "community-acquired pneumonia", "meniscal tear", "paroxysmal atrial fibrillation",
             "peptic ulcer disease", "tension-type headache", "COPD exacerbation", "lumbar radiculopathy", "psoriasis"]
PLANS = ["stress echo and aspirin", "amoxicillin and follow-up in one week", "MRI and physiotherapy referral",
         "Holter monitor and TSH", "PPI trial and H. pylori test", "headache diary and ibuprofen",
         "spirometry and inhaler review", "NSAIDs and activity as tolerated", "topical steroid and emollients"]


def fictional_note(rng: random.Random) -> str:
    return (f"{rng.choice(NAMES)}, {rng.randint(18, 88)}-year-old, presents with {rng.choice(SYMPTOMS)} for "
            f"{rng.randint(2, 21)} days. Hx {rng.choice(HISTORY)}. Assessment: {rng.choice(DIAGNOSES)}. "
            f"Plan: {rng.choice(PLANS)}.")


CANARY = "Record of Ilsa Marrow: secret chart number {}."


def canary_secret(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(6))


def sequence_nll(model, tok, texts: list[str]) -> list[float]:
    """Total NLL of each text (lower = likelier)."""
    from appliance.adapt.dp_lora import text_nll

    return [nll for nll, _ in text_nll(model, tok, texts, max_tokens=64, batch=32)]


def exposure(model, tok, secrets: list[str], candidates: int, rng: random.Random) -> float:
    """Mean canary exposure: how far above chance the true secret ranks among random ones."""
    values = []
    for secret in secrets:
        others = {canary_secret(rng) for _ in range(candidates * 2)} - {secret}
        pool = [secret] + sorted(others)[:candidates]
        scores = sequence_nll(model, tok, [CANARY.format(s) for s in pool])
        rank = 1 + sum(1 for s in scores[1:] if s < scores[0])
        values.append(math.log2(len(pool)) - math.log2(rank))
    return sum(values) / len(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=120)
    ap.add_argument("--held-out", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--epsilons", default="1,4,8")
    ap.add_argument("--candidates", type=int, default=200)
    ap.add_argument("--downstream", type=int, default=96, help="records generated per configuration for the accuracy column (0: skip)")
    ap.add_argument("--quick", action="store_true", help="48 records, 1 epoch, 100 candidates, 32 downstream records")
    ap.add_argument("--home", type=Path, default=None, help="installation home holding the model (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.records, args.held_out, args.epochs, args.candidates = 48, 16, 1, 100
        args.downstream = min(args.downstream, 32)

    import tempfile

    import torch

    from appliance.adapt import dp_lora
    from appliance.adapt.torch_base import load_torch_base
    from appliance.engine.registry import Registry
    from appliance.engine.threads import choose_threads

    torch.set_num_threads(choose_threads(None))
    rng = random.Random(0)
    secrets = [canary_secret(rng) for _ in range(2)]
    train = [fictional_note(rng) for _ in range(args.records - len(secrets))] + [CANARY.format(s) for s in secrets]
    held = [fictional_note(rng) for _ in range(args.held_out)]
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-dp-"))
    entry, path = Registry(home).verified_path(None)
    delta = dp_lora.default_delta(len(train))

    rows = []
    configs: list[float | None] = [None] + [float(e) for e in args.epsilons.split(",") if e]
    for eps in ["base"] + configs:
        model, tok = load_torch_base(path, entry.architecture)
        row: dict = {"config": "base model" if eps == "base" else ("LoRA, no DP" if eps is None else f"LoRA, DP ε={eps:g}")}
        if eps != "base":
            cfg = dp_lora.TrainConfig(epsilon=eps, delta=delta, epochs=args.epochs, batch_size=args.batch_size,
                                      learning_rate=args.learning_rate, max_tokens=64)
            model = dp_lora.attach_lora(model, cfg)
            t0 = time.perf_counter()
            res = dp_lora.train(model, tok, train, cfg)
            row |= {"seconds_per_step": res.seconds_per_step, "steps": res.steps, "train_s": time.perf_counter() - t0,
                    "epsilon": res.epsilon, "noise_multiplier": res.noise_multiplier}
        row["heldout_nll"] = dp_lora.mean_nll(model, tok, held, 64)
        row["canary_exposure"] = exposure(model, tok, secrets, args.candidates, random.Random(1))
        rows.append(row)
        print(f"  done: {row['config']}", file=sys.stderr, flush=True)

    if args.downstream:
        accuracy = downstream(args, entry, path, home, configs)
        for r, acc in zip(rows, accuracy):
            r.update(acc)

    non_dp = next(r for r in rows if r["config"] == "LoRA, no DP")
    base = rows[0]
    print(f"\nDP adapters on {entry.name}: {len(train)} fictional training records (2 canaries), {len(held)} held out, "
          f"{args.epochs} epoch(s), batch {args.batch_size}, lr {args.learning_rate}, δ = {delta:.2g}, "
          f"{torch.get_num_threads()} threads, exposure over {args.candidates} candidates (max {math.log2(args.candidates + 1):.1f})")
    print(f"{'config':<16} {'s/step':>8} {'×non-DP':>8} {'steps':>6} {'ε':>7} {'σ':>6} {'held-out NLL':>13} {'vs base':>8} "
          f"{'exposure':>9} {'downstream acc':>15}")
    for r in rows:
        sps = r.get("seconds_per_step")
        ratio = sps / non_dp["seconds_per_step"] if sps else None
        print(f"{r['config']:<16} {sps or float('nan'):>8.2f} {ratio or float('nan'):>8.2f} {r.get('steps', 0):>6} "
              f"{r.get('epsilon') if r.get('epsilon') is not None else float('nan'):>7.2f} "
              f"{r.get('noise_multiplier', float('nan')):>6.2f} {r['heldout_nll']:>13.3f} "
              f"{r['heldout_nll'] - base['heldout_nll']:>+8.3f} {r['canary_exposure']:>9.2f} "
              f"{_acc(r):>15}")
    if args.downstream:
        print(f"downstream: ZeroGen, {args.downstream} records requested per configuration on medical_specialty "
              f"(adapters trained on its 36 shipped fictional seeds), TF-IDF + LR scored on 300 real mtsamples rows "
              f"(majority class {rows[0].get('majority', float('nan')):.1%})")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json), "home": str(home)},
                                         "delta": delta, "rows": rows}, indent=2, default=str))
    return 0


def _acc(r: dict) -> str:
    return f"{100 * r['downstream_accuracy']:.1f}% ({r['downstream_records']})" if "downstream_accuracy" in r else "-"


def downstream(args, entry, path: Path, home: Path, configs: list) -> list[dict]:
    """Accuracy on real data of a task model trained on records generated with each configuration's adapter."""
    import tempfile

    from appliance.adapt import dp_lora
    from appliance.adapt.gguf_lora import write_gguf_lora
    from appliance.adapt.torch_base import load_torch_base
    from appliance.engine.loader import load_model
    from appliance.generate import get_method
    from appliance.quality.evaluate import evaluate_on_real
    from appliance.quality.realdata import read_real
    from appliance.spec import load_task

    task = load_task(ROOT / "tasks" / "medical_specialty.toml")
    seeds = [json.loads(line)["text"] for line in (ROOT / "tasks" / "seeds" / "medical_specialty.jsonl").read_text().splitlines()
             if line.strip()]
    real = read_real(ROOT.parent / "shared" / "data" / "mtsamples" / "test.csv", "text", "label", task_name=task.name,
                     label_ids=task.label_ids, limit=300)
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-dp-") as tmp:
        for eps in ["base"] + configs:
            lora = None
            if eps != "base":
                model, tok = load_torch_base(path, entry.architecture)
                cfg = dp_lora.TrainConfig(epsilon=eps, delta=dp_lora.default_delta(len(seeds)), epochs=args.epochs,
                                          batch_size=8, learning_rate=args.learning_rate, max_tokens=96)
                peft_model = dp_lora.attach_lora(model, cfg)
                res = dp_lora.train(peft_model, tok, seeds, cfg)
                lora = Path(tmp) / f"adapter-{eps}.gguf"
                c = model.config
                write_gguf_lora(lora, entry.architecture, res.weights, res.alpha, c.num_hidden_layers,
                                c.num_attention_heads, c.num_key_value_heads)
            loaded = load_model(home, None, max_parallel=32, ctx_per_seq=512, lora_path=lora)
            with loaded.model as m:
                recs = [r for batch in get_method("zerogen").run(m, task, args.downstream, seed=0) for r in batch]
            recs = [r for r in recs if r.label in task.label_ids]
            ev = evaluate_on_real(task, [r.text for r in recs], [r.label for r in recs], real.texts, real.labels,
                                  task_models=("tfidf_lr",), sizes=(1.0,))
            out.append({"downstream_accuracy": ev["rows"][0]["accuracy"], "downstream_records": len(recs),
                        "majority": ev["majority_baseline"]})
            print(f"  downstream done: {eps}", file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
