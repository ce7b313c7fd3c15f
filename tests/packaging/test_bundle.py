"""The offline install bundle (packaging/): install.sh's refusal of a damaged bundle, checked on miniature bundles so
it costs nothing, and the build's portable CMake flags.

The real bundle (build, offline install, the demo from its venv) is checked by ``bench/bundle.py``: compiling
llama.cpp takes about four minutes on 2 cores, more than the test suite can spend. See packaging/README.md.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


build_bundle = _load("build_bundle")
run_install = _load("offline_install").run_install


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
