"""A record row's seal: what makes a record's status, label and job hold in the ``records`` key, not only in the code.

The database key opens every column of ``records`` to every role; only the texts are encrypted again (``fields.py``).
So each row also carries ``seal``: ``GEN:HMAC-SHA256`` under a key derived (HKDF) from the records room key of
generation GEN, over the row id and every other column (job, label, the sealed text and context tokens, attributes,
status, reasons, findings, scores, reviewer and note) and the row's *decision*: the sequence number of the audit entry
that last decided its status (``decision_seq``). Only holders of the records key (authors, reviewers) can write a
seal that verifies, so an admin or auditor who edits a row by raw SQL (a quarantined record made 'accepted', a label
changed, a row moved to another job, a seal removed or copied from another row) is refused by every reader.

The decision binds a row to the log, so a holder's *earlier* seal of the same row does not verify either: a filtered
record put back to its sealed pre-filter 'accepted' state, or a rejected one back to 'quarantined', names an older
decision than the log's ``record.filter`` or ``record.review`` entry for it. (Deleting those entries to make an old
state current again breaks the hash chain: ``audit verify`` reports it.)

Readers verify every row of a job they hand to the app; counting readers (gate statistics) read no text and do not.
A finished job's rows must also be the set it finished with: its ``job.finish`` entry keeps the digest of their ids
(``record_ids_sha256``), so a row deleted by raw SQL (a record nobody wanted reviewed, say) is refused as missing
by the same readers (``check_complete``), even by an author who could seal rows.
Writers (``JobsMixin``: adding, filtering, reviewing; a key rotation) verify a row before they seal it again, so they
never launder an edit. Rows of a vault from before the seals are sealed once: ``JobsMixin._seal_unsealed_records``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

import duckdb
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from appliance.errors import IntegrityError
from appliance.vault import audit, db, joblog
from appliance.vault.audit import canonical

# Every column of a record but the seal, in the order the seal covers them.
COLUMNS = ("id", "job_id", "text", "label", "context", "attributes", "status", "reasons", "findings", "scores",
           "created_at", "reviewed_by", "review_note")
# Statuses a label filter decides (it moves records only between these two).
FILTERED_STATUSES = ("accepted", "filtered")
REVIEW_ACTION, FILTER_ACTION = "record.review", "record.filter"
# The permission a decision's signer must hold for it to count (``audit.permitted_entries``).
DECISION_PERMISSIONS = {REVIEW_ACTION: "record.review", FILTER_ACTION: "record.filter"}
# The audit entry written once, by the first records-key holder to sign in, after which every row has a seal.
SEALED_ACTION = "records.seal"
_INFO = b"appliance-vault/row-seal/1"


@lru_cache(maxsize=16)
def _mac_key(room_key: bytes) -> bytes:
    """A key of its own for the seals, so the records key is never used for two algorithms."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(room_key)


def record_ids_sha256(ids: Iterable[int]) -> str:
    """sha256 of the ascending record ids written as a JSON array without spaces (``[3,10,24]``): what an audit entry
    keeps of a set of records, which anyone holding the ids (the vault, a report) can recompute and compare."""
    return hashlib.sha256(canonical(sorted(int(i) for i in ids)).encode()).hexdigest()


def _mac(room_key: bytes, row: Mapping[str, Any], decision: int) -> str:
    material = json.dumps([_INFO.decode(), [row[c] for c in COLUMNS], int(decision)], separators=(",", ":"),
                          ensure_ascii=False)
    return hmac.new(_mac_key(room_key), material.encode("utf-8"), hashlib.sha256).hexdigest()


def seal(room_key: bytes, gen: str, row: Mapping[str, Any], decision: int) -> str:
    """The seal of ``row`` (every name of ``COLUMNS``, as stored) whose status audit entry ``decision`` decided."""
    return f"{gen}:{_mac(room_key, row, decision)}"


def verifies(keys: Mapping[str, bytes], row: Mapping[str, Any], decision: int) -> bool:
    token = row.get("seal")
    if not isinstance(token, str):
        return False
    gen, sep, mac = token.partition(":")
    key = keys.get(gen)
    return bool(sep) and key is not None and hmac.compare_digest(mac, _mac(key, row, decision))


