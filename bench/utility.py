"""Utility of synthetic data: task models trained only on generated records, scored on real labelled data, next
to PROMPTING of the same GGUF and a gold-trained TF-IDF + LR reference. One model, one run, one table.

    APPLIANCE_THREADS=2 python bench/utility.py [--n 300,1000,3000] [--methods zerogen,...] [--datasets sst2,trec,mtsamples]
                                                [--eval-limit 300] [--task-models ...] [--generator NAME] [--json PATH]

Every method gets the same budgets (``--n``: one or more record counts) from one generator (``--generator``: a
registered model name, as ``appliance models list`` shows; default: the installation's default model), which also
runs PROMPTING. Each method generates the largest budget once; a smaller budget is the first records of each label in
the order they were made (the job as if stopped early), so the curve over n costs one run. Gold at equal n: the same task models trained on n
rows drawn (seeded) from the dataset's real training split, where one is shipped. Datasets
(../shared/data, see its README and each SOURCE.md; TSV files have no quoting):
  sst2       tasks/sst2_sentiment.toml → sst2/dev.tsv and rt_polarity/test.tsv; gold: TF-IDF + LR on sst2/train.tsv
             (on rt_polarity/test the gold row is inflated: 761 of its 1,066 sentences are in SST-2 train)
  trec       tasks/trec_question.toml → trec/test.tsv (coarse labels); no gold (no train split shipped)
  mtsamples  tasks/medical_specialty.toml → mtsamples/test.csv (six specialties); no gold
``--subset random`` takes a smaller n as a seeded random sample of each label's records instead of its first ones.
``--records-dir DIR`` saves each generation and reuses it when the same one is asked again (compare task models on one
generation). ``--eval-limit`` scores a seeded sample of each eval file (PROMPTING scores every verbalizer after every text);
``--evals sst2-dev,...`` keeps only the named eval files; ``--task PATH`` generates from another spec with the same
labels (one dataset), e.g. ``bench/data/sst2_sentiment_critic.toml``, the SST-2 wording before the current one. ``--label-filters none,cleanlab,judge`` trains each task
model on each budget's records as they are ("none") and on what each label filter keeps (the registered filters of
``appliance evaluate --label-filter``; the judge is the generator's own calibrated verbalizer judge); the table says
how many records each filter removed, by label.
Rows written with --json: {dataset, generator, method, filter, task_model, n_train, accuracy, macro_f1}; PROMPTING
rows have method "prompting"; "gold" rows are trained on n real labels ("gold-all": TF-IDF + LR on the whole split). FewGen and Aug-PE read the shipped fictional seeds.
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
from appliance.quality import prompting  # noqa: E402
from appliance.quality.diversity import distinct_n  # noqa: E402
from appliance.quality.evaluate import evaluate_on_real, scores  # noqa: E402
from appliance.errors import BadInput  # noqa: E402
from appliance.quality.labelfilters import label_filter_names  # noqa: E402
from appliance.quality.labelleak import label_leak  # noqa: E402
from appliance.quality.realdata import read_real  # noqa: E402
from appliance.quality.taskmodels import needs_embeddings, task_model_names  # noqa: E402
from appliance.quality.taskmodels.tfidf_lr import TfidfLR  # noqa: E402
from appliance.service.quality import label_filter_outcome  # noqa: E402
from appliance.spec import load_task  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DATASETS = {
    "sst2": {
        "task": "sst2_sentiment",
        "evals": [("sst2-dev", "sst2/dev.tsv", "sentence", "label"), ("rt-test", "rt_polarity/test.tsv", "text", "label")],
        "gold": ("sst2/train.tsv", "sentence", "label"),
    },
    "trec": {"task": "trec_question", "evals": [("trec-test", "trec/test.tsv", "text", "label")], "gold": None},
    "mtsamples": {"task": "medical_specialty", "evals": [("mtsamples-test", "mtsamples/test.csv", "text", "label")], "gold": None},
}


def generate(model, task, method_name: str, n: int, seed: int) -> tuple[list, float]:
    seeds_file = ROOT / "tasks" / "seeds" / f"{task.name}.jsonl"
    needs_seeds = METHODS.get(method_name).capabilities.needs_seeds
    opts = {"seeds": read_seed_file(seeds_file)} if needs_seeds and seeds_file.exists() else {}
    method = get_method(method_name, opts)
    t0 = time.perf_counter()
    recs = [r for batch in method.run(model, task, n, seed=seed) for r in batch]
    return recs, time.perf_counter() - t0


def cached_generate(records_dir: Path | None, model, task, task_path: Path, method_name: str, n: int, seed: int,
                    generator_sha: str) -> tuple[list, float]:
    """``generate``, or its records read back from ``records_dir`` when the same generation (task spec file, method,
    generator file, n, seed, and the source of the generation code) was saved there before: task models and filters can then be compared on one generation
    without paying for it again. The records are public synthetic text from a shipped spec (no seeds)."""
    import hashlib
    from dataclasses import asdict

    from appliance.generate.records import GeneratedRecord

    if records_dir is None:
        return generate(model, task, method_name, n, seed)
    # The code that makes records is in the key too: records saved before a change to a method or the engine are
    # never reused for the changed code.
    code = hashlib.sha256(b"".join(p.read_bytes() for d in ("generate", "engine", "spec")
                                   for p in sorted((ROOT / "appliance" / d).glob("*.py")))).hexdigest()
    key = hashlib.sha256(json.dumps([hashlib.sha256(task_path.read_bytes()).hexdigest(), method_name, generator_sha,
                                     n, seed, code]).encode()).hexdigest()[:16]
    path = records_dir / f"{task.name}-{method_name}-{n}-{seed}-{key}.jsonl"
    if path.exists():
        lines = path.read_text().splitlines()
        head = json.loads(lines[0])
        print(f"[{task.name}] {method_name}: records read from {path}", file=sys.stderr, flush=True)
        return [GeneratedRecord(**json.loads(x)) for x in lines[1:]], float(head["wall_s"])
    recs, wall = generate(model, task, method_name, n, seed)
    records_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join([json.dumps({"wall_s": wall})] + [json.dumps(asdict(r)) for r in recs]) + "\n")
    tmp.replace(path)
    return recs, wall


def random_per_label(recs: list, labels: list[str], n: int, seed: int) -> list:
    """``first_per_label`` of each label's records in a seeded random order: the same count, records from anywhere in
    the run (does a curve over n move with the number of records or with which records come first?)."""
    import random

    shuffled = [r for lab in labels for r in random.Random(seed).sample([r for r in recs if r.label == lab],
                                                                        sum(r.label == lab for r in recs))]
    return first_per_label(shuffled, labels, n)


def first_per_label(recs: list, labels: list[str], n: int) -> list:
    """The first ``n`` records, split evenly over the labels (in generation order), as a job stopped at n would hold."""
    share = {lab: n // len(labels) + (1 if i < n % len(labels) else 0) for i, lab in enumerate(labels)}
    out = []
    for r in recs:
        if share.get(r.label, 0) > 0:
            share[r.label] -= 1
            out.append(r)
    return out


def describe(task, recs: list, oracle=None) -> dict:
    """What the records look like: count per label, exact repeats, distinct-2 and label leak (the quality report's
    figures), so a table row can be read next to the texts behind it. With ``oracle`` (TF-IDF + LR trained on the
    whole real training split), also the share of each label's records that the oracle gives that label: how often
    the generator wrote what it was asked for."""
    texts, labels = [r.text for r in recs], [r.label for r in recs]
    leak = label_leak(task, texts, labels)["fraction"]
    out = {"per_label": {lab: labels.count(lab) for lab in task.label_ids},
           "repeated": round(1 - len(set(texts)) / len(texts), 3) if texts else None,
           "distinct_2": round(distinct_n(texts, 2), 3) if texts else None,
           "label_leak": round(leak, 3) if leak is not None else None}
    if oracle is not None and texts:
        pred = oracle.predict(texts)
        out["oracle_on_label"] = {lab: round(sum(p == lab for p, lb in zip(pred, labels) if lb == lab)
                                             / max(1, labels.count(lab)), 2) for lab in task.label_ids}
    return out


def gold_sample(texts: list[str], labels: list[str], n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` real training rows, a seeded sample."""
    import random

    idx = random.Random(seed).sample(range(len(texts)), min(n, len(texts)))
    return [texts[i] for i in idx], [labels[i] for i in idx]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="300,1000,3000", help="records per method: one budget or a comma list (the curve)")
    ap.add_argument("--methods", default=",".join(METHODS.names()))
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--eval-limit", type=int, default=300, help="seeded sample of each eval file (0: all rows)")
    ap.add_argument("--evals", default="", help="comma list of eval files to score on (default: each dataset's all: "
                    + ",".join(e[0] for cfg in DATASETS.values() for e in cfg["evals"]) + ")")
    ap.add_argument("--task", type=Path, default=None,
                    help="a task spec to generate from instead of the dataset's shipped one (same labels); one dataset")
    ap.add_argument("--label-filters", default="none",
                    help=f"comma list of label filters, each a row of its own (any of {','.join(label_filter_names())})")
    ap.add_argument("--task-models", default=",".join(task_model_names()),
                    help=f"comma list of task models (any of {','.join(task_model_names(every=True))})")
    ap.add_argument("--no-prompting", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=3, help="generated records printed per label (0: none)")
    ap.add_argument("--generator", default=None, help="registered model name (default: the installation's default)")
    ap.add_argument("--home", type=Path, default=None, help="model cache home (default: a temporary one)")
    ap.add_argument("--subset", choices=("first", "random"), default="first",
                    help="a smaller n is each label's first records (default) or a random sample of them (seed --seed + 7)")
    ap.add_argument("--records-dir", type=Path, default=None,
                    help="save each generation's records here and reuse them when the same generation is asked again")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from appliance.quality.embed import get_embedder

    home = args.home or Path(tempfile.mkdtemp(prefix="bench-utility-"))
    loaded = load_model(home, args.generator, max_parallel=32, ctx_per_seq=512)
    model, generator = loaded.model, loaded.entry.name
    task_models = [m for m in args.task_models.split(",") if m]
    filters = [f for f in args.label_filters.split(",") if f]
    unknown = [f for f in filters if f not in label_filter_names()]
    if unknown:
        ap.error(f"unknown label filter {', '.join(unknown)} (known: {', '.join(label_filter_names())})")
    chosen_evals = {e for e in args.evals.split(",") if e}
    if args.task and len(args.datasets.split(",")) != 1:
        ap.error("--task replaces one dataset's task: name that dataset alone in --datasets")
    embedder = get_embedder() if needs_embeddings(task_models) else None
    rows: list[dict] = []
    gen_info: list[dict] = []
    filter_info: list[dict] = []
    limit = args.eval_limit or None
    budgets = sorted({int(x) for x in args.n.split(",") if x.strip()})

    def add_rows(ev: dict, name: str, method: str, gen: str, budget: int, flt: str = "none") -> None:
        for r in ev["rows"]:
            rows.append({"dataset": name, "generator": gen, "method": method, "filter": flt, "budget": budget,
                         "task_model": r["task_model"], "n_train": r["n_train"], "accuracy": r["accuracy"],
                         "macro_f1": r["macro_f1"]})
    for ds in args.datasets.split(","):
        cfg = DATASETS[ds]
        task_path = args.task or ROOT / "tasks" / f"{cfg['task']}.toml"
        task = load_task(task_path)
        evals = [(name, read_real(DATA / path, tc, lc, task_name=task.name, label_ids=task.label_ids, limit=limit))
                 for name, path, tc, lc in cfg["evals"] if not chosen_evals or name in chosen_evals]
        gold_clf = gold = None
        if cfg["gold"]:
            gpath, gtc, glc = cfg["gold"]
            gold = read_real(DATA / gpath, gtc, glc, task_name=task.name, label_ids=task.label_ids)
            gold_clf = TfidfLR().fit(gold.texts, gold.labels)
        for name, real in evals:
            print(f"[{ds}] {name}: {len(real.texts)} rows", file=sys.stderr, flush=True)
            if gold_clf is not None:
                pred = gold_clf.predict(real.texts)
                rows.append({"dataset": name, "generator": "-", "method": "gold-all", "filter": "none",
                             "task_model": "tfidf_lr", "n_train": len(gold.texts),
                             **scores(real.labels, pred, task.label_ids)})
                for n in budgets:
                    gt, gl = gold_sample(gold.texts, gold.labels, n, args.seed)
                    add_rows(evaluate_on_real(task, gt, gl, real.texts, real.labels, embedder=embedder,
                                              task_models=task_models, sizes=(1.0,), seed=args.seed), name, "gold", "-", n)
            if not args.no_prompting:
                t0 = time.perf_counter()
                res = prompting.run_prompting(model, task, real.texts)
                for tm, p in (("prompting", res.predictions), ("prompting_calibrated", res.calibrated_predictions)):
                    rows.append({"dataset": name, "generator": generator, "method": "prompting", "filter": "none",
                                 "task_model": tm,
                                 "n_train": 0, **scores(real.labels, p, task.label_ids)})
                print(f"[{ds}] PROMPTING on {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        for method_name in args.methods.split(","):
            all_recs, wall = cached_generate(args.records_dir, model, task, task_path, method_name, budgets[-1],
                                             args.seed, loaded.entry.sha256)
            all_recs = [r for r in all_recs if r.label in task.label_ids]
            gen_info.append({"dataset": ds, "method": method_name, "records": len(all_recs), "wall_s": round(wall, 1),
                             **describe(task, all_recs, gold_clf)})
            print(f"[{ds}] {method_name}: {len(all_recs)} records in {wall:.0f} s", file=sys.stderr, flush=True)
            for lab in task.label_ids:
                for r in [r for r in all_recs if r.label == lab][: args.samples]:
                    print(f"  sample [{lab}] {r.text[:160]!r}")
            for n in budgets:
                recs = (first_per_label(all_recs, task.label_ids, n) if args.subset == "first"
                        else random_per_label(all_recs, task.label_ids, n, args.seed + 7))
                if len({r.label for r in recs}) < 2:
                    continue
                for flt in filters:
                    kept = recs
                    if flt != "none":
                        t0 = time.perf_counter()
                        try:
                            out = label_filter_outcome(task, [{"text": r.text, "label": r.label} for r in recs], flt,
                                                       embedder=embedder or get_embedder(), model=model, seed=args.seed)
                        except BadInput as e:
                            print(f"[{ds}] {method_name} n={n}: {e}", file=sys.stderr, flush=True)
                            continue
                        kept = [recs[i] for i in out.outcome.kept]
                        filter_info.append({"dataset": ds, "method": method_name, "budget": n,
                                            "wall_s": round(time.perf_counter() - t0, 1), **out.outcome.summary()})
                    for name, real in evals:
                        add_rows(evaluate_on_real(task, [r.text for r in kept], [r.label for r in kept], real.texts,
                                                  real.labels, embedder=embedder, task_models=task_models,
                                                  sizes=(1.0,), seed=args.seed), name, method_name, generator, n, flt)
    model.close()
    print(f"\nUtility: accuracy / macro-F1 (%) on real data · generator {generator} · budgets {args.n} records per "
          f"method · eval sample {args.eval_limit or 'all'} rows per file")
    print(f"{'dataset':<15} {'method':<11} {'filter':<18} {'task model':<21} {'n_train':>7} {'acc':>6} {'F1':>6}")
    for r in rows:
        print(f"{r['dataset']:<15} {r['method']:<11} {r['filter']:<18} {r['task_model']:<21} {r['n_train']:>7} "
              f"{100 * r['accuracy']:>6.1f} {100 * r['macro_f1']:>6.1f}")
    gold = {(r["dataset"], r["task_model"], r["budget"]): r["accuracy"] for r in rows if r["method"] == "gold"}
    ratios = [(r, r["accuracy"] / gold[k]) for r in rows if r["method"] not in ("gold", "gold-all", "prompting")
              and (k := (r["dataset"], r["task_model"], r.get("budget"))) in gold and gold[k] > 0]
    if ratios:
        print("\nsynthetic / gold at equal n (accuracy; target ≥ 0.9):")
        for r, ratio in ratios:
            print(f"  {r['dataset']:<15} {r['method']:<11} {r['filter']:<18} {r['task_model']:<21} n={r['budget']:<6} "
                  f"{ratio:.2f}")
    for g in gen_info:
        print(f"generation: {g['dataset']}/{g['method']} {g['records']} records in {g['wall_s']} s · per label "
              f"{g['per_label']} · repeated {g['repeated']} · distinct-2 {g['distinct_2']} · label leak {g['label_leak']}"
              + (f" · on label by the gold-trained oracle {g['oracle_on_label']}" if "oracle_on_label" in g else ""))
    for f in filter_info:
        print(f"label filter: {f['dataset']}/{f['method']} n={f['budget']} {f['name']} removed {f['removed']} of "
              f"{f['records']} ({f['wall_s']} s) · by label {f['removed_by_label']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
