"""Attacks on `appliance records` and on the global options: a record whose text carries terminal escape sequences
and rich markup, roles that may not read records (refused and audited), and option tricks before the subcommand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.vault import Vault, keys
from tests.cli.cli_helpers import JobCli, assert_one_line, make_job_cli
from tests.export.export_helpers import FAST_KDF, PW

HOSTILE = "[bold red]fake alert[/] \x1b]0;pwned\x07\x1b[2J cleared \x9b31m c1 \u2028 end"
SECRET = "Hunter2-SECRET-value"


@pytest.fixture
def job_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> JobCli:
    monkeypatch.setattr(keys, "default_kdf_params", lambda: FAST_KDF)
    return make_job_cli(tmp_path, capsys)


def _hostile_job(home: Path) -> int:
    with Vault.open(home, "alice", PW["alice"]) as v:
        task_id = v.list_tasks()[0]["id"]
        job = v.create_job(task_id, "zerogen", {})
        v.add_records(job, [{"text": HOSTILE, "label": "\x1b[31mlabel"}], unit=1)
        v.finish_job(job, "succeeded", {})
    return job


def test_escape_sequences_and_markup_in_a_record_are_shown_not_acted_on(job_cli: JobCli) -> None:
    job = str(_hostile_job(job_cli.home))
    code, out, err = job_cli.run("alice", "records", job)
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out and "\u2028" not in out
    assert "[bold red]fake alert[/]" in out  # markup printed as characters, not interpreted
    code, out, err = job_cli.run("alice", "records", job, "--json")
    assert code == 0 and "\x1b" not in out and "\x9b" not in out
    assert json.loads(out)[0]["text"] == HOSTILE  # JSON keeps the exact text, escaped


def test_a_refused_role_learns_nothing_and_the_refusal_is_audited(job_cli: JobCli) -> None:
    for user in ("root", "audrey"):
        # a job that exists and one that does not: the same refusal, so the role cannot probe for jobs either
        for job in (str(job_cli.job), "999"):
            code, out, err = job_cli.run(user, "records", job, "--json")
            line = assert_one_line(code, err, code, "may not read generated records")
            assert code != 0 and out == "" and "MARKER" not in line
    with Vault.open(job_cli.home, "audrey", "audrey-passphrase-1") as v:
        denied = v.audit_entries(action="access.denied")
    assert {(e["user"], e["params"]["permission"]) for e in denied} >= {("root", "record.read"), ("audrey", "record.read")}


@pytest.mark.parametrize("argv", [
    ["--passphrase", SECRET, "records", "1"],
    [f"--passphrase={SECRET}", "records", "1"],
    ["--passphrase-f", SECRET, "records", "1"],
    ["--user", "alice", "doctor", SECRET],
])
def test_options_before_the_subcommand_keep_the_strict_rules(job_cli: JobCli, argv: list[str]) -> None:
    code, out, err = job_cli.run(None, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert SECRET not in out + err


def test_a_global_option_the_command_does_not_take_is_refused(job_cli: JobCli) -> None:
    code, _, err = job_cli.run(None, "--passphrase-file", str(job_cli.pw_file("alice")), "models", "list")
    assert_one_line(code, err, 2, "--passphrase-file does not apply to this command")