def check(keys: Mapping[str, bytes], row: Mapping[str, Any], decision: int) -> None:
    """Raise IntegrityError naming the record (never its text) unless its seal verifies."""
    if not verifies(keys, row, decision):
        what = "has no seal" if row.get("seal") is None else "does not verify"
        raise IntegrityError(f"record {row['id']} {what}: it was changed outside the app (status, label, job or "
                             "texts) or its seal was removed or copied; run `audit verify` and ask a reviewer")


@dataclass
class Decisions:
    """The audit log's latest decision per record (reviews) and per job (label filters)."""

    by_record: dict[int, int] = field(default_factory=dict)  # record id -> its latest review
    by_job: dict[int, int] = field(default_factory=dict)  # job id -> its latest label filter

    def of(self, row: Mapping[str, Any]) -> int:
        """The sequence number a row's seal must name: its latest review, or its job's latest label filter if that
        came later and the row is one a filter decides; 0 for a record nobody decided on since the gate."""
        seq = self.by_record.get(int(row["id"]), 0)
        if row["status"] in FILTERED_STATUSES:
            seq = max(seq, self.by_job.get(int(row["job_id"]), 0))
        return seq


def decisions(con: duckdb.DuckDBPyConnection) -> Decisions:
    """Read the decisions from the audit log (object ids only; the log's signatures are ``audit verify``'s work).
    Only entries a role could write through the app count (``audit.permitted_entries``). Every batch a job adds reads
    them, so the job's life (``held_sets``) is read only by those that check a job's whole set of rows."""
    out = Decisions()
    for seq, _, action, ids, _ in audit.permitted_entries(con, DECISION_PERMISSIONS):
        try:
            key = int(ids["record_id"] if action == REVIEW_ACTION else ids["job_id"])
        except (ValueError, KeyError, TypeError, OverflowError):  # (an id of Infinity: OverflowError)
            continue  # a malformed entry decides nothing; the rows it meant then fail their check
        table = out.by_record if action == REVIEW_ACTION else out.by_job
        table[key] = max(table.get(key, 0), int(seq))
    return out


# job id -> (seq, params) of the audit entry its rows must match: its job.finish, or its last job.batch.
Held = dict[int, tuple[int, dict[str, Any]]]


def held_sets(con: duckdb.DuckDBPyConnection) -> Held:
    """job id -> (seq, params) of the entry its rows must match (``joblog.JobLog.held``): its job.finish while the
    log says it is finished, else the job.batch entry of its last committed batch (a running or killed job)."""
    return {job: log.held for job, log in joblog.read(con).items() if log.held is not None}


def mismatch(held: Held, job_id: int, ids: Sequence[int]) -> str | None:
    """Why ``ids`` (all of a job's row ids) are not the records the job finished with, or holds after its last
    committed batch, by the digest of their ids that entry keeps (or, in finish entries from before the digest, their
    count); None if they are, or if nothing was recorded to hold the job to (no batch committed yet)."""
    if job_id not in held:
        return None
    seq, prm = held[job_id]
    want = prm.get("record_ids_sha256")
    # The entry's words are only compared or shown once they are what the app writes: a digest that is not ASCII
    # would make compare_digest raise, a total with a newline would make the refusal two lines.
    total = joblog.as_count(prm.get("records_total"))
    if "unit" in prm:  # a job.batch entry: the rows after that batch
        if _same_digest(want, ids):
            return None
        return (f"job {job_id} has {len(ids)} records, not the {'?' if total is None else total} its committed "
                f"batches hold (audit entry {seq}): records were deleted or added outside the app")
    counts = prm.get("records")
    counted = sum(counts.values()) if isinstance(counts, dict) and all(isinstance(v, int) for v in counts.values()) \
        else None
    if isinstance(want, str):
        intact = _same_digest(want, ids)
    elif counted is not None:
        intact = counted == len(ids)
    else:
        return None
    if intact:
        return None
    total = total if total is not None else "?" if counted is None else counted
    return (f"job {job_id} has {len(ids)} records, not the {total} it finished with (audit entry {seq}): records were "
            "deleted or added outside the app")


