"""DuckDB connections for the vault: encrypted at rest, offline, configuration locked.

The plain duckdb wheel can only *read* encrypted databases; writing needs the OpenSSL crypto module that
the httpfs extension carries. We load the officially signed httpfs binary shipped in the
``duckdb-extension-httpfs`` wheel by absolute path, with unsigned extensions refused and extension
auto-install/auto-load off (DuckDB would otherwise try the network). ``force_mbedtls_unsafe`` is never
set. Temp spill files are encrypted too and live inside the home directory; then the configuration is
locked so no later statement can weaken any of it.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from appliance.errors import BadInput, IntegrityError, MissingDependency

_B64_RE = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")

# Settings fixed at connection creation (DuckDB only accepts some of them there).
BASE_CONFIG: dict[str, object] = {
    "allow_unsigned_extensions": False,
    "allow_community_extensions": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    # Python objects handed to DuckDB (record batches) are strings already: skip the slow type sniffing.
    "pandas_analyze_sample": 0,
}


def httpfs_extension_path() -> Path:
    """The signed httpfs binary inside the duckdb-extension-httpfs wheel, for this exact DuckDB version."""
    try:
        import duckdb_extension_httpfs
    except ImportError:
        raise MissingDependency("package duckdb-extension-httpfs is not installed (pip install -r requirements.txt)") from None
    root = Path(duckdb_extension_httpfs.__file__).resolve().parent
    path = root / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if not path.is_file():
        raise MissingDependency(
            f"no httpfs extension for DuckDB {duckdb.__version__} at {path}: "
            "duckdb and duckdb-extension-httpfs versions must match exactly"
        )
    return path


def sql_string(value: str) -> str:
    """A SQL string literal for statements that take no bound parameters (ATTACH, LOAD, SET)."""
    if "\x00" in value:
        raise BadInput("path contains a NUL character")
    return "'" + value.replace("'", "''") + "'"


def key_literal(key: bytes) -> str:
    """The data key as DuckDB's ENCRYPTION_KEY: base64, whose alphabet needs no escaping (checked anyway)."""
    if len(key) != 32:
        raise ValueError("data key must be 32 bytes")
    text = base64.b64encode(key).decode("ascii")
    if not _B64_RE.match(text):  # pragma: no cover - base64 output is always in this alphabet
        raise ValueError("unexpected characters in encoded key")
    return "'" + text + "'"


def connect(temp_directory: Path, *, memory_limit: str | None = None, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with OpenSSL crypto loaded, encrypted temp files in ``temp_directory``, config locked."""
    con = duckdb.connect(":memory:", config=dict(BASE_CONFIG))
    try:
        con.execute(f"LOAD {sql_string(str(httpfs_extension_path()))}")
        con.execute("SET temp_file_encryption = true")
        con.execute(f"SET temp_directory = {sql_string(str(temp_directory))}")
        if memory_limit:
            con.execute(f"SET memory_limit = {sql_string(memory_limit)}")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def attach(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    alias: str,
    key: bytes | None,
    *,
    read_only: bool = False,
    storage_version: str | None = None,
) -> None:
    """ATTACH a database file, encrypted with ``key`` (None only for the benchmark's plaintext baseline)."""
    if not re.match(r"^[a-z_][a-z0-9_]*$", alias):
        raise ValueError(f"bad alias {alias!r}")
    opts = []
    if key is not None:
        opts.append(f"ENCRYPTION_KEY {key_literal(key)}")
        opts.append("ENCRYPTION_CIPHER 'GCM'")
    if read_only:
        opts.append("READ_ONLY")
    if storage_version:
        if not re.match(r"^v[0-9.]+$", storage_version):
            raise ValueError(f"bad storage version {storage_version!r}")
        opts.append(f"STORAGE_VERSION '{storage_version}'")
    stmt = f"ATTACH {sql_string(str(path))} AS {alias}"
    if opts:
        stmt += " (" + ", ".join(opts) + ")"
    try:
        con.execute(stmt)
    except duckdb.Error as e:
        raise translate_error(e, path) from None


def translate_error(e: duckdb.Error, path: Path | None = None) -> Exception:
    """DuckDB errors a user can act on, as one-line UserErrors; anything else is returned unchanged."""
    msg = str(e)
    if "Could not set lock on file" in msg or "Conflicting lock" in msg:
        return BadInput("vault in use by another process: close it and try again")
    if "Wrong encryption key" in msg:
        return IntegrityError(f"the vault database {path} does not match its key file (restored from another backup?)")
    if "without a key" in msg:
        return IntegrityError(f"the vault database {path} is encrypted but no key was given")
    if "read-only crypto module" in msg:
        return MissingDependency("DuckDB's OpenSSL crypto (httpfs extension) is not loaded; cannot write an encrypted vault")
    return e


def fsync_path(path: Path) -> None:
    if path.exists():
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def is_encrypted(con: duckdb.DuckDBPyConnection, alias: str) -> tuple[bool, str | None]:
    row = con.execute(
        "SELECT encrypted, cipher FROM duckdb_databases() WHERE database_name = ?", [alias]
    ).fetchone()
    if row is None:
        return (False, None)
    return (bool(row[0]), row[1])


_batch_counter = 0


def insert_columns(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, list[Any]], types: dict[str, str]) -> int:
    """Bulk insert column lists through a registered NumPy batch (one scan, no per-row statements).

    ``types`` maps each column to its SQL type; strings travel as object arrays, integers as int64. This is
    some 100x faster than ``executemany`` and needs no pandas or pyarrow.
    """
    global _batch_counter
    names = list(columns)
    n = len(columns[names[0]]) if names else 0
    if n == 0:
        return 0
    arrays: dict[str, np.ndarray] = {}
    for name in names:
        values = columns[name]
        if len(values) != n:
            raise ValueError(f"column {name} has {len(values)} values, expected {n}")
        if types[name] in ("BIGINT", "INTEGER"):
            arrays[name] = np.asarray(values, dtype=np.int64)
        else:
            arr = np.empty(n, dtype=object)
            arr[:] = values
            arrays[name] = arr
    _batch_counter += 1
    view = f"_vault_batch_{_batch_counter}"
    con.register(view, arrays)
    try:
        select = ", ".join(f"CAST({c} AS {types[c]})" for c in names)
        con.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT {select} FROM {view}")
    finally:
        con.unregister(view)
    return n
