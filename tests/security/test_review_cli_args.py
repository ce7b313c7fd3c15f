"""Review attacks on the command line's parsing: a secret glued to a mistyped short option or starting with "-" is
never echoed, and a number beyond 64 bits is one line (exit 2), not a DuckDB conversion traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.service.jobs import list_jobs
from appliance.service.session import Session
from appliance.vault import keys
from tests.cli.cli_helpers import JobCli, assert_one_line, make_job_cli
from tests.export.export_helpers import FAST_KDF, PW

SECRET = "Hunter2SECRETvalue"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    from appliance.cli import main

    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ("vault", "status", f"-p{SECRET}"),  # a short option with its value glued on
    ("vault", "status", "--pass", f"-{SECRET}"),  # a passphrase that starts with "-" after a mistyped option
    ("vault", "status", f"--{SECRET}"),
    (f"-p{SECRET}", "vault", "status"),
])
def test_a_secret_shaped_like_an_option_is_not_echoed(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    code, err = _run(capsys, *argv)
    assert code == 2 and SECRET not in err and len(err.strip().splitlines()) == 1, err


def test_a_plain_unknown_option_is_still_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "vault", "status", "--frobnicate", "-q")
    assert code == 2 and "--frobnicate" in err and "-q" in err, err


@pytest.mark.parametrize("argv", [
    ("jobs", "--limit", str(2**63)),
    ("records", str(2**127), "--limit", "5"),
    ("records", "1", "--limit", str(-(2**70))),
    ("export", "approve", str(2**200), "--reason", "ok"),
])
def test_a_number_beyond_64_bits_is_one_line(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    code, err = _run(capsys, *argv)
    assert code == 2 and "out of range" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1


def test_a_huge_limit_through_the_service_lists_everything(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)
    cli: JobCli = make_job_cli(tmp_path, capsys)
    with Session.open(cli.home, "alice", PW["alice"]) as s:
        assert [j["id"] for j in list_jobs(s, limit=2**80)] == [j["id"] for j in list_jobs(s)]
    code, out, err = cli.run("alice", "jobs", "--limit", str(2**63 - 1))
    assert code == 0, err
    code, out, err = cli.run("alice", "records", str(cli.job), "--limit", "0")
    assert_one_line(code, err, 2, "limit must be at least 1")
