"""Privacy-gate commands: `appliance review list|release|reject` (reviewers) and `appliance canary plant` (authors).

A quarantined record leaves quarantine only through a reviewer's decision with a written justification, which the
vault stores with the record and the audit log records.
"""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from appliance.cli.common import add_auth_options, read_passphrase
from appliance.errors import BadInput
from appliance.service import review
from appliance.service.session import Session


def register(sub: argparse._SubParsersAction) -> None:
    review = sub.add_parser("review", help="review records the privacy gate quarantined (reviewer)")
    rsub = review.add_subparsers(dest="review_command", metavar="COMMAND")
    rsub.required = True
    p = rsub.add_parser("list", help="quarantined records of a job with their reason codes")
    add_auth_options(p)
    p.add_argument("job", type=int)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_review_list)
    for name, release in (("release", True), ("reject", False)):
        p = rsub.add_parser(name, help=f"{name} a quarantined record (a justification is required)")
        add_auth_options(p)
        p.add_argument("record", type=int)
        p.add_argument("--note", required=True, help="the justification, stored with the decision")
        p.set_defaults(func=cmd_review_decide, release=release)

    canary = sub.add_parser("canary", help="canaries: secret strings planted in seeds to detect leaks")
    csub = canary.add_subparsers(dest="canary_command", metavar="COMMAND")
    csub.required = True
    p = csub.add_parser("plant", help="add canaries to a seed set (author)")
    add_auth_options(p)
    p.add_argument("--seed-set", required=True, help="seed set name")
    p.add_argument("--n", type=int, default=3, help="number of canaries (default 3)")
    p.set_defaults(func=cmd_canary_plant)
    p = csub.add_parser("exposure", help="how far a DP adapter singles out the canaries planted in its seed set (author)")
    add_auth_options(p)
    p.add_argument("--adapter", required=True, help="adapter name (see `appliance adapters list`)")
    p.add_argument("--candidates", type=int, default=500, help="random secrets each canary is ranked among")
    p.set_defaults(func=cmd_canary_exposure)


def cmd_review_list(args: argparse.Namespace) -> int:
    with Session.open(args.home, args.user, read_passphrase(args)) as session:
        records = review.quarantined(session, args.job)
    if args.json:
        print(json.dumps([{k: r[k] for k in ("id", "label", "text", "reasons", "findings")} for r in records],
                         ensure_ascii=False))
        return 0
    console = Console()
    t = Table("record", "label", "reasons", "findings", "text")
    for r in records:
        t.add_row(str(r["id"]), r["label"] or "", r["reason_text"], r["finding_text"], review.highlighted(r))
    console.print(t)
    console.print(f"{len(records)} quarantined records in job {args.job} (red: blocks the record; yellow: redacted on "
                  "export, even after a release)")
    return 0


def cmd_review_decide(args: argparse.Namespace) -> int:
    if not args.note.strip():  # refused before the passphrase is asked for
        raise BadInput("--note must give a justification")
    with Session.open(args.home, args.user, read_passphrase(args)) as session:
        status = review.decide(session, args.record, args.release, args.note)
    print(f"record {args.record}: {status}")
    return 0


def cmd_canary_plant(args: argparse.Namespace) -> int:
    from appliance.service.seeds import plant_canaries

    with Session.open(args.home, args.user, read_passphrase(args)) as session:
        set_id, ids = plant_canaries(session, args.seed_set, args.n)
    print(f"planted {len(ids)} canaries in seed set {args.seed_set} (canary set {set_id}; canary ids {', '.join(map(str, ids))})")
    return 0


def cmd_canary_exposure(args: argparse.Namespace) -> int:
    from appliance.paths import resolve_home
    from appliance.service.adapters import canary_exposure

    if not 10 <= args.candidates <= 100_000:
        raise BadInput(f"--candidates must be between 10 and 100000, not {args.candidates}")
    home = resolve_home(args.home)
    with Session.open(home, args.user, read_passphrase(args)) as session:
        rows = canary_exposure(session, home, args.adapter, args.candidates)
    t = Table("canary", "exposure, base model", "exposure, with adapter", "rank with adapter", "max")
    for r in rows:
        t.add_row(str(r["canary_id"]), f"{r['base']['exposure']:.2f}", f"{r['adapter']['exposure']:.2f}",
                  f"{r['adapter']['rank']} of {r['adapter']['candidates'] + 1}", f"{r['adapter']['max_exposure']:.2f}")
    Console().print(t)
    print("0 = no likelier than a random secret; max = ranked first (memorized).")
    return 0
