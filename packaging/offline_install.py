"""Install a bundle the way a workstation without network does: ``install.sh`` into a fresh venv, with pip cut off
from every package index, find-links and configuration file, and nothing of the development venv in reach.

Shared by the bundle benchmark (``bench/bundle.py``: the real bundle, built, installed and run) and the tests of
``install.sh``'s refusals (``tests/packaging/test_bundle.py``: miniature bundles). Stdlib only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def offline_env(**extra: str) -> dict[str, str]:
    """This process's environment with pip cut off from every index, find-links and config file, and no trace of
    the development venv (so nothing can leak in from it); one thread for llama.cpp and the BLAS libraries."""
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


def run_install(bundle: Path, venv: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """``BUNDLE/install.sh VENV`` offline; its exit code and output, not raised."""
    return subprocess.run(["bash", str(bundle / "install.sh"), str(venv)], capture_output=True, text=True,
                          env=offline_env(PYTHON=base_python()), timeout=timeout)
