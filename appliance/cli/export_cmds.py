"""`appliance export ...` and `appliance verify-export DIR`.

    appliance export request JOB [--policy P]          an author asks to export a finished job
    appliance export approve ID --reason TEXT          a reviewer (not the requester) approves
    appliance export deny ID --reason TEXT             ... or denies
    appliance export write ID --format F --to DIR [--encrypt]
    appliance export list
    appliance export pubkey                            the installation's public key, to pin with --pubkey
    appliance export JOB --format F --to DIR           one shot: writes when no approval is needed or one exists
    appliance verify-export DIR [--pubkey PEM] [--bundle-passphrase-file F [--decrypt-to OUT]]
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from rich.console import Console

from appliance.cli.common import add_auth_options, add_home_option, add_json_option, print_json, read_passphrase
from appliance.cli.progress import StepProgress
from appliance.errors import BadInput
from appliance.export.formats import FORMATS
from appliance.paths import resolve_home
from appliance.service.session import Session


class _JobNames(dict):
    """The sub-command table, which also accepts a job id (argparse checks choices before it calls the action)."""

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or (isinstance(key, str) and key.isdigit())


class _JobOrCommand(argparse._SubParsersAction):
    """`appliance export JOB ...` is the one-shot path: a first word that is a job id means `run JOB`."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 (argparse's signature)
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _JobNames()

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001 (argparse's signature)
        if values and not dict.__contains__(self._name_parser_map, values[0]):
            values = ["run", *values]
        super().__call__(parser, namespace, values, option_string)


def _write_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", required=True, choices=FORMATS.names(),
                   help="; ".join(f"{name}: {f.help}" for name, f in FORMATS.items()))
    p.add_argument("--to", required=True, type=Path, help="new or empty directory to write the export into")
    p.add_argument("--encrypt", action="store_true", help="write one AES-GCM bundle under a passphrase, for transfer")
    p.add_argument("--bundle-passphrase-file", default=None,
                   help="the bundle's passphrase (else a masked prompt, asked twice); at least 8 characters")


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="request, approve and write de-identified exports",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.register("action", "parsers", _JobOrCommand)
    esub = export.add_subparsers(dest="export_command", metavar="COMMAND|JOB")
    esub.required = True

    p = esub.add_parser("request", help="ask to export a finished job (author)")
    add_auth_options(p)
    p.add_argument("job", type=int)
    p.add_argument("--policy", default=None, help="export policy (default: the job's generation policy)")
    p.set_defaults(func=cmd_request)
    for name, approve in (("approve", True), ("deny", False)):
        p = esub.add_parser(name, help=f"{name} an export request (reviewer, not the requester)")
        add_auth_options(p)
        p.add_argument("export", type=int)
        p.add_argument("--reason", required=True, help="the justification, stored with the decision")
        p.set_defaults(func=cmd_decide, approve=approve)
    p = esub.add_parser("write", help="write an approved export (author)")
    add_auth_options(p)
    p.add_argument("export", type=int)
    _write_options(p)
    p.set_defaults(func=cmd_write)
    p = esub.add_parser("list", help="export requests and their status")
    add_auth_options(p)
    add_json_option(p)
    p.set_defaults(func=cmd_list)
    p = esub.add_parser("pubkey", help="print the installation's export-signing public key (PEM) and fingerprint")
    add_home_option(p)
    p.set_defaults(func=cmd_pubkey)
    p = esub.add_parser("run", help="one shot: `appliance export JOB --format F --to DIR`")
    add_auth_options(p)
    p.add_argument("job", type=int)
    p.add_argument("--policy", default=None, help="export policy (default: the job's generation policy)")
    _write_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("verify-export", help="check an export's signature and every file's sha256")
    add_home_option(p, help="the installation whose key must have signed the export "
                    "(default: $APPLIANCE_HOME; with neither, and no --pubkey, the signer is reported unpinned)")
    p.add_argument("dir", type=Path)
    p.add_argument("--pubkey", default=None, type=Path, help="require this signer (PEM from `appliance export pubkey`)")
    p.add_argument("--bundle-passphrase-file", default=None, help="decrypt an encrypted bundle and check the files in it")
    p.add_argument("--decrypt-to", default=None, type=Path, help="with the passphrase: write the decrypted files here")
    p.set_defaults(func=cmd_verify)


