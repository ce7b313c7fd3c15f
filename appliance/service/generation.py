"""Generation jobs: task spec + method + verified model → records in the vault, resumable after a crash.

A job is stored with everything needed to reproduce it (model and compute-copy hashes, method, decoding settings,
seed, parallelism, task hash) before generation starts. The method yields its records in numbered batches; each
batch is committed in one transaction together with its number. ``resume_job`` re-runs the method with the same
configuration, skips (without storing) the batches already in the vault, and commits the rest: no record is lost
and none is stored twice. The cost of a resume is the time of the batches it replays.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from appliance.engine.convert import Seal
from appliance.engine.loader import load_model
from appliance.errors import BadInput, IntegrityError, MissingDependency
from appliance.generate import GeneratedRecord, Method, Progress, method_class
from appliance.guard.gate import Gate, Verdict
from appliance.guard.policy import Policy, load_policy
from appliance.service.methods import build_method, seeds_sent_to_workers
from appliance.service.seeds import task_seeds
from appliance.service.session import Session
from appliance.spec import TaskSpec, parse_task


@dataclass
class GenerationRequest:
    task: TaskSpec
    method: str = "zerogen"
    n: int = 200
    model: str | None = None
    seed: int = 0
    threads: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    compute_type: str | None = None
    policy: str = "default"  # privacy policy every record is gated by: a name in policies/ or a path
    deterministic: bool = False  # one sequence at a time, one thread: byte-identical output across runs
    max_parallel: int = 64  # sequence slots; 64 measured faster than 32 on the main job (README, bench/generation.py)
    n_gpu_layers: int | None = None  # layers offloaded to a GPU; None: all on a GPU build, none on a CPU build
    adapter: str | None = None  # a DP LoRA adapter from the vault (`appliance adapters list`), applied by llama.cpp
    seed_set: str | None = None  # seeds for fewgen/augpe, read through the vault (authors only); only the name is stored
    method_options: dict[str, Any] = field(default_factory=dict)  # the method's declared options, e.g. rounds
    cluster: str | None = None  # a Ray cluster's HOST:PORT: decoding runs on its workers (appliance.cluster)
    workers: int | None = None  # decoding workers: on the cluster, or in a local Ray instance when no cluster is named

    def options(self) -> dict[str, Any]:
        """What the method is built with: its options, and the request's temperature and top-p (every method
        declares those two; they stay fields of the request, as stored jobs have them)."""
        decoding = {"temperature": self.temperature, "top_p": self.top_p}
        return {**self.method_options, **{k: v for k, v in decoding.items() if v is not None}}

    def settings(self) -> dict[str, Any]:
        """The request without the task, as stored in the job's configuration."""
        d = asdict(self)
        d.pop("task")
        return d


@dataclass
class GenerationResult:
    job_id: int
    task_id: int
    model: str
    model_sha256: str
    records: list[dict[str, Any]]
    per_label: dict[str, int]
    wall_s: float
    tokens: int
    dropped: dict[str, int] = field(default_factory=dict)
    gate: dict[str, Any] = field(default_factory=dict)  # the privacy gate's counts per reason
    replayed_batches: int = 0
    served_by: list[str] = field(default_factory=list)  # the cluster nodes whose workers decoded (none: this process)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.wall_s if self.wall_s > 0 else 0.0


ProgressFn = Callable[[Progress], None]
BatchFn = Callable[[int, list[dict[str, Any]]], None]  # (job id, the batch's stored rows with their ids)


class JobCancelled(KeyboardInterrupt):
    """Raised inside a job when its ``cancel`` event is set: the job is closed as 'cancelled' with every committed
    batch kept, so ``resume_job`` can finish it. A KeyboardInterrupt, so a cancel and Ctrl-C take the same path."""


