"""`appliance generate` and `appliance demo` (the main job)."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING
from pathlib import Path

from rich.console import Console
from rich.progress import TextColumn
from rich.table import Table

from appliance.cli.common import add_auth_options, read_passphrase
from appliance.cli.method_options import add_method_options, method_options_from
from appliance.cli.progress import StepProgress
from appliance.errors import BadInput
from appliance.paths import resolve_home
from appliance.service.session import Session
from appliance.shipped import shipped_path
from appliance.spec import load_task

if TYPE_CHECKING:
    from appliance.service.generation import GenerationResult

DEMO_TASK = shipped_path("tasks", "medical_specialty.toml")


def _gen_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", default="zerogen", help="generation method (default: zerogen)")
    p.add_argument("--model", default=None, help="registered model name (default: the embedded default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the free cores)")
    p.add_argument("--adapter", default=None, help="a DP LoRA adapter from the vault (see `appliance adapters list`)")
    p.add_argument("--n-gpu-layers", type=int, default=None,
                   help="layers to offload to the GPU (-1 all; default: all on a GPU build of llama.cpp, else 0)")
    p.add_argument("--compute-type", default=None, help="source | q8_0 | bf16 | f16 | q4_0 (default q8_0)")
    p.add_argument("--policy", default="default", help="privacy policy: NAME in policies/ or a TOML PATH (default: default)")
    p.add_argument("--seed-set", default=None, help="seed set in the vault for fewgen and augpe (authors only)")
    p.add_argument("--deterministic", action="store_true",
                   help="one thread, one sequence at a time (one per label for a method that needs slots): the same "
                        "seed gives byte-identical records")
    _scale_options(p)
    add_method_options(p)  # --temperature, --top-p, --rounds, --epsilon-budget, …: from the methods' declarations


def _scale_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", default=None, metavar="HOST:PORT",
                   help="decode on the workers of this Ray cluster (the vault and the gate stay here)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="decoding workers: on the cluster (default one per node), or in a local Ray instance on this "
                        "machine when no cluster is named")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate a labelled dataset for a task into the vault")
    add_auth_options(p)
    p.add_argument("--task", required=True, type=Path, help="task spec (TOML)")
    p.add_argument("--n", type=int, default=200, help="number of records (default 200)")
    _gen_options(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("resume", help="finish a generation job that was killed, cancelled or failed")
    add_auth_options(p)
    p.add_argument("job", type=int)
    _scale_options(p)
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("demo", help="the main job: 200 labelled clinical notes with the embedded model")
    add_auth_options(p, user_from_env=False)
    p.add_argument("--task", type=Path, default=DEMO_TASK)
    p.add_argument("--n", type=int, default=200)
    _gen_options(p)
    p.set_defaults(func=cmd_demo)


def _run(args: argparse.Namespace, session: Session, console: Console) -> GenerationResult:
    # Imported here: the generation stack (gate, Presidio, datasketch) is slow to import and most commands need none of it.
    from appliance.service.generation import GenerationRequest, run_generation

    if args.n < 1 or args.n > 1_000_000:
        raise BadInput(f"--n must be between 1 and 1000000, not {args.n}")
    task = load_task(args.task)
    req = GenerationRequest(
        task=task, method=args.method, n=args.n, model=args.model, seed=args.seed, threads=args.threads,
        temperature=args.temperature, top_p=args.top_p, compute_type=args.compute_type, policy=args.policy,
        deterministic=args.deterministic, seed_set=args.seed_set, n_gpu_layers=args.n_gpu_layers,
        adapter=args.adapter, cluster=args.cluster, workers=args.workers,
        method_options=method_options_from(args),
    )
    return _with_progress(console, f"{task.name} · {args.method}", args.n, task.name,
                          lambda cb: run_generation(session, resolve_home(args.home), req, cb))


def _with_progress(console: Console, title: str, total: int, task_name: str, work) -> GenerationResult:
    with StepProgress(console, columns=(TextColumn("{task.fields[tps]:>6.0f} tok/s{task.fields[workers]}"),),
                      fields={"tps": 0.0, "workers": ""}, plain=" · {tps:.0f} tok/s{workers}") as view:
        t0 = time.perf_counter()
        view(title, 0, total)

        def on_progress(p) -> None:
            view(title, min(p.accepted, total), total, tps=p.tokens / max(1e-9, time.perf_counter() - t0),
                 workers=workers_text(p.workers))

        result = work(on_progress)
    _summary(console, task_name, result)
    return result


def workers_text(workers: list[dict]) -> str:
    """A cluster job's workers on the progress line: node, tokens/s and state of each; empty without a cluster."""
    if not workers:
        return ""
    return " · " + ", ".join(f"{w['node'].split()[0]}:{w['pid']} {w['tokens_per_s']:.0f} tok/s {w['state']}"
                             for w in workers)


