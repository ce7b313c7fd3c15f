"""Reading seed records from CSV, TSV, JSON Lines or Parquet: the one reader of seed files (``read_seed_file``,
``preview_seed_file``), used by the import (``seed_import``), the TUI's preview and check, and benchmarks.

Files are parsed by DuckDB's own readers (no hand-written parsing) in a private in-memory DuckDB whose
spill files are encrypted and stay in the home directory, so the plaintext never touches disk outside
the file the user already has. Everything is validated before anything is written; the first problem is
reported as one line naming the 1-based data row, and nothing is imported.

Row numbers: for CSV/TSV, row 1 is the first record after the header; for JSON Lines, row N is the N-th
non-blank line.

No message quotes the file's content: problems are named by row and column. A CSV's first line is its header, but in
a file without one it is the first record, so header names are never listed either. The text column must hold
strings (a Parquet integer, list, struct or binary column would otherwise arrive as its printed form); the label
column may hold strings or integers (class ids such as SST-2's 0/1).
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Collection

import duckdb

from appliance.errors import BadInput, UserError
from appliance.inputfile import check_input_file, has_control_chars
from appliance.vault import db

MAX_TEXT_CHARS = 10_000
MAX_LABEL_CHARS = 200
_DIAGNOSE_COLUMNS = 256

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}


# DuckDB column types a label column may have; the text column must be VARCHAR.
_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
TEXT_TYPES = frozenset({"VARCHAR"})
LABEL_TYPES = TEXT_TYPES | _INTEGER_TYPES


@dataclass(frozen=True)
class SeedRow:
    row: int
    text: str
    label: str | None


def detect_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BadInput(f"{path.name}: unsupported file type {path.suffix or '(none)'} (use .csv, .tsv, .jsonl, .json or .parquet)")
    return fmt


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reader_error(e: Exception) -> str:
    """The first line of a DuckDB error with every quoted part blanked: DuckDB quotes offending values (e.g. "Could
    not convert string '...'"), and a message must never carry record content."""
    msg = str(e)
    first = msg.splitlines()[0] if msg.strip() else type(e).__name__
    return re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", first)


def missing_column(name: str, column: str, columns: list[str], fmt: str) -> UserError:
    """A requested column that the file lacks. A CSV/TSV header is not listed: without a header, that first line
    is a record. Only a name equal to the request but for case is suggested (it echoes nothing new)."""
    near = [c for c in columns if c.lower() == column.lower()]
    if near:
        return BadInput(f"{name}: missing column {column!r} (did you mean {near[0]!r}? names are case-sensitive)")
    if fmt in ("csv", "tsv"):
        return BadInput(
            f"{name}: missing column {column!r} (the first line is read as the header and names {len(columns)} "
            f"column{'s' if len(columns) != 1 else ''}, none of them {column!r}; does the file have a header line?)"
        )
    return BadInput(f"{name}: missing column {column!r} (columns: {', '.join(columns) or 'none'})")


def check_column_types(name: str, types: dict[str, str], text_column: str, label_column: str | None) -> None:
    """Refuse a typed text column (and a label column that is neither strings nor integers), naming column and
    type, before any value is read."""
    ttype = types[text_column]
    if ttype not in TEXT_TYPES:
        raise BadInput(f"{name}: column {text_column!r} has type {ttype}; the text column must hold strings")
    if label_column is not None:
        ltype = types[label_column]
        if ltype not in LABEL_TYPES:
            raise BadInput(f"{name}: column {label_column!r} has type {ltype}; a label column must hold strings or integers")


def _scan_bytes(path: Path, fmt: str) -> str:
    """SHA-256 of the file, and (text formats) a strict UTF-8 check that names the row of the first bad byte."""
    h = hashlib.sha256()
    text_format = fmt != "parquet"
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line_no = 0
    nonblank = 0
    try:
        with open(path, "rb") as f:
            for line in f:
                h.update(line)
                if not text_format:
                    continue
                line_no += 1
                try:
                    decoded = decoder.decode(line)
                except UnicodeDecodeError:
                    if fmt in ("csv", "tsv"):
                        where = f"row {line_no - 1}" if line_no > 1 else "header"
                    else:
                        where = f"row {nonblank + 1}"
                    raise BadInput(f"{path.name}: {where} (line {line_no}): not valid UTF-8 text") from None
                if decoded.strip():
                    nonblank += 1
            if text_format:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    raise BadInput(f"{path.name}: line {line_no}: file ends in the middle of a UTF-8 character") from None
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None
    return h.hexdigest()


def _csv_options(fmt: str) -> str:
    # Dialect pinned: the sniffer may otherwise decide that a malformed line is a header and silently skip rows.
    delim = "\\t" if fmt == "tsv" else ","
    return f"header = true, all_varchar = true, skip = 0, delim = E'{delim}', quote = '\"', escape = '\"', comment = ''"


def _csv_error(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, e: duckdb.Error) -> UserError:
    """Turn DuckDB's CSV error into one line with the data row (never echoing the offending content)."""
    msg = str(e)
    m = re.search(r"CSV Error on Line: (\d+)", msg)
    if m:
        row = int(m.group(1)) - 1
        cm = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", msg)
        if cm:
            problem = f"expected {cm.group(1)} fields, found {cm.group(2)}"
        elif "unterminated quote" in msg.lower():
            problem = "unterminated quoted field"
        elif "unicode" in msg.lower():
            problem = "not valid UTF-8 text"
        else:
            problem = "cannot be parsed as " + fmt.upper()
        return BadInput(f"{path.name}: row {row}: {problem}")
    if "sniffing" in msg:
        found = _diagnose_field_counts(con, path, fmt)
        if found:
            return BadInput(f"{path.name}: {found}")
        return BadInput(f"{path.name}: cannot be parsed as {fmt.upper()} (check the delimiter and quoting)")
    return BadInput(f"{path.name}: cannot be parsed as {fmt.upper()}: {reader_error(e)}")


def _diagnose_field_counts(con: duckdb.DuckDBPyConnection, path: Path, fmt: str) -> str | None:
    """Find the first record whose number of fields differs from the header's (for a message, not for import)."""
    delim = "\\t" if fmt == "tsv" else ","
    cols = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(_DIAGNOSE_COLUMNS)) + "}"
    sql = (
        f"SELECT * FROM read_csv(?, auto_detect = false, header = false, skip = 0, delim = E'{delim}', quote = '\"', "
        f"escape = '\"', comment = '', null_padding = true, parallel = false, columns = {cols})"
    )
    try:
        rows = con.execute(sql, [str(path)]).fetchall()
    except duckdb.Error:
        return None

    def width(r: tuple) -> int:
        n = len(r)
        while n and r[n - 1] is None:
            n -= 1
        return n

    if not rows:
        return None
    header = width(rows[0])
    row_no = 0
    for r in rows[1:]:
        w = width(r)
        if w == 0:  # blank line: the real reader skips it too
            continue
        row_no += 1
        if w != header:
            # (a record ending in empty fields reads as shorter here; good enough for a diagnosis)
            return f"row {row_no}: expected {header} fields, found {w}"
    return None


