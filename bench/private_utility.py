"""The private-seed path, measured: what a clinic's few private labelled records buy through each method that reads
them, against the records themselves. The number a privacy officer weighs against the seeds.

    APPLIANCE_THREADS=2 python bench/private_utility.py [--seeds 200] [--n 200] [--epsilons-pe 1,4]
                                                        [--epsilons-lora 4,8] [--task-models tfidf_lr]
                                                        [--generator NAME] [--json PATH]
    APPLIANCE_THREADS=2 python bench/private_utility.py --quick     # 60 seeds, n 60, 1 LoRA epoch: a smoke run

Stand-in private seeds: ``--seeds`` rows drawn (seeded) from ../shared/data/sst2/train.tsv, inside this benchmark
only (never in tasks/, never shipped as seeds), plus two planted canaries: invented review sentences that carry a
six-digit secret. Every row is scored on the whole SST-2 dev set by the same task model(s):
  (a) seeds          the task model trained on the seeds themselves (no generation; the bar)
  (b) zerogen        ZeroGen without seeds, n records
  (c) fewgen         FewGen with the seeds redacted by the default policy's anonymizer shown in its prompts, n records
  (d) augpe ε=E      Aug-PE (Private Evolution) at ε = E (σ found for 3 rounds at δ = 1/(N ln N)), n records
  (e) lora ε=E       a DP LoRA adapter (Opacus DP-SGD) trained on the seed texts at ε = E, then ZeroGen through it
Columns: ε spent, canary leaks (generated records that contain a canary's secret), canary exposure (adapter rows: how
far above chance the adapter ranks the true secret among random ones, log2 scale; 0 = chance) and accuracy/macro-F1.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import appliance.engine  # noqa: E402,F401  (loads llama.cpp before numpy)

from appliance.engine.loader import load_model  # noqa: E402
from appliance.generate.dp import default_delta, gaussian_epsilon  # noqa: E402
from appliance.guard.policy import load_policy  # noqa: E402
from appliance.quality.evaluate import evaluate_on_real  # noqa: E402
from appliance.quality.realdata import read_real  # noqa: E402
from appliance.quality.taskmodels import needs_embeddings  # noqa: E402
from appliance.service.methods import build_method  # noqa: E402
from appliance.spec import load_task  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "sst2"
CANARY = "the best part was the usher who told me his door code is {} and then the film began"


def stand_in_seeds(n: int, rng: random.Random) -> tuple[list[dict], list[str]]:
    """``n`` rows of SST-2 train as private seeds, two of them replaced by canaries; and the canaries' secrets."""
    task = load_task(ROOT / "tasks" / "sst2_sentiment.toml")
    train = read_real(DATA / "train.tsv", "sentence", "label", task_name=task.name, label_ids=task.label_ids)
    picks = rng.sample(range(len(train.texts)), n)
    seeds = [{"id": i + 1, "text": train.texts[j], "label": train.labels[j]} for i, j in enumerate(picks)]
    secrets = ["".join(rng.choice("0123456789") for _ in range(6)) for _ in range(2)]
    for k, secret in enumerate(secrets):
        seeds[k]["text"] = CANARY.format(secret)
    return seeds, secrets


def sigma_for(epsilon: float, rounds: int, delta: float) -> float:
    """The smallest Gaussian noise σ (bisection) whose ``rounds`` histograms spend at most ``epsilon``."""
    lo, hi = 0.05, 200.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if gaussian_epsilon(mid, rounds, delta) <= epsilon else (mid, hi)
    return hi


def generate(home: Path, model: str | None, task, name: str, n: int, options: dict, policy=None,
             lora: Path | None = None):
    """Records of one method run on the generator ``model`` (through ``lora`` when given), and what its check
    reported."""
    method, report = build_method(None, name, task, options, None, policy)
    loaded = load_model(home, model, max_parallel=32, ctx_per_seq=512, lora_path=lora)
    t0 = time.perf_counter()
    with loaded.model as m:
        recs = [r for batch in method.run(m, task, n, seed=0) for r in batch]
    return [r for r in recs if r.label in task.label_ids], report, time.perf_counter() - t0