def _summary(console: Console, task_name: str, r: GenerationResult) -> None:
    q = r.gate.get("quarantined", 0)
    console.print(f"[bold]{task_name}: {len(r.records)} records accepted, {q} quarantined (job {r.job_id})", soft_wrap=True)
    t = Table("label", "records")
    for lab, n in sorted(r.per_label.items()):
        t.add_row(lab, str(n))
    console.print(t)
    for rec in r.records[:: max(1, len(r.records) // 5)][:5]:
        console.print(f"[cyan]{rec['label']}[/] · {rec['context']}\n    {rec['text'][:300]}")
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(r.dropped.items())) or "none"
    if r.gate:
        why = ", ".join(f"{k} {v}" for k, v in r.gate["reasons"].items()) or "none"
        flag = " · DEGRADED: pattern-only PII scan" if r.gate["degraded"] else ""
        console.print(f"privacy gate ({r.gate['policy']}, sha256 {r.gate['policy_sha256'][:12]}…): {q} quarantined · "
                      f"reasons: {why}{flag}", soft_wrap=True)
    if r.served_by:
        console.print(f"decoded by cluster workers on {', '.join(r.served_by)}", soft_wrap=True)
    if r.replayed_batches:
        console.print(f"resumed: {r.replayed_batches} batches were already in the vault and were not stored again",
                      soft_wrap=True)
    console.print(
        f"wall time {r.wall_s:.1f} s · {r.tokens} tokens · {r.tokens_per_s:.0f} tokens/s · dropped: {dropped}",
        soft_wrap=True,
    )
    console.print(
        f"model {r.model} (sha256 {r.model_sha256[:12]}…) · dataset stored encrypted in the vault as job {r.job_id}",
        soft_wrap=True,
    )


def _precheck(args: argparse.Namespace) -> None:
    """Bad task spec, unknown method, an option the method does not take or an out-of-range value, unknown model:
    fail before asking for a passphrase or writing anything."""
    from appliance.engine.registry import Registry
    from appliance.generate import get_method
    from appliance.guard.policy import load_policy

    load_task(args.task)
    get_method(args.method, {**method_options_from(args), "temperature": args.temperature, "top_p": args.top_p})
    load_policy(args.policy)
    Registry(resolve_home(args.home)).verified_path(args.model)
    _precheck_scale(args)


def _precheck_scale(args: argparse.Namespace) -> None:
    """A malformed cluster address or worker count: one line before the passphrase (reachability is checked when
    the job connects, with a bounded wait)."""
    from appliance.cluster.runtime import MAX_LOCAL_WORKERS, parse_address

    if args.cluster is not None:
        parse_address(args.cluster)
    if args.workers is not None and not 1 <= args.workers <= MAX_LOCAL_WORKERS:
        raise BadInput(f"workers must be 1..{MAX_LOCAL_WORKERS}, not {args.workers}")


def cmd_generate(args: argparse.Namespace) -> int:
    console = Console(stderr=False)
    _precheck(args)
    passphrase = read_passphrase(args)
    with Session.open(args.home, args.user, passphrase) as session:
        _run(args, session, console)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from appliance.service import jobs
    from appliance.service.generation import resume_job

    console = Console()
    _precheck_scale(args)
    passphrase = read_passphrase(args)
    with Session.open(args.home, args.user, passphrase) as session:
        job = jobs.get_job(session, args.job)
        task_name = jobs.task_name(session, job)
        n = job["config"]["request"]["n"]
        _with_progress(console, f"{task_name} · {job['method']} (resume job {args.job})", n, task_name,
                       lambda cb: resume_job(session, resolve_home(args.home), args.job, cb, cluster=args.cluster,
                                             workers=args.workers))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Open (or create, on first use) the vault and run the medical task on the embedded model."""
    from appliance.service.users import add_user
    from appliance.vault import layout

    console = Console()
    home = resolve_home(args.home)
    _precheck(args)
    user = args.user or "demo"
    if not layout.key_file(home).exists():
        console.print(f"No vault in {home} yet: creating one (admin 'admin', author '{user}', same passphrase).")
        passphrase = read_passphrase(args, "Choose a passphrase for the new vault: ")
        with Session.init(home, "admin", passphrase) as admin:
            add_user(admin, user, "author", passphrase)
    else:
        passphrase = read_passphrase(args, f"Passphrase for {user}: ")
    args.user = user
    with Session.open(home, user, passphrase) as session:
        _run(args, session, console)
    return 0
