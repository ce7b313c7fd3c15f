"""Generation jobs as the CLI and the TUI list and show them. Running one is ``service.generation``; the vault
checks the role on every read (``job.read``)."""

from __future__ import annotations

from typing import Any

from appliance.errors import BadInput
from appliance.service.session import Session


def list_jobs(session: Session, limit: int | None = None) -> list[dict[str, Any]]:
    """Every job, newest first (``limit``: only that many)."""
    if limit is not None and limit < 1:
        raise BadInput(f"limit must be at least 1, not {limit}")
    return session.vault.list_jobs(limit=limit)


def finished_jobs(session: Session) -> list[dict[str, Any]]:
    """Jobs that succeeded: what can be reported on or exported."""
    return [j for j in session.vault.list_jobs() if j["status"] == "succeeded"]


def get_job(session: Session, job_id: int) -> dict[str, Any]:
    """One job with its stored configuration and summary; an unknown id is one line naming it."""
    return session.vault.get_job(job_id)


def task_name(session: Session, job: dict[str, Any]) -> str:
    """The name of the task a job generated for."""
    return session.vault.get_task(job["task_id"])["name"]
