"""Generation jobs and their records.

A job's configuration and summary (gate counts) are readable by every role that follows jobs, auditors
included; a record's text and context are sealed under the ``records`` room key, so only authors and reviewers
who hold it can read them, whatever they do to the database.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, Iterable, Sequence

import duckdb

from appliance.errors import BadInput
from appliance.inputfile import has_control_chars
from appliance.vault import db, fields, joblog, roles, rowseal, schema
from appliance.vault.audit import canonical
from appliance.vault.core import VaultCore, check_label_name
from appliance.vault.keys import now_iso
from appliance.vault.rowseal import record_ids_sha256

RECORD_STATUSES = ("accepted", "quarantined", "rejected", "filtered")
# A record a label filter took out of the training set keeps its row, status 'filtered' and a reason starting so.
LABEL_FILTER_REASON = "label filter "
_JOB_STATUS_RE = re.compile(r"^[a-z][a-z_]{1,31}$")
RECORD_TYPES = {
    "id": "BIGINT",
    "job_id": "BIGINT",
    "text": "VARCHAR",
    "label": "VARCHAR",
    "context": "VARCHAR",
    "attributes": "VARCHAR",
    "status": "VARCHAR",
    "reasons": "VARCHAR",
    "findings": "VARCHAR",
    "scores": "VARCHAR",
    "created_at": "VARCHAR",
    "seal": "VARCHAR",
}


def _id_digest(ids: Iterable[int], label_of: dict[int, Any]) -> dict[str, Any]:
    """A set of records as an audit entry keeps it: how many, how many per label, and the digest of their ids."""
    ids = list(ids)
    by_label = Counter(str(label_of[i]) for i in ids)
    return {"records": len(ids), "by_label": dict(sorted(by_label.items())), "record_ids_sha256": record_ids_sha256(ids)}


class JobsMixin(VaultCore):
    def create_job(self, task_id: int, method: str, config: dict[str, Any]) -> int:
        self.require("job.run")
        check_label_name("method", method, 64)
        self._room_key(roles.RECORDS)  # a job that could not store its records must not start
        with self.transaction() as con:
            if con.execute("SELECT 1 FROM tasks WHERE id = ?", [task_id]).fetchone() is None:
                raise BadInput(f"no task with id {task_id}")
            # Past every id the log started: a job row deleted by raw SQL must not hand its id, entries and
            # records on to a new job.
            job_id = max(schema.next_id(con, "jobs"), max(joblog.read(con), default=0) + 1)
            self._insert(con, "jobs", {"id": job_id, "task_id": task_id, "method": method, "config": canonical(config or {}),
                                       "status": "running", "summary": None, "created_at": now_iso(),
                                       "created_by": self.user, "finished_at": None, "units_done": 0})
            # units_done 0: its batch count is held from the start (``joblog``), so one edited before the first batch
            # (a resume would skip batches) is refused like one edited later; jobs from before it have no such entry.
            self.audit("job.start", {"job_id": job_id, "task_id": task_id},
                       {"method": method, "config": config or {}, "units_done": 0})
        return job_id

    def get_job(self, job_id: int) -> dict[str, Any]:
        """A job's row, checked against its audit entries (``joblog``): an edited status, configuration or summary is
        refused, not handed on to an export's manifest or a resume."""
        self.require("job.read")
        with self._mutex:
            return self._logged_job(self._con, job_id)

    @staticmethod
    def _logged_job(con: duckdb.DuckDBPyConnection, job_id: int) -> dict[str, Any]:
        """A job's row (``config`` and ``summary`` decoded), checked against its audit entries (``joblog``): readers
        hand on, and writers (finish, resume, label filter) write over, only a row the log explains, so an edited row
        is never laundered into a new entry (a finished job set back to 'running' by raw SQL cannot be finished again
        with another set of records)."""
        found = joblog.rows(con, "id = ?", [job_id])
        if not found:
            raise BadInput(f"no job with id {job_id}")
        joblog.check(found[0], joblog.read(con).get(job_id))
        return found[0]

    def list_jobs(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Jobs, newest first, without their configuration (the home screen and job pickers list them); each row is
        checked against its audit entries like ``get_job``'s."""
        self.require("job.read")
        fields_ = ("id", "task_id", "method", "status", "created_at", "created_by", "finished_at", "units_done")
        with self._mutex:
            rows = self._rows("jobs", fields_, order="id DESC", limit=limit)
            logs = joblog.read(self._con)
        for row in rows:
            joblog.check(row, logs.get(row["id"]))
        return rows

    def finish_job(self, job_id: int, status: str, summary: dict[str, Any]) -> None:
        """Close a job with a final status (e.g. 'succeeded', 'failed') and its summary (gate verdicts, counts)."""
        self.require("job.run")
        if not isinstance(status, str) or not _JOB_STATUS_RE.match(status) or status == "running":
            raise BadInput(f"invalid final job status {status!r}")
        with self.transaction() as con:
            status_now = self._logged_job(con, job_id)["status"]
            if status_now != "running":
                raise BadInput(f"job {job_id} is already finished ({status_now})")
            # Gate statistics only (no record leaves here): counted without verifying the rows' seals.
            counts = dict(con.execute("SELECT status, count(*) FROM records WHERE job_id = ? GROUP BY status", [job_id]).fetchall())
            ids = [r[0] for r in con.execute("SELECT id FROM records WHERE job_id = ?", [job_id]).fetchall()]
            con.execute(
                "UPDATE jobs SET status = ?, summary = ?, finished_at = ? WHERE id = ?",
                [status, canonical(summary or {}), now_iso(), job_id],
            )
            # The ids' digest holds the job's rows to this set: a row deleted later is refused as missing (rowseal).
            self.audit("job.finish", {"job_id": job_id}, {"status": status, "records": counts, "records_total": len(ids),
                                                          "record_ids_sha256": record_ids_sha256(ids),
                                                          "summary": summary or {}})

    def reopen_job(self, job_id: int) -> None:
        """Mark a cancelled or failed job as running again, so ``resume`` can finish it; a job left 'running' by a
        killed process is resumed as it is. Audited either way."""
        self.require("job.run")
        with self.transaction() as con:
            status_now = self._logged_job(con, job_id)["status"]
            if status_now == "succeeded":
                raise BadInput(f"job {job_id} already succeeded; nothing to resume")
            # Its rows must be the set it finished with, or its last committed batch left after a kill: a row deleted
            # now would drop out of the next batch's and the finish's digests, and a batch would be skipped or made twice.
            ids = [r[0] for r in con.execute("SELECT id FROM records WHERE job_id = ?", [job_id]).fetchall()]
            rowseal.check_complete(rowseal.held_sets(con), job_id, [{"id": i} for i in ids])
            if status_now == "running":
                self.audit("job.resume", {"job_id": job_id}, {"previous_status": "running (interrupted)"})
                return
            con.execute("UPDATE jobs SET status = 'running', finished_at = NULL WHERE id = ?", [job_id])
            self.audit("job.resume", {"job_id": job_id}, {"previous_status": status_now})

    def add_records(self, job_id: int, records: Sequence[dict[str, Any]], unit: int | None = None) -> list[int]:
        """Store generated records of a running job in one transaction; returns their ids.

        Each record: ``text`` (required), ``label``, ``context``, ``attributes`` (dict), ``status``
        ('accepted' or 'quarantined', default accepted), ``reasons`` (list), ``findings`` (list: every PII finding of
        the gate, entity and offsets, never the matched text), ``scores`` (dict).
        ``unit`` numbers the method's batches (1, 2, …): it is stored in the same transaction as the records, so
        after a crash a resumed job knows exactly which batches are in the vault (none lost, none twice).
        """
        self.require("job.run")
        gen, key = self._room_key(roles.RECORDS)
        cols: dict[str, list[Any]] = {k: [] for k in RECORD_TYPES}
        now = now_iso()
        for i, r in enumerate(records):
            text = r.get("text")
            if not isinstance(text, str):
                raise BadInput(f"record {i + 1}: text must be a string")
            status = r.get("status", "accepted")
            if status not in ("accepted", "quarantined"):
                raise BadInput(f"record {i + 1}: status must be 'accepted' or 'quarantined', not {status!r}")
            for k in ("label", "context"):
                if r.get(k) is not None and not isinstance(r.get(k), str):
                    raise BadInput(f"record {i + 1}: {k} must be a string")
            cols["text"].append(text)
            cols["label"].append(r.get("label"))
            cols["context"].append(r.get("context"))
            cols["attributes"].append(canonical(r.get("attributes") or {}))
            cols["status"].append(status)
            cols["reasons"].append(canonical(list(r.get("reasons") or [])))
            cols["findings"].append(canonical(list(r.get("findings") or [])))
            cols["scores"].append(canonical(r.get("scores") or {}))
            cols["created_at"].append(now)
        n = len(cols["text"])
        with self.transaction() as con:
            found = joblog.rows(con, "id = ?", [job_id])
            if not found:
                raise BadInput(f"no job with id {job_id}")
            job, log = found[0], joblog.read(con).get(job_id)
            joblog.check(job, log)  # its status and batch count as its audit entries hold them
            if job["status"] != "running":
                raise BadInput(f"job {job_id} is finished ({job['status']}); records cannot be added")
            if unit is not None:
                if unit != job["units_done"] + 1:
                    raise RuntimeError(f"job {job_id}: batch {unit} out of order (batches done: {job['units_done']})")
                con.execute("UPDATE jobs SET units_done = ? WHERE id = ?", [unit, job_id])
            # In the same transaction: the job's record ids after this batch (and the batch count), so rows deleted
            # or added, or units_done edited, while the job is running or after a kill are refused (``joblog``).
            # The rows already there are checked first, so such an edit is never laundered into the new digest.
            held = [r[0] for r in con.execute("SELECT id FROM records WHERE job_id = ?", [job_id]).fetchall()]
            rowseal.check_complete({job_id: log.held} if log and log.held else {}, job_id, [{"id": i} for i in held])
            first = schema.next_id(con, "records")
            cols["id"] = ids = list(range(first, first + n))
            self.audit("job.batch", {"job_id": job_id}, {"unit": unit, "records": n, "records_total": len(held) + n,
                                                         "record_ids_sha256": record_ids_sha256(held + ids)})
            if n == 0:
                return []
            cols["job_id"] = [job_id] * n
            for column in ("text", "context"):
                cols[column] = [fields.seal_text(key, gen, roles.RECORDS, "records", column, i, v)
                                for i, v in zip(ids, cols[column])]
            decided = rowseal.decisions(con)
            rows = ({"reviewed_by": None, "review_note": None, **{c: cols[c][i] for c in RECORD_TYPES if c != "seal"}}
                    for i in range(n))
            cols["seal"] = [rowseal.seal(key, gen, row, decided.of(row)) for row in rows]
            db.insert_columns(con, "records", cols, RECORD_TYPES)
        return ids

    def list_records(self, job_id: int, status: str | None = None, limit: int | None = None,
                     label: str | None = None) -> list[dict[str, Any]]:
        """A job's records with their texts (sealed: the reader must hold the records key).

        Every row of the job is verified (``rowseal``), not only those asked for: a record whose status was edited
        out of the asked-for set (a quarantined one made 'accepted') is refused in the review queue too; and a finished
        job's rows must be the set it finished with (a deleted row is refused as missing)."""
        self.require("record.read")
        self._room_key(roles.RECORDS)
        with self._mutex:
            rows = rowseal.verified_job_rows(self._con, self._keys[roles.RECORDS], job_id)
        out = [{k: d[k] for k in rowseal.COLUMNS} for d in rows
               if (status is None or d["status"] == status) and (label is None or d["label"] == label)]
        if limit is not None:
            out = out[:max(int(limit), 0)]
        for d in out:
            for k in ("text", "context"):
                d[k] = self._open(roles.RECORDS, "records", k, d["id"], d[k])
            for k in ("attributes", "reasons", "findings", "scores"):
                d[k] = json.loads(d[k])
        return out

    def count_records(self, job_id: int, status: str | None = None) -> int:
        """How many records a job has (no text: counts are gate statistics, readable wherever jobs are; the rows'
        seals are not verified, since nothing of a record is handed on)."""
        self.require("job.read")
        if status is None:
            row = self._one("SELECT count(*) FROM records WHERE job_id = ?", [job_id])
        else:
            row = self._one("SELECT count(*) FROM records WHERE job_id = ? AND status = ?", [job_id, status])
        return int(row[0])

    def apply_label_filter(self, job_id: int, name: str, removed: dict[int, str], report_id: int | None = None
                           ) -> dict[str, Any]:
        """Make the job's records match label filter ``name``: those in ``removed`` (record id -> reason) become
        'filtered' with the reason added, and records an earlier filter took out that this one keeps become
        'accepted' again (only ever between these two statuses: a quarantined or rejected record is never touched).
        One transaction with its audit entry; the filter is also recorded in the job's summary (with ``report_id``,
        the report that explains it).

        The audit entry names no record: for the records now filtered, those newly filtered and those restored it
        holds the count by label and ``record_ids_sha256`` of their ids. Audit entries stay small (a big job's filter
        removes thousands of records, and every entry is read, hashed and verified with the whole log); the vault
        holds the detail (each record's status and reason, the report's ids), and the digest ties the two together."""
        self.require("record.filter")
        check_label_name("label filter", name, 64)
        if any(not isinstance(r, str) or not r or has_control_chars(r) for r in removed.values()):
            raise ValueError("a label filter's reasons are one-line strings")
        gen, key = self._room_key(roles.RECORDS)  # the records' seals change with their statuses
        with self.transaction() as con:
            job = self._logged_job(con, job_id)
            if job["status"] == "running":
                raise BadInput(f"job {job_id} is still running; filter its records once it has finished")
            # Verified before they are re-sealed: a row edited by raw SQL must not get a valid seal from the filter.
            rows = rowseal.verified_job_rows(con, self._keys[roles.RECORDS], job_id)
            rows = [r for r in rows if r["status"] in rowseal.FILTERED_STATUSES]
            label_of = {r["id"]: r["label"] for r in rows}
            stray = sorted(set(removed) - set(label_of))
            if stray:
                raise BadInput(f"record {stray[0]} is not an accepted or filtered record of job {job_id}")
            changed: dict[str, list[int]] = {"filtered": [], "accepted": []}
            for r in rows:
                reasons = json.loads(r["reasons"])
                kept = [x for x in reasons if not str(x).startswith(LABEL_FILTER_REASON)]
                new_status, new_reasons = ("filtered", [*kept, f"{LABEL_FILTER_REASON}{name}: {removed[r['id']]}"]) \
                    if r["id"] in removed else ("accepted", kept)
                if (new_status, new_reasons) != (r["status"], reasons):
                    changed[new_status].append(r["id"])
                r["status"], r["reasons"] = new_status, canonical(new_reasons)
            summary = job["summary"] or {}
            summary["label_filter"] = {"name": name, "removed": len(removed), "report_id": report_id, "by": self.user,
                                       "at": now_iso()}
            con.execute("UPDATE jobs SET summary = ? WHERE id = ?", [canonical(summary), job_id])
            # The entry first: every row it decides is sealed naming it, so an older seal of a row no longer verifies.
            self.audit("record.filter", {"job_id": job_id, "report_id": report_id},
                       {"filter": name, **{key: _id_digest(ids, label_of) for key, ids in
                                           (("filtered", removed), ("newly_filtered", changed["filtered"]),
                                            ("restored", changed["accepted"]))}})
            rowseal.write_seals(con, rows, key, gen, extra=("status", "reasons"))  # one statement for them all
        return {"filtered": len(removed), "newly_filtered": len(changed["filtered"]), "restored": len(changed["accepted"])}

    def review_record(self, record_id: int, release: bool, note: str = "") -> str:
        """A reviewer releases a quarantined record ('accepted') or rejects it ('rejected')."""
        self.require("record.review")
        gen, key = self._room_key(roles.RECORDS)  # nobody decides on a record they cannot read
        new_status = "accepted" if release else "rejected"
        with self.transaction() as con:
            rows = rowseal.verified_rows(con, self._keys[roles.RECORDS], "id = ?", [record_id])
            if not rows:
                raise BadInput(f"no record with id {record_id}")
            row = rows[0]
            if row["status"] != "quarantined":
                raise BadInput(f"record {record_id} is not quarantined ({row['status']})")
            # The entry first: the new seal names it, so the record's sealed 'quarantined' state no longer verifies.
            self.audit("record.review", {"record_id": record_id, "job_id": row["job_id"]}, {"decision": new_status})
            row.update(status=new_status, reviewed_by=self.user, review_note=note)
            rowseal.write_seals(con, [row], key, gen, extra=("status", "reviewed_by", "review_note"))
        return new_status

    def _seal_unsealed_records(self) -> int | None:
        """Seal the records written before rows had seals, once per vault; returns how many, or None if not now.

        Called at the sign-in of a records-key holder (author or reviewer). The first one to sign in after the
        upgrade seals every row without a seal and writes a signed ``records.seal`` entry with the count; from then
        on a row without a seal is never sealed again, only refused (``rowseal.check``), so an insider who removes a
        seal cannot have it rebuilt over their edit. Removing the ``records.seal`` entry itself breaks the audit
        log's hash chain, so the log must verify before any row is sealed here; if it does not, nothing is sealed
        and the unsealed rows stay refused (``audit verify`` says why). A new vault writes the entry with 0 at its
        first author's sign-in. What an insider edited *before* that first sign-in is sealed as it is: those rows
        were never protected."""
        if not self.holds(roles.RECORDS):
            return None
        if self._one("SELECT 1 FROM audit WHERE action = ? LIMIT 1", [rowseal.SEALED_ACTION]) is not None:
            return None
        with self._mutex:
            log = self._log.verify({n: self._kf.public_keys(n)["sign"] for n in self._kf.users})
        if not log.ok:
            return None
        gen, key = self._room_key(roles.RECORDS)
        with self.transaction() as con:
            n = rowseal.write_seals(con, rowseal.read_rows(con, "seal IS NULL"), key, gen)
            self.audit(rowseal.SEALED_ACTION, {}, {"records": n})
        return n
