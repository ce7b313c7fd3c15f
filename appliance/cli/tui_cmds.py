"""`appliance tui`: open the terminal user interface (also what `appliance` with no arguments does on a terminal)."""

from __future__ import annotations

import argparse

from appliance.cli.common import add_home_option, add_user_option


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tui", help="open the terminal user interface (the default on a terminal)")
    add_home_option(p)
    add_user_option(p, help="user name to sign in as (default: $APPLIANCE_USER)")
    p.set_defaults(func=cmd_tui)


def cmd_tui(args: argparse.Namespace) -> int:
    from appliance.tui import run_tui  # Textual is imported only when the interface opens

    return run_tui(args.home, args.user)
