"""CLI commands for the vault: init, user, vault, audit, import.

``register(subparsers)`` adds them to the main parser; each sets ``func`` to a ``cmd_x(args) -> int``
handler. A UserError is printed as one line and exits with its kind's code (``appliance.errors``); ``audit
verify`` exits 3 (integrity) when the log does not verify. Passphrases come from files, standard input or a
masked prompt, never from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import datetime, timezone

from appliance.cli.common import add_auth_options, add_json_option, print_json, read_passphrase
from appliance.errors import BadInput, IntegrityError
from appliance.outputs import check_output
from appliance.paths import resolve_home
from appliance.service import audit as audit_service
from appliance.service import users as user_service
from appliance.service.overview import vault_status
from appliance.service.session import Session

AUDIT_FAILED_EXIT = IntegrityError.exit_code  # 3, as for any altered file


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add init, user, vault, audit and import subcommands."""
    p = subparsers.add_parser("init", help="create the encrypted vault and its first admin")
    add_auth_options(p)
    p.set_defaults(func=cmd_init)

    user = subparsers.add_parser("user", help="manage users (admin)")
    usub = user.add_subparsers(dest="user_command", metavar="COMMAND")
    usub.required = True
    p = usub.add_parser("add", help="add a user with a role")
    add_auth_options(p)
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=user_service.role_names())
    _add_new_passphrase_option(p)
    p.set_defaults(func=cmd_user_add)
    p = usub.add_parser("passwd", help="change your passphrase (admins: --name to reset another user's)")
    add_auth_options(p)
    p.add_argument("--name", default=None, help="user whose passphrase to reset (admin only; default: yourself)")
    _add_new_passphrase_option(p)
    p.set_defaults(func=cmd_user_passwd)
    p = usub.add_parser("list", help="list users and roles")
    add_auth_options(p)
    add_json_option(p)
    p.set_defaults(func=cmd_user_list)
    p = usub.add_parser("remove", help="disable a user; every key they held is rotated")
    add_auth_options(p)
    p.add_argument("name")
    p.set_defaults(func=cmd_user_remove)
    p = usub.add_parser("grant", help="seal the data keys you hold to another user whose role may hold them "
                                      "(an author to a new author or reviewer, a reviewer to a new reviewer)")
    add_auth_options(p)
    p.add_argument("name")
    p.set_defaults(func=cmd_user_grant)

    vault = subparsers.add_parser("vault", help="vault maintenance")
    vsub = vault.add_subparsers(dest="vault_command", metavar="COMMAND")
    vsub.required = True
    p = vsub.add_parser("rotate-key", help="re-encrypt the vault under a new data key (admin)")
    add_auth_options(p)
    p.set_defaults(func=cmd_vault_rotate_key)
    p = vsub.add_parser("status", help="show where the vault is, its encryption and its size")
    add_auth_options(p)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_vault_status)

    audit = subparsers.add_parser("audit", help="the tamper-evident audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="COMMAND")
    asub.required = True
    p = asub.add_parser("verify", help="check the hash chain, every user's signatures and the checkpoint")
    add_auth_options(p)
    p.add_argument("--anchor", default=None, metavar="DIGEST",
                   help="also prove the log still extends this digest from `audit anchor` (catches a rollback)")
    p.set_defaults(func=cmd_audit_verify)
    p = asub.add_parser("anchor", help="print a short digest of the log's head to keep outside this machine")
    add_auth_options(p)
    p.set_defaults(func=cmd_audit_anchor)
    p = asub.add_parser("log", help="show or export audit entries")
    add_auth_options(p)
    p.add_argument("--filter-user", "--by", dest="filter_user", default=None, help="only entries by this user")
    p.add_argument("--action", default=None, help="only this action (a trailing * matches a prefix, e.g. 'export.*')")
    p.add_argument("--since", default=None, help="from this time (ISO 8601, e.g. 2025-01-31 or 2025-01-31T12:00; UTC if no zone)")
    p.add_argument("--until", default=None, help="up to this time (inclusive)")
    p.add_argument("--jsonl", default=None, metavar="PATH", help="write the entries as JSON Lines to PATH (outside the home)")
    p.add_argument("--force", action="store_true", help="replace PATH if it already exists")
    add_json_option(p)
    p.set_defaults(func=cmd_audit_log)

    p = subparsers.add_parser("import", help="import seed records (CSV, TSV, JSONL or Parquet) for a task")
    add_auth_options(p)
    p.add_argument("file")
    p.add_argument("--task", required=True, help="task spec file (TOML); its labels are the allowed label values")
    p.add_argument("--text-column", required=True)
    p.add_argument("--label-column", default=None)
    p.add_argument("--seed-set", default=None, help="name of the new seed set (default: the file name without suffix)")
    p.set_defaults(func=cmd_import)


def _add_new_passphrase_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--new-passphrase-file", default=None, help="read the new passphrase from this file")


def read_new_passphrase(args: argparse.Namespace, prompt: str = "New passphrase: ") -> str:
    """A new passphrase: from --new-passphrase-file, else standard input, else a masked prompt asked twice."""
    path = getattr(args, "new_passphrase_file", None)
    if path:
        return read_passphrase(argparse.Namespace(passphrase_file=path), prompt)
    if not sys.stdin.isatty():
        return read_passphrase(argparse.Namespace(passphrase_file=None), prompt)
    first = getpass.getpass(prompt)
    if first != getpass.getpass("Repeat it: "):
        raise BadInput("the two passphrases differ")
    if not first:
        raise BadInput("empty passphrase")
    return first


def _session(args: argparse.Namespace) -> Session:
    if not args.user:
        raise BadInput("no user given (use --user or set APPLIANCE_USER)")
    return Session.open(args.home, args.user, read_passphrase(args))


def cmd_init(args: argparse.Namespace) -> int:
    if not args.user:
        raise BadInput("init needs --user NAME for the first admin")
    if args.passphrase_file or not sys.stdin.isatty():
        passphrase = read_passphrase(args)
    else:
        passphrase = read_new_passphrase(argparse.Namespace(new_passphrase_file=None), "Passphrase for the first admin: ")
    with Session.init(args.home, args.user, passphrase) as s:
        st = vault_status(s)
    print(f"vault created in {st['home']} (AES-256-{st['cipher']}); admin: {args.user}")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    with _session(args) as s:
        s.require("user.manage")
        user_service.add_user(s, args.name, args.role, read_new_passphrase(args, f"Passphrase for {args.name}: "))
    print(f"user {args.name} added ({args.role})")
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    with _session(args) as s:
        target = args.name or s.user
        if target != s.user:
            s.require("user.manage")
        user_service.change_passphrase(s, target, read_new_passphrase(args))
    print(f"passphrase changed for {target}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    with _session(args) as s:
        users = user_service.list_users(s)
    if args.json:
        print_json(users)
        return 0
    for u in users:
        state = " (removed)" if u["disabled"] else ""
        held = ",".join(u["keys"]) or "-"
        print(f"{u['name']:<24} {u['role']:<9} added {u['created_at'][:19]} by {u['created_by']:<16} keys {held}{state}")
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    with _session(args) as s:
        user_service.remove_user(s, args.name)
    print(f"user {args.name} removed; the database key was rotated, and any data key they held rotates at the "
          "next sign-in of a user who holds it")
    return 0


def cmd_user_grant(args: argparse.Namespace) -> int:
    with _session(args) as s:
        granted = user_service.grant(s, args.name)
    print(f"granted to {args.name}: {', '.join(granted)}")
    return 0


def cmd_vault_rotate_key(args: argparse.Namespace) -> int:
    with _session(args) as s:
        generation = user_service.rotate_key(s)
    print(f"vault re-encrypted under a new data key (generation {generation}); all users re-sealed")
    return 0


def cmd_vault_status(args: argparse.Namespace) -> int:
    with _session(args) as s:
        st = vault_status(s)
    if args.json:
        print(json.dumps(st, indent=2, sort_keys=True))
        return 0
    print(f"home          {st['home']}")
    print(f"database      {st['database']} ({st['database_bytes']:,} bytes)")
    print(f"encryption    {'AES-256-' + str(st['cipher']) if st['encrypted'] else 'NONE'}; key generation {st['key_generation']}")
    print("users         " + ", ".join(f"{n} {r}" for r, n in sorted(st["users_by_role"].items())))
    print("contents      " + ", ".join(f"{n} {t}" for t, n in st["counts"].items()))
    print(f"you           {st['user']} ({st['role']})")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    with _session(args) as s:
        result = audit_service.verify(s, args.anchor)
    if result.ok:
        print(result)
        return 0
    print(result, file=sys.stderr)
    return AUDIT_FAILED_EXIT


def cmd_audit_anchor(args: argparse.Namespace) -> int:
    with _session(args) as s:
        anchor = audit_service.anchor(s)
    print(anchor)
    print("keep this digest outside this machine; `appliance audit verify --anchor DIGEST` proves the log still "
          "extends it", file=sys.stderr)
    return 0


def parse_time(value: str | None, end: bool = False) -> str | None:
    """ISO 8601 date or time → the vault's UTC text form. A bare date as --until means the end of that day."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"invalid time {value!r}: use ISO 8601, e.g. 2025-01-31 or 2025-01-31T14:00") from None
    if end and len(value) == 10:
        dt = dt.replace(hour=23, minute=59, second=59, microsecond=999999)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        dt = dt.astimezone(timezone.utc)
    except OverflowError:  # year 1 east of UTC or year 9999 west of it: no UTC time to compare with
        raise BadInput(f"invalid time {value!r}: out of range in UTC") from None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cmd_audit_log(args: argparse.Namespace) -> int:
    filters = {
        "user": args.filter_user,
        "action": args.action,
        "since": parse_time(args.since),
        "until": parse_time(args.until, end=True),
    }
    if args.jsonl:  # refused before the passphrase is asked for
        check_output(args.jsonl, resolve_home(args.home), force=args.force)
    with _session(args) as s:
        if args.jsonl:
            n = audit_service.export_jsonl(s, args.jsonl, force=args.force, **filters)
            print(f"{n} entries written to {args.jsonl}")
            return 0
        entries = audit_service.entries(s, **filters)
    if args.json:
        print_json(entries)
        return 0
    for e in entries:
        ids = " ".join(f"{k}={v}" for k, v in sorted(e["object_ids"].items()) if v is not None)
        params = json.dumps(e["params"], sort_keys=True, ensure_ascii=False) if e["params"] else ""
        print(f"{e['seq']:>6} {e['ts'][:19]} {e['user']:<16} {e['role']:<9} {e['action']:<16} {ids} {params}".rstrip())
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from appliance.spec import load_task  # lazy: the spec package is only needed here

    spec = load_task(args.task)
    labels = list(spec.label_ids) if args.label_column else None
    with _session(args) as s:
        result = s.import_seed_file(
            args.file,
            text_column=args.text_column,
            label_column=args.label_column,
            allowed_labels=labels,
            seed_set=args.seed_set,
            task_name=spec.name,
            task_toml=spec.source_text,
        )
    print(f"imported {result.rows} seed records into seed set {result.seed_set!r} (sha256 {result.source_sha256[:12]}…)")
    return 0
