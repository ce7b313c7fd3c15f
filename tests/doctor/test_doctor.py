"""`appliance doctor` tells the truth about this machine: no GPU is not a pass, the real model verifies, an altered
model copy fails, the vault is seen to be encrypted without any passphrase, a plaintext database fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import llama_cpp
import pytest

from appliance.service import doctor
from appliance.vault import Vault
from appliance.vault.keys import KdfParams

FAST_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


def cli(home: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "APPLIANCE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "appliance", "doctor", *extra], capture_output=True, text=True, env=env, timeout=300)


def test_reports_this_machine_truthfully(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Vault.create(home, "root", "root-passphrase-1", kdf_params=FAST_KDF).close()
    checks = by_name(doctor.run_checks(home))
    assert checks["python"].status == "pass"
    offload = bool(llama_cpp.llama_supports_gpu_offload())
    assert f"GPU offload: {'yes' if offload else 'no'}" in checks["llama.cpp build"].detail
    gpu = checks["GPU"]
    if not (offload and doctor.gpus()):
        assert gpu.status == "warn" and gpu.fix  # no GPU, or no CUDA build: never reported as a pass
    assert checks["model smollm2-135m-instruct"].status == "pass"
    assert checks["vault"].status == "pass" and "encrypted" in checks["vault"].detail
    from appliance.guard.pii import model_installed

    assert checks["PII scanner"].status == ("pass" if model_installed() else "warn")
    assert checks["disk"].status in ("pass", "warn")
    assert all(c.status in ("pass", "warn", "fail") for c in checks.values())
    assert all(c.fix for c in checks.values() if c.status != "pass")
    assert not (home / "model-cache").exists()  # the doctor wrote nothing (no model assembled)
    r = cli(home)
    assert r.returncode == doctor.exit_code(list(checks.values())) == 0, r.stdout + r.stderr
    assert "GPU" in r.stdout and "vault" in r.stdout


def test_no_vault_is_a_warning(tmp_path: Path) -> None:
    c = by_name(doctor.run_checks(tmp_path / "empty"))["vault"]
    assert c.status == "warn" and "appliance init" in c.fix


def test_corrupted_model_copy_fails_with_exit_2(tmp_path: Path) -> None:
    from appliance.engine.registry import Registry

    home = tmp_path / "home"
    _, src = Registry(home).verified_path(None)
    mine = tmp_path / "copy.gguf"
    shutil.copyfile(src, mine)
    Registry(home).add(mine, name="mycopy")
    with mine.open("r+b") as f:
        f.seek(1 << 20)
        f.write(b"\xff" * 32)
    c = by_name(doctor.run_checks(home))["model mycopy"]
    assert c.status == "fail" and "sha256" in c.detail and c.fix
    r = cli(home, "--json")
    assert r.returncode == 2, r.stderr
    assert '"status": "fail"' in r.stdout


def test_plaintext_database_fails(tmp_path: Path) -> None:
    """Fault: the vault's database replaced by a plaintext DuckDB file (cannot happen through the appliance)."""
    import duckdb

    home = tmp_path / "home"
    Vault.create(home, "root", "root-passphrase-1", kdf_params=FAST_KDF).close()
    db = next(home.glob("vault-*.duckdb"))
    db.unlink()
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
    con.close()
    c = by_name(doctor.run_checks(home))["vault"]
    assert c.status == "fail" and "plaintext" in c.detail


def test_low_disk_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "DISK_FAIL_BYTES", 1 << 62)  # more than any disk has free
    c = by_name(doctor.run_checks(tmp_path))["disk"]
    assert c.status == "fail" and doctor.exit_code([c]) == 2
