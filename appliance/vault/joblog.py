"""A job's row held to what the audit log says of it: its task, method, configuration, author, status and summary.

The ``jobs`` table is metadata every role reads and anyone holding the database key can edit: an admin could mark a
failed job 'succeeded' so that its partial records can be exported, or change a DP job's configuration so that an
export's manifest names another ε. Every change to a job's row is also an audit entry (``job.start`` with the method,
configuration and a batch count of 0, ``job.batch`` with the batch count and the ids of the rows after each committed
batch, ``job.finish`` with the status and summary, ``job.resume``, ``record.filter`` with the filter the summary
names), so readers of a job (``JobsMixin.get_job``, ``list_jobs``) compare the row with the log and refuse a row the
log does not explain; so do the app's writers of a job (finish, resume, label filter) before they write, so an
edited row is never laundered into a new entry. Like ``rowseal``, this reads the entries' contents only; whether the
log itself was rewritten is ``audit verify``'s work (its hash chain and signatures). But every user signs their own
entries, so an entry counts only if its signer's role may write it and it comes where the app writes it (``read``):
an admin's own signed ``job.finish``, or an author's second finish without a resume, explains nothing, and
``audit verify`` reports both the entry and the row (``unexplained``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import duckdb

from appliance.errors import IntegrityError
from appliance.vault import audit, schema

# The permission the signer's role must hold for each entry of a job's life to count (``audit.permitted_entries``).
LIFE_PERMISSIONS = {"job.start": "job.run", "job.resume": "job.run", "job.batch": "job.run", "job.finish": "job.run",
                    "record.filter": "record.filter"}
LIFE_ACTIONS = tuple(LIFE_PERMISSIONS)


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
    finish: tuple[int, dict[str, Any]] | None = None  # (seq, params) of the finish entry while the job is finished
    committed: tuple[int, dict[str, Any]] | None = None  # (seq, params) of its last batch entry (the rows it holds)
    units: int | None = None  # the method's batches committed, by its batch entries (None: a job from before them)

    @property
    def held(self) -> tuple[int, dict[str, Any]] | None:
        """The entry the job's rows must match: its finish while finished, else its last committed batch."""
        return self.finish or self.committed


def read(con: duckdb.DuckDBPyConnection) -> dict[int, JobLog]:
    """Every job the log started, as the log left it.

    Only the entries the app could have written count, in the order it writes them: those signed by a role that may
    write them (an admin's or auditor's own signed ``job.finish`` explains nothing), the first ``job.start`` of a job
    id, a ``job.resume`` of a job that has not succeeded (``reopen_job``'s rule) and a ``job.finish`` of a running
    job. So an author's second ``job.finish`` with a new record digest, appended after deleting a row, is ignored and
    the job stays held to the set it first finished with."""
    out: dict[int, JobLog] = {}
    for seq, user, action, ids, prm in audit.permitted_entries(con, LIFE_PERMISSIONS):
        try:
            job = int(ids["job_id"])
        except (ValueError, KeyError, TypeError, OverflowError):  # (an id of Infinity: OverflowError)
            continue  # a malformed entry explains nothing: the row it meant then fails its check
        if not schema.plausible_id(job):
            continue  # an id no job row can have (10**30): it must not push the next job's id past BIGINT
        log = out.get(job)
        if action == "job.start":
            if log is None:  # a job started since the batch entries says so (units_done 0): it is held from batch 1
                out[job] = JobLog(seq, ids.get("task_id"), prm.get("method"), prm.get("config"), user,
                                  units=0 if as_count(prm.get("units_done")) == 0 else None)
            continue
        if log is None or (action == "job.resume" and log.status == "succeeded") \
                or (action in ("job.finish", "job.batch") and log.status != "running"):
            continue
        if action == "job.batch":  # rows committed: the job's record ids after the batch, and its unit
            unit = prm.get("unit")
            if unit is not None and not (as_count(unit) and (log.units is None or unit == log.units + 1)):
                continue  # out of order, or not a batch number (a string, a bool, 0 or less): not a batch the app wrote
            log.committed = (seq, prm)
            log.units = unit if unit is not None else log.units
            continue
        log.seq = seq
        if action == "job.resume":
            log.status, log.finish = "running", None
        elif action == "job.finish":
            log.status, log.summary, log.label_filter = prm.get("status"), prm.get("summary") or {}, None
            log.finish = (seq, prm)
        else:  # record.filter: the summary names it
            removed = prm.get("filtered")
            log.label_filter = {"name": prm.get("filter"), "report_id": ids.get("report_id"), "by": user,
                                "removed": removed.get("records") if isinstance(removed, dict) else None}
    return out


