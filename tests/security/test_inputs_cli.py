"""Attacks on argument parsing: a passphrase given as an argument, and abbreviated options.

argparse used to take ``--passphrase SECRET`` as an abbreviation of ``--passphrase-file`` and then print "cannot read
passphrase file SECRET". Now no option is abbreviated anywhere, a passphrase option is refused by its name, and no
parse error repeats a value.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.cli import build_parser
from tests.security.inputs_helpers import AUTHOR_PASSPHRASE, MEDICAL_TASK, REPO, Cli, assert_refused, make_cli

SECRET = "Hunter2-SECRET-value"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return make_cli(tmp_path, monkeypatch, capsys)


def _no_secret(code: int, out: str, err: str, *needles: str) -> None:
    assert_refused(code, out, err, *needles)
    assert SECRET not in out + err


@pytest.mark.parametrize(
    "argv",
    [
        ["vault", "status", "--passphrase", SECRET],
        ["vault", "status", f"--passphrase={SECRET}"],
        ["user", "passwd", "--new-passphrase", SECRET],
        ["export", "write", "1", "--format", "jsonl", "--to", "out", "--encrypt", "--bundle-passphrase", SECRET],
        ["--passphrase", SECRET, "vault", "status"],
    ],
)
def test_a_passphrase_as_an_argument_is_refused_without_echoing_it(cli: Cli, argv: list[str]) -> None:
    _no_secret(*cli.run(*argv, auth=False), "is not accepted", "--passphrase-file")


def test_abbreviated_options_are_refused_and_their_values_not_shown(cli: Cli, tmp_path: Path) -> None:
    secret_path = tmp_path / SECRET
    secret_path.write_text(AUTHOR_PASSPHRASE + "\n")
    # Before, this read the passphrase file and ran the command.
    code, out, err = cli.run("vault", "status", "--home", str(cli.home), "--user", "alice", "--passphrase-f", str(secret_path), auth=False)
    _no_secret(code, out, err, "unrecognized option --passphrase-f")
    code, out, err = cli.run("import", str(tmp_path / "x.csv"), "--task", str(MEDICAL_TASK), "--text-col", SECRET)
    _no_secret(code, out, err, "--text-column")
    code, out, err = cli.run("vault", "status", SECRET, SECRET)
    _no_secret(code, out, err, "2 unexpected arguments (not shown)")


def test_no_parser_or_subparser_takes_abbreviations() -> None:
    seen = 0
    todo = [build_parser()]
    while todo:
        parser = todo.pop()
        seen += 1
        assert parser.allow_abbrev is False, parser.prog
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                todo.extend(action.choices.values())
    assert seen > 30  # every command group and its subcommands


def test_the_installed_command_refuses_it_too(tmp_path: Path) -> None:
    """The real entry point in a fresh process: exit 2, one line, the secret nowhere."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "APPLIANCE_HOME": str(tmp_path / "home")}
    r = subprocess.run([sys.executable, "-m", "appliance", "vault", "status", "--passphrase", SECRET],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert SECRET not in r.stdout + r.stderr
    assert not (tmp_path / "home").exists()
