"""`appliance tasks check SPEC`: validate a task spec file without a vault or a model, and warn about label prompts
the model is likely to copy its label from (``appliance.spec.leak``). A warning does not fail the check (exit 0);
an invalid spec is one line naming the field (exit 2)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    tasks = sub.add_parser("tasks", help="task specs: check one before generating")
    tsub = tasks.add_subparsers(dest="tasks_command", metavar="SUBCOMMAND", required=True)
    p = tsub.add_parser("check", help="validate a task spec and warn about prompts that leak their label")
    p.add_argument("spec", type=Path, help="task spec file (TOML)")
    p.set_defaults(func=cmd_check)


def cmd_check(args: argparse.Namespace) -> int:
    from appliance.spec import load_task
    from appliance.spec.leak import prompt_warnings

    spec = load_task(args.spec)
    print(f"valid: {spec.name}, {len(spec.labels)} labels ({', '.join(spec.label_ids)})")
    for w in prompt_warnings(spec):
        print(f"warning: {w}")
    return 0
