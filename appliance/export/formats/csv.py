"""CSV (pyarrow's writer: a header row, quoted where needed), attributes as JSON text."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv

from appliance.export.formats import FORMATS, ExportFormat, Rows, table


def write_csv(rows: Rows, out: Path) -> list[str]:
    pacsv.write_csv(table(rows), out / "data.csv")
    return ["data.csv"]


FORMATS.register(ExportFormat("csv", "comma-separated values with a header row", write_csv))
