"""What one passphrase guess costs: the calibrated Argon2id derivation, and the guessing rate it leaves a thief.

    python bench/kdf.py [--rounds 5] [--json PATH]

Someone who copies the key file guesses passphrases offline, where the unlock throttle (failure delays) does not
apply: only Argon2id's cost per guess stands between them and a weak passphrase. The vault calibrates Argon2id
(``keys.KDF_MEMORY_KIB``, one lane, at least ``keys.MIN_KDF_ITERATIONS`` passes) once per process so that one
derivation takes about ``keys.TARGET_KDF_SECONDS`` here. This benchmark runs that calibration and, in the same run,
the baseline: the sizing before issue 14 (64 MiB calibrated to 150 ms). For each it prints the cost per guess
(seconds and memory; the median of ``--rounds``), the guessing rate of this machine with every core guessing at
once (measured, not multiplied: cores share memory bandwidth), and what that rate means for passphrases of a few
strengths (expected time: half the space). A GPU or a rented cluster guesses faster; the ratio between the two
sizings is what carries over, since both are bound by the same memory traffic. A busy machine moves every figure;
the test suite therefore checks only the calibration's arithmetic.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from appliance.vault import keys  # noqa: E402

# The calibrated derivation should land within these bounds of the target (calibration itself is timed noise).
TOLERANCE = (0.5, 2.0)
BASELINE_MEMORY_KIB = 65536  # the sizing before issue 14
BASELINE_TARGET_S = 0.15
# Passphrase spaces an attacker might search (expected cost: half of each).
SPACES = [
    ("one of the 100,000 most common passwords", 100_000),
    ("8 random lower-case letters (the minimum length)", 26**8),
    ("12 random letters and digits", 62**12),
    ("four random Diceware words", 7776**4),
]


def _time_derivation(params: keys.KdfParams, rounds: int) -> float:
    salt = os.urandom(16)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        keys.derive_kek("benchmark passphrase", salt, params)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _guess(args: tuple[keys.KdfParams, int]) -> int:
    params, n = args
    salt = os.urandom(16)
    for i in range(n):
        keys.derive_kek(f"guess {i}", salt, params)
    return n


def _parallel_rate(params: keys.KdfParams, workers: int, per_worker: int) -> float:
    """Guesses per second with ``workers`` processes guessing at once (wall time of the whole batch)."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_guess, [(params, 1)] * workers))  # start the workers before the clock
        start = time.perf_counter()
        done = sum(pool.map(_guess, [(params, per_worker)] * workers))
        return done / (time.perf_counter() - start)


def _workers(params: keys.KdfParams) -> int:
    """Cores that can guess at once: each guess holds its memory until it ends."""
    cores = os.cpu_count() or 1
    try:
        ram_kib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") // 1024
    except (ValueError, OSError, AttributeError):
        return cores
    return max(1, min(cores, ram_kib // params.memory_kib))


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.3g} {unit}" if value < 1e6 else f"{value:.2e} {unit}"
    return f"{seconds:.3g} seconds"


def _measure(label: str, params: keys.KdfParams, rounds: int) -> dict:
    per_guess = _time_derivation(params, rounds)
    workers = _workers(params)
    rate = _parallel_rate(params, workers, max(2, rounds // 2))
    return {
        "setting": label,
        "params": params.to_json(),
        "seconds_per_guess": round(per_guess, 4),
        "memory_mib_per_guess": params.memory_kib // 1024,
        "parallel_guessers": workers,
        "guesses_per_second": round(rate, 3),
        "expected_seconds": {name: (size / 2) / rate for name, size in SPACES},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="derivations timed per setting (median counts)")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args(argv)

    params = keys.calibrate()
    baseline = keys.calibrate(BASELINE_TARGET_S, BASELINE_MEMORY_KIB)
    rows = [_measure("before (64 MiB, 150 ms)", baseline, args.rounds), _measure("calibrated (now)", params, args.rounds)]
    target = keys.TARGET_KDF_SECONDS
    ratio = rows[1]["seconds_per_guess"] / target
    within = TOLERANCE[0] <= ratio <= TOLERANCE[1]

    print(f"\nArgon2id cost per guess on this machine ({os.cpu_count()} cores), median of {args.rounds}")
    print(f"{'setting':<26}{'MiB':>6}{'passes':>8}{'s/guess':>10}{'guessers':>10}{'guesses/s':>11}{'guesses/day':>13}")
    for r in rows:
        p = r["params"]
        print(f"{r['setting']:<26}{p['memory_kib'] // 1024:>6}{p['iterations']:>8}{r['seconds_per_guess']:>10.3f}"
              f"{r['parallel_guessers']:>10}{r['guesses_per_second']:>11.2f}{r['guesses_per_second'] * 86400:>13.3g}")
    slower = rows[0]["guesses_per_second"] / rows[1]["guesses_per_second"]
    memory_time = (params.memory_kib * rows[1]["seconds_per_guess"]) / (baseline.memory_kib * rows[0]["seconds_per_guess"])
    print(f"an offline guess now costs {slower:.2f}x the time and {memory_time:.1f}x the memory x time of before")
    print(f"calibrated / {target * 1000:.0f} ms target: {ratio:.2f}x ({'within' if within else 'OUTSIDE'} {TOLERANCE[0]}-{TOLERANCE[1]}x)")
    print("\nexpected time for this machine to find a passphrase, offline (half the space):")
    for name, _ in SPACES:
        print(f"  {name:<50} before {_duration(rows[0]['expected_seconds'][name]):>18}   now {_duration(rows[1]['expected_seconds'][name]):>18}")
    if args.json:
        out = {
            "benchmark": "kdf",
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
            "target_s": target,
            "settings": rows,
            "ratio_to_target": round(ratio, 3),
            "attacker_slowdown": round(slower, 3),
            "within_tolerance": within,
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0 if within else 3


if __name__ == "__main__":
    raise SystemExit(main())
