"""Every list command takes --json and prints valid JSON (a script never has to scrape a table)."""

from __future__ import annotations

import argparse
import json

import pytest

from appliance.cli import build_parser
from tests.cli.cli_helpers import JobCli

# Every command that lists things: (command words) -> (user who runs it, its other arguments; JOB is the job id).
# Commands named "list" are found by walking the parser, so a new one fails here until it is listed (and has --json).
LIST_COMMANDS: dict[tuple[str, ...], tuple[str | None, tuple[str, ...]]] = {
    ("user", "list"): ("root", ()),
    ("export", "list"): ("alice", ()),
    ("adapters", "list"): ("alice", ()),
    ("review", "list"): ("rita", ("JOB",)),
    ("models", "list"): (None, ()),
    ("models", "verify"): (None, ()),
    ("records",): ("alice", ("JOB",)),
    ("jobs",): ("audrey", ()),
    ("ledger",): ("alice", ("med-seeds",)),
    ("audit", "log"): ("audrey", ()),
    ("vault", "status"): ("root", ()),
    ("doctor",): (None, ()),  # checks the whole installation: its JSON has tests of its own (tests/doctor)
}
NOT_RUN_HERE = {("doctor",)}


def _commands(parser: argparse.ArgumentParser, words: tuple[str, ...] = ()) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    out = {words: parser}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.update(_commands(sub, (*words, name)))
    return out


def test_every_list_command_takes_json() -> None:
    commands = _commands(build_parser())
    found = {words for words in commands if words and words[-1] == "list"}
    assert found <= set(LIST_COMMANDS), f"list commands missing from LIST_COMMANDS: {found - set(LIST_COMMANDS)}"
    for words in LIST_COMMANDS:
        options = {o for a in commands[words]._actions for o in a.option_strings}
        assert "--json" in options, " ".join(words)


@pytest.mark.parametrize("words", [w for w in LIST_COMMANDS if w not in NOT_RUN_HERE], ids=" ".join)
def test_each_prints_valid_json(job_cli: JobCli, words: tuple[str, ...]) -> None:
    user, extra = LIST_COMMANDS[words]
    argv = [*words, *(str(job_cli.job) if a == "JOB" else a for a in extra), "--json"]
    if user is None:
        code, out, err = job_cli.run(None, *argv, "--home", str(job_cli.home))
    else:
        code, out, err = job_cli.run(user, *argv)
    assert code == 0, err
    json.loads(out)
