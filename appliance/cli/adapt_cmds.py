"""DP adapter commands: `appliance adapt` (train on a seed set), `appliance adapters list`, `appliance ledger`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.progress import TextColumn
from rich.table import Table

from appliance.cli.common import add_auth_options, read_passphrase
from appliance.cli.progress import StepProgress
from appliance.paths import resolve_home
from appliance.service.session import Session


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adapt", help="train a LoRA adapter with differential privacy on a seed set (author)")
    add_auth_options(p)
    p.add_argument("--seeds", "--seed-set", dest="seed_set", required=True, help="seed set name")
    p.add_argument("--model", default=None, help="registered model (default: the embedded default)")
    p.add_argument("--epsilon", type=float, required=True, help="ε this run may spend (charged to the seed set's ledger)")
    p.add_argument("--delta", type=float, default=None, help="δ (default: the policy's, else 1/(10·N))")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16, help="expected batch size under Poisson sampling")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--policy", default="default", help="policy whose DP budget applies (name or path)")
    p.add_argument("--name", default=None, help="adapter name (default: SEEDSET-epsE-MODEL)")
    p.set_defaults(func=cmd_adapt)

    ad = sub.add_parser("adapters", help="DP adapters stored in the vault")
    asub = ad.add_subparsers(dest="adapters_command", metavar="COMMAND")
    asub.required = True
    p = asub.add_parser("list", help="adapters with their model, seed set and (ε, δ)")
    add_auth_options(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_adapters_list)

    p = sub.add_parser("ledger", help="privacy budget spent and left on a seed set")
    add_auth_options(p)
    p.add_argument("seed_set", help="seed set name")
    p.add_argument("--policy", default="default", help="policy whose budget applies")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ledger)


def _open(args: argparse.Namespace) -> tuple[Session, Path]:
    home = resolve_home(args.home)
    return Session.open(home, args.user, read_passphrase(args)), home


def cmd_adapt(args: argparse.Namespace) -> int:
    from appliance.service.adapters import AdaptRequest, train_adapter

    console = Console()
    session, home = _open(args)
    with session:
        req = AdaptRequest(seed_set=args.seed_set, epsilon=args.epsilon, model=args.model, delta=args.delta,
                           epochs=args.epochs, policy=args.policy, name=args.name, batch_size=args.batch_size,
                           learning_rate=args.learning_rate)
        with StepProgress(console, columns=(TextColumn("ε {task.fields[eps]}"), TextColumn("loss {task.fields[loss]}")),
                          fields={"eps": "0.00", "loss": "-"}, plain=" steps · ε {eps} · loss {loss}") as view:
            view("DP training: loading the model and checking the seed set")  # the first minute reports nothing

            def progress(p) -> None:
                view("DP training", p.step, p.total_steps, eps=f"{p.epsilon:.2f}" if p.epsilon is not None else "-",
                     loss=f"{p.loss:.3f}")

            manifest = train_adapter(session, home, req, progress)
    priv = manifest["privacy"]
    console.print(f"[bold]adapter {manifest['name']}[/] (sha256 {manifest['sha256'][:12]}…) for {manifest['model']}: "
                  f"ε = {priv['epsilon']:.2f}, δ = {priv['delta']:.2g} ({priv['accountant']} accountant, noise σ = "
                  f"{priv['noise_multiplier']:.3f}, clip {priv['max_grad_norm']}, {priv['steps']} steps)", soft_wrap=True)
    console.print(manifest["in_plain_words"], soft_wrap=True)
    console.print(f"use it: appliance generate TASK --adapter {manifest['name']}", soft_wrap=True)
    return 0


def cmd_adapters_list(args: argparse.Namespace) -> int:
    from appliance.service.adapters import list_adapters

    session, _ = _open(args)
    with session:
        rows = list_adapters(session)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    t = Table("name", "model", "seed set", "records", "ε", "δ", "sha256", "created")
    for r in rows:
        m = r["manifest"]
        t.add_row(r["name"], r["model"], m["seed_set"], str(m["n_records"]), f"{m['privacy']['epsilon']:.2f}",
                  f"{m['privacy']['delta']:.2g}", r["sha256"][:12] + "…", r["created_at"])
    Console().print(t)
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    from appliance.guard.policy import load_policy
    from appliance.service.adapters import ledger

    load_policy(args.policy)  # a bad policy is refused before the passphrase is asked for
    session, _ = _open(args)
    with session:
        spent = ledger(session, args.seed_set, args.policy)
    budget = spent["budget_epsilon"]
    if args.json:
        print(json.dumps(spent, indent=2, default=str))
        return 0
    console = Console()
    t = Table("when", "by", "kind", "ref", "ε", "δ")
    for e in spent["entries"]:
        t.add_row(e["created_at"], e["created_by"], e["kind"], e["ref"], f"{e['epsilon']:.3f}", f"{e['delta']:.2g}")
    console.print(t)
    console.print(f"seed set {args.seed_set}: spent ε = {spent['epsilon']:.2f} of {budget:g} ({spent['composition']}); "
                  f"left ε = {spent['left_epsilon']:.2f}", soft_wrap=True)
    return 0