def run_generation(
    session: Session,
    home: Path,
    req: GenerationRequest,
    on_progress: ProgressFn | None = None,
    *,
    on_batch: BatchFn | None = None,
    cancel: threading.Event | None = None,
) -> GenerationResult:
    """Start a new job and run it to the end (or until ``cancel`` is set: see ``JobCancelled``).

    ``on_batch`` sees each batch right after it is committed, so a user interface can show records as they arrive."""
    session.require("job.run")
    policy = load_policy(req.policy)
    method, method_report = build_method(  # refusals (e.g. over the ε budget) write nothing
        session, req.method, req.task, req.options(), req.seed_set, policy
    )
    _check_budget(session, req, policy, method_report)  # an over-budget run is refused before the model loads
    if req.cluster or req.workers:
        seeds_sent_to_workers(method, policy)  # seed text leaves this process only as the policy allows
    t0 = time.perf_counter()
    # Model problems (unknown name, missing or altered file) surface before anything is written to the vault.
    loaded, adapter = _load(home, req, session)
    req.threads = loaded.model.n_threads  # stored, so a resumed job replays with the same threads
    vault = session.vault
    task_id = vault.add_task(req.task.name, req.task.source_text)
    config = {
        "request": req.settings(),
        "model": loaded.entry.name,
        "model_sha256": loaded.entry.sha256,
        "model_license": loaded.entry.license,
        "compute_type": loaded.compute_type,
        "compute_sha256": loaded.compute_sha256,
        "task_sha256": req.task.sha256,
        "temperature": req.temperature if req.temperature is not None else req.task.temperature,
        "top_p": req.top_p if req.top_p is not None else req.task.top_p,
        "threads": loaded.model.n_threads,
        "policy": policy.describe(),
        "method_options": method.settings(),  # every declared option's value, defaults included
        "method_report": method_report,
        "adapter": adapter,
    }
    with vault.transaction():  # a job that spends ε on its seeds exists only with its ledger entry
        job_id = vault.create_job(task_id, req.method, config)
        _charge_ledger(session, req, policy, method_report, job_id)
    return _execute(session, job_id, task_id, req, loaded, method, policy, 0, t0, on_progress, on_batch, cancel)


def resume_job(
    session: Session,
    home: Path,
    job_id: int,
    on_progress: ProgressFn | None = None,
    *,
    on_batch: BatchFn | None = None,
    cancel: threading.Event | None = None,
    cluster: str | None = None,
    workers: int | None = None,
) -> GenerationResult:
    """Finish a job that was killed, cancelled or failed, with its stored configuration. It decodes where this call
    says (``cluster``/``workers``, else in this process), whatever served the job before: the records are the same."""
    session.require("job.run")
    vault = session.vault
    job = vault.get_job(job_id)
    if job["status"] == "succeeded":
        raise BadInput(f"job {job_id} already succeeded; nothing to resume")
    task_row = vault.get_task(job["task_id"])
    settings = dict(job["config"]["request"]) | {"cluster": cluster, "workers": workers}
    req = GenerationRequest(task=parse_task(task_row["spec_toml"], origin=f"task {job['task_id']}"), **settings)
    t0 = time.perf_counter()
    loaded, adapter = _load(home, req, session)
    if adapter and adapter["sha256"] != (job["config"].get("adapter") or {}).get("sha256"):
        raise BadInput(f"job {job_id} was made with another adapter than the one now named {req.adapter!r}")
    if loaded.entry.sha256 != job["config"]["model_sha256"]:
        raise MissingDependency(f"job {job_id} was made with model sha256 {job['config']['model_sha256'][:12]}…, which is not installed")
    policy = load_policy(req.policy)
    if policy.sha256 != job["config"]["policy"]["sha256"]:
        raise IntegrityError(f"job {job_id} was gated under policy {req.policy} with sha256 "
                        f"{job['config']['policy']['sha256'][:12]}…; that policy file has changed since")
    method, _ = build_method(session, req.method, req.task, req.options(), req.seed_set, policy)
    if req.cluster or req.workers:
        seeds_sent_to_workers(method, policy)
    vault.reopen_job(job_id)  # checks the job's rows against its last committed batch or its finish first
    return _execute(session, job_id, job["task_id"], req, loaded, method, policy, int(job["units_done"]), t0, on_progress,
                    on_batch, cancel)


def _fault_injection(unit: int) -> None:
    """Test-only fault: ``APPLIANCE_FAULT_KILL_AFTER_BATCH=N`` makes this process SIGKILL itself right after batch N
    is committed, so the resume tests hit an exact point instead of racing a timer. Unset in normal use."""
    if os.environ.get("APPLIANCE_FAULT_KILL_AFTER_BATCH") == str(unit):
        os.kill(os.getpid(), signal.SIGKILL)


