"""Writers for the exported records: JSON Lines, CSV, Parquet and a Hugging Face ``datasets`` directory.

Every format holds the same columns: ``record_id`` (the record's id in the vault, so an auditor can trace a row to
the audit log), ``text``, ``label`` and ``attributes`` (the task's attribute values, JSON text in the tabular formats).
The model's stage-1 context is not exported: the privacy gate checks the record text, not the context.

``hf`` writes the layout ``Dataset.save_to_disk`` writes (a ``train`` split as an Arrow stream file with its
``state.json`` and ``dataset_info.json``) plus a dataset card ``README.md`` whose YAML header points
``datasets.load_dataset`` at the same Arrow file, so one copy of the data serves both ``load_dataset(DIR)`` and
``load_from_disk(DIR)``. Files are written with pyarrow; the ``datasets`` package is not needed to write them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("jsonl", "csv", "parquet", "hf")
HF_ARROW = "train/data-00000-of-00001.arrow"

SCHEMA = pa.schema([
    pa.field("record_id", pa.int64()),
    pa.field("text", pa.string()),
    pa.field("label", pa.string()),
    pa.field("attributes", pa.string()),
])


def _table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    return pa.table(
        {
            "record_id": [int(r["record_id"]) for r in rows],
            "text": [r["text"] for r in rows],
            "label": [r.get("label") for r in rows],
            "attributes": [json.dumps(r.get("attributes") or {}, sort_keys=True, ensure_ascii=False) for r in rows],
        },
        schema=SCHEMA,
    )


def write_jsonl(rows: Sequence[dict[str, Any]], out: Path) -> list[str]:
    with (out / "data.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            obj = {"record_id": int(r["record_id"]), "text": r["text"], "label": r.get("label"), "attributes": r.get("attributes") or {}}
            f.write(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n")
    return ["data.jsonl"]


def write_csv(rows: Sequence[dict[str, Any]], out: Path) -> list[str]:
    pacsv.write_csv(_table(rows), out / "data.csv")
    return ["data.csv"]


def write_parquet(rows: Sequence[dict[str, Any]], out: Path) -> list[str]:
    pq.write_table(_table(rows), out / "data.parquet")
    return ["data.parquet"]


def hf_readme_header(pretty_name: str) -> str:
    """The dataset card's YAML header: the one split and where its data is, for ``load_dataset``."""
    return (
        "---\n"
        f"pretty_name: {json.dumps(pretty_name)}\n"
        "tags:\n- synthetic\n"
        "configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: train/data-*.arrow\n"
        "---\n\n"
    )


def write_hf(rows: Sequence[dict[str, Any]], out: Path) -> list[str]:
    """The ``save_to_disk`` layout of a DatasetDict with one ``train`` split (README.md is written by the caller)."""
    table = _table(rows)
    (out / "train").mkdir()
    with pa.OSFile(str(out / HF_ARROW), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    features = {f.name: {"dtype": "int64" if f.name == "record_id" else "string", "_type": "Value"} for f in SCHEMA}
    info = {"citation": "", "description": "", "features": features, "homepage": "", "license": ""}
    fingerprint = hashlib.sha256(json.dumps([r["record_id"] for r in rows]).encode()).hexdigest()[:16]
    state = {
        "_data_files": [{"filename": Path(HF_ARROW).name}],
        "_fingerprint": fingerprint,
        "_format_columns": None,
        "_format_kwargs": {},
        "_format_type": None,
        "_output_all_columns": False,
        "_split": "train",
    }
    (out / "train" / "dataset_info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "train" / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out / "dataset_dict.json").write_text(json.dumps({"splits": ["train"]}) + "\n", encoding="utf-8")
    return [HF_ARROW, "train/dataset_info.json", "train/state.json", "dataset_dict.json"]


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet, "hf": write_hf}


def write_records(fmt: str, rows: Sequence[dict[str, Any]], out: Path) -> list[str]:
    """Write ``rows`` in ``fmt`` into the (empty) directory ``out``; returns the paths written, relative to it."""
    return WRITERS[fmt](rows, out)


def data_card_name(fmt: str) -> str:
    """The human-readable card: for ``hf`` it is the dataset card README.md that the Hub and ``datasets`` read."""
    return "README.md" if fmt == "hf" else "DATA_CARD.md"
