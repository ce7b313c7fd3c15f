"""The vault's tables.

Everything (seed texts, task specs, generated and quarantined records, reports, export manifests, the audit
log) lives here, inside the database encrypted under the ``meta`` key. Columns listed in ``SEALED`` hold
values encrypted once more under their room's key (``fields.py``): record texts for authors and reviewers,
seed texts and adapter weights for authors; each ``records`` row also carries a seal over its other columns, which
only holders of the records key can write (``rowseal.py``). IDs are allocated by the single
process that holds the vault lock (``max(id) + 1`` inside the transaction), which keeps the audit
sequence gapless and survives ``COPY FROM DATABASE`` unchanged. JSON is stored as canonical text so that
no extension is needed to read it back and hashes stay stable. Timestamps are ISO-8601 UTC text.
"""

from __future__ import annotations

import duckdb

from appliance.errors import BadInput, IntegrityError

SCHEMA_VERSION = 2


DDL = (
    """CREATE TABLE meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL)""",
    """CREATE TABLE users (
        name VARCHAR PRIMARY KEY,
        role VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,
        disabled BOOLEAN NOT NULL DEFAULT false,
        changed_at VARCHAR,
        sign_public VARCHAR)""",
    """CREATE TABLE tasks (
        id BIGINT PRIMARY KEY,
        name VARCHAR NOT NULL,
        spec_toml VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL)""",
    """CREATE TABLE seed_sets (
        id BIGINT PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        task_id BIGINT,
        task_name VARCHAR,
        source_name VARCHAR,
        source_sha256 VARCHAR,
        n_seeds BIGINT NOT NULL,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL)""",
    """CREATE TABLE seeds (
        id BIGINT PRIMARY KEY,
        seed_set_id BIGINT NOT NULL,
        row_no BIGINT NOT NULL,
        text VARCHAR NOT NULL,
        label VARCHAR,
        sha256 VARCHAR NOT NULL)""",
    """CREATE TABLE jobs (
        id BIGINT PRIMARY KEY,
        task_id BIGINT NOT NULL,
        method VARCHAR NOT NULL,
        config VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        summary VARCHAR,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,
        finished_at VARCHAR,
        units_done BIGINT NOT NULL DEFAULT 0)""",
    """CREATE TABLE records (
        id BIGINT PRIMARY KEY,
        job_id BIGINT NOT NULL,
        text VARCHAR NOT NULL,
        label VARCHAR,
        context VARCHAR,
        attributes VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        reasons VARCHAR NOT NULL,
        findings VARCHAR NOT NULL DEFAULT '[]',
        scores VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        reviewed_by VARCHAR,
        review_note VARCHAR,
        seal VARCHAR)""",
    """CREATE TABLE reports (
        id BIGINT PRIMARY KEY,
        job_id BIGINT,
        kind VARCHAR NOT NULL,
        body VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL)""",
    """CREATE TABLE exports (
        id BIGINT PRIMARY KEY,
        job_id BIGINT NOT NULL,
        status VARCHAR NOT NULL,
        manifest VARCHAR NOT NULL,
        requested_by VARCHAR NOT NULL,
        requested_at VARCHAR NOT NULL,
        decided_by VARCHAR,
        decided_at VARCHAR,
        decision_reason VARCHAR)""",
    # A DP adapter (GGUF LoRA bytes) is a sensitive artifact even under DP: kept here, encrypted with everything else.
    """CREATE TABLE adapters (
        id BIGINT PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        seed_set_id BIGINT NOT NULL,
        model VARCHAR NOT NULL,
        model_sha256 VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        manifest VARCHAR NOT NULL,
        body BLOB NOT NULL,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL)""",
    # Every ε spent on a seed set (DP training, Private Evolution), composed by basic composition (sum).
    """CREATE TABLE privacy_ledger (
        id BIGINT PRIMARY KEY,
        seed_set_id BIGINT NOT NULL,
        kind VARCHAR NOT NULL,
        ref VARCHAR NOT NULL,
        epsilon DOUBLE NOT NULL,
        delta DOUBLE NOT NULL,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL)""",
    """CREATE TABLE audit (
        seq BIGINT NOT NULL,
        ts VARCHAR NOT NULL,
        user_name VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        object_ids VARCHAR NOT NULL,
        params VARCHAR NOT NULL,
        prev_hash VARCHAR NOT NULL,
        entry_hash VARCHAR NOT NULL,
        signature VARCHAR NOT NULL)""",
)
def _table_name(ddl: str) -> str:
    return ddl.split("(", 1)[0].split()[-1]