def _bundle_passphrase(args: argparse.Namespace, confirm: bool) -> str | None:
    if not getattr(args, "encrypt", False) and not args.bundle_passphrase_file:
        return None
    if args.bundle_passphrase_file:
        try:
            value = Path(args.bundle_passphrase_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            raise BadInput(f"cannot read bundle passphrase file {args.bundle_passphrase_file}: {e.strerror}") from None
    elif sys.stdin.isatty():
        value = getpass.getpass("Bundle passphrase: ")
        if confirm and getpass.getpass("Again: ") != value:
            raise BadInput("the two bundle passphrases differ")
    else:
        raise BadInput("--encrypt needs --bundle-passphrase-file (standard input carries the vault passphrase)")
    if not value:
        raise BadInput("empty bundle passphrase")
    return value


def cmd_request(args: argparse.Namespace) -> int:
    from appliance.service import export

    with Session.open(args.home, args.user, read_passphrase(args)) as session:
        r = export.request_export(session, args.job, args.policy)
    need = "a reviewer must approve it" if r["policy"]["requires_approval"] else "no approval needed"
    print(f"export {r['export_id']} requested: job {args.job}, {r['records']} accepted records, "
          f"policy {r['policy']['name']} ({need})")
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from appliance.service import export

    with Session.open(args.home, args.user, read_passphrase(args)) as session:
        status = export.decide_export(session, args.export, args.approve, args.reason)
    print(f"export {args.export}: {status}")
    return 0


def _print_result(r) -> None:  # noqa: ANN001
    why = ", ".join(f"{k} {v}" for k, v in r.left_out_by_reason.items()) or "none"
    print(f"wrote {r.records} records ({r.format}{', encrypted' if r.encrypted else ''}) to {r.path}; "
          f"left out by the export gate: {r.left_out} ({why})")
    print(f"manifest sha256 {r.manifest_sha256} · signed by {r.fingerprint}")


def cmd_write(args: argparse.Namespace) -> int:
    from appliance.service import export

    bundle_pw = _bundle_passphrase(args, confirm=True)
    with Session.open(args.home, args.user, read_passphrase(args)) as session, StepProgress(Console()) as view:
        r = export.write_export(session, args.export, args.format, args.to, bundle_passphrase=bundle_pw, progress=view)
    _print_result(r)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from appliance.service import export

    bundle_pw = _bundle_passphrase(args, confirm=True)
    with Session.open(args.home, args.user, read_passphrase(args)) as session, StepProgress(Console()) as view:
        r = export.export_job(session, args.job, args.format, args.to, policy=args.policy, bundle_passphrase=bundle_pw,
                              progress=view)
    _print_result(r)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from appliance.service import export

    with Session.open(args.home, args.user, read_passphrase(args)) as session:
        rows = export.list_exports(session)
    if args.json:
        print_json(rows)
        return 0
    t = Table("export", "job", "status", "policy", "records", "requested by", "decided by", "reason")
    for e in rows:
        t.add_row(str(e["id"]), str(e["job_id"]), e["status"], e["policy"] or "", str(e["records"] or ""),
                  e["requested_by"], e["decided_by"] or "", e["decision_reason"] or "")
    Console().print(t)
    return 0


def cmd_pubkey(args: argparse.Namespace) -> int:
    from appliance.export.manifest import fingerprint, public_pem
    from appliance.service.export_verify import installation_public_key

    key = installation_public_key(resolve_home(args.home))
    if key is None:
        raise BadInput(f"no vault in {resolve_home(args.home)} (run `appliance init` first)")
    sys.stdout.write(public_pem(key).decode("ascii"))
    print(fingerprint(key))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from appliance.service import export

    if args.decrypt_to and not args.bundle_passphrase_file:
        raise BadInput("--decrypt-to needs --bundle-passphrase-file")
    pw = _bundle_passphrase(args, confirm=False)
    named = bool(args.home or os.environ.get("APPLIANCE_HOME"))  # an installation named: its key is the pin
    v = export.verify(args.dir, home=resolve_home(args.home), pin_installation=named, pubkey_file=args.pubkey,
                      passphrase=pw, decrypt_to=args.decrypt_to)
    m = v.manifest
    what = "encrypted bundle" if v.encrypted else "export"
    pinned = v.pinned_to is not None or v.key_matches_installation is True
    print(f"{'OK' if pinned else 'UNPINNED'}: {what} {v.path} · signature valid · {v.files_checked} files match their "
          f"sha256 · job {m['dataset']['job_id']} · {m['records']['exported']} records · {m['export']['format']}")
    if v.key_matches_installation is True:
        who = "this installation"
    elif v.pinned_to is not None:
        who = f"{v.pinned_to} · another installation" if v.key_matches_installation is False else v.pinned_to
    else:
        who = ("unpinned: anyone can sign an export with a key of their own; compare this fingerprint with the "
               "sender's (`appliance export pubkey`), or verify with --pubkey PEM or --home")
    print(f"signed by {v.fingerprint} · {who}")
    for note in v.notes:
        print(f"note: {note}")
    if v.extracted_to:
        print(f"decrypted files written to {v.extracted_to}")
    return 0
