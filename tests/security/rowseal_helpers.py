"""Helpers of the row-seal attack tests: raw SQL as an insider who holds only the database key, and the three readers
that must refuse an edited record (the author's list, the reviewer's queue, an export request)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import duckdb

import pytest

from appliance.errors import IntegrityError
from appliance.service import export, review
from appliance.service.session import Session
from appliance.vault import db, layout
from appliance.vault.keyfile import KeyFile
from tests.export.export_helpers import CLEAN, PW, QUARANTINED_MARK, REJECTED_MARK, RELEASED, open_as

PASSPHRASES = {**PW, "olga": "olga-passphrase-1"}
TEXTS = [t for t, _ in CLEAN] + [QUARANTINED_MARK, REJECTED_MARK, RELEASED]


@contextmanager
def raw_db(home: Path, user: str) -> Iterator[tuple[duckdb.DuckDBPyConnection, KeyFile, Any]]:
    """What ``user`` holds with their passphrase and the files alone: the database opened with the database key their
    key file entry unseals (a connection, the key file and their unlocked keys), checkpointed on the way out."""
    kf = KeyFile.load(layout.key_file(home))
    unlocked = kf.unlock(user, PASSPHRASES[user])
    con = db.connect(layout.temp_dir(home))
    try:
        db.attach(con, home / kf.db_file, "raw", unlocked.room_keys["meta"][kf.generation])
        con.execute("USE raw")
        yield con, kf, unlocked
        con.execute("CHECKPOINT")
    finally:
        con.close()


def raw_sql(home: Path, user: str, sql: str, args: list[Any] | None = None) -> list[tuple]:
    """Any SQL ``user`` can run on the database with their passphrase and the files alone (``raw_db``)."""
    with raw_db(home, user) as (con, _, _):
        result = con.execute(sql, args or [])
        return result.fetchall() if sql.lstrip().upper().startswith("SELECT") else []


def record_ids(home: Path, job_id: int) -> dict[str, int]:
    """Text -> record id, read by the author (who may read texts)."""
    with open_as(home, "alice") as v:
        return {r["text"]: r["id"] for r in v.list_records(job_id)}


def assert_refused(home: Path, job_id: int, record_id: int | None, match: str | None = None,
                   export_too: bool = True) -> None:
    """The author's list, the reviewer's queue and an export request each refuse, naming the record (or matching
    ``match``), never a text."""
    match = match or f"^record {record_id} (does not verify|has no seal): "
    readers = [
        ("alice", lambda s: s.vault.list_records(job_id)),
        ("rita", lambda s: review.quarantined(s, job_id)),
        ("alice", lambda s: export.request_export(s, job_id)),
    ][: 3 if export_too else 2]  # a job still running is refused export for that alone
    for user, read in readers:
        with Session(open_as(home, user)) as s, pytest.raises(IntegrityError, match=match) as e:
            read(s)
        assert e.value.exit_code == 3 and "\n" not in str(e.value)
        assert not any(t in str(e.value) for t in TEXTS)
