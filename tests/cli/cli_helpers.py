"""Helpers of the command-line habit tests (tests/cli): the CLI run in this process against the export tests' vault
(a finished job with records of every status, inserted through the vault API: no model run), plus an auditor."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.vault import Vault
from tests.export.export_helpers import PW, make_job

PW_AUDITOR = "audrey-passphrase-1"
ALL_PW = {**PW, "audrey": PW_AUDITOR}


@dataclass
class JobCli:
    """A vault with one finished job; ``run(user, *argv)`` is ``appliance ARGV`` as that user: (exit, stdout, stderr)."""

    home: Path
    job: int
    secrets: Path
    capsys: pytest.CaptureFixture[str]

    def pw_file(self, user: str) -> Path:
        p = self.secrets / f"{user}.pw"
        if not p.exists():
            p.write_text(ALL_PW[user] + "\n")
        return p

    def auth(self, user: str) -> list[str]:
        return ["--home", str(self.home), "--user", user, "--passphrase-file", str(self.pw_file(user))]

    def run(self, user: str | None, *argv: str) -> tuple[int, str, str]:
        try:
            code = main([*argv, *(self.auth(user) if user else [])])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def json(self, user: str, *argv: str) -> object:
        code, out, err = self.run(user, *argv, "--json")
        assert code == 0, err
        return json.loads(out)


def make_job_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> JobCli:
    home = tmp_path / "home"
    job = make_job(home)
    with Vault.open(home, "root", PW["root"]) as v:
        v.add_user("audrey", "auditor", PW_AUDITOR)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    return JobCli(home, job, secrets, capsys)


def assert_one_line(code: int, err: str, exit_code: int, *needles: str) -> str:
    """The documented exit code and one line on stderr holding every needle; returns the line."""
    lines = err.strip().splitlines()
    assert code == exit_code and len(lines) == 1, (code, err)
    for needle in needles:
        assert needle in lines[0], err
    return lines[0]