def _fault_interrupt(committed: int) -> None:
    """Test-only fault: ``APPLIANCE_FAULT_SIGINT_AFTER_BATCH=N`` sends this process SIGINT (Ctrl-C) at the first
    progress report once batch N is committed: while the next batch is decoding and sequences are still running,
    so the Ctrl-C test always lands mid-round instead of racing a timer. Unset in normal use."""
    after = os.environ.get("APPLIANCE_FAULT_SIGINT_AFTER_BATCH")
    if after is not None and committed >= int(after):
        os.environ.pop("APPLIANCE_FAULT_SIGINT_AFTER_BATCH")  # once: the handler's own cleanup must not be hit again
        os.kill(os.getpid(), signal.SIGINT)


def _load(home: Path, req: GenerationRequest, session: Session):
    """The model (with the request's adapter, if any) and the adapter's summary for the job's configuration."""
    if req.deterministic:  # one thread; one sequence, or one per label for a method that decodes them in parallel
        slots = len(req.task.label_ids) if method_class(req.method).capabilities.needs_slots else 1
        kw = dict(compute_type=req.compute_type, n_threads=1, max_parallel=slots, n_gpu_layers=req.n_gpu_layers)
    else:
        kw = dict(compute_type=req.compute_type, n_threads=req.threads, max_parallel=req.max_parallel,
                  n_gpu_layers=req.n_gpu_layers)
    kw["seal"] = Seal.of(session.vault)
    if req.cluster or req.workers:
        return _load_pool(home, req, session, kw)
    if not req.adapter:
        return load_model(home, req.model, **kw), None
    from appliance.engine.registry import Registry
    from appliance.service.adapters import adapter_file

    entry = Registry(home).get(req.model)
    with adapter_file(session, req.adapter, entry) as (path, meta):
        loaded = load_model(home, req.model, lora_path=path, **kw)  # llama.cpp reads the adapter whole, here
    return loaded, _adapter_summary(meta)


def _adapter_summary(meta: dict[str, Any]) -> dict[str, Any]:
    privacy = meta["manifest"]["privacy"]
    return {"name": meta["name"], "sha256": meta["sha256"], "seed_set": meta["manifest"]["seed_set"],
            "epsilon": privacy["epsilon"], "delta": privacy["delta"], "accountant": privacy["accountant"]}


def _load_pool(home: Path, req: GenerationRequest, session: Session, kw: dict[str, Any]):
    """Decoding workers on Ray instead of a model in this process: the driver verifies the model and its compute
    copy (sealed to the vault) without loading it, and every worker must find the same hashes on its node."""
    from appliance.cluster.pool import WorkerSpec, open_pool
    from appliance.engine.loader import LoadedModel, verified_copy
    from appliance.service.adapters import adapter_bytes

    if method_class(req.method).capabilities.debiases:
        raise BadInput(f"method {req.method} decodes with self-debiasing, which cluster workers do not serve; "
                       "run it without a cluster or workers")
    entry, source, path, digest, ctype = verified_copy(home, req.model, req.compute_type, kw["seal"])
    meta, body = adapter_bytes(session, req.adapter, entry) if req.adapter else (None, None)
    spec = WorkerSpec(home=str(home), model=entry.name, model_sha256=entry.sha256, compute_type=ctype,
                      compute_sha256=digest, n_threads=kw["n_threads"], max_parallel=kw["max_parallel"],
                      n_gpu_layers=req.n_gpu_layers, adapter=body)
    pool = open_pool(home, spec, instruct=entry.instruct, address=req.cluster, workers=req.workers)
    loaded = LoadedModel(entry=entry, source_path=source, compute_path=path, compute_sha256=digest,
                         compute_type=ctype, model=pool)  # type: ignore[arg-type]  (a TextModel, not a LocalModel)
    return loaded, (_adapter_summary(meta) if meta else None)


def _dp_charge(req: GenerationRequest, method_report: Any) -> tuple[float, float] | None:
    """The (ε, δ) a job spends on its seed set: methods that read private seeds under DP (Private Evolution)."""
    if not (req.seed_set and isinstance(method_report, dict) and "epsilon" in method_report):
        return None
    return float(method_report["epsilon"]), float(method_report["delta"])