def _read_tabular(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, text_col: str, label_col: str | None) -> list[tuple]:
    if fmt in ("csv", "tsv"):
        source = f"read_csv(?, {_csv_options(fmt)})"
    else:
        source = "read_parquet(?)"
    try:
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}", [str(path)]).fetchall()}
    except duckdb.Error as e:
        if fmt in ("csv", "tsv"):
            raise _csv_error(con, path, fmt, e) from None
        raise BadInput(f"{path.name}: cannot be read as Parquet: {reader_error(e)}") from None
    for col in (text_col, label_col):
        if col is not None and col not in types:
            raise missing_column(path.name, col, list(types), fmt)
    check_column_types(path.name, types, text_col, label_col)
    select = f"CAST({_quote_ident(text_col)} AS VARCHAR)"
    select += f", CAST({_quote_ident(label_col)} AS VARCHAR)" if label_col else ", NULL"
    try:
        return con.execute(f"SELECT {select} FROM {source}", [str(path)]).fetchall()
    except duckdb.Error as e:
        if fmt in ("csv", "tsv"):
            raise _csv_error(con, path, fmt, e) from None
        raise BadInput(f"{path.name}: cannot be read as Parquet: {reader_error(e)}") from None


def _read_json(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, text_col: str, label_col: str | None) -> list[tuple]:
    """One JSON object per record; values are extracted by key so a missing key is a per-row error."""
    json_format = "newline_delimited" if fmt == "jsonl" else "auto"
    label_path = _json_path(label_col) if label_col else "$.__no_label_column__"
    sql = (
        "SELECT json_type(j), json_type(j, ?), json_extract_string(j, ?), json_type(j, ?), json_extract_string(j, ?) "
        f"FROM read_json_objects(?, format = '{json_format}', ignore_errors = true) AS t(j)"
    )
    tp = _json_path(text_col)
    try:
        raw = con.execute(sql, [tp, tp, label_path, label_path, str(path)]).fetchall()
    except duckdb.Error as e:
        raise BadInput(f"{path.name}: cannot be read as JSON: {reader_error(e)}") from None
    if raw and all(r[1] is None for r in raw if r[0] == "OBJECT"):
        raise BadInput(f"{path.name}: missing column {text_col!r} (no record has this key)")
    if label_col and raw and all(r[3] is None for r in raw if r[0] == "OBJECT"):
        raise BadInput(f"{path.name}: missing column {label_col!r} (no record has this key)")
    out = []
    for i, (jtype, ttype, text, ltype, label) in enumerate(raw, start=1):
        if jtype is None:
            raise BadInput(f"{path.name}: row {i}: not valid JSON")
        if jtype != "OBJECT":
            raise BadInput(f"{path.name}: row {i}: not a JSON object")
        if ttype not in (None, "NULL", "VARCHAR"):
            raise BadInput(f"{path.name}: row {i}: {text_col!r} must be a string, not {ttype.lower()}")
        if label_col and ltype not in (None, "NULL", "VARCHAR", "BIGINT", "UBIGINT"):
            raise BadInput(f"{path.name}: row {i}: {label_col!r} must be a string or an integer, not {ltype.lower()}")
        out.append((text, label if label_col else None))
    return out


