"""Parquet, one file, attributes as JSON text."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from appliance.export.formats import FORMATS, ExportFormat, Rows, table


def write_parquet(rows: Rows, out: Path) -> list[str]:
    pq.write_table(table(rows), out / "data.parquet")
    return ["data.parquet"]


FORMATS.register(ExportFormat("parquet", "one Parquet file", write_parquet))
