"""Quality reports and evaluation on real data for a generation job (what `appliance evaluate` and `appliance report`
call). Both read the job's accepted records from the vault and store their result there as a report; a real file is
read for evaluation only and never stored (neither as seeds nor in a report: reports keep aggregates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from appliance.errors import BadInput
from appliance.outputs import write_output
from appliance.progress import Report, silent
from appliance.quality import report as rpt
from appliance.quality.evaluate import SIZES, evaluate_on_real, quality_metrics
from appliance.quality.taskmodels import TASK_MODELS, task_model_names
from appliance.quality.filter import FilterConfig, apply_filter
from appliance.quality.realdata import read_real
from appliance.service.session import Session
from appliance.spec import TaskSpec, parse_task

Say = Report  # what the long steps report to (a bare ``say(message)`` works too)


def job_dataset(session: Session, job_id: int) -> tuple[dict[str, Any], TaskSpec, list[dict[str, Any]]]:
    vault = session.vault
    job = vault.get_job(job_id)
    task = parse_task(vault.get_task(job["task_id"])["spec_toml"], origin=f"task {job['task_id']}")
    records = [r for r in vault.list_records(job_id, status="accepted") if r.get("label") in task.label_ids]
    if not records:
        raise BadInput(f"job {job_id} has no accepted records")
    return job, task, records


def _load_scorer(session: Session, home: Path, name: str | None):
    from appliance.engine.convert import Seal
    from appliance.engine.loader import load_model

    return load_model(home, name, max_parallel=32, ctx_per_seq=512, seal=Seal.of(session.vault))


def evaluate_job(
    session: Session,
    home: Path,
    job_id: int,
    real_path: str | Path,
    text_column: str,
    label_column: str,
    *,
    label_map: dict[str, str] | None = None,
    drop_unmapped: bool = False,
    limit: int | None = None,
    model: str | None = None,
    prompting: bool = True,
    task_models: Sequence[str] | None = None,
    sizes: Sequence[float] = SIZES,
    seed: int = 0,
    progress: Say | None = None,
) -> dict[str, Any]:
    """Train the task models on the job's records, score them on the real file, store the result as a report."""
    session.require("report.write")
    if limit is not None and limit < 1:  # checked before any file is read or model loaded
        raise BadInput(f"limit must be at least 1, not {limit}")
    job, task, records = job_dataset(session, job_id)
    task_models = task_model_names() if task_models is None else list(task_models)
    models = [TASK_MODELS.get(name) for name in task_models]  # an unknown name: one line listing the known ones
    say = progress or silent  # loading a model reports no counts: announced, so a log shows what takes the time
    say("reading the real file")
    real = read_real(real_path, text_column, label_column, task_name=task.name, label_ids=task.label_ids,
                     label_map=label_map, drop_unmapped=drop_unmapped, limit=limit, seed=seed or 13)
    from appliance.quality.embed import get_embedder

    uses_embeddings = any(m.features == "embedding" for m in models)
    if uses_embeddings:
        say("loading the embedding model")
    embedder = get_embedder() if uses_embeddings else None
    if prompting:
        say("loading the scoring model")
    loaded = _load_scorer(session, home, model or job["config"].get("model")) if prompting else None
    try:
        ev = evaluate_on_real(task, [r["text"] for r in records], [r["label"] for r in records], real.texts, real.labels,
                              embedder=embedder, model=loaded.model if loaded else None, task_models=task_models,
                              sizes=sizes, seed=seed, progress=progress)
    finally:
        if loaded:
            loaded.model.close()
    ev.update({
        "real_path": Path(real_path).name,
        "real_dropped_unmapped": real.dropped_unmapped,
        "prompting_model": loaded.entry.name if loaded else None,
        "embedder": embedder.name if embedder else None,
    })
    ev["report_id"] = session.vault.add_report(job_id, rpt.EVAL_KIND, ev)
    return ev


def report_job(
    session: Session,
    home: Path,
    job_id: int,
    *,
    model: str | None = None,
    use_model: bool = True,
    filter_spec: str | None = None,
    sample: int = 200,
    seed: int = 0,
    progress: Say | None = None,
) -> tuple[dict[str, Any], str]:
    """Compute the quality metrics, attach the latest evaluation, store the JSON and HTML reports; (body, html)."""
    session.require("report.write")
    if sample < 2:  # Self-BLEU scores each sampled text against the others: checked before any model loads
        raise BadInput(f"sample must be at least 2, not {sample}")
    cfg = FilterConfig.parse(filter_spec)
    job, task, records = job_dataset(session, job_id)
    from appliance.quality.embed import get_embedder

    say = progress or silent
    say("loading the embedding model")
    embedder = get_embedder()
    if use_model:
        say("loading the scoring model")
    loaded = _load_scorer(session, home, model or job["config"].get("model")) if use_model else None
    if loaded is None and (cfg.judge_agree or cfg.min_margin is not None or cfg.max_perplexity is not None):
        raise BadInput("the judge and perplexity filter rules need the scoring model (do not turn it off)")
    try:
        metrics = quality_metrics(task, records, model=loaded.model if loaded else None, embedder=embedder,
                                  sample=sample, seed=seed, progress=progress)
    finally:
        if loaded:
            loaded.model.close()
    if cfg.active():
        c, n = metrics.get("correctness") or {}, metrics.get("naturalness") or {}
        res = apply_filter(cfg, [r["text"] for r in records], margins=c.get("margins_calibrated"),
                           perplexities=n.get("perplexities"))
        metrics["filter"] = {**res.summary(), "dropped_record_ids": {records[i]["id"]: why for i, why in res.dropped.items()}}
    metrics["record_ids"] = [r["id"] for r in records]
    metrics["embedder"] = embedder.name
    evals = session.vault.list_reports(job_id, rpt.EVAL_KIND)
    evaluation = session.vault.get_report(evals[-1]["id"])["body"] if evals else None
    body = rpt.build_body(job, task.name, metrics, evaluation)
    body["scoring_model"] = loaded.entry.name if loaded else None
    html = rpt.render_html(body)
    body["report_id"] = session.vault.add_report(job_id, rpt.REPORT_KIND, body)
    body["html_report_id"] = session.vault.add_report(job_id, rpt.HTML_KIND, {"html": html, "report_id": body["report_id"]})
    return body, html


def latest_report(session: Session, job_id: int, kind: str = rpt.REPORT_KIND) -> dict[str, Any] | None:
    """The newest stored report of a kind for a job (its body), or None when there is none yet."""
    reports = session.vault.list_reports(job_id, kind)
    return session.vault.get_report(reports[-1]["id"])["body"] if reports else None


def save_html_report(session: Session, job_id: int, path: str | Path) -> Path:
    """Write the job's latest stored HTML report to ``path``: outside the home, never over an existing file, temp file
    then rename (``appliance.outputs``)."""
    body = latest_report(session, job_id, rpt.HTML_KIND)
    if body is None:
        raise BadInput(f"job {job_id} has no HTML report yet (compute the report first)")
    return write_output(path, body["html"], session.vault.home)
