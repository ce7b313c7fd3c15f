"""A job's row held to what the audit log says of it: its task, method, configuration, author, status and summary.

The ``jobs`` table is metadata every role reads and anyone holding the database key can edit: an admin could mark a
failed job 'succeeded' so that its partial records can be exported, or change a DP job's configuration so that an
export's manifest names another ε. Every change to a job's row is also an audit entry (``job.start`` with the method
and configuration, ``job.finish`` with the status and summary, ``job.resume``, ``record.filter`` with the filter the
summary names), so readers of a job (``JobsMixin.get_job``, ``list_jobs``) compare the row with the log and refuse a
row the log does not explain. Like ``rowseal``, this reads the entries' contents only; whether the log itself was
rewritten is ``audit verify``'s work (its hash chain and signatures).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import duckdb

from appliance.errors import IntegrityError

LIFE_ACTIONS = ("job.start", "job.resume", "job.finish", "record.filter")


@dataclass
class JobLog:
    """What the log says a job's row must hold; ``seq`` is the entry that last changed it."""

    seq: int
    task_id: Any
    method: Any
    config: Any
    created_by: str
    status: str = "running"
    summary: dict[str, Any] | None = None
    label_filter: dict[str, Any] | None = None  # name, report id, user and count of the last filter since the finish


def read(con: duckdb.DuckDBPyConnection) -> dict[int, JobLog]:
    """Every job the log started, as the log left it."""
    out: dict[int, JobLog] = {}
    rows = con.execute("SELECT seq, user_name, action, object_ids, params FROM audit WHERE action IN (?, ?, ?, ?) "
                       "ORDER BY seq", list(LIFE_ACTIONS)).fetchall()
    for seq, user, action, oids, params in rows:
        try:
            ids, prm = json.loads(oids), json.loads(params)
            job = int(ids["job_id"])
        except (ValueError, KeyError, TypeError):
            continue  # a malformed entry explains nothing: the row it meant then fails its check
        if action == "job.start":
            out[job] = JobLog(seq, ids.get("task_id"), prm.get("method"), prm.get("config"), user)
            continue
        log = out.get(job)
        if log is None:
            continue
        log.seq = seq
        if action == "job.resume":
            log.status = "running"
        elif action == "job.finish":
            log.status, log.summary, log.label_filter = prm.get("status"), prm.get("summary") or {}, None
        else:  # record.filter: the summary names it
            removed = prm.get("filtered")
            log.label_filter = {"name": prm.get("filter"), "report_id": ids.get("report_id"), "by": user,
                                "removed": removed.get("records") if isinstance(removed, dict) else None}
    return out


def problem(row: Mapping[str, Any], log: JobLog | None) -> str | None:
    """The first column of a job's row (``config`` and ``summary`` decoded) that the log does not explain, or None."""
    if log is None:
        return "has no job.start entry in the audit log"  # (a row inserted by raw SQL)
    summary = dict(row.get("summary") or {}) if row.get("summary") is not None else None
    chosen = summary.pop("label_filter", None) if summary is not None else None
    want = {"task_id": log.task_id, "method": log.method, "config": log.config, "created_by": log.created_by,
            "status": log.status}
    for name, value in want.items():
        if name in row and row[name] != value:
            return f"has a {name} that differs from its audit entries"
    if "summary" in row:
        if (summary or None) != (log.summary or None):
            return "has a summary that differs from its audit entries"
        if (chosen is None) != (log.label_filter is None):
            return "names a label filter that differs from its audit entries"
        if chosen is not None and any(chosen.get(k) != v for k, v in log.label_filter.items() if v is not None):
            return "names a label filter that differs from its audit entries"
    return None


def check(row: Mapping[str, Any], log: JobLog | None) -> None:
    """Raise IntegrityError naming the job and the column (never a record) unless the log explains the row."""
    why = problem(row, log)
    if why:
        seq = f" (last entry {log.seq})" if log is not None else ""
        raise IntegrityError(f"job {row['id']} {why}{seq}: the job was changed outside the app; run "
                             "`audit verify` and ask an admin")
