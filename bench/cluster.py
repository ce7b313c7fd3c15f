"""Scale-out speed: records/s of a generation job decoded by 1 and 2 local Ray actors (and in this process, for
reference), the driver's own cost per record (privacy gate + vault commit, which stay in the driver), and from these
the number of workers at which the driver saturates: driver records/s ÷ one worker's records/s.

On a 2-core machine two actors share the same cores as one, so expect no gain from the second: the figure that
carries over to a real cluster is the driver's cost per record.

    python bench/cluster.py [--n 48] [--task tasks/sst2_sentiment.toml] [--json PATH]

Every job is what a user runs (``run_generation``: model loaded and verified, gate, vault), so a worker's model load
is in its row. A first in-process job, not counted, makes the compute copy and loads the gate's models, so the
in-process row (the baseline) pays no one-time cost the others skip.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PW = "bench-passphrase-1"


def make_home(root: Path) -> Path:
    from appliance.service.session import Session
    from appliance.vault import keys
    from appliance.vault.keys import KdfParams

    keys.default_kdf_params = lambda: KdfParams(memory_kib=1024, iterations=1, lanes=1)  # the KDF is not measured
    home = root / "h"
    with Session.init(home, "admin", PW) as admin:
        admin.vault.add_user("ana", "author", PW)
    return home


def job(home: Path, task: Path, n: int, workers: int | None) -> dict:
    from appliance.service.generation import GenerationRequest, run_generation
    from appliance.service.session import Session
    from appliance.spec import load_task

    req = GenerationRequest(task=load_task(task), n=n, seed=1, max_parallel=8, workers=workers)
    with Session.open(home, "ana", PW) as s:
        t0 = time.perf_counter()
        r = run_generation(s, home, req)
        wall = time.perf_counter() - t0
    return {"workers": workers or 0, "records": len(r.records), "wall_s": round(wall, 2),
            "records_per_s": round(len(r.records) / wall, 3), "tokens_per_s": round(r.tokens / wall, 1),
            "job_id": r.job_id}


def driver_cost(home: Path, task: Path, job_id: int, rounds: int = 3) -> dict:
    """The gate and the vault commit of the records of ``job_id`` again, timed: what the driver spends per record."""
    from appliance.guard.gate import Gate
    from appliance.guard.policy import load_policy
    from appliance.service.generation import stored_row
    from appliance.service.seeds import task_seeds
    from appliance.service.session import Session
    from appliance.generate.records import GeneratedRecord
    from appliance.spec import load_task

    spec = load_task(task)
    with Session.open(home, "ana", PW) as s:
        v = s.vault
        recs = [GeneratedRecord(text=r["text"], label=r["label"], context=r["context"], method="zerogen")
                for r in v.list_records(job_id)]
        task_id = v.add_task(spec.name, spec.source_text)
        gate = Gate(load_policy("default"), *task_seeds(v, spec.name, [task_id]))
        gate.check([recs[0].text])  # models loaded before timing
        gate_s = vault_s = 0.0
        for i in range(rounds):
            t0 = time.perf_counter()
            verdicts = gate.check([r.text for r in recs])
            gate_s += time.perf_counter() - t0
            rows = [stored_row(r, vd) for r, vd in zip(recs, verdicts)]
            jid = v.create_job(task_id, "zerogen", {"bench": True})
            t0 = time.perf_counter()
            for unit, start in enumerate(range(0, len(rows), 8), 1):  # committed in batches, as a job does
                v.add_records(jid, rows[start : start + 8], unit=unit)
            vault_s += time.perf_counter() - t0
            v.finish_job(jid, "succeeded", {})
    n = rounds * len(recs)
    return {"gate_ms_per_record": round(1000 * gate_s / n, 2), "vault_ms_per_record": round(1000 * vault_s / n, 2),
            "driver_ms_per_record": round(1000 * (gate_s + vault_s) / n, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--task", type=Path, default=ROOT / "tasks" / "sst2_sentiment.toml")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from appliance.cluster.runtime import connect

    with tempfile.TemporaryDirectory(prefix="bc") as d:
        home = make_home(Path(d))
        job(home, args.task, 8, None)  # warm-up, not counted: the compute copy and the gate's models
        runs = [job(home, args.task, args.n, None)]  # this process: the baseline
        with connect(home, workers=2):  # one local Ray instance for both pool sizes
            runs += [job(home, args.task, args.n, w) for w in (1, 2)]
        cost = driver_cost(home, args.task, runs[1]["job_id"])
    one = runs[1]["records_per_s"]
    driver_rps = 1000 / cost["driver_ms_per_record"] if cost["driver_ms_per_record"] > 0 else float("inf")
    out = {"n": args.n, "cores": os.cpu_count(), "runs": runs, **cost,
           "driver_records_per_s": round(driver_rps, 1),
           "workers_at_driver_saturation": round(driver_rps / one, 1) if one > 0 else None}
    base = runs[0]["records_per_s"]
    print(f"\nScale-out on {os.cpu_count()} cores: {args.n} records per job ({args.task.name}), every job with its "
          f"model load, gate and vault")
    print(f"{'decoding':<22} {'records':>7} {'wall s':>7} {'records/s':>10} {'tokens/s':>9} {'vs in-process':>14}")
    for r in runs:
        name = "in this process" if not r["workers"] else f"{r['workers']} Ray actor(s)"
        print(f"{name:<22} {r['records']:>7} {r['wall_s']:>7.1f} {r['records_per_s']:>10.3f} {r['tokens_per_s']:>9.1f} "
              f"{r['records_per_s'] / base if base else float('nan'):>13.2f}x")
    print(f"driver per record: gate {cost['gate_ms_per_record']} ms + vault {cost['vault_ms_per_record']} ms = "
          f"{cost['driver_ms_per_record']} ms ({out['driver_records_per_s']} records/s); the driver saturates at about "
          f"{out['workers_at_driver_saturation']} workers of one actor's speed")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
