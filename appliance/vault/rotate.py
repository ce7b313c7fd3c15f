"""Re-encrypting the vault under a new data key.

DuckDB cannot change a database's key in place, so rotation copies everything into a new file with
``COPY FROM DATABASE`` and then switches. The switch is the atomic replacement of the key file (which
names the current database file), so a crash at any point leaves exactly one consistent pair:

* before the key file is replaced: the old key file and the old database, untouched and usable; the
  half-written new file is removed at the next open;
* after: the new key file and the complete, verified, fsynced new database; the old file is removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import duckdb

from appliance.errors import IntegrityError
from appliance.vault import db, schema

NEW_ALIAS = "vault_rotating"

# Test seam: called with a stage name ("copied", "switched"); a test makes it raise or kill the process.
crash_hook: Callable[[str], None] = lambda stage: None


def copy_database(con: duckdb.DuckDBPyConnection, alias: str, new_path: Path, new_key: bytes) -> None:
    """Copy every table of ``alias`` into a new encrypted file and check the copy before anyone relies on it."""
    if new_path.exists():
        new_path.unlink()
    wal = new_path.with_name(new_path.name + ".wal")
    if wal.exists():
        wal.unlink()
    db.attach(con, new_path, NEW_ALIAS, new_key)
    try:
        con.execute(f"COPY FROM DATABASE {alias} TO {NEW_ALIAS}")
        con.execute(f"CHECKPOINT {NEW_ALIAS}")
        for table in schema.TABLES:
            old_n = con.execute(f"SELECT count(*) FROM {alias}.{table}").fetchone()[0]
            new_n = con.execute(f"SELECT count(*) FROM {NEW_ALIAS}.{table}").fetchone()[0]
            if old_n != new_n:
                raise IntegrityError(f"key rotation aborted: table {table} copied {new_n} of {old_n} rows")
        q = "SELECT entry_hash FROM {}.audit ORDER BY seq DESC LIMIT 1"
        if con.execute(q.format(alias)).fetchall() != con.execute(q.format(NEW_ALIAS)).fetchall():
            raise IntegrityError("key rotation aborted: the copied audit log differs")
        encrypted, _cipher = db.is_encrypted(con, NEW_ALIAS)
        if not encrypted:
            raise IntegrityError("key rotation aborted: the new database is not encrypted")
    except BaseException:
        _detach_quietly(con, NEW_ALIAS)
        for p in (new_path, wal):
            if p.exists():
                p.unlink()
        raise
    con.execute(f"DETACH {NEW_ALIAS}")
    db.fsync_path(new_path)


def _detach_quietly(con: duckdb.DuckDBPyConnection, alias: str) -> None:
    try:
        con.execute(f"DETACH {alias}")
    except duckdb.Error:
        pass
