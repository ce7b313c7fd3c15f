"""Helpers of the input attack tests (tests/security/test_inputs_*.py): a vault with one author, and the CLI run in
this process so that the vault can use a cheap Argon2id (tests only)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.vault import Vault, keys
from appliance.vault.keys import KdfParams

REPO = Path(__file__).resolve().parents[2]
MEDICAL_TASK = REPO / "tasks" / "medical_specialty.toml"
FAST_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)
# A string that stands for a patient's record: no message may ever show it.
CANARY = "CANARY-Zq8vX3 Jane Roe MRN 4471902"
AUTHOR_PASSPHRASE = "author-passphrase-1"


@dataclass
class Cli:
    home: Path
    passphrase_file: Path
    capsys: pytest.CaptureFixture[str]

    def run(self, *argv: str, auth: bool = True) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of ``appliance ARGV`` as the author; argparse's exits are caught too."""
        extra = ["--home", str(self.home), "--user", "alice", "--passphrase-file", str(self.passphrase_file)] if auth else []
        try:
            code = main([*argv, *extra])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out = self.capsys.readouterr()
        return code, out.out, out.err


def make_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A vault with an admin and one author (alice), and a runner of the CLI as alice."""
    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)
    home = tmp_path / "home"
    with Vault.create(home, "root", "root-passphrase-1", kdf_params=FAST_KDF) as v:
        v.add_user("alice", "author", AUTHOR_PASSPHRASE)
    pw = tmp_path / "alice.pw"
    pw.write_text(AUTHOR_PASSPHRASE + "\n")
    return Cli(home, pw, capsys)


def assert_refused(code: int, out: str, err: str, *needles: str) -> None:
    """Exit 2, one line on stderr holding every needle, and no canary anywhere."""
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], err
    assert CANARY not in out + err and "CANARY" not in out + err, err
    assert "\x1b" not in err and "\x00" not in err, repr(err)
