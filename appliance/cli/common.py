"""Options and helpers every CLI command shares: the strict parser and the global options (--home, --user,
--passphrase-file), which a user may give before or after the subcommand."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from appliance.errors import BadInput

# A secret given as an option's value: refused before parsing, by name only (ps, shell history and a log of the
# terminal would keep it; an error message must not print it once more).
_SECRET_OPTION = re.compile(r"--(?:[a-z]+-)*(?:passphrase|password)(?==|$)")
# argparse's "invalid choice: 'VALUE'" and "invalid int value: 'VALUE'": the value may be a secret that a mistyped
# option before it left in a command's place (`appliance --passphrase-f SECRET vault status`), so it is not repeated.
_REFUSED_VALUE = re.compile(r"(invalid (?:choice|[\w ]+ value)): (?:'[^']*'|\"[^\"]*\")")


class StrictParser(argparse.ArgumentParser):
    """argparse with no abbreviations and errors on one line that never repeat an argument's value.

    By default argparse takes ``--passphrase SECRET`` as an abbreviation of ``--passphrase-file`` and then prints
    "cannot read passphrase file SECRET"; and its "unrecognized arguments" line repeats every stray value. Here
    options match only in full (subparsers inherit the class, so every subcommand too), and an error names
    unrecognized options but not values."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 (argparse's signature)
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def parse_args(self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None) -> argparse.Namespace:  # type: ignore[override]
        argv = list(sys.argv[1:] if args is None else args)
        refuse_secret_options(argv)
        ns, extras = self.parse_known_args(argv, namespace)
        if extras:
            options = [o for o in map(_option_name, extras) if o]
            values = len(extras) - len(options)
            parts = [f"unrecognized option{'s' if len(options) > 1 else ''} {', '.join(options)}"] if options else []
            if values:
                parts.append(f"{values} unexpected argument{'s' if values > 1 else ''} (not shown)")
            self.error("; ".join(parts))
        _check_int_range(self, ns)
        finish_global_options(self, ns)
        return ns

    def error(self, message: str) -> NoReturn:
        message = _REFUSED_VALUE.sub(r"\1 (not shown)", message)
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


# What an unrecognized argument may be shown as: a long option's name (before any "=VALUE"), or a short option alone
# (`-x`). Anything else (`-pSECRET`, a passphrase that begins with "-", `--Hunter2!`) may be a value: only counted.
_SHOWN_OPTION = re.compile(r"--[a-z][a-z0-9]*(?:-[a-z0-9]+)*(?==|$)|-[A-Za-z]$")
# DuckDB binds integers as at most 64 bits (ids, LIMIT): a larger number from the command line is refused here, in
# one line, rather than failing as a conversion error deep in a query.
_INT64 = 2**63 - 1


def _option_name(arg: str) -> str | None:
    """How an unrecognized argument is named in the error: ``--name`` or ``-x``, or None (not an option name)."""
    m = _SHOWN_OPTION.match(arg) if arg.startswith("-") and arg != "-" else None
    return m.group(0) if m else None


