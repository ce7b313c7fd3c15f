"""The command line: a thin layer over ``appliance.service``.

Each command group lives in its own module with a ``register(subparsers)`` function and reaches the vault only
through ``appliance.service``. A problem the user can act on raises a ``UserError`` (``appliance.errors``): one line
on stderr, and its kind decides the exit code:

====  ==================================================================================="""

from __future__ import annotations

import argparse
import os
import sys

from appliance import __version__
from appliance.cli.common import StrictParser, add_global_options
from appliance.errors import UserError, disk_full_error, is_disk_full


def build_parser() -> argparse.ArgumentParser:
    from appliance.cli import (adapt_cmds, cluster_cmds, doctor_cmds, export_cmds, gen_cmds, model_cmds, quality_cmds,
                               records_cmds, review_cmds, task_cmds, tui_cmds, vault_cmds)

    parser = StrictParser(prog="appliance", description="Offline synthetic-data appliance.")
    parser.add_argument("--version", action="version", version=f"appliance {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (model_cmds, gen_cmds, vault_cmds, records_cmds, review_cmds, quality_cmds, tui_cmds, export_cmds, doctor_cmds,
                   adapt_cmds, cluster_cmds, task_cmds):
        module.register(sub)
    for group in _command_groups(parser):  # `appliance --home X user list` and `appliance user --home X list` too
        add_global_options(group)
    return parser


def _command_groups(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The main parser and every parser that holds subcommands (`user`, `export`, …), not the commands themselves."""
    groups, todo = [], [parser]
    while todo:
        p = todo.pop()
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                groups.append(p)
                todo.extend(action.choices.values())
    return groups


def main(argv: list[str] | None = None) -> int:
    # Nothing reaches the network at run time: make every library we use stay offline.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if args.command is None and sys.stdin.isatty() and sys.stdout.isatty():
            from appliance.tui import run_tui  # a person at a terminal: open the interface; scripts still get help

            return run_tui(args.home, args.user)
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"appliance: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("appliance: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a full disk is the machine's state, not our bug: one line, the failed step rolled back
        if not is_disk_full(e):
            raise
        doing = f"running `appliance {args.command}`"
        print(f"appliance: error: {disk_full_error(doing, 'the failed step was rolled back')}", file=sys.stderr)
        return UserError.exit_code