def train_adapter(home: Path, model_name: str | None, seeds: list[dict], secrets: list[str], epsilon: float, epochs: int,
                  out: Path) -> dict:
    """A DP LoRA adapter on the seed texts, written as a GGUF adapter llama.cpp loads; its ε and canary exposure."""
    from dp import sequence_nll  # bench/dp.py: the DP adapters' benchmark measures exposure the same way

    from appliance.adapt import dp_lora
    from appliance.adapt.gguf_lora import write_gguf_lora
    from appliance.adapt.torch_base import load_torch_base
    from appliance.engine.registry import Registry

    entry, path = Registry(home).verified_path(model_name)
    texts = [s["text"] for s in seeds]
    model, tok = load_torch_base(path, entry.architecture)
    cfg = dp_lora.TrainConfig(epsilon=epsilon, delta=dp_lora.default_delta(len(texts)), epochs=epochs, batch_size=16,
                              learning_rate=1e-3, max_tokens=64)
    peft_model = dp_lora.attach_lora(model, cfg)
    res = dp_lora.train(peft_model, tok, texts, cfg)
    c = model.config
    write_gguf_lora(out, entry.architecture, res.weights, res.alpha, c.num_hidden_layers, c.num_attention_heads,
                    c.num_key_value_heads)
    rng = random.Random(1)
    values = []
    for secret in secrets:  # exposure: log2(candidates) - log2(rank of the true secret among random ones)
        others = sorted({"".join(rng.choice("0123456789") for _ in range(6)) for _ in range(200)} - {secret})[:100]
        nll = sequence_nll(peft_model, tok, [CANARY.format(s) for s in [secret, *others]])
        rank = 1 + sum(1 for v in nll[1:] if v < nll[0])
        values.append(math.log2(len(others) + 1) - math.log2(rank))
    return {"epsilon": res.epsilon, "canary_exposure": sum(values) / len(values)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=200, help="stand-in private seed rows (two become canaries)")
    ap.add_argument("--n", type=int, default=200, help="synthetic records requested for every generated row")
    ap.add_argument("--epsilons-pe", default="1,4", help="Aug-PE's ε values")
    ap.add_argument("--epsilons-lora", default="4,8", help="the DP LoRA adapters' ε values")
    ap.add_argument("--epochs", type=int, default=3, help="DP LoRA training epochs")
    ap.add_argument("--task-models", default="tfidf_lr", help="comma list of task models (quality/taskmodels)")
    ap.add_argument("--quick", action="store_true", help="60 seeds, n 60, 1 epoch, one ε each: a smoke run")
    ap.add_argument("--generator", default=None, help="registered model name (default: the installation's default)")
    ap.add_argument("--home", type=Path, default=None, help="installation home holding the model (default: temporary)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.n, args.epochs, args.epsilons_pe, args.epsilons_lora = 60, 60, 1, "4", "8"

    rng = random.Random(0)
    task = load_task(ROOT / "tasks" / "sst2_sentiment.toml")
    seeds, secrets = stand_in_seeds(args.seeds, rng)
    dev = read_real(DATA / "dev.tsv", "sentence", "label", task_name=task.name, label_ids=task.label_ids)
    task_models = [m for m in args.task_models.split(",") if m]
    embedder = None
    if needs_embeddings(task_models):
        from appliance.quality.embed import get_embedder

        embedder = get_embedder()
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-private-"))
    delta = default_delta(len(seeds))
    rows: list[dict] = []

    def score(method: str, texts: list[str], labels: list[str], **extra) -> None:
        leaks = sum(any(s in t for s in secrets) for t in texts)
        if len(set(labels)) < 2:
            print(f"  {method}: fewer than two labels in {len(texts)} records; no task model", file=sys.stderr)
            return
        ev = evaluate_on_real(task, texts, labels, dev.texts, dev.labels, embedder=embedder, task_models=task_models,
                              sizes=(1.0,), seed=0)
        for r in ev["rows"]:
            rows.append({"dataset": "sst2-dev", "generator": generator, "method": method, "filter": "none",
                         "task_model": r["task_model"], "n_train": r["n_train"], "accuracy": r["accuracy"],
                         "macro_f1": r["macro_f1"], "canary_leaks": leaks, **extra})
        print(f"  done: {method} ({len(texts)} records)", file=sys.stderr, flush=True)

    from appliance.engine.registry import Registry

    generator = Registry(home).get(args.generator).name
    score("seeds", [s["text"] for s in seeds], [s["label"] for s in seeds], epsilon=None)
    recs, _, wall = generate(home, args.generator, task, "zerogen", args.n, {})
    score("zerogen", [r.text for r in recs], [r.label for r in recs], epsilon=0.0, wall_s=round(wall, 1))
    recs, _, wall = generate(home, args.generator, task, "fewgen", args.n, {"seeds": seeds},
                             policy=load_policy("default"))
    score("fewgen (redacted seeds)", [r.text for r in recs], [r.label for r in recs], epsilon=None,
          wall_s=round(wall, 1))
    for eps in (float(e) for e in args.epsilons_pe.split(",") if e):
        sigma = sigma_for(eps, 3, delta)
        opts = {"seeds": seeds, "rounds": 3, "noise_multiplier": sigma, "epsilon_budget": eps + 1e-6}
        recs, report, wall = generate(home, args.generator, task, "augpe", args.n, opts)
        score(f"augpe ε={eps:g}", [r.text for r in recs], [r.label for r in recs], epsilon=report["epsilon"],
              wall_s=round(wall, 1))
    with tempfile.TemporaryDirectory(prefix="bench-private-lora-") as tmp:
        for eps in (float(e) for e in args.epsilons_lora.split(",") if e):
            adapter = Path(tmp) / f"adapter-{eps:g}.gguf"
            t0 = time.perf_counter()
            trained = train_adapter(home, args.generator, seeds, secrets, eps, args.epochs, adapter)
            train_s = time.perf_counter() - t0
            recs, _, wall = generate(home, args.generator, task, "zerogen", args.n, {}, lora=adapter)
            score(f"lora ε={eps:g} + zerogen", [r.text for r in recs], [r.label for r in recs],
                  epsilon=trained["epsilon"], canary_exposure=trained["canary_exposure"], wall_s=round(wall + train_s, 1))

    best_seed = max((r["accuracy"] for r in rows if r["method"] == "seeds"), default=float("nan"))
    zero = max((r["accuracy"] for r in rows if r["method"] == "zerogen"), default=float("nan"))
    dp_rows = [r for r in rows if r["method"].startswith(("augpe", "lora"))]
    best_dp = max((r["accuracy"] for r in dp_rows), default=float("nan"))
    print(f"\nPrivate-seed path on SST-2 dev ({len(dev.texts)} rows) · generator {generator} · {len(seeds)} stand-in "
          f"private seeds from sst2/train.tsv (2 canaries) · {args.n} synthetic records per generated row · δ = {delta:.2g}")
    print(f"{'row':<26} {'task model':<12} {'n_train':>7} {'ε':>6} {'leaks':>5} {'exposure':>8} {'acc':>6} {'F1':>6}")
    for r in rows:
        eps = "-" if r.get("epsilon") is None else f"{r['epsilon']:.2f}"
        exp = f"{r['canary_exposure']:.2f}" if "canary_exposure" in r else "-"
        print(f"{r['method']:<26} {r['task_model']:<12} {r['n_train']:>7} {eps:>6} {r['canary_leaks']:>5} {exp:>8} "
              f"{100 * r['accuracy']:>6.1f} {100 * r['macro_f1']:>6.1f}")
    print(f"best DP row / seeds (a): {best_dp / best_seed:.2f} (target ≥ 0.85); best DP row − zerogen (b): "
          f"{100 * (best_dp - zero):+.1f} points (target ≥ 0)")
    if args.json:
        args.json.write_text(json.dumps({"settings": {k: str(v) for k, v in vars(args).items()}, "delta": delta,
                                         "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
