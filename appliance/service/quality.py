"""Quality reports and evaluation on real data for a generation job (what `appliance evaluate` and `appliance report`
call). Both read the job's accepted records from the vault and store their result there as a report; a real file is
read for evaluation only and never stored (neither as seeds nor in a report: reports keep aggregates)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from appliance.errors import BadInput
from appliance.outputs import write_output
from appliance.progress import Report, counter, silent
from appliance.quality import correctness
from appliance.quality import report as rpt
from appliance.quality.evaluate import SIZES, evaluate_on_real, quality_metrics
from appliance.quality.filter import FilterConfig, apply_filter
from appliance.quality.labelfilters import LABEL_FILTERS, FilterData, FilterOutcome, run_label_filter
from appliance.quality.labelleak import label_leak
from appliance.quality.prompting import PromptingResult
from appliance.quality.taskmodels import TASK_MODELS, task_model_names
from appliance.quality.realdata import read_real
from appliance.service.session import Session
from appliance.spec import TaskSpec, parse_task
from appliance.spec.leak import prompt_warnings

Say = Report  # what the long steps report to (a bare ``say(message)`` works too)


def job_dataset(session: Session, job_id: int, *, with_filtered: bool = False
                ) -> tuple[dict[str, Any], TaskSpec, list[dict[str, Any]]]:
    """The job, its task and its accepted records of the task's labels (and those a label filter took out, when a
    filter is about to be chosen again: it decides afresh over the whole set)."""
    vault = session.vault
    job = vault.get_job(job_id)
    task = parse_task(vault.get_task(job["task_id"])["spec_toml"], origin=f"task {job['task_id']}")
    statuses = ("accepted", "filtered") if with_filtered else ("accepted",)
    records = sorted((r for s in statuses for r in vault.list_records(job_id, status=s) if r.get("label") in task.label_ids),
                     key=lambda r: r["id"])
    if not records:
        raise BadInput(f"job {job_id} has no accepted records")
    return job, task, records


@dataclass(frozen=True)
class FilterRun:
    """A label filter's outcome and what was computed over every record for it to decide (the records' embeddings,
    the verbalizer judge's scores): the metrics and the evaluation after the filter take these over rather than run
    the embedder or the generator over the same records a second time."""

    outcome: FilterOutcome
    embeddings: np.ndarray | None = None
    judge: PromptingResult | None = None

    def kept_embeddings(self) -> np.ndarray | None:
        return None if self.embeddings is None else self.embeddings[self.outcome.kept]

    def kept_judge(self) -> PromptingResult | None:
        return None if self.judge is None else self.judge.take(self.outcome.kept)

    def judge_before(self, task: TaskSpec) -> dict[str, Any] | None:
        """The judge's agreement over every record before the filter, when the filter used the judge: after a filter
        that removes the records the judge disagrees with, the agreement on the kept ones is 100% by construction,
        so a reader needs this figure next to it."""
        if self.judge is None:
            return None
        j = correctness.judge_from(self.judge, task, self.outcome.labels)
        return {"label_filter": self.outcome.name, "records": self.outcome.n_records,
                "removed": len(self.outcome.removed), "agreement": j["agreement"],
                "agreement_calibrated": j["agreement_calibrated"]}


def label_filter_outcome(task: TaskSpec, records: Sequence[dict[str, Any]], name: str, *, embedder=None, model=None,
                         seed: int = 0, progress: Say | None = None) -> FilterRun:
    """Run label filter ``name`` over ``records``, computing what it declared it needs (embeddings from ``embedder``,
    the calibrated verbalizer judge from ``model``); returns the outcome with those, for reuse."""
    say = progress or silent
    flt = LABEL_FILTERS.get(name)
    texts, labels = [r["text"] for r in records], [r["label"] for r in records]
    emb = embedder.encode(texts, progress=counter(say, "embedding synthetic texts", len(texts))) \
        if "embedding" in flt.needs else None
    scores = correctness.judge_scores(model, task, texts, say) if "judge" in flt.needs else None
    judge = correctness.judge_from(scores, task, labels) if scores is not None else {}
    say(f"label filter {name}")
    data = FilterData(texts, labels, task.label_ids, embeddings=emb, judge_margins=judge.get("margins_calibrated"),
                      judge_predicted=judge.get("predicted_calibrated"), seed=seed)
    outcome = run_label_filter(name, data)
    if len({labels[i] for i in outcome.kept}) < 2:  # nothing a task model can learn from: refused, nothing marked
        raise BadInput(f"label filter {name} would leave fewer than two labels ({len(outcome.kept)} of {len(records)} "
                       "records); choose another filter or none")
    return FilterRun(outcome, emb, scores)


def _record_filter(session: Session, job_id: int, records: Sequence[dict[str, Any]], outcome: FilterOutcome,
                   report_id: int) -> None:
    """Mark the records the filter removes 'filtered' (with its reason) and put back those it keeps."""
    session.vault.apply_label_filter(job_id, outcome.name, {records[i]["id"]: why for i, why in outcome.removed.items()},
                                     report_id)


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
    label_filter: str | None = None,
    sizes: Sequence[float] = SIZES,
    seed: int = 0,
    progress: Say | None = None,
) -> dict[str, Any]:
    """Train the task models on the job's records, score them on the real file, store the result as a report.

    ``label_filter``: a name in ``LABEL_FILTERS``. The filter decides over the job's accepted and earlier-filtered
    records; the task models are scored without and with it, and the records it removes are marked 'filtered' in
    the vault (with their reason, never exported), in the same transaction that stores the report."""
    session.require("report.write")
    if label_filter is not None:
        session.require("record.filter")
    if limit is not None and limit < 1:  # checked before any file is read or model loaded
        raise BadInput(f"limit must be at least 1, not {limit}")
    flt = LABEL_FILTERS.get(label_filter) if label_filter is not None else None  # unknown: one line, known names
    job, task, records = job_dataset(session, job_id, with_filtered=flt is not None)
    task_models = task_model_names() if task_models is None else list(task_models)
    models = [TASK_MODELS.get(name) for name in task_models]  # an unknown name: one line listing the known ones
    say = progress or silent  # loading a model reports no counts: announced, so a log shows what takes the time
    say("reading the real file")
    real = read_real(real_path, text_column, label_column, task_name=task.name, label_ids=task.label_ids,
                     label_map=label_map, drop_unmapped=drop_unmapped, limit=limit, seed=seed or 13)
    from appliance.quality.embed import get_embedder

    uses_embeddings = any(m.features == "embedding" or m.weighted for m in models) or bool(flt and "embedding" in flt.needs)
    if uses_embeddings:
        say("loading the embedding model")
    embedder = get_embedder() if uses_embeddings else None
    needs_model = prompting or bool(flt and "judge" in flt.needs)
    if needs_model:
        say("loading the scoring model")
    loaded = _load_scorer(session, home, model or job["config"].get("model")) if needs_model else None
    outcome = emb = None
    try:
        if flt is not None:
            run = label_filter_outcome(task, records, flt.name, embedder=embedder,
                                       model=loaded.model if loaded else None, seed=seed, progress=progress)
            outcome, emb = run.outcome, run.embeddings
        ev = evaluate_on_real(task, [r["text"] for r in records], [r["label"] for r in records], real.texts, real.labels,
                              embedder=embedder, model=loaded.model if loaded and prompting else None,
                              task_models=task_models, sizes=sizes, seed=seed, progress=progress,
                              synthetic_emb=emb, label_filter=outcome)
    finally:
        if loaded:
            loaded.model.close()
    kept = [records[i] for i in outcome.kept] if outcome else records
    ev.update({
        "real_path": Path(real_path).name,
        "real_dropped_unmapped": real.dropped_unmapped,
        "prompting_model": loaded.entry.name if loaded and prompting else None,
        "embedder": embedder.name if embedder else None,
        "label_leak": label_leak(task, [r["text"] for r in kept], [r["label"] for r in kept]),
    })
    if outcome is not None:
        ev["label_filter"]["removed_record_ids"] = {str(records[i]["id"]): why for i, why in outcome.removed.items()}
    with session.vault.transaction():  # the statuses and the report that explains them: both or neither
        ev["report_id"] = session.vault.add_report(job_id, rpt.EVAL_KIND, ev)
        if outcome is not None:
            _record_filter(session, job_id, records, outcome, ev["report_id"])
    return ev


def report_job(
    session: Session,
    home: Path,
    job_id: int,
    *,
    model: str | None = None,
    use_model: bool = True,
    filter_spec: str | None = None,
    label_filter: str | None = None,
    sample: int = 200,
    seed: int = 0,
    progress: Say | None = None,
) -> tuple[dict[str, Any], str]:
    """Compute the quality metrics, attach the latest evaluation, store the JSON and HTML reports; (body, html).

    ``label_filter``: as in ``evaluate_job`` (records it removes become 'filtered'), without the accuracy comparison,
    which needs real data; the metrics then describe the records it keeps."""
    session.require("report.write")
    if label_filter is not None:
        session.require("record.filter")
    if sample < 2:  # Self-BLEU scores each sampled text against the others: checked before any model loads
        raise BadInput(f"sample must be at least 2, not {sample}")
    cfg = FilterConfig.parse(filter_spec)
    flt = LABEL_FILTERS.get(label_filter) if label_filter is not None else None  # unknown: one line, known names
    if flt is not None and "judge" in flt.needs and not use_model:
        raise BadInput(f"label filter {flt.name} needs the scoring model (do not turn it off)")
    job, task, records = job_dataset(session, job_id, with_filtered=flt is not None)
    from appliance.quality.embed import get_embedder

    say = progress or silent
    say("loading the embedding model")
    embedder = get_embedder()
    if use_model:
        say("loading the scoring model")
    loaded = _load_scorer(session, home, model or job["config"].get("model")) if use_model else None
    if loaded is None and (cfg.judge_agree or cfg.min_margin is not None or cfg.max_perplexity is not None):
        raise BadInput("the judge and perplexity filter rules need the scoring model (do not turn it off)")
    run = outcome = None
    try:
        if flt is not None:
            run = label_filter_outcome(task, records, flt.name, embedder=embedder,
                                       model=loaded.model if loaded else None, seed=seed, progress=progress)
            outcome = run.outcome
            filtered, records = records, [records[i] for i in outcome.kept]
        metrics = quality_metrics(task, records, model=loaded.model if loaded else None, embedder=embedder,
                                  sample=sample, seed=seed, progress=progress,
                                  embeddings=run.kept_embeddings() if run else None,
                                  judge_scores=run.kept_judge() if run else None)
    finally:
        if loaded:
            loaded.model.close()
    before = run.judge_before(task) if run else None
    if before is not None:  # a judge-based filter: the agreement on what it kept is no news without the one before
        metrics.setdefault("correctness", {})["before_label_filter"] = before
    metrics["label_leak"] = label_leak(task, [r["text"] for r in records], [r["label"] for r in records])
    metrics["prompt_warnings"] = prompt_warnings(task)
    if outcome is not None:
        metrics["label_filter"] = {**outcome.summary(),
                                   "removed_record_ids": {str(filtered[i]["id"]): why for i, why in outcome.removed.items()}}
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
    with session.vault.transaction():  # the statuses and the reports that explain them: all or nothing
        body["report_id"] = session.vault.add_report(job_id, rpt.REPORT_KIND, body)
        body["html_report_id"] = session.vault.add_report(job_id, rpt.HTML_KIND, {"html": html, "report_id": body["report_id"]})
        if outcome is not None:
            _record_filter(session, job_id, filtered, outcome, body["report_id"])
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
