"""Real labelled evaluation files: read with DuckDB, map their labels onto a task's label ids.

Formats by extension: .tsv (GLUE style: tab-separated, header row, no quoting at all), .csv (standard quoted CSV),
.jsonl/.json (one object per line), .parquet. A real file is only read for evaluation: nothing from it is stored.

Label mapping, first that applies: an explicit ``--label-map "0=negative,1=positive"``; the built-in map for a
shipped task (SST-2's 0/1, TREC's coarse classes); the label's normalised form (lower case, runs of
non-alphanumerics as ``_``: 'Cardiovascular / Pulmonary' → 'cardiovascular_pulmonary') equal to a label id. A real
label with no mapping is an error naming it, unless ``drop_unmapped``.

The file passes the importer's rules: a regular file (no symlink, directory, FIFO or device), a text column of
strings, a label column of strings or integers, and messages that name rows and columns, never a record's content.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import duckdb

from appliance.errors import BadInput
from appliance.inputfile import check_input_file
from appliance.vault.importer import check_column_types, missing_column, reader_error

DEFAULT_LABEL_MAPS: dict[str, dict[str, str]] = {
    "sst2_sentiment": {"0": "negative", "1": "positive"},
    "trec_question": {
        "ABBR": "abbreviation", "DESC": "description", "ENTY": "entity", "HUM": "human", "LOC": "location",
        "NUM": "number",
    },
}


@dataclass
class RealData:
    texts: list[str]
    labels: list[str]  # task label ids
    path: str
    raw_counts: dict[str, int] = field(default_factory=dict)
    dropped_unmapped: int = 0


def _norm(s: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", s.lower()).strip("_")


def parse_label_map(spec: str | None) -> dict[str, str]:
    if not spec:
        return {}
    out = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise BadInput(f"label map: {part.strip()!r} is not RAW=LABEL")
        raw, _, lab = part.partition("=")
        out[raw.strip()] = lab.strip()
    return out


def resolve_label_map(task_name: str, label_ids: Sequence[str], raw_labels: Sequence[str], explicit: dict[str, str] | None = None) -> dict[str, str]:
    """raw label → task label id, for every raw label that has one."""
    ids = list(label_ids)
    explicit = explicit or {}
    for raw, lab in explicit.items():
        if lab not in ids:
            raise BadInput(f"label map: {lab!r} is not a label of task {task_name} ({', '.join(ids)})")
    builtin = DEFAULT_LABEL_MAPS.get(task_name, {})
    by_norm = {_norm(i): i for i in ids}
    out = {}
    for raw in set(raw_labels):
        if raw in explicit:
            out[raw] = explicit[raw]
        elif raw in builtin and builtin[raw] in ids:
            out[raw] = builtin[raw]
        elif _norm(raw) in by_norm:
            out[raw] = by_norm[_norm(raw)]
    return out


def _source(path: Path) -> str:
    ext = path.suffix.lower()
    if ext == ".tsv":
        return "read_csv(?, header = true, all_varchar = true, delim = E'\\t', quote = '', escape = '', comment = '', auto_detect = true)"
    if ext == ".csv":
        return "read_csv(?, header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"', comment = '')"
    if ext in (".jsonl", ".json", ".ndjson"):
        return "read_json_auto(?, format = 'newline_delimited')"
    if ext == ".parquet":
        return "read_parquet(?)"
    raise BadInput(f"{path.name}: unsupported file type {ext or '(none)'} (use .tsv, .csv, .jsonl or .parquet)")


def read_real(
    path: str | Path,
    text_column: str,
    label_column: str,
    *,
    task_name: str,
    label_ids: Sequence[str],
    label_map: dict[str, str] | None = None,
    drop_unmapped: bool = False,
    limit: int | None = None,
    seed: int = 13,
) -> RealData:
    """Rows (text, task label id) of a real file. ``limit`` keeps a seeded random sample of that many rows."""
    path = check_input_file(path, "real data file")
    src = _source(path)
    con = duckdb.connect()
    try:
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}", [str(path)]).fetchall()}
        fmt = path.suffix.lower().lstrip(".")
        for c in (text_column, label_column):
            if c not in types:
                raise missing_column(path.name, c, list(types), fmt)
        check_column_types(path.name, types, text_column, label_column)
        q = lambda c: '"' + c.replace('"', '""') + '"'  # noqa: E731
        rows = con.execute(
            f"SELECT CAST({q(text_column)} AS VARCHAR), CAST({q(label_column)} AS VARCHAR) FROM {src}", [str(path)]
        ).fetchall()
    except duckdb.Error as e:
        raise BadInput(f"{path.name}: cannot be read: {reader_error(e)}") from None
    finally:
        con.close()
    rows = [(t, lab) for t, lab in rows if t is not None and t.strip() and lab is not None]
    if not rows:
        raise BadInput(f"{path.name}: no labelled rows")
    raw_counts: dict[str, int] = {}
    for _, lab in rows:
        raw_counts[lab] = raw_counts.get(lab, 0) + 1
    mapping = resolve_label_map(task_name, label_ids, list(raw_counts), label_map)
    unmapped = sorted(set(raw_counts) - set(mapping))
    if unmapped and not drop_unmapped:
        raise BadInput(
            f"{path.name}: labels with no task label: {', '.join(map(repr, unmapped[:8]))} "
            f"(give a label map RAW=LABEL,...; task labels: {', '.join(label_ids)})"
        )
    kept = [(t, mapping[lab]) for t, lab in rows if lab in mapping]
    if limit is not None and len(kept) > limit:
        import random

        kept = random.Random(seed).sample(kept, limit)
    return RealData([t for t, _ in kept], [lab for _, lab in kept], str(path), raw_counts, len(rows) - len(kept))
