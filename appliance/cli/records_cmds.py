"""`appliance jobs [--limit N] [--json]`: the generation jobs, newest first (authors, reviewers and auditors: they hold
no text; the admin reads no job data); `appliance records JOB [--status S] [--label L] [--limit N] [--json]`: the records a job produced.

Authors and reviewers may read records (they hold the records key); the vault refuses admins and auditors. The table
shows each record's id, status, label and text; --json gives every stored field of each record.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table
from rich.text import Text

from appliance.cli.common import add_auth_options, add_json_option, print_json, read_passphrase
from appliance.inputfile import without_control_chars
from appliance.service.jobs import list_jobs
from appliance.service.records import job_records
from appliance.service.session import Session
from appliance.vault.jobs import RECORD_STATUSES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="the generation jobs, newest first, with their status (not the admin)")
    add_auth_options(p)
    p.add_argument("--limit", type=int, default=None, help="at most this many jobs")
    add_json_option(p)
    p.set_defaults(func=cmd_jobs)
    p = sub.add_parser("records", help="the records a generation job produced (authors and reviewers)")
    add_auth_options(p)
    p.add_argument("job", type=int, help="generation job id")
    p.add_argument("--status", default=None, help=f"only records with this status ({' | '.join(RECORD_STATUSES)})")
    p.add_argument("--label", default=None, help="only records with this label")
    p.add_argument("--limit", type=int, default=None, help="at most this many records")
    add_json_option(p)
    p.set_defaults(func=cmd_records)


def cmd_records(args: argparse.Namespace) -> int:
    with Session.open(args.home, args.user, read_passphrase(args)) as session:
        rows = job_records(session, args.job, status=args.status, label=args.label, limit=args.limit)
    if args.json:
        print_json(rows)
        return 0
    t = Table("record", "status", "label", "text")
    for r in rows:  # Text, not markup: a record's "[bold]" or escape sequence is shown as characters, never acted on
        t.add_row(str(r["id"]), r["status"], Text(without_control_chars(r["label"] or "")),
                  Text(without_control_chars(r["text"])))
    console = Console()
    console.print(t)
    console.print(f"{len(rows)} records of job {args.job}", highlight=False)
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    with Session.open(args.home, args.user, read_passphrase(args)) as session:
        rows = list_jobs(session, limit=args.limit)
    if args.json:
        print_json(rows)
        return 0
    t = Table("job", "task", "method", "status", "done", "by", "created", "finished")
    for j in rows:
        t.add_row(str(j["id"]), str(j["task_id"]), j["method"], j["status"], str(j["units_done"]), j["created_by"],
                  str(j["created_at"] or ""), str(j["finished_at"] or ""))
    Console().print(t)
    return 0