def _check_budget(session: Session, req: GenerationRequest, policy: Policy, method_report: Any) -> None:
    """Refuse (audited) a job whose ε would exceed the seed set's budget, before anything costly happens."""
    from appliance.service.adapters import budget_of

    charge = _dp_charge(req, method_report)
    if charge is not None:
        session.vault.ensure_privacy_budget(req.seed_set, charge[0], budget_of(policy))


def _charge_ledger(session: Session, req: GenerationRequest, policy: Policy, method_report: Any, job_id: int) -> None:
    """Charge the job's (ε, δ) to the seed set's ledger (checked again there, inside the job's transaction)."""
    from appliance.service.adapters import budget_of

    charge = _dp_charge(req, method_report)
    if charge is not None:
        session.vault.charge_privacy(req.seed_set, req.method, f"job {job_id}", *charge, budget_of(policy))


def stored_row(record: GeneratedRecord, verdict: Verdict) -> dict[str, Any]:
    """A generated record as the vault stores it, with the gate's verdict: its status, the reasons that blocked it
    and every PII finding (blocking or not), so review shows them all and export can redact them all."""
    return {
        "text": verdict.text,
        "label": record.label,
        "context": record.context,
        "attributes": record.attributes,
        "status": verdict.status,
        "reasons": verdict.reasons,
        "findings": verdict.findings,
        "scores": {"mean_logprob": record.meta.get("mean_logprob")},
    }


def _execute(
    session: Session,
    job_id: int,
    task_id: int,
    req: GenerationRequest,
    loaded,
    method: Method,
    policy: Policy,
    units_done: int,
    t0: float,
    on_progress: ProgressFn | None,
    on_batch: BatchFn | None = None,
    cancel: threading.Event | None = None,
) -> GenerationResult:
    vault = session.vault
    gate = Gate(policy, *task_seeds(vault, req.task.name, [task_id]))  # built once per run
    last = Progress(target=req.n)

    served = list(getattr(loaded.model, "nodes", []))  # a cluster pool's nodes; none for a model in this process
    if served:
        vault.audit("job.cluster", {"job_id": job_id}, {"nodes": served, "workers": len(loaded.model.worker_stats()),
                                                         "cluster": req.cluster or "local",
                                                         "seeds_in_prompts": seeds_sent_to_workers(method, policy)})

    def progress(p: Progress) -> None:
        last.accepted, last.tokens, last.dropped = p.accepted, p.tokens, dict(p.dropped)
        if served:
            p.workers = loaded.model.worker_stats()
        if on_progress:
            on_progress(p)
        _fault_interrupt(unit)
        if cancel is not None and cancel.is_set():
            raise JobCancelled(f"job {job_id} cancelled")

    status = "failed"
    unit = 0
    try:
        with loaded.model:
            for unit, batch in enumerate(method.run(loaded.model, req.task, req.n, seed=req.seed, progress=progress), 1):
                if unit <= units_done:
                    continue  # already in the vault: replayed only to restore the method's state
                rows = [stored_row(r, v) for r, v in zip(batch, gate.check([r.text for r in batch]))]
                ids = vault.add_records(job_id, rows, unit=unit)
                _fault_injection(unit)
                if on_batch:
                    on_batch(job_id, [{"id": i, **row} for i, row in zip(ids, rows)])
        status = "succeeded"
    except KeyboardInterrupt:
        status = "cancelled"
        raise
    finally:
        wall = time.perf_counter() - t0
        records = vault.list_records(job_id)
        summary = {
            "accepted": sum(r["status"] == "accepted" for r in records),
            "per_label": dict(Counter(r["label"] for r in records if r["status"] == "accepted")),
            "dropped": last.dropped,
            "tokens": last.tokens,
            "wall_s": round(wall, 2),
            "gate": gate.summary(),
            "batches": unit,
            "replayed_batches": min(unit, units_done),
        }
        if served:
            summary["served_by"] = served
        vault.finish_job(job_id, status, summary)
    accepted = [r for r in records if r["status"] == "accepted"]
    return GenerationResult(
        job_id=job_id,
        task_id=task_id,
        model=loaded.entry.name,
        model_sha256=loaded.entry.sha256,
        records=accepted,
        per_label=dict(Counter(r["label"] for r in accepted)),
        wall_s=wall,
        tokens=last.tokens,
        dropped=last.dropped,
        gate=gate.summary(),
        replayed_batches=min(unit, units_done),
        served_by=served,
    )