def _same_digest(want: Any, ids: Sequence[int]) -> bool:
    """Whether ``want`` (an entry's ``record_ids_sha256``, whatever it holds) is the digest of ``ids``."""
    return isinstance(want, str) and hmac.compare_digest(want.encode("utf-8", "replace"),
                                                         record_ids_sha256(ids).encode())


def check_complete(held: Held, job_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
    """Raise IntegrityError unless ``rows`` (all of a job's rows) are the records the job finished with, or holds
    after its last committed batch."""
    problem = mismatch(held, job_id, [int(r["id"]) for r in rows])
    if problem:
        raise IntegrityError(f"{problem}; run `audit verify` and ask a reviewer")


def incomplete_jobs(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """(seq of the entry, why) for every job whose rows are not the set it finished with or holds after its last
    committed batch: ids only, so an auditor, who holds no records key, can check it (``audit verify``)."""
    held = held_sets(con)
    ids: dict[int, list[int]] = {}
    for job, rid in con.execute("SELECT job_id, id FROM records").fetchall():
        ids.setdefault(int(job), []).append(int(rid))
    out = []
    for job in sorted(held):
        problem = mismatch(held, job, ids.get(job, []))
        if problem:
            out.append((held[job][0], problem))
    return sorted(out)


def read_rows(con: duckdb.DuckDBPyConnection, where: str = "true", args: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Rows of ``records`` with every sealed column and the seal, by id."""
    names = (*COLUMNS, "seal")
    return [dict(zip(names, r)) for r in
            con.execute(f"SELECT {', '.join(names)} FROM records WHERE {where} ORDER BY id", list(args)).fetchall()]


def verified_rows(con: duckdb.DuckDBPyConnection, keys: Mapping[str, bytes], where: str = "true",
                  args: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """``read_rows``, each checked: the first row that does not verify raises IntegrityError naming it."""
    rows = read_rows(con, where, args)
    dec = decisions(con)
    for row in rows:
        check(keys, row, dec.of(row))
    return rows


def verified_job_rows(con: duckdb.DuckDBPyConnection, keys: Mapping[str, bytes], job_id: int) -> list[dict[str, Any]]:
    """Every row of a job, each checked (``verified_rows``), and together checked against the set the job finished
    with (``check_complete``)."""
    rows = verified_rows(con, keys, "job_id = ?", [job_id])
    check_complete(held_sets(con), job_id, rows)
    return rows


def write_seals(con: duckdb.DuckDBPyConnection, rows: Iterable[Mapping[str, Any]], room_key: bytes, gen: str,
                decision_of: Decisions | None = None, extra: Sequence[str] = ()) -> int:
    """Store new seals for ``rows`` (and their columns named in ``extra``, changed by the caller) in one UPDATE."""
    rows = list(rows)
    if not rows:
        return 0
    dec = decision_of or decisions(con)
    cols: dict[str, list[Any]] = {"id": [r["id"] for r in rows]}
    for name in extra:
        cols[name] = [r[name] for r in rows]
    cols["seal"] = [seal(room_key, gen, r, dec.of(r)) for r in rows]
    types = {name: "BIGINT" if name == "id" else "VARCHAR" for name in cols}
    con.execute(f"CREATE OR REPLACE TEMP TABLE _row_seals ({', '.join(f'{n} {t}' for n, t in types.items())})")
    db.insert_columns(con, "_row_seals", cols, types)
    sets = ", ".join(f"{n} = _row_seals.{n}" for n in cols if n != "id")
    con.execute(f"UPDATE records SET {sets} FROM _row_seals WHERE records.id = _row_seals.id")
    con.execute("DROP TABLE _row_seals")
    return len(rows)


def verified_ids(con: duckdb.DuckDBPyConnection, keys: Mapping[str, bytes]) -> set[int]:
    """Ids of the rows whose seal verifies (a key rotation re-seals only these: the rest stay refused)."""
    dec = decisions(con)
    return {r["id"] for r in read_rows(con) if verifies(keys, r, dec.of(r))}
