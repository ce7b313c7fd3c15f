"""A Hugging Face ``datasets`` directory.

``hf`` writes the layout ``Dataset.save_to_disk`` writes (a ``train`` split as an Arrow stream file with its
``state.json`` and ``dataset_info.json``) plus a dataset card ``README.md`` whose YAML header points
``datasets.load_dataset`` at the same Arrow file, so one copy of the data serves both ``load_dataset(DIR)`` and
``load_from_disk(DIR)``. Files are written with pyarrow; the ``datasets`` package is not needed to write them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa

from appliance.export.formats import FORMATS, SCHEMA, ExportFormat, Rows, table

HF_ARROW = "train/data-00000-of-00001.arrow"


def hf_readme_header(pretty_name: str) -> str:
    """The dataset card's YAML header: the one split and where its data is, for ``load_dataset``."""
    return (
        "---\n"
        f"pretty_name: {json.dumps(pretty_name)}\n"
        "tags:\n- synthetic\n"
        "configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: train/data-*.arrow\n"
        "---\n\n"
    )


def write_hf(rows: Rows, out: Path) -> list[str]:
    """The ``save_to_disk`` layout of a DatasetDict with one ``train`` split (README.md is written by the caller)."""
    data = table(rows)
    (out / "train").mkdir()
    with pa.OSFile(str(out / HF_ARROW), "wb") as sink, pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
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


FORMATS.register(ExportFormat("hf", "a Hugging Face `datasets` directory (load_dataset and load_from_disk)", write_hf,
                              data_card="README.md", card_header=hf_readme_header))
