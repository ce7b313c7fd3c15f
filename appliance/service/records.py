"""The records a generation job produced, for `appliance records JOB` (and any front end that lists them).

Reading record texts is the ``record.read`` permission: authors and reviewers, who hold the records key. The vault
refuses everyone else (admin, auditor) with one line and audits the refusal; the check runs before anything else is
looked at, so a refused user learns nothing about the job. Filters are checked here so that a typo in a status or a
label is one line naming the field rather than an empty list.
"""

from __future__ import annotations

from typing import Any

from appliance.errors import BadInput
from appliance.service.session import Session
from appliance.service.tasks import stored_task
from appliance.vault.jobs import RECORD_STATUSES

# What a listing shows of each record (the vault's own columns, texts opened for the reader).
RECORD_FIELDS = ("id", "job_id", "status", "label", "text", "context", "attributes", "reasons", "findings", "scores",
                 "created_at", "reviewed_by", "review_note")


def job_records(session: Session, job_id: int, *, status: str | None = None, label: str | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
    """A job's records, oldest first, optionally only those of one ``status`` or ``label``, at most ``limit``."""
    session.require("record.read")  # the vault refuses (and audits) roles that may not read records, first
    if status is not None and status not in RECORD_STATUSES:
        raise BadInput(f"status must be one of {', '.join(RECORD_STATUSES)}, not {status!r}")
    if limit is not None and limit < 1:
        raise BadInput(f"limit must be at least 1, not {limit}")
    job = session.vault.get_job(job_id)  # "no job with id N"
    rows = session.vault.list_records(job_id, status=status, label=label, limit=limit)
    if label is not None and not rows:  # nothing found: a typo in the label says so, rather than an empty list
        labels = stored_task(session, job["task_id"]).label_ids
        if label not in labels:
            raise BadInput(f"label {label!r} is not a label of job {job_id}'s task (labels: {', '.join(labels)})")
    return [{k: r.get(k) for k in RECORD_FIELDS} for r in rows]
