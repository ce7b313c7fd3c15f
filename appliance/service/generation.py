"""Generation jobs: task spec + method + verified model → records in the vault.

The job (with everything needed to reproduce it: model and compute-copy hashes, method, decoding settings, seed,
task hash) is stored before generation starts; records are committed batch by batch as the method yields them; the
job is closed with its summary, or marked failed/cancelled when something stops it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from appliance.engine.loader import load_model
from appliance.engine.registry import sha256_file
from appliance.generate import Progress, get_method
from appliance.guard.gate import Gate
from appliance.guard.policy import load_policy
from appliance.service.session import Session
from appliance.spec import TaskSpec


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

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.wall_s if self.wall_s > 0 else 0.0


def run_generation(
    session: Session,
    home: Path,
    req: GenerationRequest,
    on_progress: Callable[[Progress], None] | None = None,
) -> GenerationResult:
    session.require("job.run")
    vault = session.vault
    method = get_method(req.method)
    t0 = time.perf_counter()
    # Model problems (unknown name, missing or altered file) surface before anything is written to the vault.
    loaded = load_model(home, req.model, compute_type=req.compute_type, n_threads=req.threads)
    policy = load_policy(req.policy)
    task_id = vault.add_task(req.task.name, req.task.source_text)
    for knob in ("temperature", "top_p"):
        if getattr(req, knob) is not None and hasattr(method, knob):
            setattr(method, knob, getattr(req, knob))
    config = {
        "n": req.n,
        "seed": req.seed,
        "model": loaded.entry.name,
        "model_sha256": loaded.entry.sha256,
        "model_license": loaded.entry.license,
        "compute_type": loaded.compute_type,
        "compute_sha256": loaded.entry.sha256 if loaded.compute_path == loaded.source_path else sha256_file(loaded.compute_path),
        "task_sha256": req.task.sha256,
        "temperature": req.temperature if req.temperature is not None else req.task.temperature,
        "top_p": req.top_p if req.top_p is not None else req.task.top_p,
        "threads": loaded.model.n_threads,
        "policy": policy.describe(),
    }
    gate = Gate.for_task(vault, req.task.name, policy, [task_id])  # seed index and NER model: built once
    job_id = vault.create_job(task_id, req.method, config)
    last = Progress(target=req.n)

    def progress(p: Progress) -> None:
        last.accepted, last.tokens, last.dropped = p.accepted, p.tokens, dict(p.dropped)
        if on_progress:
            on_progress(p)

    records: list[dict[str, Any]] = []
    status = "failed"
    try:
        with loaded.model:
            for batch in method.run(loaded.model, req.task, req.n, seed=req.seed, progress=progress):
                rows = [
                    {
                        "text": v.text,
                        "label": r.label,
                        "context": r.context,
                        "attributes": r.attributes,
                        "status": v.status,
                        "reasons": v.reasons,
                        "scores": {"mean_logprob": r.meta.get("mean_logprob")},
                    }
                    for r, v in zip(batch, gate.check([r.text for r in batch]))
                ]
                vault.add_records(job_id, rows)
                records += rows
        status = "succeeded"
    except KeyboardInterrupt:
        status = "cancelled"
        raise
    finally:
        wall = time.perf_counter() - t0
        summary = {
            "accepted": sum(r["status"] == "accepted" for r in records),
            "per_label": dict(Counter(r["label"] for r in records if r["status"] == "accepted")),
            "dropped": last.dropped,
            "tokens": last.tokens,
            "wall_s": round(wall, 2),
            "gate": gate.summary(),
        }
        vault.finish_job(job_id, status, summary)
    return GenerationResult(
        job_id=job_id,
        task_id=task_id,
        model=loaded.entry.name,
        model_sha256=loaded.entry.sha256,
        records=[r for r in records if r["status"] == "accepted"],
        per_label=dict(Counter(r["label"] for r in records if r["status"] == "accepted")),
        wall_s=wall,
        tokens=last.tokens,
        dropped=last.dropped,
        gate=gate.summary(),
    )
