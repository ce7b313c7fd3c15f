"""Global options (--home, --user, --passphrase-file) before or after the subcommand, with the same result."""

from __future__ import annotations

import json

import pytest

from appliance.cli import build_parser
from tests.cli.cli_helpers import JobCli, assert_one_line

GLOBALS = ["--home", "H", "--user", "u", "--passphrase-file", "F"]


@pytest.mark.parametrize("command", [["vault", "status"], ["records", "3"], ["user", "list"], ["export", "list"],
                                     ["export", "3", "--format", "jsonl", "--to", "out"], ["review", "list", "3"]])
def test_before_after_and_between_parse_the_same(command: list[str]) -> None:
    parser = build_parser()
    after = vars(parser.parse_args([*command, *GLOBALS]))
    before = vars(parser.parse_args([*GLOBALS, *command]))
    between = vars(parser.parse_args([command[0], *GLOBALS, *command[1:]]))
    assert before == after == between
    assert (after["home"], after["user"], after["passphrase_file"]) == ("H", "u", "F")


def test_defaults_apply_in_both_orders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE_USER", "env-user")
    parser = build_parser()
    ns = parser.parse_args(["--home", "H", "vault", "status"])
    assert (ns.home, ns.user, ns.passphrase_file) == ("H", "env-user", None)
    ns = parser.parse_args(["vault", "status"])
    assert (ns.home, ns.user, ns.passphrase_file) == (None, "env-user", None)
    assert parser.parse_args(["demo"]).user is None  # demo names its own user, never $APPLIANCE_USER
    assert parser.parse_args(["--user", "ann", "demo"]).user == "ann"
    assert parser.parse_args(["--home", "H"]).home == "H"  # no command: the TUI opens on that home


def test_a_later_value_wins() -> None:
    assert build_parser().parse_args(["--home", "A", "vault", "status", "--home", "B"]).home == "B"


@pytest.mark.parametrize("argv, flag", [(["--user", "u", "doctor"], "--user"),
                                        (["--passphrase-file", "F", "models", "list"], "--passphrase-file"),
                                        (["--user", "u", "export", "pubkey"], "--user")])
def test_a_global_option_the_command_does_not_take_is_one_line(argv: list[str], flag: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(argv)
    assert_one_line(e.value.code, capsys.readouterr().err, 2, f"{flag} does not apply to this command")


def test_the_same_output_in_both_orders(job_cli: JobCli) -> None:
    auth = job_cli.auth("alice")
    code, first, err = job_cli.run(None, *auth, "vault", "status", "--json")
    assert code == 0, err
    code, second, err = job_cli.run(None, "vault", "status", "--json", *auth)
    assert code == 0, err
    a, b = json.loads(first), json.loads(second)
    assert (a["home"], a["user"], a["role"]) == (b["home"], b["user"], b["role"]) == (str(job_cli.home), "alice", "author")
