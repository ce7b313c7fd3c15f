"""Options and helpers every CLI command shares: the strict parser, --home, --user, --passphrase-file."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from appliance.errors import UserError

# A secret given as an option's value: refused before parsing, by name only (ps, shell history and a log of the
# terminal would keep it; an error message must not print it once more).
_SECRET_OPTION = re.compile(r"--(?:[a-z]+-)*(?:passphrase|password)(?==|$)")


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
            options = [a.split("=", 1)[0] for a in extras if a.startswith("-") and a != "-"]
            values = len(extras) - len(options)
            parts = [f"unrecognized option{'s' if len(options) > 1 else ''} {', '.join(options)}"] if options else []
            if values:
                parts.append(f"{values} unexpected argument{'s' if values > 1 else ''} (not shown)")
            self.error("; ".join(parts))
        return ns

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


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


def add_home_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", default=None, help="installation directory (default: $APPLIANCE_HOME or the user data dir)")


def add_auth_options(p: argparse.ArgumentParser) -> None:
    """--user and --passphrase-file. A passphrase is never accepted as a command-line argument."""
    add_home_option(p)
    p.add_argument("--user", default=os.environ.get("APPLIANCE_USER"), help="user name (default: $APPLIANCE_USER)")
    p.add_argument(
        "--passphrase-file",
        default=None,
        help="read the passphrase from this file (else standard input when it is not a terminal, else a masked prompt)",
    )


def read_passphrase(args: argparse.Namespace, prompt: str = "Passphrase: ") -> str:
    """The passphrase from --passphrase-file, standard input (non-terminal) or a masked prompt."""
    path = getattr(args, "passphrase_file", None)
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise UserError(f"cannot read passphrase file {path}: {e.strerror}") from None
        value = text.rstrip("\r\n")
    elif not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = getpass.getpass(prompt)
    if not value:
        raise UserError("empty passphrase")
    return value