TABLES = tuple(_table_name(stmt) for stmt in DDL)

# (room, table, column, is_blob): values sealed under the room's key; seeds.sha256 is keyed under it too.
SEALED = (
    ("records", "records", "text", False),
    ("records", "records", "context", False),
    ("seeds", "seeds", "text", False),
    ("seeds", "adapters", "body", True),
)

# The audit table deliberately has no PRIMARY KEY: verification must be able to *see* a duplicated or
# inserted sequence number rather than have the database hide the tampering behind a constraint.


def create(con: duckdb.DuckDBPyConnection, installation_id: str) -> None:
    for stmt in DDL:
        con.execute(stmt)
    con.execute(
        "INSERT INTO meta VALUES ('schema_version', ?), ('installation_id', ?)",
        [str(SCHEMA_VERSION), installation_id],
    )


def add_missing_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Tables added after the schema version shipped: create them in an older vault of the same version."""
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    for stmt in DDL:
        if _table_name(stmt) not in present:
            con.execute(stmt)


# Columns added after schema version 1 shipped: (table, column, type, default; None: nullable, no default). The gate's
# findings of every record (not only the blocking reason), so review shows them all and export redacts them all; an
# older record has none. A record's seal (``rowseal.py``): older rows get theirs once, from a records-key holder.
ADDED_COLUMNS = (("records", "findings", "VARCHAR", "'[]'"), ("records", "seal", "VARCHAR", None))


def add_missing_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Add ``ADDED_COLUMNS`` to an older vault's tables (DuckDB adds a column only without constraints, so NOT NULL
    is set afterwards; existing rows get the default first; a column without a default stays nullable)."""
    present = {
        (t, c) for t, c in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_catalog = current_database()"
        ).fetchall()
    }
    for table, column, sql_type, default in ADDED_COLUMNS:
        if (table, column) in present:
            continue
        if default is None:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
        else:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type} DEFAULT {default}")
            con.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL")


def check(con: duckdb.DuckDBPyConnection, installation_id: str) -> None:
    """Refuse a database of another installation or another schema version."""
    try:
        rows = dict(con.execute("SELECT key, value FROM meta").fetchall())
    except duckdb.CatalogException:
        raise IntegrityError("the vault database has no schema (interrupted init?)") from None
    if rows.get("installation_id") != installation_id:
        raise IntegrityError("the vault database belongs to another installation than its key file")
    if rows.get("schema_version") != str(SCHEMA_VERSION):
        raise BadInput(f"vault schema version {rows.get('schema_version')} is not supported (expected {SCHEMA_VERSION})")


# The largest row id an audit entry may name and still count: ids are BIGINT, and a new id is one past the largest the
# log names, so an insider's signed entry naming 10**30 (or 2**63 - 1) must not make every later insert overflow.
MAX_ROW_ID = 2**62


def plausible_id(value: object) -> bool:
    """Whether ``value`` (an id an audit entry names) is one the app could have written: an int from 1 to
    ``MAX_ROW_ID`` (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ROW_ID


def next_id(con: duckdb.DuckDBPyConnection, table: str, column: str = "id") -> int:
    if table not in TABLES:
        raise ValueError(table)
    return int(con.execute(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}").fetchone()[0])
