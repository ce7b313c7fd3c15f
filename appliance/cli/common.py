"""Options and helpers every CLI command shares: --home, --user, --passphrase-file."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from appliance.errors import UserError


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
