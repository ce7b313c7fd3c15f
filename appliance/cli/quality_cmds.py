"""`appliance evaluate` (task models trained on a job's records, scored on a real labelled file, next to PROMPTING)
and `appliance report` (quality metrics: terminal summary, JSON and self-contained HTML, stored in the vault)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rich.console import Console

from appliance.cli.common import add_auth_options, read_passphrase
from appliance.cli.progress import StepProgress
from appliance.errors import BadInput
from appliance.outputs import check_output, write_output
from appliance.paths import resolve_home
from appliance.service.session import Session


def register(sub: argparse._SubParsersAction) -> None:
    from appliance.quality.taskmodels import task_model_names

    p = sub.add_parser("evaluate", help="train task models on a job's records and score them on a real labelled file")
    add_auth_options(p)
    p.add_argument("job", type=int, help="generation job id (its accepted records are the training data)")
    p.add_argument("--real", required=True, type=Path, help="real labelled file (.tsv without quoting, .csv, .jsonl, .parquet); never stored")
    p.add_argument("--text-column", required=True)
    p.add_argument("--label-column", required=True)
    p.add_argument("--label-map", default=None, help="RAW=LABEL,... from the file's labels to the task's label ids")
    p.add_argument("--drop-unmapped", action="store_true", help="skip rows whose label has no mapping (default: error)")
    p.add_argument("--limit", type=int, default=None, help="evaluate on a seeded sample of this many real rows")
    p.add_argument("--model", default=None, help="GGUF for PROMPTING (default: the job's generator)")
    p.add_argument("--no-prompting", action="store_true", help="skip the PROMPTING baseline")
    names = ",".join(task_model_names())
    slow = ",".join(n for n in task_model_names(every=True) if n not in task_model_names()) or "none"
    p.add_argument("--task-models", default=names, help=f"comma list (default: {names}; slower, only when named: {slow})")
    _label_filter_option(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the result as JSON here (outside the home)")
    _force_option(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("report", help="quality report of a job: terminal summary, JSON and self-contained HTML")
    add_auth_options(p)
    p.add_argument("job", type=int)
    p.add_argument("--html", type=Path, default=None, help="write the HTML report here (outside the home)")
    p.add_argument("--json", type=Path, default=None, help="write the JSON report here (outside the home)")
    _force_option(p)
    p.add_argument("--model", default=None, help="GGUF for the verbalizer judge and perplexity (default: the job's generator)")
    p.add_argument("--no-model", action="store_true", help="skip the model-based metrics (judge, perplexity)")
    p.add_argument("--filter", default=None, help='quality filter rules, e.g. "judge_agree,max_perplexity=200,dedup"')
    _label_filter_option(p)
    p.add_argument("--sample", type=int, default=200, help="Self-BLEU sample size (default 200)")
    p.set_defaults(func=cmd_report)


def _label_filter_option(p: argparse.ArgumentParser) -> None:
    from appliance.quality.labelfilters import label_filter_names

    p.add_argument("--label-filter", default=None, metavar="NAME",
                   help=f"take likely mislabelled records out ({', '.join(label_filter_names())}); they stay in the "
                        "vault as 'filtered' and are not exported; 'none' puts back what an earlier filter took out")


def _check_label_filter(args: argparse.Namespace) -> None:
    """An unknown label filter is one line naming the known ones, before a passphrase is asked for."""
    if args.label_filter is not None:
        from appliance.quality.labelfilters import LABEL_FILTERS

        LABEL_FILTERS.get(args.label_filter)


def _force_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="replace output files that already exist")


def _check_outputs(args: argparse.Namespace, *paths: Path | None) -> None:
    """Refuse a bad output path before any work is done (inside the home, or existing without --force)."""
    for path in paths:
        if path is not None:
            check_output(path, resolve_home(args.home), force=args.force)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from appliance.quality.realdata import parse_label_map
    from appliance.quality.report import eval_table, label_filter_table, leak_line
    from appliance.service.quality import evaluate_job

    if not args.real.is_file():
        raise BadInput(f"no such file: {args.real}")
    _check_outputs(args, args.json)
    label_map = parse_label_map(args.label_map)
    models = [m.strip() for m in args.task_models.split(",") if m.strip()]
    _check_label_filter(args)
    console = Console()
    passphrase = read_passphrase(args)
    with Session.open(args.home, args.user, passphrase) as session, StepProgress(console) as view:
        ev = evaluate_job(session, resolve_home(args.home), args.job, args.real, args.text_column, args.label_column,
                          label_map=label_map, drop_unmapped=args.drop_unmapped, limit=args.limit, model=args.model,
                          prompting=not args.no_prompting, task_models=models, label_filter=args.label_filter,
                          seed=args.seed, progress=view)
    console.print(eval_table(ev))
    if ev.get("label_filter"):
        console.print(label_filter_table(ev["label_filter"]))
    console.print(leak_line(ev.get("label_leak")), soft_wrap=True)
    curve = ", ".join(f"{r['task_model']}@{r['n_train']}: {100 * r['accuracy']:.1f}" for r in ev["curve"])
    console.print(f"accuracy vs. size: {curve}", soft_wrap=True)
    console.print(f"stored in the vault as report {ev['report_id']} · real file not stored", soft_wrap=True)
    if args.json:
        write_output(args.json, json.dumps(ev, indent=1, default=str), resolve_home(args.home), force=args.force)
        console.print(f"JSON result: {os.fspath(args.json)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from appliance.quality.report import print_summary
    from appliance.service.quality import report_job

    _check_outputs(args, args.html, args.json)
    _check_label_filter(args)
    console = Console()
    passphrase = read_passphrase(args)
    with Session.open(args.home, args.user, passphrase) as session, StepProgress(console) as view:
        body, html = report_job(session, resolve_home(args.home), args.job, model=args.model, use_model=not args.no_model,
                                filter_spec=args.filter, label_filter=args.label_filter, sample=args.sample,
                                progress=view)
    print_summary(console, body)
    console.print(f"stored in the vault as reports {body['report_id']} (JSON) and {body['html_report_id']} (HTML)", soft_wrap=True)
    home = resolve_home(args.home)
    if args.html:
        write_output(args.html, html, home, force=args.force)
        console.print(f"HTML report: {os.fspath(args.html)}")
    if args.json:
        write_output(args.json, json.dumps(body, indent=1, default=str), home, force=args.force)
        console.print(f"JSON report: {os.fspath(args.json)}")
    return 0
