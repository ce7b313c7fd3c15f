"""The CLI end to end, as a user runs it: exit codes, one-line errors, nothing written on bad input."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TASKS


def run(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "APPLIANCE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args], capture_output=True, text=True, env=env, input=stdin, timeout=600
    )


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*")} if path.exists() else set()


def assert_one_line_error(r: subprocess.CompletedProcess, needle: str, code: int = 2) -> None:
    """One line on stderr holding ``needle``, and the exit code of the error's kind (appliance.errors)."""
    assert r.returncode == code, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_unknown_model_exit_2_nothing_written(tmp_path: Path, passphrase_file: Path) -> None:
    home = tmp_path / "home"
    r = run("generate", "--task", str(TASKS / "sst2_sentiment.toml"), "--model", "gpt-17", "--user", "x",
            "--passphrase-file", str(passphrase_file), home=home)
    assert_one_line_error(r, "unknown model: gpt-17")
    assert not home.exists()


def test_bad_task_spec_exit_2_nothing_written(tmp_path: Path, passphrase_file: Path) -> None:
    home = tmp_path / "home"
    spec = tmp_path / "bad.toml"
    spec.write_text((TASKS / "sst2_sentiment.toml").read_text().replace('id = "negative"', 'id = "positive"'))
    r = run("generate", "--task", str(spec), "--user", "x", "--passphrase-file", str(passphrase_file), home=home)
    assert_one_line_error(r, "duplicate label id")
    assert not home.exists()


def test_models_list_and_verify(tmp_path: Path) -> None:
    r = run("models", "list", home=tmp_path)
    assert r.returncode == 0 and "smollm2-135m-instruct" in r.stdout
    r = run("models", "verify", "smollm2-135m-instruct", home=tmp_path)
    assert r.returncode == 0 and " ok " in r.stdout


def test_corrupt_model_file_exit_3(tmp_path: Path, passphrase_file: Path) -> None:
    from appliance.engine.registry import Registry

    home = tmp_path / "home"
    _, src = Registry(home).verified_path(None)
    mine = tmp_path / "mine.gguf"
    shutil.copyfile(src, mine)
    assert run("models", "add", str(mine), "--name", "mine", home=home).returncode == 0
    with mine.open("r+b") as f:
        f.seek(1 << 20)
        f.write(b"\x00" * 16)
    r = run("models", "verify", "mine", home=home)
    assert r.returncode == 3 and "mismatch" in r.stdout
    before = files_under(home)
    r = run("demo", "--model", "mine", "--n", "4", "--passphrase-file", str(passphrase_file), home=home)
    assert_one_line_error(r, "sha256 mismatch", code=3)
    # the refusal happened before a vault was created
    assert files_under(home) == before


def _generated(stdout: str) -> int:
    """Accepted plus quarantined records, from the summary line."""
    m = re.search(r"(\d+) records accepted, (\d+) quarantined", stdout)
    assert m, stdout
    return int(m.group(1)) + int(m.group(2))


@pytest.mark.model
def test_demo_then_generate_end_to_end(tmp_path: Path, passphrase_file: Path) -> None:
    home = tmp_path / "home"
    r = run("demo", "--n", "12", "--passphrase-file", str(passphrase_file), home=home)
    assert r.returncode == 0, r.stderr
    assert _generated(r.stdout) == 12 and "tokens/s" in r.stdout
    r = run("generate", "--task", str(TASKS / "sst2_sentiment.toml"), "--n", "6", "--user", "demo",
            "--passphrase-file", str(passphrase_file), home=home)
    assert r.returncode == 0, r.stderr
    assert _generated(r.stdout) == 6
    r = run("generate", "--task", str(TASKS / "sst2_sentiment.toml"), "--n", "6", "--user", "demo",
            stdin="wrong passphrase\n", home=home)
    assert r.returncode == 4 and "passphrase" in r.stderr
