"""Insert throughput of the vault's records table, encrypted against unencrypted, measured in the same run.

    python bench/vault.py [--n 1000000] [--batch 50000] [--rounds 2] [--json PATH]

Every mode runs the exact code path ``Vault.add_records`` uses (a NumPy batch registered with DuckDB, one
INSERT ... SELECT per batch, one transaction per batch, PRIMARY KEY on id) on the same schema and the same
generated records, into its own fresh file, finished by a CHECKPOINT so every byte has reached the file.
Record generation is not timed.

Modes:
  plain      no encryption, same on-disk format as the encrypted file (STORAGE_VERSION v1.5.0): the baseline
  encrypted  AES-256-GCM via the OpenSSL module of the signed httpfs extension, exactly as the vault opens it
  plain-v1   no encryption, DuckDB's default (older, backwards-compatible) format, for reference only
Encrypted files always use the newer format, whose string compression (DICT_FSST) costs more CPU than the
old default's; comparing against plain-v1 would charge that format change to encryption.

To keep a shared machine's noise out of the ratio, all modes are attached side by side and every batch is
inserted into each of them in rotating order; the best of --rounds counts. Target: encrypted/plain <= 1.1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from appliance.vault import db, keys, schema  # noqa: E402
from appliance.vault.audit import canonical  # noqa: E402
from appliance.vault.jobs import RECORD_TYPES  # noqa: E402

TARGET_RATIO = 1.1
LABELS = ["cardiology", "oncology", "neurology", "dermatology", "gastroenterology"]
# mode -> (encrypted, storage version)
MODES = {"plain": (False, "v1.5.0"), "encrypted": (True, None), "plain-v1": (False, None)}


def make_batch(start: int, n: int, words: list[str]) -> dict[str, list]:
    """Deterministic synthetic records shaped like generated ones (text, label, context, JSON columns)."""
    rng = random.Random(start)
    now = keys.now_iso()
    idx = range(start, start + n)
    return {
        "id": [i + 1 for i in idx],
        "job_id": [1] * n,
        "text": [" ".join(rng.choices(words, k=rng.randint(20, 45))) for _ in idx],
        "label": [LABELS[i % 5] for i in idx],
        "context": [f"a {LABELS[i % 5]} clinic note about visit {i % 97}" for i in idx],
        "attributes": [canonical({"age_band": f"{(i % 8) * 10}s", "setting": "outpatient"}) for i in idx],
        "status": ["accepted" if i % 20 else "quarantined" for i in idx],
        "reasons": ["[]" if i % 20 else '["near_duplicate"]' for i in idx],
        "scores": [canonical({"mean_logprob": round(-1.0 - (i % 100) / 100, 3)}) for i in idx],
        "created_at": [now] * n,
    }


def run_round(modes: list[str], n: int, batch: int, workdir: Path, words: list[str]) -> dict[str, dict]:
    spill = workdir / "spill"
    spill.mkdir(exist_ok=True)
    con = db.connect(spill)
    paths = {}
    for i, mode in enumerate(modes):
        encrypted, storage = MODES[mode]
        paths[mode] = workdir / f"bench-{mode}-{time.time_ns()}.duckdb"
        db.attach(con, paths[mode], f"m{i}", keys.new_data_key() if encrypted else None, storage_version=storage)
        con.execute(f"USE m{i}")
        schema.create(con, "bench")
    elapsed = dict.fromkeys(modes, 0.0)
    for b, start in enumerate(range(0, n, batch)):
        cols = make_batch(start, min(batch, n - start), words)
        order = modes[b % len(modes):] + modes[: b % len(modes)]
        for mode in order:
            con.execute(f"USE m{modes.index(mode)}")
            t0 = time.perf_counter()
            con.execute("BEGIN TRANSACTION")
            db.insert_columns(con, "records", cols, RECORD_TYPES)
            con.execute("COMMIT")
            elapsed[mode] += time.perf_counter() - t0
    out = {}
    con.execute("USE memory")
    for i, mode in enumerate(modes):
        t0 = time.perf_counter()
        con.execute(f"CHECKPOINT m{i}")
        elapsed[mode] += time.perf_counter() - t0
        enc, cipher = db.is_encrypted(con, f"m{i}")
        assert enc == MODES[mode][0], f"{mode}: unexpected encryption state"
        assert con.execute(f"SELECT count(*) FROM m{i}.records").fetchone()[0] == n
        out[mode] = {"mode": mode, "cipher": cipher, "records": n, "seconds": round(elapsed[mode], 3),
                     "rows_per_s": round(n / elapsed[mode])}
    con.close()
    for mode, p in paths.items():
        out[mode]["db_bytes"] = p.stat().st_size
        p.unlink()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="records per mode and round (default 1e6)")
    ap.add_argument("--batch", type=int, default=50_000, help="records per insert transaction (default 50000)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds (default 2; the best of each mode counts)")
    ap.add_argument("--no-legacy", action="store_true", help="skip the plain-v1 reference mode")
    ap.add_argument("--dir", type=Path, default=None, help="where to put the scratch databases (default: a temp dir)")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    if args.n < 1 or args.batch < 1 or args.rounds < 1:
        ap.error("--n, --batch and --rounds must be positive")
    modes = ["plain", "encrypted"] + ([] if args.no_legacy else ["plain-v1"])

    rng = random.Random(7)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 10))) for _ in range(5000)]
    workdir = Path(tempfile.mkdtemp(prefix="vault-bench-", dir=args.dir))
    runs = []
    try:
        for r in range(args.rounds):
            res = run_round(modes, args.n, args.batch, workdir, words)
            for mode in modes:
                runs.append({**res[mode], "round": r + 1})
            print(f"  round {r + 1}: " + ", ".join(f"{m} {res[m]['seconds']:.2f} s" for m in modes), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    best = {m: min((x for x in runs if x["mode"] == m), key=lambda x: x["seconds"]) for m in modes}
    ratio = best["encrypted"]["seconds"] / best["plain"]["seconds"]
    print(f"\nvault insert throughput: {args.n:,} generated records per mode, batches of {args.batch:,}, best of {args.rounds}")
    print(f"{'mode':<24}{'seconds':>9}{'inserts/s':>13}{'file MB':>9}")
    names = {"plain": "plain (same format)", "encrypted": "encrypted (AES-GCM)", "plain-v1": "plain (old default fmt)"}
    for m in modes:
        b = best[m]
        print(f"{names[m]:<24}{b['seconds']:>9.2f}{b['rows_per_s']:>13,}{b['db_bytes'] / 1e6:>9.1f}")
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"encrypted / plain time: {ratio:.3f}x ({verdict} the {TARGET_RATIO}x target)")
    if "plain-v1" in best:
        print(f"encrypted / plain-v1 time: {best['encrypted']['seconds'] / best['plain-v1']['seconds']:.3f}x (includes the storage-format change)")

    if args.json:
        out = {
            "benchmark": "vault.insert",
            "records": args.n,
            "batch": args.batch,
            "rounds": args.rounds,
            "runs": runs,
            "plain_rows_per_s": best["plain"]["rows_per_s"],
            "encrypted_rows_per_s": best["encrypted"]["rows_per_s"],
            "ratio_encrypted_over_plain": round(ratio, 4),
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio <= TARGET_RATIO,
            "duckdb": duckdb.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }
        if "plain-v1" in best:
            out["plain_v1_rows_per_s"] = best["plain-v1"]["rows_per_s"]
            out["ratio_encrypted_over_plain_v1"] = round(best["encrypted"]["seconds"] / best["plain-v1"]["seconds"], 4)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