def read_seed_file(
    path: str | Path,
    text_column: str,
    label_column: str | None = None,
    *,
    allowed_labels: Collection[str] | None = None,
    max_chars: int = MAX_TEXT_CHARS,
    temp_dir: Path,
) -> tuple[list[SeedRow], str]:
    """Parse and validate a seed file; returns its rows and its SHA-256. Raises UserError naming the first bad row
    and the numbers of the others (one line), so a file can be fixed in one pass."""
    p = check_input_file(path, "seed file")
    fmt = detect_format(p)
    digest = _scan_bytes(p, fmt)
    con = db.connect(temp_dir, threads=1)
    try:
        if fmt in ("jsonl", "json"):
            raw = _read_json(con, p, fmt, text_column, label_column)
        else:
            raw = _read_tabular(con, p, fmt, text_column, label_column)
    finally:
        con.close()
    if not raw:
        raise BadInput(f"{p.name}: no data rows")
    allowed = set(allowed_labels) if allowed_labels is not None else None
    rows, bad = [], []
    for i, (text, label) in enumerate(raw, start=1):
        problem = _row_problem(text, label, text_column, label_column, allowed, max_chars)
        if problem:
            bad.append((i, problem))
        else:
            rows.append(SeedRow(i, text, label))
    if bad:
        (first, problem), more = bad[0], [i for i, _ in bad[1:]]
        rest = ""
        if more:
            shown = ", ".join(map(str, more[:10])) + (", …" if len(more) > 10 else "")
            rest = f" (and {len(more)} more bad row{'s' if len(more) > 1 else ''}: {shown})"
        raise BadInput(f"{p.name}: row {first}: {problem}{rest}")
    return rows, digest


def _json_object(text: str | None) -> dict | None:
    """A preview line as an object, or None: DuckDB accepts nesting deeper than Python's parser (RecursionError)."""
    try:
        d = json.loads(text) if text else None
    except (ValueError, RecursionError):
        return None
    return d if isinstance(d, dict) else None


def preview_seed_file(path: str | Path, n: int, *, temp_dir: Path) -> tuple[Path, str, list[str], list[list[str | None]]]:
    """The checked path, format, columns and first ``n`` rows (each value as text) of a seed file, read by the same
    DuckDB readers as ``read_seed_file``, for choosing its text and label columns before an import."""
    p = check_input_file(Path(path).expanduser(), "seed file")
    fmt = detect_format(p)
    con = db.connect(temp_dir, threads=1)
    try:
        if fmt in ("jsonl", "json"):
            json_format = "newline_delimited" if fmt == "jsonl" else "auto"
            objs = con.execute(
                f"SELECT j FROM read_json_objects(?, format = '{json_format}', ignore_errors = true) AS t(j) LIMIT {int(n)}",
                [str(p)],
            ).fetchall()
            parsed = [_json_object(o[0]) for o in objs]  # a line that is no object shows as empty
            columns: list[str] = []
            for d in parsed:
                for k in d or {}:
                    if k not in columns:
                        columns.append(k)
            rows = [[None if d is None or d.get(c) is None else str(d.get(c)) for c in columns] for d in parsed]
        else:
            source = f"read_csv(?, {_csv_options(fmt)})" if fmt in ("csv", "tsv") else "read_parquet(?)"
            rel = con.execute(f"SELECT * FROM {source} LIMIT {int(n)}", [str(p)])
            columns = [d[0] for d in rel.description]
            rows = [[None if v is None else str(v) for v in r] for r in rel.fetchall()]
    except duckdb.Error as e:
        raise BadInput(f"{p.name}: cannot be read as {fmt.upper()}: {reader_error(e)}") from None
    finally:
        con.close()
    return p, fmt, columns, rows


def _row_problem(text: str | None, label: str | None, text_column: str, label_column: str | None,
                 allowed: set[str] | None, max_chars: int) -> str | None:
    """What is wrong with one seed row, or None."""
    if text is None or not text.strip():
        return f"empty text in column {text_column!r}"
    if len(text) > max_chars:
        return f"text is {len(text)} characters, over the limit of {max_chars}"
    if "\x00" in text:
        return "text contains a NUL character"
    if label_column:
        if label is None or not label.strip():
            return f"empty label in column {label_column!r}"
        if len(label) > MAX_LABEL_CHARS:
            return f"label is longer than {MAX_LABEL_CHARS} characters"
        if has_control_chars(label):
            return f"label in column {label_column!r} contains control characters"
        if allowed is not None and label not in allowed:
            return f"unknown label {label!r} (the task allows: {', '.join(sorted(allowed))})"
    return None