def _check_int_range(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> None:
    """Every integer given is within 64 bits (the value itself is not repeated)."""
    for dest, value in vars(ns).items():
        if isinstance(value, int) and not isinstance(value, bool) and not -_INT64 <= value <= _INT64:
            parser.error(f"argument {dest.replace('_', '-')}: number out of range")


def refuse_secret_options(argv: Sequence[str]) -> None:
    """Refuse ``--passphrase VALUE`` (and ``--passphrase=VALUE``, ``--new-passphrase``, …) by the option's name."""
    for arg in argv:
        if arg == "--":
            break
        m = _SECRET_OPTION.match(arg)
        if m:
            print(
                f"appliance: error: {m.group(0)} is not accepted: a passphrase on the command line is visible to other "
                "users and kept in shell history (use --passphrase-file PATH, standard input or the prompt)",
                file=sys.stderr,
            )
            raise SystemExit(2)


# Options every command may share, accepted before or after the subcommand (`appliance --home X vault status` is
# `appliance vault status --home X`): dest -> (flag, help). Each is declared with ``default=SUPPRESS`` on the main
# parser and on the commands that take it, so a value given before the subcommand is not overwritten by the
# subcommand's default; ``finish_global_options`` fills the defaults once parsing is done.
GLOBAL_OPTIONS: dict[str, tuple[str, str]] = {
    "home": ("--home", "installation directory (default: $APPLIANCE_HOME or the user data dir)"),
    "user": ("--user", "user name (default: $APPLIANCE_USER)"),
    "passphrase_file": ("--passphrase-file", "read the passphrase from this file (else standard input when it is not a "
                        "terminal, else a masked prompt)"),
}
_TAKES = "_global_options"  # namespace attribute: the global options the chosen command takes
_USER_FROM_ENV = "_user_from_env"  # namespace attribute: False where $APPLIANCE_USER is not the default user


def _add_global(p: argparse.ArgumentParser, dest: str, help: str | None = None) -> None:
    flag, default_help = GLOBAL_OPTIONS[dest]
    p.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=help or default_help)
    p.set_defaults(**{_TAKES: (*(p.get_default(_TAKES) or ()), dest)})


def add_global_options(parser: argparse.ArgumentParser) -> None:
    """Every global option on the main parser or a command group (`user`, `export`, …): given before the command."""
    for dest in GLOBAL_OPTIONS:
        flag, help = GLOBAL_OPTIONS[dest]
        parser.add_argument(flag, dest=dest, default=argparse.SUPPRESS, help=help)


def add_home_option(p: argparse.ArgumentParser, help: str | None = None) -> None:
    _add_global(p, "home", help)


def add_user_option(p: argparse.ArgumentParser, help: str | None = None) -> None:
    _add_global(p, "user", help)


def add_auth_options(p: argparse.ArgumentParser, *, user_from_env: bool = True) -> None:
    """--home, --user and --passphrase-file. A passphrase is never accepted as a command-line argument.
    ``user_from_env=False``: no --user means no user (not $APPLIANCE_USER), for commands that pick their own."""
    add_home_option(p)
    add_user_option(p)
    _add_global(p, "passphrase_file")
    if not user_from_env:
        p.set_defaults(**{_USER_FROM_ENV: False})


def finish_global_options(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> None:
    """Refuse a global option the chosen command does not take (given before it), then fill in the defaults."""
    takes = getattr(ns, _TAKES, ())
    if getattr(ns, "func", None) is not None:
        stray = [GLOBAL_OPTIONS[d][0] for d in GLOBAL_OPTIONS if d not in takes and hasattr(ns, d)]
        if stray:
            parser.error(f"{', '.join(stray)} does not apply to this command")
    defaults = {"home": None, "passphrase_file": None,
                "user": os.environ.get("APPLIANCE_USER") if getattr(ns, _USER_FROM_ENV, True) else None}
    for dest, value in defaults.items():
        if not hasattr(ns, dest):
            setattr(ns, dest, value)


def read_passphrase(args: argparse.Namespace, prompt: str = "Passphrase: ") -> str:
    """The passphrase from --passphrase-file, standard input (non-terminal) or a masked prompt."""
    path = getattr(args, "passphrase_file", None)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise BadInput(f"cannot read passphrase file {path}: {e.strerror}") from None
        value = text.rstrip("\r\n")
    elif not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = getpass.getpass(prompt)
    if not value:
        raise BadInput("empty passphrase")
    return value


def add_json_option(p: argparse.ArgumentParser) -> None:
    """--json: print the list as JSON instead of a table (every list command has it)."""
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def print_json(value: object) -> None:
    """JSON on standard output, every non-ASCII character escaped: a record's text with a terminal escape sequence
    (or a C1 control) cannot act on the terminal that shows it."""
    print(json.dumps(value, indent=2, default=str))
