"""How long one passphrase check takes: the calibrated Argon2id derivation against its 150 ms target.

    python bench/kdf.py [--rounds 5] [--json PATH]

The vault calibrates Argon2id (64 MiB, one lane) once per process so that deriving a key-encryption key takes
about ``keys.TARGET_KDF_SECONDS`` on this machine: slow enough to make guessing costly, fast enough that a
clinician does not wait at unlock. This benchmark runs that calibration, then times derivations with the chosen
parameters and, in the same run, with the baseline of a single pass (the cheapest Argon2id the vault could use).
The median of ``--rounds`` counts. It prints the calibrated time, its ratio to the target and to one pass.
A busy machine moves both figures; the test suite therefore checks only the calibration's arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.vault import keys  # noqa: E402

# The calibrated derivation should land within these bounds of the target (calibration itself is timed noise).
TOLERANCE = (0.5, 2.0)


def _time_derivation(params: keys.KdfParams, rounds: int) -> float:
    salt = os.urandom(16)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        keys.derive_kek("benchmark passphrase", salt, params)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="derivations timed per setting (median counts)")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)

    params = keys.calibrate()
    one_pass = keys.KdfParams(memory_kib=params.memory_kib, iterations=1, lanes=params.lanes)
    baseline_s = _time_derivation(one_pass, args.rounds)
    calibrated_s = _time_derivation(params, args.rounds)
    target = keys.TARGET_KDF_SECONDS
    ratio = calibrated_s / target
    within = TOLERANCE[0] <= ratio <= TOLERANCE[1]

    print(f"\nArgon2id unlock cost: {params.memory_kib // 1024} MiB, {params.lanes} lane, median of {args.rounds}")
    print(f"{'setting':<28}{'passes':>8}{'seconds':>10}")
    print(f"{'baseline (one pass)':<28}{1:>8}{baseline_s:>10.3f}")
    print(f"{'calibrated':<28}{params.iterations:>8}{calibrated_s:>10.3f}")
    print(f"calibrated / one pass: {calibrated_s / baseline_s:.2f}x")
    verdict = "within" if within else "OUTSIDE"
    print(f"calibrated / {target * 1000:.0f} ms target: {ratio:.2f}x ({verdict} {TOLERANCE[0]}-{TOLERANCE[1]}x)")
    if args.json:
        out = {
            "benchmark": "kdf",
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "params": params.to_json(),
            "target_s": target,
            "baseline_one_pass_s": round(baseline_s, 4),
            "calibrated_s": round(calibrated_s, 4),
            "ratio_to_one_pass": round(calibrated_s / baseline_s, 3),
            "ratio_to_target": round(ratio, 3),
            "within_tolerance": within,
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0 if within else 3


if __name__ == "__main__":
    raise SystemExit(main())
