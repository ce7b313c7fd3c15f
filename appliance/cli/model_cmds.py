"""`appliance models list | verify | add PATH`."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from appliance.cli.common import add_auth_options, add_home_option, add_json_option, print_json, read_passphrase
from appliance.errors import IntegrityError, MissingDependency
from appliance.paths import resolve_home
from appliance.service import models as svc
from appliance.service.session import Session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="the model registry: list, verify, add")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    q = msub.add_parser("list", help="registered models")
    add_home_option(q)
    add_json_option(q)
    q.set_defaults(func=cmd_list)
    q = msub.add_parser("verify", help="check every model file against its pinned sha256")
    add_home_option(q)
    q.add_argument("names", nargs="*")
    add_json_option(q)
    q.set_defaults(func=cmd_verify)
    q = msub.add_parser("add", help="register a GGUF file you bring (its hash is recorded; audited once a vault exists)")
    add_auth_options(q)
    q.add_argument("path", type=Path)
    q.add_argument("--name")
    q.add_argument("--license", default="unknown")
    q.set_defaults(func=cmd_add)


def cmd_list(args: argparse.Namespace) -> int:
    if args.json:
        print_json([asdict(e) for e in svc.list_models(resolve_home(args.home))])
        return 0
    rows = [("name", "arch", "params", "ctx", "kind", "quant", "license", "source")]
    for e in svc.list_models(resolve_home(args.home)):
        rows.append((
            e.name + (" (default)" if e.default else ""),
            e.architecture,
            f"{e.parameters / 1e6:.0f}M" if e.parameters else "?",
            str(e.context_length),
            "instruct" if e.instruct else "base",
            e.quantization,
            e.license.split(" (")[0],
            e.source.get("distribution") or e.source.get("file", ""),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 3 when a model file was altered, else 5 when one is missing, else 0 (the codes of ``appliance.errors``)."""
    states = svc.verify_models(resolve_home(args.home), args.names or None)
    if args.json:
        print_json([{"name": s.entry.name, "state": s.state, "detail": s.detail, "path": s.path} for s in states])
    else:
        for s in states:
            print(f"{s.entry.name:28s} {s.state:14s} {s.detail or s.path}")
    found = {s.state for s in states}
    if "mismatch" in found:
        return IntegrityError.exit_code
    return MissingDependency.exit_code if found - {"ok"} else 0


def cmd_add(args: argparse.Namespace) -> int:
    from appliance.vault import layout

    home = resolve_home(args.home)
    if not layout.key_file(home).exists():
        e = svc.add_model(home, args.path, args.name, args.license)
    else:
        with Session.open(home, args.user, read_passphrase(args)) as session:
            e = svc.add_model(home, args.path, args.name, args.license, session=session)
    print(f"added {e.name}: {e.architecture}, context {e.context_length}, {'instruct' if e.instruct else 'base'}, sha256 {e.sha256}")
    return 0