def as_count(value: Any) -> int | None:
    """``value`` if it is a count (an int of 0 or more, not a bool), else None: what a batch number, a batch count or
    a number of records in an entry or a row must be before it is compared or shown."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def decoded(text: Any) -> Any:
    """A JSON column of a job's row decoded, or left as it is if it is not JSON (then it differs from the log's)."""
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


COLUMNS = ("id", "task_id", "method", "config", "status", "summary", "created_at", "created_by", "finished_at",
           "units_done")


def rows(con: duckdb.DuckDBPyConnection, where: str = "true", args: list[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of ``jobs`` by id, ``config`` and ``summary`` decoded (``decoded``), for ``check`` or ``problem``."""
    out = []
    sql = f"SELECT {', '.join(COLUMNS)} FROM jobs WHERE {where} ORDER BY id"
    for values in con.execute(sql, args or []).fetchall():
        d = dict(zip(COLUMNS, values))
        d["config"] = decoded(d["config"])
        d["summary"] = decoded(d["summary"]) if d["summary"] else None
        out.append(d)
    return out


def unexplained(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """(seq of its last entry, why) for every job row the log does not explain: what ``audit verify`` reports to an
    auditor, who reads jobs but no record."""
    logs = read(con)
    out = []
    for row in rows(con):
        why = problem(row, logs.get(row["id"]))
        if why:
            out.append((logs[row["id"]].seq if row["id"] in logs else 0, f"job {row['id']} {why}"))
    return out


def problem(row: Mapping[str, Any], log: JobLog | None) -> str | None:
    """The first column of a job's row (``config`` and ``summary`` decoded) that the log does not explain, or None."""
    if log is None:
        return "has no job.start entry in the audit log"  # (a row inserted by raw SQL)
    want = {"task_id": log.task_id, "method": log.method, "config": log.config, "created_by": log.created_by,
            "status": log.status}
    if log.units is not None:  # a job from before the batch entries has nothing to hold its count to
        want["units_done"] = log.units
    elif "units_done" in row and as_count(row["units_done"]) is None:  # but a resume must never start from below 0
        return "has a units_done that differs from its audit entries"
    for name, value in want.items():
        if name in row and row[name] != value:
            return f"has a {name} that differs from its audit entries"
    if "summary" in row:
        summary = row["summary"]
        if summary is not None and not isinstance(summary, dict):
            return "has a summary that differs from its audit entries"
        summary = dict(summary) if summary is not None else None
        chosen = summary.pop("label_filter", None) if summary is not None else None
        if (summary or None) != (log.summary or None):
            return "has a summary that differs from its audit entries"
        if (chosen is None) != (log.label_filter is None):
            return "names a label filter that differs from its audit entries"
        if chosen is not None and (not isinstance(chosen, dict) or any(
                chosen.get(k) != v for k, v in log.label_filter.items() if v is not None or k == "report_id")):
            return "names a label filter that differs from its audit entries"
    return None


def check(row: Mapping[str, Any], log: JobLog | None) -> None:
    """Raise IntegrityError naming the job and the column (never a record) unless the log explains the row."""
    why = problem(row, log)
    if why:
        seq = f" (last entry {log.seq})" if log is not None else ""
        raise IntegrityError(f"job {row['id']} {why}{seq}: the job was changed outside the app; run "
                             "`audit verify` and ask an admin")
