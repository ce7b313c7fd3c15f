"""DP adapters: what training with differential privacy costs and what it buys, against non-DP in the same run.

    APPLIANCE_THREADS=2 python bench/dp.py [--records 120] [--epochs 3] [--epsilons 1,4,8] [--json PATH]
    APPLIANCE_THREADS=2 python bench/dp.py --quick        # 48 records, 1 epoch: a few minutes on 2 cores

The seed-like records are FICTIONAL clinical notes made here from templates (invented names, ages, symptoms,
diagnoses; never a real dataset — ../shared/data is not trained on). Two canaries (a fictional patient's secret
record number) are planted in the training set. Rows: the base model (no adapter), LoRA without DP, and LoRA with
DP at each ε (Opacus, Poisson sampling, clip 1.0, RDP accountant, δ = 1/(10·N)). Columns: seconds per step and
its ratio to non-DP, ε reached, held-out NLL on unseen notes of the same kind, and canary exposure
(log2(candidates+1) − log2(rank of the true secret among random secrets of the same format), averaged over the
canaries; 0 = no better than chance, log2(R+1) = the model singles the secret out). Downstream accuracy of a dataset
generated with each adapter is not measured here (see bench/utility.py for the base model's).
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
    import torch
    import torch.nn.functional as F

    from appliance.adapt.dp_lora import encode

    out: list[float] = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(texts), 32):
            ids, labels = encode(tok, texts[start : start + 32], 64)
            logits = model(input_ids=ids, attention_mask=(labels != -100).long()).logits[:, :-1]
            target = labels[:, 1:]
            nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100, reduction="none")
            out += nll.view(target.shape).sum(dim=1).tolist()
    return out


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
    ap.add_argument("--quick", action="store_true", help="48 records, 1 epoch, 100 candidates")
    ap.add_argument("--home", type=Path, default=None, help="installation home holding the model (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.records, args.held_out, args.epochs, args.candidates = 48, 16, 1, 100

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

    non_dp = next(r for r in rows if r["config"] == "LoRA, no DP")
    base = rows[0]
    print(f"\nDP adapters on {entry.name}: {len(train)} fictional training records (2 canaries), {len(held)} held out, "
          f"{args.epochs} epoch(s), batch {args.batch_size}, lr {args.learning_rate}, δ = {delta:.2g}, "
          f"{torch.get_num_threads()} threads, exposure over {args.candidates} candidates (max {math.log2(args.candidates + 1):.1f})")
    print(f"{'config':<16} {'s/step':>8} {'×non-DP':>8} {'steps':>6} {'ε':>7} {'σ':>6} {'held-out NLL':>13} {'vs base':>8} {'exposure':>9}")
    for r in rows:
        sps = r.get("seconds_per_step")
        ratio = sps / non_dp["seconds_per_step"] if sps else None
        print(f"{r['config']:<16} {sps or float('nan'):>8.2f} {ratio or float('nan'):>8.2f} {r.get('steps', 0):>6} "
              f"{r.get('epsilon') if r.get('epsilon') is not None else float('nan'):>7.2f} "
              f"{r.get('noise_multiplier', float('nan')):>6.2f} {r['heldout_nll']:>13.3f} "
              f"{r['heldout_nll'] - base['heldout_nll']:>+8.3f} {r['canary_exposure']:>9.2f}")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json), "home": str(home)},
                                         "delta": delta, "rows": rows}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
